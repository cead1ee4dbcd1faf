"""The real photos behind the scenes: backgrounds and object textures.

Why: offline machines have no image datasets, but scikit-image, scikit-learn and
matplotlib ship a few licence-free photos; they are found through the installed
distributions' file lists (without importing those packages) and decoded once per
process.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import numpy as np

from lossybench.errors import DatasetError


def locate(dist_name: str, rel: str) -> Path:
    """A file inside an installed distribution (found without importing the package)."""
    try:
        path = Path(str(distribution(dist_name).locate_file(rel)))
    except PackageNotFoundError:
        raise DatasetError(f"scenes: {dist_name} is not installed (needed for {rel})") from None
    if not path.is_file():
        raise DatasetError(f"scenes: {rel} is missing from the installed {dist_name}")
    return path


@cache
def _photo(dist_name: str, rel: str) -> np.ndarray:
    from PIL import Image

    with Image.open(locate(dist_name, rel)) as img:
        return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


@cache
def _texture(dist_name: str, rel: str, half: int) -> np.ndarray:
    from PIL import Image

    with Image.open(locate(dist_name, rel)) as img:
        arr = np.asarray(img.convert("L"), dtype=np.int32)
    h = arr.shape[0] // 2
    return np.ascontiguousarray(arr[half * h : (half + 1) * h])
