"""Image-quality metrics with the exact formulas of CompressAI's bench.

Per image, then averaged over images (the aggregation CompressAI uses), so that
`bench codecs sweep` and ``python -m compressai.utils.bench`` agree to 0.01 dB.

MS-SSIM is pytorch_msssim's formula (the one CompressAI's bench calls: 11-tap Gaussian,
sigma 1.5, valid filtering, five scales, 2×2 average pooling with zero padding on odd
sides, its weights and constants) evaluated for one reference against many decoded
versions at once. It runs on OpenCV and NumPy, not torch — why: codec worker processes
then never import torch (1.7–2.3 s each on a 2-core VM, more than a whole sweep of small
images spends on MS-SSIM), and OpenCV's separable float32 filter is as fast as torch's
channels-last depthwise convolution (docs/codecs.md, "Quality metrics").

Precision: the statistics are not computed as pytorch_msssim writes them (σ² = E[x²] −
μ², which in float32 loses up to ~2e-5 of MS-SSIM to cancellation when pixel values are
large and the local variance small). The reference's mean and variance are filtered once
in float64; each decoded version ``y`` enters only through its difference ``d = y − x``
(small for a codec), whose three statistics (E[d], E[d²], E[x·d]) are filtered together
in float32. With ``A = 2(σx² + cov(x, d)) + C2`` the contrast–structure term is
``A / (A + var(d))`` and the luminance term ``B / (B + E[d]²)`` with ``B = 2μx(μx + E[d])
+ C1``: the same formula, rearranged, no large terms subtracted. The window is
pytorch_msssim's float32 window bit for bit. Values agree with ``pytorch_msssim.ms_ssim``
evaluated in float64 to ~1e-8 (800×800 photos, JPEG 2–95 and noise; docs/codecs.md),
at the float32 cost per decoded version (the float64 reference adds ~50 ms per 800×800
image, once); pytorch_msssim's own float32 evaluation (CompressAI's bench) is up to
~1.5e-5 off its float64 one on such photos.
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


#: pytorch_msssim's window (``_fspecial_gauss_1d(11, 1.5)``: torch's float32 ``exp`` and
#: sum) to the bit: NumPy's float32 ``exp`` differs from torch's by one ulp at two taps,
#: which moves MS-SSIM by up to ~1e-6. Its first six taps; the window is symmetric.
_HALF_WINDOW = ("0x1.0d957p-10", "0x1.f1fe02p-8", "0x1.26eb18p-5", "0x1.bff0fep-4",
                "0x1.b43c3ep-3", "0x1.10656p-2")


def _window() -> np.ndarray:
    half = [float.fromhex(h) for h in _HALF_WINDOW]
    return np.array(half + half[-2::-1], dtype=np.float32)


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
    win, one = _WIN.astype(planes.dtype), _IDENTITY.astype(planes.dtype)
    out = cv2.sepFilter2D(
        np.ascontiguousarray(planes).reshape(c * h, w), -1,
        win if tall_w else one, win if tall_h else one,
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
    """The reference's planes and filtered statistics at every scale, computed once (in
    float64): per scale (x, μx, 2σx² + C2, 2μx² + C1), the last three as float32."""

    def __init__(self, x: np.ndarray, max_val: float) -> None:
        c1, c2 = (_K1 * max_val) ** 2, (_K2 * max_val) ** 2
        self.levels: list[tuple[np.ndarray, ...]] = []
        k = x.shape[0]
        for i in range(len(_WEIGHTS)):
            x64 = x.astype(np.float64)
            stats = _blur(np.concatenate([x64, x64 * x64]))
            mu1, ex2 = stats[:k], stats[k:]
            mu1_sq = mu1 * mu1
            self.levels.append((x, mu1.astype(np.float32),
                                (2 * (ex2 - mu1_sq) + c2).astype(np.float32),
                                (2 * mu1_sq + c1).astype(np.float32)))
            if i < len(_WEIGHTS) - 1:
                x = _pool(x)

    def score(self, y: np.ndarray) -> float:
        factors = []
        k = y.shape[0]
        last = len(self.levels) - 1
        d = y - self.levels[0][0]  # exact: integers, then quarters of sums at every scale
        for i, (x, mu1, a0, b0) in enumerate(self.levels):
            stats = _blur(np.concatenate([d, d * d, x * d]))
            mu_d, ed2, exd = stats[:k], stats[k : 2 * k], stats[2 * k :]
            # 2σxy + C2 = A and σx² + σy² + C2 = A + var(d), with cov(x, d) = E[xd] − μx·μd
            a = a0 + 2 * (exd - mu1 * mu_d)
            cs_map = a / (a + (ed2 - mu_d * mu_d))
            if i < last:
                factors.append(np.maximum(_channel_means(cs_map), 0.0))
                d = _pool(d)  # pooling is linear: pool(y) − pool(x), zero padding included
            else:
                # 2μxμy + C1 = B and μx² + μy² + C1 = B + μd², with μy = μx + μd
                b = b0 + 2 * mu1 * mu_d
                ssim_map = b / (b + mu_d * mu_d) * cs_map
                factors.append(np.maximum(_channel_means(ssim_map), 0.0))
        weights = np.asarray(_WEIGHTS, dtype=np.float64)[:, None]
        return float(np.prod(np.stack(factors) ** weights, axis=0).mean())


def finite_mean(values: list[float]) -> float:
    """Mean of the finite values (NaN when there are none)."""
    good = [v for v in values if v is not None and math.isfinite(v)]
    return float(sum(good) / len(good)) if good else math.nan
