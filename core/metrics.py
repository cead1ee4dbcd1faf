"""Image-quality metrics with the exact formulas of CompressAI's bench.

Per image, then averaged over images (the aggregation CompressAI uses), so that
`bench codecs sweep` and ``python -m compressai.utils.bench`` agree to 0.01 dB.
"""

from __future__ import annotations

import math

import numpy as np

#: pytorch_msssim needs every side longer than (win_size - 1) * 2**4 = 160 pixels.
MS_SSIM_MIN_SIDE = 161


def psnr(reference: np.ndarray, decoded: np.ndarray, max_val: float = 255.0) -> float:
    """PSNR over all RGB samples (8-bit); +inf for identical images."""
    diff = reference.astype(np.float64) - decoded.astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return math.inf
    return 20 * math.log10(max_val) - 10 * math.log10(mse)


def ms_ssim(reference: np.ndarray, decoded: np.ndarray, max_val: float = 255.0) -> float:
    """MS-SSIM (pytorch_msssim, data_range 255, as CompressAI); NaN below 161 px a side."""
    if min(reference.shape[:2]) < MS_SSIM_MIN_SIDE:
        return math.nan
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    def as_tensor(x: np.ndarray) -> torch.Tensor:
        return (
            torch.from_numpy(np.array(x, dtype=np.float32, copy=True)).permute(2, 0, 1).unsqueeze(0)
        )

    with torch.no_grad():
        return float(_ms_ssim(as_tensor(reference), as_tensor(decoded), data_range=max_val).item())


def finite_mean(values: list[float]) -> float:
    """Mean of the finite values (NaN when there are none)."""
    good = [v for v in values if v is not None and math.isfinite(v)]
    return float(sum(good) / len(good)) if good else math.nan
