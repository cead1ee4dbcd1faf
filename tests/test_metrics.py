"""lossybench's MS-SSIM against pytorch_msssim (the implementation CompressAI's bench calls).

Against pytorch_msssim in float64 (the formula's exact value) lossybench agrees to ~1e-8;
against its float32 evaluation (what CompressAI's bench runs) to float32's own error,
which reaches ~1.5e-5 on large photos and ~1e-5 on the smallest images (161 px, a 1×1
last scale), hence that tolerance.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image
from pytorch_msssim import ms_ssim as oracle

from lossybench.engine.metrics import MS_SSIM_MIN_SIDE, MsSsimReference, ms_ssim, ms_ssim_many
from lossybench.plugins.datasets.package_photos import photo_path


def _oracle(a: np.ndarray, b: np.ndarray, dtype: type = np.float32) -> float:
    def t(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x.astype(dtype)).permute(2, 0, 1)[None]

    with torch.no_grad():
        return float(oracle(t(a), t(b), data_range=255).item())


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


@pytest.mark.parametrize(
    "crop",
    [(slice(None), slice(None)), (slice(0, 301), slice(3, 400)), (slice(0, 161), slice(0, 170))],
    ids=["full", "odd-sides", "smallest"],
)
def test_ms_ssim_matches_pytorch_msssim(crop):
    photo = np.asarray(Image.open(photo_path("astronaut")).convert("RGB"))[crop]
    versions = [_jpeg(photo, q) for q in (2, 10, 50, 95)]
    rng = np.random.default_rng(0)
    versions.append(rng.integers(0, 256, photo.shape, dtype=np.uint8))  # clamps at 0 (relu)
    want = [_oracle(photo, v) for v in versions]
    got = ms_ssim_many(photo, versions)
    assert got == pytest.approx(want, abs=5e-5)
    assert ms_ssim(photo, versions[1]) == pytest.approx(want[1], abs=5e-5)
    assert ms_ssim(photo, photo) == pytest.approx(1.0, abs=5e-5)
    assert got[0] < got[1] < got[2] < got[3] < 1.0  # more bits, more similar


def test_ms_ssim_matches_float64_pytorch_msssim_on_a_large_photo():
    """The exact value, not float32's: an 800×800 photo (astronaut, 512 px, resized with
    PIL's bicubic) where lossybench read up to 1.0e-5 low before its statistics were
    rearranged (float32 cancellation in E[x²] − μ²) and its window made torch's."""
    photo = np.asarray(Image.open(photo_path("astronaut")).convert("RGB")
                       .resize((800, 800), Image.BICUBIC))
    versions = [_jpeg(photo, q) for q in (2, 10, 60)]
    versions.append(np.random.default_rng(1).integers(0, 256, photo.shape, dtype=np.uint8))
    want = [_oracle(photo, v, np.float64) for v in versions]
    assert ms_ssim_many(photo, versions) == pytest.approx(want, abs=1e-7)


def test_window_is_pytorch_msssims_to_the_bit():
    from pytorch_msssim.ssim import _fspecial_gauss_1d

    from lossybench.engine import metrics

    torch_window = _fspecial_gauss_1d(metrics._WIN_SIZE, metrics._WIN_SIGMA).flatten().numpy()
    assert metrics._WIN.dtype == np.float32
    assert np.array_equal(metrics._WIN, torch_window)


def test_ms_ssim_small_and_mismatched_images():
    small = np.zeros((MS_SSIM_MIN_SIDE - 1, 300, 3), np.uint8)
    assert math.isnan(ms_ssim(small, small))
    ref = MsSsimReference(np.zeros((200, 200, 3), np.uint8))
    with pytest.raises(ValueError, match="differs"):
        ref.score(np.zeros((200, 201, 3), np.uint8))
    assert ms_ssim_many(small, []) == []


def test_codec_work_with_ms_ssim_never_imports_torch():
    """Why MS-SSIM is not torch: a codec worker would pay a 2 s import for it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from lossybench.engine.codec_stage import CodecStage\n"
        "from lossybench.plugins.datasets.package_photos import PackagePhotos\n"
        "from lossybench.plugins.codecs.jpeg import JpegCodec\n"
        "sample = next(iter(PackagePhotos().samples()))\n"
        "work = CodecStage([JpegCodec()], 'quality', [30], 'floor', None,\n"
        "                  with_ms_ssim=True)(sample)\n"
        "assert 0.5 < work.items[0].ms_ssim < 1, work.items[0]\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False", out.stderr
