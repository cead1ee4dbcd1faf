"""Lossy WebP through Pillow's libwebp.

Defaults equal ``Image.save(format="WEBP", quality=q)`` (``method`` 4, Pillow's
single-image default) so that numbers match CompressAI's bench byte for byte;
``method`` trades encoder speed for size.
"""

from __future__ import annotations

from typing import Any

from PIL import Image, features

from lossybench import hookimpl
from lossybench.codec import Backend, CodecOption, QualityRange, log_interp
from lossybench.kits.pillow_codec import PillowCodec

#: Typical (quality, bpp) of lossy WebP (method 4) on photos: the geometric mean over
#: the package photos, shipped as fixed data for rate control's first guesses.
RATE_PRIOR = (
    (0.0, 0.1107), (3.0, 0.1837), (6.0, 0.2156), (10.0, 0.2522), (15.0, 0.2946),
    (25.0, 0.3773), (35.0, 0.4662), (50.0, 0.6025), (65.0, 0.7434), (75.0, 0.853),
    (85.0, 1.3325), (90.0, 1.776), (95.0, 2.563), (100.0, 3.4704),
)


class WebpCodec(PillowCodec):
    name = "webp"
    description = "WebP (lossy VP8, libwebp via Pillow)"
    pillow_format = "WEBP"
    suffix = ".webp"
    # Pillow's own default quality is 80.
    quality = QualityRange(0, 100, kind="discrete", step=1, default=80)
    options = (
        CodecOption(
            "method", 4, "encoder effort, 0 = fast .. 6 = slowest/smallest", tuple(range(7))
        ),
    )

    def rate_prior(self, quality: float) -> float:
        return log_interp(RATE_PRIOR, quality)

    def save_params(self, quality: float) -> dict[str, Any]:
        # lossless=False is Pillow's default; spelled out because this codec is the lossy mode.
        return {"quality": int(quality), "method": self.settings["method"], "lossless": False}

    @classmethod
    def backend(cls) -> Backend:
        return Backend("libwebp", features.version("webp") or "?", f"Pillow {Image.__version__}")


@hookimpl
def lossybench_codecs() -> list[type[PillowCodec]]:
    return [WebpCodec]
