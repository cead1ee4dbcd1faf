"""Real photos that ship inside installed packages: a dataset that needs no download.

Used by the default codec sweep and by tests. Photos come from scikit-image
(``skimage/data``), scikit-learn (``datasets/images``) and matplotlib
(``mpl-data/sample_data``); they are located through ``importlib.metadata`` so no
package is imported. Grey-scale, synthetic or tiny images are left out: the set is
meant to behave like natural photos under compression.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from lossybench import hookimpl
from lossybench.dataset import Dataset, Sample

#: (distribution, path inside it) of each colour photo, in a fixed order.
PHOTOS: tuple[tuple[str, str], ...] = (
    ("scikit-image", "skimage/data/astronaut.png"),
    ("scikit-image", "skimage/data/chelsea.png"),
    ("scikit-image", "skimage/data/coffee.png"),
    ("scikit-image", "skimage/data/rocket.jpg"),
    ("scikit-image", "skimage/data/motorcycle_left.png"),
    ("scikit-image", "skimage/data/hubble_deep_field.jpg"),
    ("scikit-learn", "sklearn/datasets/images/china.jpg"),
    ("scikit-learn", "sklearn/datasets/images/flower.jpg"),
    ("matplotlib", "matplotlib/mpl-data/sample_data/grace_hopper.jpg"),
)


def locate(dist_name: str, rel: str) -> Path | None:
    try:
        path = Path(str(distribution(dist_name).locate_file(rel)))
    except PackageNotFoundError:
        return None
    return path if path.is_file() else None


def photo_path(stem: str) -> Path:
    """Path of one shipped photo by file stem (``"astronaut"``); for tests and examples."""
    for dist_name, rel in PHOTOS:
        if Path(rel).stem == stem:
            path = locate(dist_name, rel)
            if path is None:
                raise FileNotFoundError(f"{rel} is missing: is {dist_name} installed?")
            return path
    raise KeyError(f"no shipped photo named {stem!r}; have {[Path(r).stem for _, r in PHOTOS]}")


class PackagePhotos(Dataset):
    name = "package-photos"
    description = "colour photos shipped inside scikit-image, scikit-learn and matplotlib"
    requires_location = False

    def samples(self) -> Iterator[Sample]:
        for dist_name, rel in PHOTOS:
            path = locate(dist_name, rel)
            if path is not None:
                yield Sample(id=Path(rel).stem, source=str(path), meta={"package": dist_name})


@hookimpl
def lossybench_datasets() -> list[type[Dataset]]:
    return [PackagePhotos]
