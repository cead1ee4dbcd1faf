"""HEIC: HEVC intra in a HEIF container, via pillow-heif (libheif + x265).

This is the stand-in for BPG (also HEVC intra) that installs from PyPI. Encoding
and decoding go through pillow-heif's own functions on in-memory buffers, never
through ``register_heif_opener``, so importing this plugin changes nothing about how
Pillow opens files for the other codecs. Every encoder setting that pillow-heif
would otherwise take from its module-wide ``options`` is passed explicitly, so
another library tweaking those globals cannot change our bits.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from lossybench import hookimpl
from lossybench.codec import Backend, Codec, CodecOption, QualityRange, log_interp
from lossybench.errors import CodecError
from lossybench.image import to_rgb8

#: Typical (quality, bpp) of HEIC (4:2:0) on photos: the geometric mean over the package
#: photos (scripts/fit_rate_priors.py heic), fixed data for rate control. libheif gives
#: the same bits at 95 and 100, so the table stops at 95 (and extrapolates beyond).
RATE_PRIOR = (
    (0.0, 0.0496), (5.0, 0.0686), (10.0, 0.0873), (15.0, 0.1297), (20.0, 0.1679),
    (30.0, 0.3157), (40.0, 0.6088), (50.0, 1.059), (60.0, 1.6998), (70.0, 2.5757),
    (80.0, 3.6934), (85.0, 4.4498), (90.0, 4.9202), (95.0, 5.3056),
)
INSTALL_HINT = "install pillow-heif from PyPI (pip install -U pillow-heif)"


def _lib_info() -> dict[str, Any]:
    import pillow_heif

    return dict(pillow_heif.libheif_info())


class HeicCodec(Codec):
    name = "heic"
    description = "HEIC (HEVC intra, libheif + x265 via pillow-heif; BPG stand-in)"
    suffix = ".heic"
    # libheif maps 0..100 onto x265's quantiser; 100 is *not* lossless (that is
    # pillow-heif's quality=-1), so the full range is a lossy knob. libheif's default is 50.
    # Two neighbouring qualities share a QP (1-2, 3-4, ..., 93-94; 95-100 are one), so rate
    # control searches only 0, 2, ..., 94, 100: same answers, no encode spent twice.
    quality = QualityRange(
        0, 100, kind="discrete", step=1, default=50,
        distinct=(*range(0, 95, 2), 100),
    )
    options = (CodecOption("chroma", "420", "chroma subsampling", ("420", "422", "444")),)

    def rate_prior(self, quality: float) -> float:
        return log_interp(RATE_PRIOR, quality)

    def encode(self, image: np.ndarray, quality: float) -> bytes:
        import pillow_heif

        height, width = image.shape[:2]
        buf = io.BytesIO()
        try:
            pillow_heif.encode(
                "RGB",
                (width, height),
                np.ascontiguousarray(image, dtype=np.uint8).tobytes(),
                buf,
                quality=int(quality),
                chroma=int(self.settings["chroma"]),
                tile_size=0,  # one coded image, no grid
                save_nclx_profile=True,  # sRGB / BT.601 full range, libheif's defaults
                exif=None,
                xmp=None,
            )
        except Exception as exc:
            raise CodecError(
                f"{self.name}: libheif failed to encode {width}x{height} at quality "
                f"{int(quality)}: {exc}"
            ) from exc
        return buf.getvalue()

    def decode(self, bitstream: bytes) -> np.ndarray:
        import pillow_heif

        try:
            heif = pillow_heif.open_heif(io.BytesIO(bitstream), convert_hdr_to_8bit=True)
            return to_rgb8(heif.to_pillow())
        except Exception as exc:
            raise CodecError(f"{self.name}: cannot decode bitstream: {exc}") from exc

    @classmethod
    def backend(cls) -> Backend:
        import pillow_heif

        info = _lib_info()
        binding = f"pillow-heif {pillow_heif.__version__}"
        encoder = str(info.get("HEIF") or "")
        if encoder:
            binding += f"; encoder {encoder}"
        return Backend("libheif", str(info.get("libheif") or "?"), binding)

    @classmethod
    def check_available(cls) -> None:
        try:
            info = _lib_info()
        except ImportError as exc:
            raise CodecError(f"{cls.name}: pillow-heif is not installed; {INSTALL_HINT}") from exc
        if not info.get("HEIF"):
            raise CodecError(
                f"{cls.name}: this libheif has no HEVC encoder (x265); "
                f"{INSTALL_HINT} (the PyPI wheels include x265)"
            )


@hookimpl
def lossybench_codecs() -> list[type[Codec]]:
    return [HeicCodec]
