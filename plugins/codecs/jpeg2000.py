"""JPEG 2000 through Pillow's OpenJPEG, driven by a target rate.

OpenJPEG's native lossy knob is a compression ratio, i.e. a bit-rate, so the
setting exposed here *is* the target bits per pixel (ratio = 24 / bpp for 8-bit
RGB). Rate control then starts at the target itself and usually needs one or two
encodes. The output is a raw ``.j2k`` codestream, without the JP2 boxes, so the
header counted in the bpp is as small as the format allows.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, features

from lossybench import hookimpl
from lossybench.codec import Backend, CodecOption, QualityRange
from lossybench.errors import CodecError
from lossybench.kits.pillow_codec import PillowCodec

#: Uncompressed bits per pixel of 8-bit RGB: OpenJPEG's ratios are relative to it.
RAW_BPP = 24.0
#: How far below the target the first encode aims (see ``initial_guess``).
GUESS_UNDERSHOOT = 0.01


def clamp_resolutions(requested: int, height: int, width: int) -> int:
    """The most decomposition levels (<= ``requested``) the image size allows.

    OpenJPEG refuses to encode when 2**(resolutions - 1) exceeds the smaller side,
    which would make tiny images (1x1, 8x8 crops) fail instead of compressing.
    """
    n = max(1, requested)
    smallest = max(1, min(height, width))
    while n > 1 and 2 ** (n - 1) > smallest:
        n -= 1
    return n


class Jpeg2000Codec(PillowCodec):
    name = "jpeg2000"
    description = "JPEG 2000 (OpenJPEG via Pillow, raw codestream, rate-driven)"
    pillow_format = "JPEG2000"
    suffix = ".j2k"
    quality = QualityRange(
        0.01,
        12,
        kind="continuous",
        name="rate_bpp",
        log_scale=True,
        higher_is_better=True,
        default=1.0,
    )
    options = (
        CodecOption("irreversible", True, "9/7 irreversible wavelet (lossy); false = 5/3"),
        CodecOption(
            "num_resolutions",
            6,
            "wavelet resolution levels (reduced on tiny images)",
            tuple(range(1, 33)),
        ),
        CodecOption(
            "mct",
            True,
            "RGB->YCbCr component transform before coding (OpenJPEG's CLI default; "
            "Pillow's is off, which costs several dB on colour photos)",
        ),
    )

    def save_params(self, quality: float) -> dict[str, Any]:
        # encode() adds num_resolutions, which depends on the image size.
        return {
            "no_jp2": True,
            "quality_mode": "rates",
            "quality_layers": [RAW_BPP / float(quality)],
            "irreversible": bool(self.settings["irreversible"]),
            "mct": 1 if self.settings["mct"] else 0,
        }

    def encode(self, image: np.ndarray, quality: float) -> bytes:
        height, width = image.shape[:2]
        params = self.save_params(quality)
        params["num_resolutions"] = clamp_resolutions(
            int(self.settings["num_resolutions"]), height, width
        )
        buf = io.BytesIO()
        try:
            Image.fromarray(np.ascontiguousarray(image), "RGB").save(
                buf, format=self.pillow_format, **params
            )
        except Exception as exc:
            raise CodecError(
                f"{self.name}: OpenJPEG failed to encode {width}x{height} at {quality:g} bpp: {exc}"
            ) from exc
        return buf.getvalue()

    def initial_guess(self, target_bpp: float, width: int, height: int) -> float | None:
        """The knob is the rate itself, so the target is the best first guess.

        Aimed 1% low: OpenJPEG lands within a few tenths of a percent of the requested
        rate but in steps (whole coding passes), so asking for exactly the target
        often overshoots it by a hair, and rate control then creeps down a flat step.
        Starting just below lands inside rate control's tolerance in one encode.
        """
        return target_bpp * (1.0 - GUESS_UNDERSHOOT)

    @classmethod
    def backend(cls) -> Backend:
        return Backend(
            "openjpeg", features.version("jpg_2000") or "?", f"Pillow {Image.__version__}"
        )


@hookimpl
def lossybench_codecs() -> list[type[PillowCodec]]:
    return [Jpeg2000Codec]
