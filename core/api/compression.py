"""``lossybench.compress(image, codec, bpp=...)``: one image through a real codec.

Why rate control here too: "JPEG at 0.3 bpp" must mean the setting ``bench codecs sweep``
and ``bench run`` choose for that image (policy ``floor``, the same tolerance), with the
bpp measured from the real bitstream, so a figure made in a notebook matches the
benchmark's numbers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossybench.codec import Codec, bits_per_pixel
from lossybench.engine.metrics import psnr
from lossybench.engine.ratecontrol import DEFAULT_RATE_TOLERANCE, RateSearch, validate_targets
from lossybench.errors import OutOfRangeError


@dataclass(frozen=True)
class CompressedImage:
    """A decoded image (the type given: PIL in, PIL out; array in, array out) and its bits."""

    image: Any
    bpp: float  # 8 × len(bitstream) / (width × height), never an estimate
    quality: float  # the codec setting that made the bitstream
    bitstream: bytes
    codec: str  # the codec's label, e.g. "webp:method=6"
    target: float | None  # the bpp target; None when a setting was given
    status: str  # "ok"; "too_low" / "too_high" when the target is out of the codec's reach
    psnr: float  # dB, RGB, against the original


@functools.lru_cache(maxsize=64)
def codec_named(spec: str) -> Codec:
    """The codec ``NAME[:key=value,...]`` from the plugin registry, built once per process."""
    from lossybench.engine.run.resolve import build_codecs
    from lossybench.registry import get_registry

    return build_codecs([spec], get_registry())[0]


def to_rgb(image: Any) -> tuple[np.ndarray, Any]:
    """(H, W, 3) uint8 pixels of a PIL image or uint8 array, and how to give the type back."""
    from PIL import Image

    from lossybench.image import to_rgb8

    if isinstance(image, Image.Image):
        alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
        return to_rgb8(image), ("pil", image.mode, alpha)
    arr = np.asarray(image) if isinstance(image, np.ndarray) else None
    if arr is None or arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (
            arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        what = f"{arr.dtype} array of shape {arr.shape}" if arr is not None else \
            type(image).__name__
        raise OutOfRangeError(
            f"compress takes a PIL image or a uint8 (H, W, 3) array, not a {what} "
            "(tensors: lossybench.transforms.Compress)"
        )
    rgb = arr if arr.ndim == 3 and arr.shape[2] == 3 else (
        np.repeat(arr.reshape(arr.shape[:2])[..., None], 3, 2) if arr.ndim == 2 or
        arr.shape[2] == 1 else arr[..., :3])
    return np.ascontiguousarray(rgb), ("array", arr.shape, arr[..., 3] if arr.ndim == 3 and
                                       arr.shape[2] == 4 else None)


def from_rgb(decoded: np.ndarray, how: Any) -> Any:
    """``decoded`` in the form :func:`to_rgb` read: PIL mode, or array shape, restored."""
    from PIL import Image

    kind, shape_or_mode, alpha = how
    if kind == "pil":  # RGB, L, RGBA and LA come back as they were; other modes as RGB
        out = Image.fromarray(decoded)
        if shape_or_mode in ("L", "LA"):
            out = out.convert("L")
        if alpha is not None:
            out.putalpha(alpha)
        return out
    shape = shape_or_mode
    if len(shape) == 2 or shape[2] == 1:
        grey = np.asarray(Image.fromarray(decoded).convert("L"))
        return grey.reshape(shape)
    if shape[2] == 4:
        return np.concatenate([decoded, alpha[..., None]], axis=2)
    return decoded


def encode_decode(
    pixels: np.ndarray, codec: Codec, bpp: float | None, quality: float | None,
    policy: str = "floor", rate_tolerance: float = DEFAULT_RATE_TOLERANCE,
    cache: str | None = None,
) -> tuple[bytes, np.ndarray, float, str]:
    """(bitstream, decoded pixels, setting, status) at a bpp target or a setting."""
    if bpp is not None and quality is not None:
        raise OutOfRangeError("give bpp or quality, not both")
    if bpp is None:
        q = quality if quality is not None else codec.quality.default
        if q is None:
            raise OutOfRangeError(f"codec {codec.label!r} has no default setting: give bpp= or "
                                  f"quality= ({codec.quality.describe()})")
        bits, decoded = codec.roundtrip(pixels, q)
        return bits, decoded, float(codec.quality.validate(q)), "ok"
    validate_targets([bpp])
    entry = None
    if cache is not None:
        from lossybench.engine.cache import CodecCache, default_root, image_key

        root = default_root() if cache == "default" else cache
        entry = CodecCache(str(root)).entry(image_key(pixels), codec)
    point = RateSearch(codec, pixels, policy=policy, cache=entry,  # type: ignore[arg-type]
                       tolerance=rate_tolerance).solve([float(bpp)])[0]
    return point.bitstream, codec.safe_decode(point.bitstream), point.quality, point.status


def compress(
    image: Any,
    codec: str | Codec,
    *,
    bpp: float | None = None,
    quality: float | None = None,
    policy: str = "floor",
    rate_tolerance: float = DEFAULT_RATE_TOLERANCE,
    cache: str | None = None,
) -> CompressedImage:
    """``image`` compressed by ``codec`` at ``bpp`` (rate control) or at setting ``quality``.

    ``codec`` is a name with options (``"jpeg"``, ``"webp:method=6"``) or a
    :class:`~lossybench.codec.Codec`. With ``bpp``, rate control picks the setting as
    ``bench codecs sweep`` does (policy ``floor``: the largest setting whose real bpp is
    not above the target, within ``rate_tolerance``); with neither, the codec's default
    setting. ``cache``: a bitstream cache folder (``"default"``: the user cache), off by
    default.
    """
    c = codec if isinstance(codec, Codec) else codec_named(str(codec))
    pixels, how = to_rgb(image)
    bits, decoded, setting, status = encode_decode(
        pixels, c, bpp, quality, policy, rate_tolerance, cache
    )
    h, w = pixels.shape[:2]
    return CompressedImage(
        image=from_rgb(decoded, how), bpp=bits_per_pixel(bits, w, h), quality=setting,
        bitstream=bits, codec=c.label, target=None if bpp is None else float(bpp),
        status=status, psnr=float(psnr(pixels, decoded)),
    )
