"""A base for codecs that Pillow (or a Pillow plugin) encodes and decodes in memory.

Lives in the core so that codec plugins can share it without importing each other.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from lossybench.codec import Codec
from lossybench.errors import CodecError
from lossybench.image import to_rgb8


class PillowCodec(Codec):
    """Subclasses set ``pillow_format`` and build the save parameters."""

    pillow_format: ClassVar[str]

    def save_params(self, quality: float) -> dict[str, Any]:
        return {"quality": int(quality)}

    def encode(self, image: np.ndarray, quality: float) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(image), "RGB").save(
            buf, format=self.pillow_format, **self.save_params(quality)
        )
        return buf.getvalue()

    def decode(self, bitstream: bytes) -> np.ndarray:
        try:
            with Image.open(io.BytesIO(bitstream), formats=[self.pillow_format]) as img:
                img.load()
                return to_rgb8(img)
        except Exception as exc:
            raise CodecError(f"{self.name}: cannot decode bitstream: {exc}") from exc

    @classmethod
    def check_available(cls) -> None:
        from PIL import features

        feature = cls.pillow_format.lower()
        if feature in {"jpeg", "webp", "avif", "jpeg2000"}:
            key = {"jpeg": "jpg", "jpeg2000": "jpg_2000"}.get(feature, feature)
            if not features.check(key):
                raise CodecError(
                    f"{cls.name}: this Pillow build has no {cls.pillow_format} support; "
                    "install a Pillow wheel from PyPI (pip install -U pillow)"
                )
