"""``imagefolder:PATH``: one sub-folder per class, as torchvision's ImageFolder reads it.

A model's output *i* must mean the dataset's class *i*, so the class index of each
folder is chosen by the first rule that applies:

1. ``class_index.json`` (or ``imagenet_class_index.json``) in PATH or its parent, in
   ImageNet's format ``{"0": ["n01440764", "tench"], ...}``: folders are looked up by
   wnid (or by class name);
2. every folder name is an ImageNet-1k wnid (``n01440764``): the ImageNet index, so
   an ImageNet validation subset scores correctly against a 1000-class model;
3. every folder name is an integer: that integer;
4. otherwise: sorted folder names → 0..K-1 (torchvision's ImageFolder convention).

Images are found recursively inside each class folder, sorted; files whose suffix is
not an image suffix (:data:`lossybench.image.IMAGE_SUFFIXES`) and hidden files are
skipped. An entry with an image suffix that is not a regular file (a FIFO, a socket, a
device, a dangling symlink) is kept: its sample fails with the reason (``not a regular
file (FIFO)``), found by nothing but ``os.stat``. Directories with an image suffix that
hold no image and images lying beside the class folders (in no class) are listed by
:meth:`~lossybench.dataset.Dataset.skipped`, for the command to report, as are links
to folders already listed (a loop back up, or another class's folder): each real folder
is walked once.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lossybench import hookimpl
from lossybench.dataset import Dataset, Sample
from lossybench.errors import DatasetError
from lossybench.image import IMAGE_SUFFIXES
from lossybench.kits.imagenet import imagenet_categories

INDEX_FILES = ("class_index.json", "imagenet_class_index.json")
WNID_RE = re.compile(r"^n\d{8}$")


def read_class_index(path: Path) -> list[dict[str, Any]]:
    """Categories from an ImageNet-format ``class_index.json``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read it as JSON ({exc})") from None
    if not isinstance(data, dict) or not data:
        raise DatasetError(f'{path}: expected {{"0": ["n01440764", "tench"], ...}}')
    cats = []
    for key, value in data.items():
        if not (key.isascii() and key.isdigit()) or not (
            isinstance(value, list) and len(value) >= 2 and all(isinstance(v, str) for v in value)
        ):
            raise DatasetError(
                f'{path}: entry {key!r}: expected "INDEX": ["WNID", "NAME"], got {value!r}'
            )
        cats.append({"id": int(key), "name": value[1], "wnid": value[0]})
    return sorted(cats, key=lambda c: c["id"])


def find_images(
    folder: Path,
    skipped: list[Path] | None = None,
    seen: set[str] | None = None,
    repeated: list[Path] | None = None,
) -> list[Path]:
    """Image entries under ``folder`` (recursive, sorted, hidden entries skipped).

    Every non-directory entry with an image suffix is listed, regular file or not (see
    the module docstring); directories with an image suffix that hold no image go to
    ``skipped`` (one named ``x.jpg`` looks like an image, yet gives nothing). Symbolic
    links to folders are followed, each real folder once: one already in ``seen`` (real
    paths, shared across the class folders) — a link back up (a loop, which would list
    the same images again and again) or to a folder listed elsewhere (its images would
    be counted twice, maybe under another class) — goes to ``repeated`` instead.
    """
    out: list[Path] = []
    suffixed: list[Path] = []
    seen = set() if seen is None else seen
    seen.add(os.path.realpath(folder))
    for root, dirs, files in os.walk(folder, followlinks=True):
        kept = []
        for d in sorted(d for d in dirs if not d.startswith(".")):
            real = os.path.realpath(os.path.join(root, d))
            if real in seen:
                if repeated is not None:
                    repeated.append(Path(root) / d)
                continue
            seen.add(real)
            kept.append(d)
        dirs[:] = kept
        suffixed.extend(Path(root) / d for d in dirs if d.lower().endswith(IMAGE_SUFFIXES))
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES):
                out.append(Path(root) / name)
    if skipped is not None:
        skipped.extend(d for d in suffixed if not any(d in p.parents for p in out))
    return out


