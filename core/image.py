"""Reading user images into the one form codecs accept: (H, W, 3) uint8 RGB.

Conversions (documented in docs/images.md) follow CompressAI's bench, which opens
every file with ``Image.open(path).convert("RGB")`` so that numbers agree:

* grayscale (L, 1) and palette (P) images are expanded to RGB;
* RGBA/LA alpha is dropped (not composited), as ``convert("RGB")`` does;
* CMYK is converted with Pillow's CMYK→RGB transform;
* 16-bit images (I;16, I) are scaled to 8 bits by ``value >> 8`` before expansion,
  because ``convert`` would clip them instead;
* EXIF orientation is *not* applied: the pixels are what the codec sees.

Anything else (unreadable, truncated, not an image, larger than the pixel or byte
limit, not a regular file) raises :class:`~lossybench.errors.ImageError` naming the file
and what to do.

Nothing here ever blocks or reads without bound: a path is ``os.stat``-ed (following
symlinks) before it is opened, and only a regular file of at most
:data:`MAX_IMAGE_BYTES` is opened at all; a FIFO, socket, device, directory or dangling
symlink is refused with its kind (:func:`file_problem`).
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from lossybench.errors import ImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
#: Images above this many pixels are refused as possible decompression bombs
#: (Pillow's own default limit; ``LOSSYBENCH_MAX_PIXELS`` overrides it).
MAX_PIXELS = int(os.environ.get("LOSSYBENCH_MAX_PIXELS", 178_956_970))
#: Image files above this many bytes are refused before they are read or hashed: 8 bytes
#: per allowed pixel, an uncompressed 16-bit RGBA image at :data:`MAX_PIXELS`
#: (1,431,655,760 bytes by default). ``LOSSYBENCH_MAX_IMAGE_BYTES`` overrides it.
MAX_IMAGE_BYTES = int(os.environ.get("LOSSYBENCH_MAX_IMAGE_BYTES", 8 * MAX_PIXELS))

#: What ``os.stat`` says a path is, for the files that are not regular files.
_KINDS = (
    (stat.S_ISDIR, "directory"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


def file_problem(path: str | os.PathLike[str], max_bytes: int | None = None) -> str | None:
    """Why ``path`` is not a regular file that may be read, or None when it is one.

    Only ``os.stat`` (following symlinks: a link to a regular file is fine) is used, so
    asking never blocks: ``"not a regular file (FIFO)"``, ``"… (directory)"``,
    ``"dangling symlink (to X)"``, ``"no such file"``, or, with ``max_bytes`` (an image
    file's limit, :data:`MAX_IMAGE_BYTES`), ``"2,000,000,000 bytes, over the limit of
    1,431,655,760 bytes for one image (…)"``. The answer names no path: callers put it
    in front.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            try:
                return f"dangling symlink (to {os.readlink(path)})"
            except OSError:
                return "dangling symlink"
        return "no such file"
    except OSError as exc:  # a symlink loop, a path through a file, permissions
        return f"cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "special file")
        return f"not a regular file ({kind})"
    if max_bytes is not None and st.st_size > max_bytes:
        return (
            f"{st.st_size:,} bytes, over the limit of {max_bytes:,} bytes for one image "
            "(raise LOSSYBENCH_MAX_IMAGE_BYTES if it is real)"
        )
    return None


def open_regular(path: str | os.PathLike[str], max_bytes: int | None = None) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file (of at most ``max_bytes``).

    :func:`file_problem` is asked first, so nothing that could block is ever opened; the
    open itself is non-blocking and checked again with ``fstat``, so a path swapped for a
    FIFO in between is refused too. Raises :class:`ImageError` naming the path.
    """
    problem = file_problem(path, max_bytes)
    if problem is not None:
        raise ImageError(f"{path}: {problem}")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ImageError(f"{path}: not a regular file (it changed while being opened)")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


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
    """Read one image file (or its bytes) as (H, W, 3) uint8 RGB.

    A path must be a regular file of at most :data:`MAX_IMAGE_BYTES` (checked with
    ``os.stat`` before it is opened), of at most :data:`MAX_PIXELS` pixels (checked from
    the header, before the pixels are decoded).
    """
    label = "<bytes>" if isinstance(source, bytes) else str(source)
    try:
        if isinstance(source, bytes):
            fp: BinaryIO = io.BytesIO(source)
        else:
            fp = open_regular(source, MAX_IMAGE_BYTES)
        with fp, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            previous = Image.MAX_IMAGE_PIXELS
            # one limit, checked here, so that the message states the limit enforced
            # (Pillow's own check would quote twice its limit for larger images)
            Image.MAX_IMAGE_PIXELS = None
            try:
                with Image.open(fp) as img:
                    w, h = img.size
                    if w * h > MAX_PIXELS:
                        raise ImageError(
                            f"{label}: {w}x{h} = {w * h:,} pixels exceeds the limit of "
                            f"{MAX_PIXELS:,} pixels (possible decompression bomb); "
                            "raise LOSSYBENCH_MAX_PIXELS if it is real"
                        )
                    img.load()
                    arr = to_rgb8(img)
            finally:
                Image.MAX_IMAGE_PIXELS = previous
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(
            f"{label}: not an image Pillow can read (is it corrupt or another format?)"
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{label}: unreadable or truncated image ({exc})") from exc
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ImageError(f"{label}: empty image")
    return arr


def find_images(
    paths: list[str | os.PathLike[str]], skipped: list[tuple[Path, str]] | None = None
) -> list[Path]:
    """Expand files and directories (recursively) into a sorted list of image paths.

    In a directory, every entry with an image suffix (:data:`IMAGE_SUFFIXES`) is listed
    unless it is itself a directory: a FIFO, socket, device or dangling symlink is listed
    too, so that reading it fails *that* image with its reason (:func:`load_image`
    refuses it without opening it) instead of vanishing. A directory with an image
    suffix is searched like any other; one that holds no image is added to ``skipped``
    as ``(path, reason)`` when a list is given, for the caller to report (``x.jpg/``
    looks like an image, yet gives nothing). Paths given explicitly are listed as they
    are.
    """
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            suffixed = []
            for q in sorted(p.rglob("*")):
                if q.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                if q.is_dir():
                    suffixed.append(q)
                else:
                    found.append(q)
            if skipped is not None:
                skipped.extend(
                    (d, "a directory holding no image")
                    for d in suffixed
                    if not any(d in f.parents for f in found)
                )
        elif p.exists():
            found.append(p)
        else:
            raise ImageError(f"{p}: {file_problem(p) or 'no such file or directory'}")
    return found
