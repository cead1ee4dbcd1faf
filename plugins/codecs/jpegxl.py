"""JPEG XL through libjxl, via imagecodecs.

The knob is libjxl's own: the butteraugli distance (lower = better, 1.0 is
"visually lossless"), searched continuously on a log scale. The output is a bare
codestream (no ISO BMFF container), so no box overhead is counted in the bpp.
"""

from __future__ import annotations

import numpy as np

from lossybench import hookimpl
from lossybench.codec import Backend, Codec, CodecOption, QualityRange, log_interp
from lossybench.errors import CodecError

#: Typical (distance, bpp) of JPEG XL (effort 7) on photos: the geometric mean over the
#: package photos, shipped as fixed data for rate control's first guesses.
RATE_PRIOR = (
    (0.1, 5.8506), (0.1737, 4.5239), (0.3017, 3.4696), (0.5241, 2.5024), (0.9103, 1.7293),
    (1.5811, 1.1324), (2.7464, 0.7204), (4.7704, 0.4552), (8.2861, 0.2972),
    (14.3928, 0.1851), (25.0, 0.1355),
)
INSTALL_HINT = "install imagecodecs from PyPI (pip install 'imagecodecs<2025')"


def as_rgb8(decoded: np.ndarray) -> np.ndarray:
    """libjxl may hand back grey, grey+alpha, RGBA or 16-bit samples: make (H, W, 3) uint8."""
    arr = np.asarray(decoded)
    if arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise CodecError(f"jpegxl: decoder returned {arr.dtype} samples, expected uint8")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise CodecError(f"jpegxl: decoder returned shape {arr.shape}, expected one image")
    channels = arr.shape[2]
    if channels in (1, 2):  # grey or grey+alpha
        arr = np.repeat(arr[..., :1], 3, axis=2)
    elif channels >= 3:  # drop alpha, as the Pillow codecs do
        arr = arr[..., :3]
    return np.ascontiguousarray(arr)


class JpegXlCodec(Codec):
    name = "jpegxl"
    description = "JPEG XL (libjxl via imagecodecs, VarDCT)"
    suffix = ".jxl"
    quality = QualityRange(
        0.1,
        25,
        kind="continuous",
        higher_is_better=False,
        name="distance",
        log_scale=True,
        default=1.0,
    )
    options = (
        CodecOption("effort", 7, "encoder effort, 1 = fastest .. 9 = slowest", tuple(range(1, 10))),
    )

    def rate_prior(self, quality: float) -> float:
        return log_interp(RATE_PRIOR, quality, log_quality=True)

    def encode(self, image: np.ndarray, quality: float) -> bytes:
        import imagecodecs

        try:
            return bytes(
                imagecodecs.jpegxl_encode(
                    np.ascontiguousarray(image, dtype=np.uint8),
                    distance=float(quality),
                    effort=int(self.settings["effort"]),
                    lossless=False,
                    usecontainer=False,
                )
            )
        except Exception as exc:
            h, w = image.shape[:2]
            raise CodecError(
                f"{self.name}: libjxl failed to encode {w}x{h} at distance {quality:g}: {exc}"
            ) from exc

    def decode(self, bitstream: bytes) -> np.ndarray:
        import imagecodecs

        try:
            decoded = imagecodecs.jpegxl_decode(bitstream)
        except Exception as exc:
            raise CodecError(f"{self.name}: cannot decode bitstream: {exc}") from exc
        return as_rgb8(decoded)

    @classmethod
    def backend(cls) -> Backend:
        import imagecodecs

        # "libjxl 0.11.1" -> version "0.11.1"
        version = str(imagecodecs.jpegxl_version()).removeprefix("libjxl").strip()
        return Backend("libjxl", version or "?", f"imagecodecs {imagecodecs.__version__}")

    @classmethod
    def check_available(cls) -> None:
        try:
            import imagecodecs
        except ImportError as exc:
            raise CodecError(f"{cls.name}: imagecodecs is not installed; {INSTALL_HINT}") from exc
        if not getattr(imagecodecs.JPEGXL, "available", False):
            raise CodecError(f"{cls.name}: this imagecodecs build has no libjxl; {INSTALL_HINT}")


@hookimpl
def lossybench_codecs() -> list[type[Codec]]:
    return [JpegXlCodec]