class ImageFolder(Dataset):
    name = "imagefolder"
    description = "one sub-folder per class (ImageNet wnids, integers or any names)"
    task = "classification"

    def __init__(self, location: str | None = None) -> None:  # takes no options
        super().__init__(location)
        if not location:
            raise DatasetError("imagefolder needs a folder: --dataset imagefolder:PATH")
        root = Path(location).expanduser()
        if not root.exists():
            raise DatasetError(f"imagefolder: {root} does not exist")
        if not root.is_dir():
            raise DatasetError(f"imagefolder: {root} is not a folder (one sub-folder per class)")
        self.root = root
        folders = sorted(
            p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        for p in sorted(root.iterdir()):
            if p.name.lower().endswith(IMAGE_SUFFIXES) and not (
                p.name.startswith(".") or p.is_dir()
            ):
                self.note_skipped(p.name, "beside the class folders: in no class")
        if not folders:
            raise DatasetError(
                f"imagefolder: {root} has no class sub-folders; expected {root}/<class>/<image>.jpg"
            )
        self.mode, self.class_to_idx, self._categories = self._classes(folders)
        self.items: list[tuple[str, Path, int]] = []
        dirs: list[Path] = []
        # the root and every class folder are listed as themselves: a link to one of
        # them from inside a class is a loop or would file its images under two classes
        seen = {os.path.realpath(p) for p in (root, *(root / f for f in folders))}
        repeated: list[Path] = []
        for folder in folders:
            for path in find_images(root / folder, dirs, seen, repeated):
                rel = path.relative_to(root).as_posix()
                self.items.append((rel, path, self.class_to_idx[folder]))
        for d in dirs:
            self.note_skipped(d.relative_to(root).as_posix(), "a directory holding no image")
        base = os.path.realpath(root)
        for d in repeated:
            real = os.path.realpath(d)
            inside = real == base or real.startswith(base + os.sep)
            where = Path(os.path.relpath(real, base)).as_posix() if inside else "outside"
            self.note_skipped(
                d.relative_to(root).as_posix(),
                f"a link to a folder already listed ({where}): a loop or a duplicate, "
                "its images are counted once",
            )
        if not self.items:
            raise DatasetError(
                f"imagefolder: no images in the class folders of {root} "
                f"(suffixes {', '.join(IMAGE_SUFFIXES)})"
            )

    def _classes(self, folders: list[str]) -> tuple[str, dict[str, int], list[dict[str, Any]]]:
        """(mode, folder → index, categories) by the rules in the module docstring."""
        for base in (self.root, self.root.parent):
            for fname in INDEX_FILES:
                path = base / fname
                if path.is_file():
                    cats = read_class_index(path)
                    lookup = {c["wnid"]: c["id"] for c in cats}
                    for c in cats:
                        lookup.setdefault(c["name"], c["id"])
                    missing = [f for f in folders if f not in lookup]
                    if missing:
                        raise DatasetError(
                            f"imagefolder: folder(s) {', '.join(missing[:5])} of {self.root} "
                            f"are not in {path} (neither as wnid nor as class name)"
                        )
                    return f"class_index:{path}", {f: lookup[f] for f in folders}, cats
        if all(WNID_RE.match(f) for f in folders):
            cats = imagenet_categories()
            lookup = {c["wnid"]: c["id"] for c in cats}
            if all(f in lookup for f in folders):
                return "imagenet-wnid", {f: lookup[f] for f in folders}, cats
            unknown = [f for f in folders if f not in lookup]
            warnings.warn(
                f"imagefolder: {self.root} has wnid folders that are not ImageNet-1k classes "
                f"({', '.join(unknown[:5])}); using sorted folder order 0..K-1 instead "
                "(add a class_index.json to choose the indices)",
                stacklevel=3,
            )
        elif all(f.isascii() and f.isdigit() for f in folders):
            ints = {f: int(f) for f in folders}
            if len(set(ints.values())) != len(ints):
                raise DatasetError(
                    f"imagefolder: integer folder names in {self.root} name the same class "
                    "twice (e.g. '1' and '01'); rename one"
                )
            cats = [{"id": i, "name": f} for f, i in sorted(ints.items(), key=lambda x: x[1])]
            return "integer", ints, cats
        idx = {f: i for i, f in enumerate(folders)}
        return "sorted", idx, [{"id": i, "name": f} for f, i in idx.items()]

    def samples(self) -> Iterator[Sample]:
        for rel, path, label in self.items:
            yield Sample(id=rel, source=str(path), target=label)

    def __len__(self) -> int:
        return len(self.items)

    def categories(self) -> list[dict[str, Any]]:
        return list(self._categories)


@hookimpl
def lossybench_datasets() -> list[type[Dataset]]:
    return [ImageFolder]
