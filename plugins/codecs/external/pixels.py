"""The image files exchanged with external programs: the encoder's input, the decoder's output.

Why: tools read and write many formats (PNG, PPM, raw RGB or YUV planes), while the
benchmark deals in 8-bit RGB arrays; the conversions live here so that the formats a
definition may name and the ones this module can handle never disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lossybench.errors import CodecError, ImageError
from lossybench.image import IMAGE_SUFFIXES, load_image

#: Formats the tool writes for the encoder: Pillow formats by suffix, plus raw planes.
PILLOW_WRITE = {
    ".png": "PNG",
    ".ppm": "PPM",
    ".pnm": "PPM",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
RAW_SUFFIXES = (".rgb", ".yuv")
INPUT_SUFFIXES = (*PILLOW_WRITE, *RAW_SUFFIXES)
DECODED_SUFFIXES = tuple(sorted({*IMAGE_SUFFIXES, ".pnm", *RAW_SUFFIXES}))

#: BT.709 full-range luma weights, as CompressAI's VTM bench uses for its YUV files.
KR, KB = 0.2126, 0.0722
KG = 1.0 - KR - KB


def rgb_to_ycbcr(image: np.ndarray) -> np.ndarray:
    """8-bit RGB to planar-ready 8-bit YCbCr, BT.709 full range (CompressAI's choice)."""
    rgb = image.astype(np.float64)
    y = KR * rgb[..., 0] + KG * rgb[..., 1] + KB * rgb[..., 2]
    cb = (rgb[..., 2] - y) / (2 * (1 - KB)) + 128.0
    cr = (rgb[..., 0] - y) / (2 * (1 - KR)) + 128.0
    return np.clip(np.rint(np.stack([y, cb, cr], axis=-1)), 0, 255).astype(np.uint8)


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`."""
    y, cb, cr = (ycc[..., i].astype(np.float64) for i in range(3))
    r = y + 2 * (1 - KR) * (cr - 128.0)
    b = y + 2 * (1 - KB) * (cb - 128.0)
    g = (y - KR * r - KB * b) / KG
    return np.clip(np.rint(np.stack([r, g, b], axis=-1)), 0, 255).astype(np.uint8)


def write_input(path: Path, image: np.ndarray) -> None:
    """Write the original for the encoder, in the format its suffix names."""
    suffix = path.suffix.lower()
    if suffix == ".rgb":
        path.write_bytes(np.ascontiguousarray(image.transpose(2, 0, 1)).tobytes())
    elif suffix == ".yuv":
        path.write_bytes(np.ascontiguousarray(rgb_to_ycbcr(image).transpose(2, 0, 1)).tobytes())
    else:
        params: dict[str, Any] = {"compress_level": 1} if suffix == ".png" else {}
        Image.fromarray(np.ascontiguousarray(image), "RGB").save(
            path, format=PILLOW_WRITE[suffix], **params
        )


def read_decoded(path: Path, name: str, size: tuple[int, int] | None) -> np.ndarray:
    """Read the decoder's output; raw planes need the (height, width) from the encode."""
    suffix = path.suffix.lower()
    if suffix not in RAW_SUFFIXES:
        try:
            return load_image(path)
        except ImageError as exc:
            raise CodecError(f"{name}: cannot read the decoded image: {exc}") from exc
    if size is None:
        raise CodecError(
            f"{name}: a raw {suffix} output has no size in it, and this bitstream was not "
            "encoded by this codec instance; decode it with the instance that encoded it"
        )
    h, w = size
    data = path.read_bytes()
    if len(data) != 3 * h * w:
        hint = (
            " (16-bit samples? ask the decoder for 8-bit output, e.g. VTM's -d 8)"
            if len(data) == 6 * h * w
            else ""
        )
        raise CodecError(
            f"{name}: decoded {suffix} file has {len(data)} bytes, expected {3 * h * w} for "
            f"{w}x{h} 8-bit 4:4:4 planar{hint}"
        )
    planes = np.frombuffer(data, dtype=np.uint8).reshape(3, h, w).transpose(1, 2, 0)
    return ycbcr_to_rgb(planes) if suffix == ".yuv" else np.ascontiguousarray(planes)
