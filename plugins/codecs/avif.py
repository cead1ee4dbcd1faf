"""AVIF (AV1 intra) through Pillow's built-in libavif (Pillow >= 11.3).

Defaults follow ``Image.save(format="AVIF", quality=q)`` except for the thread
count: libaom writes different bits with one thread than with several (row-based
multithreading changes the bitstream), so at least two are always requested to keep
the bytes independent of the machine's core count.
"""

from __future__ import annotations

from typing import Any

from PIL import Image, features

from lossybench import hookimpl
from lossybench.codec import Backend, CodecOption, QualityRange, log_interp
from lossybench.errors import CodecError
from lossybench.kits.cores import available_cores
from lossybench.kits.pillow_codec import PillowCodec

SUBSAMPLINGS = ("4:2:0", "4:2:2", "4:4:4")
#: Typical (quality, bpp) of AVIF (speed 6, 4:2:0) on photos: the geometric mean over the
#: package photos (scripts/fit_rate_priors.py avif), fixed data for rate control.
RATE_PRIOR = (
    (0.0, 0.0798), (5.0, 0.086), (10.0, 0.1099), (15.0, 0.1264), (20.0, 0.1583),
    (30.0, 0.2309), (40.0, 0.3481), (50.0, 0.5497), (60.0, 0.7982), (70.0, 1.1056),
    (80.0, 1.4786), (85.0, 1.6733), (90.0, 2.0866), (95.0, 2.7916), (100.0, 5.3884),
)


def _threads() -> int:
    """Pillow's default thread count (CPUs available to us), but never fewer than 2."""
    return max(2, available_cores())


def _encoder_codec() -> str:
    """The AV1 encoder libavif uses, e.g. ``aom 3.14.1`` ("" if Pillow does not say)."""
    try:
        from PIL.AvifImagePlugin import _avif

        versions = str(_avif.codec_versions())
    except Exception:
        return ""
    # Format: "dav1d [dec]:1.5.3-0-gb546257, aom [enc]:3.14.1"
    for part in versions.split(", "):
        name, _, ver = part.partition(":")
        if "enc" in name:
            return f"{name.split(' [')[0]} {ver.split('-')[0]}".strip()
    return ""


class AvifCodec(PillowCodec):
    name = "avif"
    description = "AVIF (AV1 intra, libavif via Pillow)"
    pillow_format = "AVIF"
    suffix = ".avif"
    # Pillow's default quality is 75.
    quality = QualityRange(0, 100, kind="discrete", step=1, default=75)
    options = (
        CodecOption(
            "speed", 6, "encoder speed, 0 = slowest/best .. 10 = fastest", tuple(range(11))
        ),
        CodecOption("subsampling", "4:2:0", "chroma subsampling", SUBSAMPLINGS),
    )

    def rate_prior(self, quality: float) -> float:
        return log_interp(RATE_PRIOR, quality)

    def save_params(self, quality: float) -> dict[str, Any]:
        return {
            "quality": int(quality),
            "speed": int(self.settings["speed"]),
            "subsampling": self.settings["subsampling"],
            "max_threads": _threads(),
        }

    @classmethod
    def backend(cls) -> Backend:
        binding = f"Pillow {Image.__version__}"
        encoder = _encoder_codec()
        if encoder:
            binding += f"; encoder {encoder}"
        return Backend("libavif", features.version("avif") or "?", binding)

    @classmethod
    def check_available(cls) -> None:
        if not features.check("avif"):
            raise CodecError(
                f"{cls.name}: this Pillow build has no AVIF support; "
                "install Pillow >= 11.3 from PyPI (pip install -U pillow)"
            )


@hookimpl
def lossybench_codecs() -> list[type[PillowCodec]]:
    return [AvifCodec]
