"""Reading user images into the one form codecs accept: (H, W, 3) uint8 RGB.

Conversions (documented in docs/images.md) follow CompressAI's bench, which opens
every file with ``Image.open(path).convert("RGB")`` so that numbers agree:

* grayscale (L, 1) and palette (P) images are expanded to RGB;
* RGBA/LA alpha is dropped (not composited), as ``convert("RGB")`` does;
* CMYK is converted with Pillow's CMYK→RGB transform;
* 16-bit images (I;16, I) are scaled to 8 bits by ``value >> 8`` before expansion,
  because ``convert`` would clip them instead;
* EXIF orientation is *not* applied: the pixels are what the codec sees.

Anything else (unreadable, truncated, not an image, larger than the pixel limit)
raises :class:`~lossybench.errors.ImageError` naming the file and what to do.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from lossybench.errors import ImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
#: Images above this many pixels are refused as possible decompression bombs.
MAX_PIXELS = int(os.environ.get("LOSSYBENCH_MAX_PIXELS", 178_956_970))


def to_rgb8(img: Image.Image) -> np.ndarray:
    """Convert an opened Pillow image to (H, W, 3) uint8 with the rules above."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.uint32 if img.mode == "I" else np.uint16)
        if img.mode == "I":
            arr = np.clip(arr, 0, 65535)
        arr8 = (arr >> 8).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(arr8[..., None], 3, axis=2))
    if img.mode == "F":
        raise ImageError("floating-point images are not supported: save it as 8-bit PNG first")
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def load_image(source: str | os.PathLike[str] | bytes) -> np.ndarray:
    """Read one image file (or its bytes) as (H, W, 3) uint8 RGB."""
    label = "<bytes>" if isinstance(source, bytes) else str(source)
    fp = io.BytesIO(source) if isinstance(source, bytes) else Path(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            previous = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            try:
                with Image.open(fp) as img:
                    w, h = img.size
                    if w * h > MAX_PIXELS:
                        raise ImageError(
                            f"{label}: {w}x{h} pixels exceeds the limit of {MAX_PIXELS} "
                            "(possible decompression bomb); "
                            "raise LOSSYBENCH_MAX_PIXELS if it is real"
                        )
                    img.load()
                    arr = to_rgb8(img)
            finally:
                Image.MAX_IMAGE_PIXELS = previous
    except ImageError:
        raise
    except FileNotFoundError as exc:
        raise ImageError(f"{label}: no such file") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            f"{label}: too many pixels, possible decompression bomb ({exc}); "
            "raise LOSSYBENCH_MAX_PIXELS if it is real"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(
            f"{label}: not an image Pillow can read (is it corrupt or another format?)"
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{label}: unreadable or truncated image ({exc})") from exc
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ImageError(f"{label}: empty image")
    return arr


def find_images(paths: list[str | os.PathLike[str]]) -> list[Path]:
    """Expand files and directories (recursively) into a sorted list of image files."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES))
        elif p.exists():
            found.append(p)
        else:
            raise ImageError(f"{p}: no such file or directory")
    return found
