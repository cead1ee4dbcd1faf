"""JPEG through Pillow's libjpeg-turbo.

Defaults equal ``Image.save(format="JPEG", quality=q)`` so that numbers match
CompressAI's bench byte for byte; ``optimize`` and ``subsampling`` are options.
"""

from __future__ import annotations

import math
from typing import Any

from PIL import Image, features

from lossybench import hookimpl
from lossybench.codec import Backend, CodecOption, QualityRange, log_interp
from lossybench.kits.pillow_codec import PillowCodec

SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}
#: Typical (quality, bpp) of 4:2:0 baseline JPEG on photos: the geometric mean over the
#: package photos, shipped as fixed data for rate control's first guesses.
RATE_PRIOR = (
    (1.0, 0.1815), (3.0, 0.1899), (5.0, 0.2227), (8.0, 0.2734), (12.0, 0.3376),
    (18.0, 0.4245), (25.0, 0.5177), (35.0, 0.6502), (50.0, 0.7989), (65.0, 1.0381),
    (75.0, 1.244), (85.0, 1.6825), (90.0, 2.1334), (95.0, 3.0836),
)


class JpegCodec(PillowCodec):
    name = "jpeg"
    description = "JPEG (baseline, libjpeg-turbo via Pillow)"
    pillow_format = "JPEG"
    suffix = ".jpg"
    quality = QualityRange(1, 95, kind="discrete", step=1, default=75)
    options = (
        CodecOption("subsampling", "4:2:0", "chroma subsampling", tuple(SUBSAMPLING)),
        CodecOption("optimize", False, "optimised Huffman tables (smaller files, same pixels)"),
        CodecOption("progressive", False, "progressive scan order"),
    )

    def save_params(self, quality: float) -> dict[str, Any]:
        return {
            "quality": int(quality),
            "subsampling": SUBSAMPLING[self.settings["subsampling"]],
            "optimize": self.settings["optimize"],
            "progressive": self.settings["progressive"],
        }

    def rate_prior(self, quality: float) -> float:
        return log_interp(RATE_PRIOR, quality)

    def rate_axis(self, quality: float) -> float:
        """-log of libjpeg's quantiser scale, in which log(bpp) is nearly linear."""
        scale = 5000.0 / quality if quality < 50 else 200.0 - 2.0 * quality
        return -math.log(max(scale, 1.0))

    @classmethod
    def backend(cls) -> Backend:
        # ImageNet-C found the JPEG library changes accuracy: record which one made the bits.
        if features.check_feature("libjpeg_turbo"):
            version = features.version_feature("libjpeg_turbo") or "?"
            return Backend("libjpeg-turbo", version, f"Pillow {Image.__version__}; jpeglib API "
                           f"{features.version('jpg')}")
        return Backend("libjpeg", features.version("jpg") or "?", f"Pillow {Image.__version__}")


@hookimpl
def lossybench_codecs() -> list[type[PillowCodec]]:
    return [JpegCodec]
