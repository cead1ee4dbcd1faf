"""Image-quality metrics with the exact formulas of CompressAI's bench.

Per image, then averaged over images (the aggregation CompressAI uses), so that
`bench codecs sweep` and ``python -m compressai.utils.bench`` agree to 0.01 dB.

MS-SSIM is pytorch_msssim's formula (the one CompressAI's bench calls: 11-tap Gaussian,
sigma 1.5, valid filtering, five scales, 2×2 average pooling with zero padding on odd
sides, its weights and constants) evaluated for one reference against many decoded
versions at once: the reference's filtered statistics are computed once, a version's
three statistics (mean, E[y²], E[xy]) are filtered together, and only the last scale
computes the luminance term. It runs on OpenCV and NumPy, not torch — why: codec worker
processes then never import torch (1.7–2.3 s each on a 2-core VM, more than a whole
sweep of small images spends on MS-SSIM), and OpenCV's separable float32 filter is as
fast as torch's channels-last depthwise convolution (docs/codecs.md, "Quality
metrics"). Values agree with ``pytorch_msssim.ms_ssim`` to float32 rounding (≤ 1e-5,
tested: ≤ 5e-5, typically ~1e-6; both sum in float32, in different orders).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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
            self._pyramid = _ReferencePyramid(_as_planes(reference), max_val)

    def score(self, decoded: np.ndarray) -> float:
        """MS-SSIM of ``decoded`` against the reference; NaN below 161 px a side."""
        if decoded.shape != self.shape:
            raise ValueError(f"decoded shape {decoded.shape} differs from {self.shape}")
        if self._pyramid is None:
            return math.nan
        return self._pyramid.score(_as_planes(decoded))


def _as_planes(image: np.ndarray) -> np.ndarray:
    """(C, H, W) float32 planes, as CompressAI's bench hands images to pytorch_msssim."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    return np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)


def _window() -> np.ndarray:
    coords = np.arange(_WIN_SIZE, dtype=np.float32) - _WIN_SIZE // 2
    g = np.exp(-(coords**2) / np.float32(2 * _WIN_SIGMA**2))
    return (g / g.sum()).astype(np.float32)


_WIN = _window()
_IDENTITY = np.ones(1, np.float32)
_R = _WIN_SIZE // 2


def _blur(planes: np.ndarray) -> np.ndarray:
    """pytorch_msssim's separable Gaussian on (C, H, W) planes, valid part only; a side
    shorter than the window is left unfiltered, as there.

    The planes are filtered as one tall single-channel image (OpenCV's fastest path):
    rows where neighbouring planes meet fall in the margin that valid filtering drops.
    """
    import cv2

    c, h, w = planes.shape
    tall_h, tall_w = h >= _WIN_SIZE, w >= _WIN_SIZE
    out = cv2.sepFilter2D(
        np.ascontiguousarray(planes).reshape(c * h, w), -1,
        _WIN if tall_w else _IDENTITY, _WIN if tall_h else _IDENTITY,
        borderType=cv2.BORDER_REPLICATE,
    ).reshape(c, h, w)
    rows = slice(_R, h - _R) if tall_h else slice(None)
    cols = slice(_R, w - _R) if tall_w else slice(None)
    return out[:, rows, cols]


def _pool(planes: np.ndarray) -> np.ndarray:
    """avg_pool2d(kernel 2, padding = side % 2), zeros counted, as pytorch_msssim."""
    _, h, w = planes.shape
    if h % 2 or w % 2:
        planes = np.pad(planes, ((0, 0), (h % 2, h % 2), (w % 2, w % 2)))
    h2, w2 = planes.shape[1] // 2 * 2, planes.shape[2] // 2 * 2
    p = planes[:, :h2, :w2]
    return (p[:, 0::2, 0::2] + p[:, 1::2, 0::2] + p[:, 0::2, 1::2] + p[:, 1::2, 1::2]) * (
        np.float32(0.25)
    )


def _channel_means(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], -1).mean(axis=1, dtype=np.float64)


class _ReferencePyramid:
    """The reference's planes and filtered statistics at every scale, computed once."""

    def __init__(self, x: np.ndarray, max_val: float) -> None:
        self.c1 = np.float32((_K1 * max_val) ** 2)
        self.c2 = np.float32((_K2 * max_val) ** 2)
        self.levels: list[tuple[np.ndarray, ...]] = []  # (x, mu_x, mu_x², E[x²] - mu_x²)
        k = x.shape[0]
        for i in range(len(_WEIGHTS)):
            stats = _blur(np.concatenate([x, x * x]))
            mu1, ex2 = stats[:k], stats[k:]
            mu1_sq = mu1 * mu1
            self.levels.append((x, mu1, mu1_sq, ex2 - mu1_sq))
            if i < len(_WEIGHTS) - 1:
                x = _pool(x)

    def score(self, y: np.ndarray) -> float:
        factors = []
        k = y.shape[0]
        last = len(self.levels) - 1
        for i, (x, mu1, mu1_sq, sigma1_sq) in enumerate(self.levels):
            stats = _blur(np.concatenate([y, y * y, x * y]))
            mu2, ey2, exy = stats[:k], stats[k : 2 * k], stats[2 * k :]
            mu2_sq, mu1_mu2 = mu2 * mu2, mu1 * mu2
            cs_map = (2 * (exy - mu1_mu2) + self.c2) / (sigma1_sq + (ey2 - mu2_sq) + self.c2)
            if i < last:
                factors.append(np.maximum(_channel_means(cs_map), 0.0))
                y = _pool(y)
            else:
                ssim_map = ((2 * mu1_mu2 + self.c1) / (mu1_sq + mu2_sq + self.c1)) * cs_map
                factors.append(np.maximum(_channel_means(ssim_map), 0.0))
        weights = np.asarray(_WEIGHTS, dtype=np.float64)[:, None]
        return float(np.prod(np.stack(factors) ** weights, axis=0).mean())


def finite_mean(values: list[float]) -> float:
    """Mean of the finite values (NaN when there are none)."""
    good = [v for v in values if v is not None and math.isfinite(v)]
    return float(sum(good) / len(good)) if good else math.nan
