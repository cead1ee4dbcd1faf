"""Image-quality metrics with the exact formulas of CompressAI's bench.

Per image, then averaged over images (the aggregation CompressAI uses), so that
`bench codecs sweep` and ``python -m compressai.utils.bench`` agree to 0.01 dB.

MS-SSIM is pytorch_msssim's formula (the one CompressAI's bench calls: 11-tap Gaussian,
sigma 1.5, five scales, its weights and constants) evaluated for one reference against
many decoded versions at once: the reference's filtered statistics are computed once,
a version's three statistics (mean, E[y²], E[xy]) are filtered in one depthwise
convolution, and that convolution runs channels-last, where oneDNN's depthwise kernel is
several times faster than on NCHW planes (same taps, same sums). Only the last scale
needs the luminance term, so the others skip it. Values agree with
``pytorch_msssim.ms_ssim`` to float32 rounding (tested); `bench codecs sweep` computes
MS-SSIM about twice as fast as CompressAI's bench (benchmarks/pipeline.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: pytorch_msssim needs every side longer than (win_size - 1) * 2**4 = 160 pixels.
MS_SSIM_MIN_SIDE = 161
_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_WIN_SIZE, _WIN_SIGMA, _K1, _K2 = 11, 1.5, 0.01, 0.03


def psnr(reference: np.ndarray, decoded: np.ndarray, max_val: float = 255.0) -> float:
    """PSNR over all RGB samples (8-bit); +inf for identical images."""
    diff = reference.astype(np.float64) - decoded.astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return math.inf
    return 20 * math.log10(max_val) - 10 * math.log10(mse)


def ms_ssim(reference: np.ndarray, decoded: np.ndarray, max_val: float = 255.0) -> float:
    """MS-SSIM (pytorch_msssim's formula, data_range 255, as CompressAI); NaN below 161 px."""
    return ms_ssim_many(reference, [decoded], max_val)[0]


def ms_ssim_many(
    reference: np.ndarray, decoded: Sequence[np.ndarray], max_val: float = 255.0
) -> list[float]:
    """MS-SSIM of each decoded image against one reference (HxWx3 uint8 arrays)."""
    if not decoded:
        return []
    ref = MsSsimReference(reference, max_val)
    return [ref.score(y) for y in decoded]


class MsSsimReference:
    """One reference image, ready to score any number of decoded versions of it."""

    def __init__(self, reference: np.ndarray, max_val: float = 255.0) -> None:
        self.shape = reference.shape
        self._pyramid: _ReferencePyramid | None = None
        if min(reference.shape[:2]) >= MS_SSIM_MIN_SIDE:
            import torch

            with torch.no_grad():
                self._pyramid = _ReferencePyramid(_as_planes(torch, reference), max_val)

    def score(self, decoded: np.ndarray) -> float:
        """MS-SSIM of ``decoded`` against the reference; NaN below 161 px a side."""
        if decoded.shape != self.shape:
            raise ValueError(f"decoded shape {decoded.shape} differs from {self.shape}")
        if self._pyramid is None:
            return math.nan
        import torch

        with torch.no_grad():
            return self._pyramid.score(_as_planes(torch, decoded))


def _as_planes(torch: Any, image: np.ndarray) -> Any:
    """(1, 3, H, W) float32, as CompressAI's bench hands images to pytorch_msssim."""
    return torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)[None].contiguous()


def _window(torch: Any) -> Any:
    coords = torch.arange(_WIN_SIZE, dtype=torch.float) - _WIN_SIZE // 2
    g = torch.exp(-(coords**2) / (2 * _WIN_SIGMA**2))
    return g / g.sum()


def _blur(torch: Any, planes: Any, win: Any) -> Any:
    """pytorch_msssim's separable Gaussian (valid convolution; a side shorter than the
    window is left unfiltered, as there), run channels-last, returned NCHW."""
    import torch.nn.functional as F

    m = planes.shape[1]
    out = planes.contiguous(memory_format=torch.channels_last)
    if planes.shape[2] >= _WIN_SIZE:
        out = F.conv2d(out, win.view(1, 1, -1, 1).expand(m, 1, -1, 1), groups=m)
    if planes.shape[3] >= _WIN_SIZE:
        out = F.conv2d(out, win.view(1, 1, 1, -1).expand(m, 1, 1, -1), groups=m)
    return out.contiguous()


def _pool(torch: Any, planes: Any) -> Any:
    import torch.nn.functional as F

    return F.avg_pool2d(planes, kernel_size=2, padding=[s % 2 for s in planes.shape[2:]])


class _ReferencePyramid:
    """The reference's planes and filtered statistics at every scale, computed once."""

    def __init__(self, x: Any, max_val: float) -> None:
        import torch

        self.win = _window(torch)
        self.c1 = (_K1 * max_val) ** 2
        self.c2 = (_K2 * max_val) ** 2
        self.levels: list[tuple[Any, Any, Any]] = []  # (x, mu_x, mu_x², E[x²] - mu_x²)
        for i in range(len(_WEIGHTS)):
            mu1, ex2 = _blur(torch, torch.cat([x, x * x], dim=1), self.win).chunk(2, dim=1)
            mu1_sq = mu1.pow(2)
            self.levels.append((x, mu1, mu1_sq, ex2 - mu1_sq))
            if i < len(_WEIGHTS) - 1:
                x = _pool(torch, x)

    def score(self, y: Any) -> float:
        import torch

        factors = []
        for i, (x, mu1, mu1_sq, sigma1_sq) in enumerate(self.levels):
            mu2, ey2, exy = _blur(torch, torch.cat([y, y * y, x * y], dim=1), self.win).chunk(
                3, dim=1
            )
            mu2_sq, mu1_mu2 = mu2.pow(2), mu1 * mu2
            cs_map = (2 * (exy - mu1_mu2) + self.c2) / (sigma1_sq + (ey2 - mu2_sq) + self.c2)
            if i < len(self.levels) - 1:
                factors.append(torch.relu(cs_map.flatten(2).mean(-1)))
                y = _pool(torch, y)
            else:
                ssim_map = ((2 * mu1_mu2 + self.c1) / (mu1_sq + mu2_sq + self.c1)) * cs_map
                factors.append(torch.relu(ssim_map.flatten(2).mean(-1)))
        weights = torch.tensor(_WEIGHTS).view(-1, 1, 1)
        return float(torch.prod(torch.stack(factors) ** weights, dim=0).mean())


def finite_mean(values: list[float]) -> float:
    """Mean of the finite values (NaN when there are none)."""
    good = [v for v in values if v is not None and math.isfinite(v)]
    return float(sum(good) / len(good)) if good else math.nan
