"""COCO instances files (``--dataset coco:LOCATION``): images with box annotations.

Locations:

* ``coco:ann.json`` — a COCO instances JSON; images are looked up in the JSON's folder,
  its ``images/`` subfolder and, for the standard ``coco/annotations/instances_<split>.json``
  layout, ``coco/<split>/``, ``coco/images/<split>/``, ``coco/images/`` and ``coco/``;
  the first folder that holds *every* image wins;
* ``coco:ann.json,DIR`` or ``coco:ann.json,images=DIR`` — images in ``DIR``;
* ``coco:DIR`` — a folder holding ``annotations.json`` or exactly one
  ``annotations/instances_*.json``.

Everything is checked on construction (missing files, malformed JSON, annotations
that refer to unknown images or categories, boxes with negative size) so a run fails
before any codec or model work. An image entry that exists but is not a regular file
(a FIFO, a device, a directory, a dangling symlink) is not "missing": its sample fails
with the reason (``not a regular file (FIFO)``), and nothing is opened before ``os.stat``
says it is a regular file. Samples carry only ``{"image_id", "width", "height"}``
(small and picklable for worker processes); the detection task reads the boxes from
:meth:`CocoDataset.ground_truth`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from lossybench import hookimpl
from lossybench.dataset import Dataset, Sample
from lossybench.errors import DatasetError
from lossybench.image import MAX_IMAGE_BYTES, file_problem, open_regular

#: How many problems of one kind an error message lists before it only counts.
SHOW = 5


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x: Any) -> bool:
    return (isinstance(x, int | float) and not isinstance(x, bool)) and math.isfinite(x)


def _fail(path: Path, what: str, problems: list[str]) -> DatasetError:
    shown = "; ".join(problems[:SHOW])
    more = f" (and {len(problems) - SHOW} more)" if len(problems) > SHOW else ""
    return DatasetError(f"{path}: {len(problems)} {what}: {shown}{more}")


def parse_location(location: str) -> tuple[Path, Path | None]:
    """``PATH[,DIR | ,images=DIR]`` → (annotation file or folder, explicit image folder)."""
    head, *opts = location.split(",")
    images: Path | None = None
    for opt in opts:
        opt = opt.strip()
        if not opt:
            continue
        key, eq, value = opt.partition("=")
        if not eq:
            key, value = "images", opt
        if key.strip() != "images":
            raise DatasetError(
                f"coco: unknown option {key.strip()!r} in {location!r}; "
                "use coco:ANNOTATIONS.json[,images=DIR]"
            )
        if images is not None:
            raise DatasetError(f"coco: the image folder is given twice in {location!r}")
        images = Path(value.strip()).expanduser()
    return Path(head.strip()).expanduser(), images


def find_annotations(root: Path) -> Path:
    """The one annotation file inside a dataset folder (ambiguity is an error, not a guess)."""
    candidates = []
    if (root / "annotations.json").is_file():
        candidates.append(root / "annotations.json")
    if (root / "annotations").is_dir():
        candidates += sorted((root / "annotations").glob("instances_*.json"))
    if not candidates:
        raise DatasetError(
            f"coco: {root} holds neither annotations.json nor annotations/instances_*.json; "
            "give the annotation file: coco:PATH/TO/instances.json"
        )
    if len(candidates) > 1:
        names = ", ".join(str(c.relative_to(root)) for c in candidates)
        raise DatasetError(
            f"coco: {root} holds several annotation files ({names}); "
            f"name one, e.g. coco:{candidates[0]}"
        )
    return candidates[0]


def image_dir_candidates(ann_path: Path) -> list[Path]:
    """Folders where a COCO layout usually keeps the images of ``ann_path``."""
    folder = ann_path.parent
    out = [folder, folder / "images"]
    if folder.name == "annotations":
        root = folder.parent
        split = ann_path.stem.partition("_")[2]  # instances_val2017 → val2017
        if split:
            out += [root / split, root / "images" / split]
        out += [root / "images", root]
    seen: list[Path] = []
    for p in out:
        if p not in seen:
            seen.append(p)
    return seen


def load_coco(ann_path: Path) -> dict[str, Any]:
    """Read and validate a COCO instances dict; fill ``area``/``iscrowd`` where absent.

    pycocotools' evaluator needs ``area`` (size ranges) and ``iscrowd`` on every
    ground-truth box; hand-written sets often omit them, so they default to the box
    area and 0. Everything else wrong is an error naming the offending entries.
    """
    problem = file_problem(ann_path)
    if problem is not None:  # a FIFO would block the read, /dev/zero never end it
        raise DatasetError(f"coco: {ann_path}: {problem}")
    try:
        text = ann_path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"coco: cannot read {ann_path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"coco: {ann_path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DatasetError(
            f"coco: {ann_path} is not a COCO instances file (top level is "
            f"{type(data).__name__}, expected an object with images/annotations/categories)"
        )
    missing = [
        k for k in ("images", "annotations", "categories") if not isinstance(data.get(k), list)
    ]
    if missing:
        raise DatasetError(
            f"coco: {ann_path} is not a COCO instances file: "
            f"no list {', '.join(repr(k) for k in missing)}"
        )

    problems: list[str] = []
    cats: dict[int, dict[str, Any]] = {}
    for i, c in enumerate(data["categories"]):
        if (
            not isinstance(c, dict)
            or not _is_int(c.get("id"))
            or not isinstance(c.get("name"), str)
        ):
            problems.append(f"categories[{i}] needs an integer 'id' and a string 'name'")
        elif c["id"] in cats:
            problems.append(f"category id {c['id']} appears twice")
        else:
            cats[c["id"]] = c
    if problems:
        raise _fail(ann_path, "bad categories", problems)

    images: dict[int, dict[str, Any]] = {}
    names: set[str] = set()
    for i, im in enumerate(data["images"]):
        if (
            not isinstance(im, dict)
            or not _is_int(im.get("id"))
            or not isinstance(im.get("file_name"), str)
        ):
            problems.append(f"images[{i}] needs an integer 'id' and a string 'file_name'")
        elif not (
            _is_int(im.get("width"))
            and _is_int(im.get("height"))
            and im["width"] > 0
            and im["height"] > 0
        ):
            problems.append(f"image id {im['id']} needs positive integer 'width' and 'height'")
        elif im["id"] in images:
            problems.append(f"image id {im['id']} appears twice")
        elif im["file_name"] in names:
            problems.append(f"file_name {im['file_name']!r} appears twice")
        else:
            images[im["id"]] = im
            names.add(im["file_name"])
    if problems:
        raise _fail(ann_path, "bad images", problems)

    ann_ids: set[int] = set()
    for i, a in enumerate(data["annotations"]):
        if not isinstance(a, dict) or not _is_int(a.get("id")):
            problems.append(f"annotations[{i}] has no integer 'id'")
            continue
        where = f"annotation id {a['id']}"
        if a["id"] in ann_ids:
            problems.append(f"{where} appears twice")
        ann_ids.add(a["id"])
        if a.get("image_id") not in images:
            problems.append(f"{where} refers to unknown image_id {a.get('image_id')!r}")
        if a.get("category_id") not in cats:
            problems.append(f"{where} refers to unknown category_id {a.get('category_id')!r}")
        box = a.get("bbox")
        if not (isinstance(box, list) and len(box) == 4 and all(_is_num(v) for v in box)):
            problems.append(f"{where} needs 'bbox': [x, y, width, height] (finite numbers)")
        elif box[2] < 0 or box[3] < 0:
            problems.append(f"{where} has a box with negative size {box}")
        else:
            a.setdefault("area", float(box[2] * box[3]))
            a.setdefault("iscrowd", 0)
            if not _is_num(a["area"]) or a["iscrowd"] not in (0, 1):
                problems.append(f"{where} needs a numeric 'area' and 'iscrowd' 0 or 1")
    if problems:
        raise _fail(ann_path, "bad annotations", problems)
    return data


class CocoDataset(Dataset):
    name = "coco"
    description = "COCO instances JSON + image folder (boxes for the detection task)"
    task = "detection"

    def __init__(self, location: str | None = None, **options: Any) -> None:
        super().__init__(location, **options)
        if not location:
            raise DatasetError("coco needs a location: --dataset coco:PATH/instances.json")
        path, images_dir = parse_location(location)
        unknown = sorted(set(options) - {"images"})
        if unknown:
            raise DatasetError(
                f"coco: unknown option(s) {', '.join(unknown)}; the only option is images=DIR"
            )
        if options.get("images"):
            if images_dir is not None:
                raise DatasetError("coco: the image folder is given twice (location and option)")
            images_dir = Path(str(options["images"])).expanduser()
        if not path.exists():
            raise DatasetError(f"coco: {path} does not exist")
        self.annotation_file = find_annotations(path) if path.is_dir() else path
        self.data = load_coco(self.annotation_file)
        self._images = sorted(self.data["images"], key=lambda im: im["id"])
        self.images_dir = self._find_images(images_dir)
        self._check_sizes()

    def _find_images(self, explicit: Path | None) -> Path:
        names = [im["file_name"] for im in self._images]
        if explicit is not None:
            if not explicit.is_dir():
                raise DatasetError(f"coco: image folder {explicit} does not exist")
            candidates = [explicit]
        else:
            candidates = [p for p in image_dir_candidates(self.annotation_file) if p.is_dir()]
        best: tuple[Path, list[str]] | None = None
        for folder in candidates:
            missing = [n for n in names if not os.path.lexists(folder / n)]
            if not missing:
                return folder
            if best is None or len(missing) < len(best[1]):
                best = (folder, missing)
        if best is None:  # pragma: no cover - the annotation file's folder always exists
            raise DatasetError(f"coco: no image folder found for {self.annotation_file}")
        folder, missing = best
        tried = ", ".join(str(c) for c in candidates)
        shown = ", ".join(missing[:SHOW]) + (" ..." if len(missing) > SHOW else "")
        raise DatasetError(
            f"coco: {len(missing)} of {len(names)} images of {self.annotation_file} are missing "
            f"from {folder} ({shown}); looked in {tried}. Give the folder: "
            f"coco:{self.annotation_file},images=DIR"
        )

    def _check_sizes(self) -> None:
        """Boxes are in the pixel frame of width × height: a resized image breaks them.

        Only headers are read (cheap), of regular files only; a file Pillow cannot open
        (or that is not a regular file) is left to the run, which reports unreadable
        images one by one.
        """
        problems = []
        for im in self._images:
            path = self.images_dir / im["file_name"]
            if file_problem(path, MAX_IMAGE_BYTES) is not None:
                continue
            try:
                with open_regular(path, MAX_IMAGE_BYTES) as fh, Image.open(fh) as f:
                    size = f.size
            except Exception:
                continue
            if size != (im["width"], im["height"]):
                problems.append(
                    f"{im['file_name']} is {size[0]}x{size[1]}, "
                    f"the annotations say {im['width']}x{im['height']}"
                )
        if problems:
            raise _fail(self.annotation_file, "images whose size differs", problems)

    def samples(self) -> Iterator[Sample]:
        for im in self._images:
            yield Sample(
                id=im["file_name"],
                source=str(self.images_dir / im["file_name"]),
                target={"image_id": im["id"], "width": im["width"], "height": im["height"]},
            )

    def __len__(self) -> int:
        return len(self._images)

    def categories(self) -> list[dict[str, Any]]:
        return [
            {"id": c["id"], "name": c["name"]}
            for c in sorted(self.data["categories"], key=lambda c: c["id"])
        ]

    def ground_truth(self) -> dict[str, Any]:
        """The validated COCO dict (images, annotations, categories) for the evaluator."""
        return self.data

    def fingerprint(self, samples: Iterable[Sample] | None = None) -> str:
        """Images and targets (the default) plus the boxes of exactly those images.

        Targets carry only image ids and sizes, so without the annotations two datasets
        with different boxes would share a hash. The annotations are hashed as
        canonical JSON (image entries, their annotations, categories), so a ``--limit``
        subset hashes only what it uses and reformatting the file changes nothing.
        """
        used = list(self.samples() if samples is None else samples)
        ids = {s.target["image_id"] for s in used}
        content = {
            "images": [im for im in self._images if im["id"] in ids],
            "annotations": sorted(
                (a for a in self.data["annotations"] if a["image_id"] in ids),
                key=lambda a: a["id"],
            ),
            "categories": sorted(self.data["categories"], key=lambda c: c["id"]),
        }
        h = hashlib.sha256(super().fingerprint(used).encode())
        h.update(json.dumps(content, sort_keys=True, default=str).encode())
        return h.hexdigest()


@hookimpl
def lossybench_datasets() -> list[type[Dataset]]:
    return [CocoDataset]
