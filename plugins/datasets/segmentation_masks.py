"""Segmentation datasets on disk: ADE20K, Pascal VOC 2012 and a generic images/masks layout.

Every format pairs images with mask PNGs by file stem and checks the pairing when it is
constructed, so a missing mask is reported before any heavy work starts. How a mask
becomes class ids (palette indices, ``reduce_zero_label``, the ignore index) is decided
by the ``segmentation`` task, which owns the target format; samples only carry
``{"mask": path, "ignore_index": int, "reduce_zero_label": bool}``.

An image or mask entry that is not a regular file (a FIFO, a device, a dangling symlink)
still pairs, and its sample fails with the reason (``mask masks/a.png: not a regular file
(FIFO)``): nothing is opened before ``os.stat`` says it is a regular file. A directory
with an image suffix is no image: it is listed by
:meth:`~lossybench.dataset.Dataset.skipped`.
"""

from __future__ import annotations

import hashlib
import json
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image, UnidentifiedImageError

from lossybench import hookimpl
from lossybench.dataset import Dataset, Sample
from lossybench.digest import sha256_file
from lossybench.errors import DatasetError, ImageError
from lossybench.image import IMAGE_SUFFIXES, MAX_IMAGE_BYTES, file_problem, open_regular

#: How many file names an error message shows before it only counts the rest.
SHOW = 5

#: mmsegmentation's ADE20KDataset classes (SceneParsing 150), ids 0..149 after
#: reduce_zero_label; mmseg's "bed " has its trailing space removed.
ADE20K_CLASSES: tuple[str, ...] = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane",
    "grass", "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant",
    "curtain", "chair", "car", "water", "painting", "sofa", "shelf", "house", "sea",
    "mirror", "rug", "field", "armchair", "seat", "fence", "desk", "rock", "wardrobe",
    "lamp", "bathtub", "railing", "cushion", "base", "box", "column", "signboard",
    "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace",
    "refrigerator", "grandstand", "path", "stairs", "runway", "case", "pool table",
    "pillow", "screen door", "stairway", "river", "bridge", "bookcase", "blind",
    "coffee table", "toilet", "flower", "book", "hill", "bench", "countertop", "stove",
    "palm", "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine",
    "hovel", "bus", "towel", "light", "truck", "tower", "chandelier", "awning",
    "streetlight", "booth", "television receiver", "airplane", "dirt track", "apparel",
    "pole", "land", "bannister", "escalator", "ottoman", "bottle", "buffet", "poster",
    "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything",
    "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag", "minibike",
    "cradle", "oven", "ball", "food", "step", "tank", "trade name", "microwave", "pot",
    "animal", "bicycle", "lake", "dishwasher", "screen", "blanket", "sculpture", "hood",
    "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen",
    "plate", "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)  # fmt: skip

#: Pascal VOC 2012 segmentation classes, ids 0..20 (the palette indices of its masks).
VOC_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:SHOW])
    return f"{shown}, … ({len(items)} in all)" if len(items) > SHOW else shown


def _index(
    folder: Path, suffixes: tuple[str, ...], skipped: list[Path] | None = None
) -> dict[str, Path]:
    """stem → entry for the entries of ``folder`` with one of ``suffixes`` (case-insensitive).

    Two files with one stem (``a.jpg`` and ``a.png``) would make the pairing ambiguous.
    Entries that are not regular files are indexed too (their samples fail with the
    reason); directories are not, and go to ``skipped``.
    """
    out: dict[str, Path] = {}
    clashes: list[str] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in suffixes:
            continue
        if path.is_dir():
            if skipped is not None:
                skipped.append(path)
            continue
        if path.stem in out:
            clashes.append(f"{out[path.stem].name}/{path.name}")
        out[path.stem] = path
    if clashes:
        raise DatasetError(f"{folder}: several files share a stem: {_names(clashes)}")
    return out


def _pair(
    images: dict[str, Path], masks: dict[str, Path], image_dir: Path, mask_dir: Path
) -> list[tuple[str, Path, Path]]:
    """Pairs by stem; every image needs a mask and every mask an image."""
    no_mask = sorted(set(images) - set(masks))
    no_image = sorted(set(masks) - set(images))
    problems = []
    if no_mask:
        problems.append(f"{len(no_mask)} image(s) without a mask in {mask_dir}: {_names(no_mask)}")
    if no_image:
        problems.append(
            f"{len(no_image)} mask(s) without an image in {image_dir}: {_names(no_image)}"
        )
    if problems:
        raise DatasetError("; ".join(problems))
    return [(stem, images[stem], masks[stem]) for stem in sorted(images)]


class MaskDataset(Dataset):
    """Images paired with mask PNGs; subclasses find the pairs of their layout."""

    task = "segmentation"
    ignore_index: int = 255
    reduce_zero_label: bool = False
    #: option name → default, checked so that a typo is an error rather than ignored.
    allowed_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, location: str | None = None, **options: Any) -> None:
        super().__init__(location, **options)
        unknown = sorted(set(options) - set(self.allowed_options))
        if unknown:
            have = ", ".join(self.allowed_options) or "none"
            raise DatasetError(
                f"dataset {self.name!r}: unknown option(s) {', '.join(unknown)}; options: {have}"
            )
        self.settings = {**self.allowed_options, **options}
        if not location:
            raise DatasetError(f"dataset format {self.name!r} needs a location: {self.name}:DIR")
        self.root = Path(location).expanduser()
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: no such directory")
        #: directories with an image suffix met by ``_index`` (noted as skipped)
        self._dirs: list[Path] = []
        self.pairs = self._find_pairs()
        for d in self._dirs:
            self.note_skipped(self._rel(d), "a directory, not an image file")
        if not self.pairs:
            raise DatasetError(f"{self.root}: no image/mask pairs found")

    @abstractmethod
    def _find_pairs(self) -> list[tuple[str, Path, Path]]:
        """(id, image, mask) of every sample, sorted by id; DatasetError on a bad layout."""

    def target(self, mask: Path) -> dict[str, Any]:
        return {
            "mask": str(mask),
            "ignore_index": self.ignore_index,
            "reduce_zero_label": self.reduce_zero_label,
        }

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.name

    def samples(self) -> Iterator[Sample]:
        for stem, image, mask in self.pairs:
            problem = file_problem(mask, MAX_IMAGE_BYTES)
            yield Sample(
                id=stem,
                source=str(image),
                target=self.target(mask),
                meta={"target_files": [str(mask)]},
                problem=None if problem is None else f"mask {self._rel(mask)}: {problem}",
            )

    def __len__(self) -> int:
        return len(self.pairs)

    def _fingerprint_extra(self) -> bytes:
        return b""

    def fingerprint(self, samples: Iterable[Sample] | None = None) -> str:
        """The core's (mask paths replaced by the masks' hashes) plus the format's config."""
        base = super().fingerprint(samples)
        extra = self._fingerprint_extra()
        return hashlib.sha256(base.encode() + extra).hexdigest() if extra else base


class Ade20k(MaskDataset):
    """ADEChallengeData2016 (SceneParsing): 150 classes, 0 = "other" is ignored."""

    name = "ade20k"
    description = "ADE20K / ADEChallengeData2016 (150 classes; option split=validation|training)"
    reduce_zero_label = True
    allowed_options: ClassVar[dict[str, Any]] = {"split": "validation"}

    def _find_pairs(self) -> list[tuple[str, Path, Path]]:
        split = str(self.settings["split"])
        for base in (self.root, self.root / "ADEChallengeData2016"):
            images, masks = base / "images" / split, base / "annotations" / split
            if images.is_dir() and masks.is_dir():
                break
        else:
            images, masks = self.root / "images", self.root / "annotations"
            if not (images.is_dir() and masks.is_dir() and _index(images, IMAGE_SUFFIXES)):
                raise DatasetError(
                    f"{self.root}: not an ADE20K layout; expected "
                    f"images/{split}/*.jpg and annotations/{split}/*.png under it "
                    "(ADEChallengeData2016), or a split folder holding images/ and annotations/"
                )
        return _pair(_index(images, IMAGE_SUFFIXES, self._dirs),
                     _index(masks, (".png",), self._dirs), images, masks)

    def categories(self) -> list[dict[str, Any]]:
        return [{"id": i, "name": n} for i, n in enumerate(ADE20K_CLASSES)]


class Voc(MaskDataset):
    """Pascal VOC 2012 segmentation: palette-index masks, 255 = object border (ignored)."""

    name = "voc"
    description = "Pascal VOC 2012 segmentation (21 classes; option split=val|train|trainval)"
    allowed_options: ClassVar[dict[str, Any]] = {"split": None}

    def _find_pairs(self) -> list[tuple[str, Path, Path]]:
        for base in (self.root, self.root / "VOC2012", self.root / "VOCdevkit" / "VOC2012"):
            image_dir, mask_dir = base / "JPEGImages", base / "SegmentationClass"
            if image_dir.is_dir() and mask_dir.is_dir():
                break
        else:
            raise DatasetError(
                f"{self.root}: not a VOC2012 layout; expected JPEGImages/, SegmentationClass/ "
                "and ImageSets/Segmentation/val.txt under it"
            )
        images = _index(image_dir, IMAGE_SUFFIXES, self._dirs)
        masks = _index(mask_dir, (".png",), self._dirs)
        split = self.settings["split"]
        listing = base / "ImageSets" / "Segmentation" / f"{split or 'val'}.txt"
        if not listing.is_file():
            if split is not None:
                raise DatasetError(f"{listing}: split file not found")
            # No split lists: every mask. Images without a mask are normal in VOC (the
            # detection-only images share JPEGImages), so only masks must be matched.
            no_image = sorted(set(masks) - set(images))
            if no_image:
                raise DatasetError(
                    f"{len(no_image)} mask(s) without an image in {image_dir}: "
                    f"{_names(no_image)}"
                )
            return [(stem, images[stem], masks[stem]) for stem in sorted(masks)]
        ids = sorted({line.split()[0] for line in listing.read_text().splitlines() if line.strip()})
        no_image = [i for i in ids if i not in images]
        no_mask = [i for i in ids if i not in masks]
        problems = []
        if no_image:
            problems.append(f"{len(no_image)} id(s) without an image in {image_dir}: "
                            f"{_names(no_image)}")
        if no_mask:
            problems.append(f"{len(no_mask)} id(s) without a mask in {mask_dir}: "
                            f"{_names(no_mask)}")
        if problems:
            raise DatasetError(f"{listing}: " + "; ".join(problems))
        return [(i, images[i], masks[i]) for i in ids]

    def categories(self) -> list[dict[str, Any]]:
        return [{"id": i, "name": n} for i, n in enumerate(VOC_CLASSES)]


class GenericMasks(MaskDataset):
    """``DIR/images/*`` + ``DIR/masks/*.png`` by stem; classes from ``DIR/classes.json``.

    Without ``classes.json`` the number of classes is the largest non-ignored mask value
    + 1, found by scanning every mask (class names ``class_0``, ``class_1``, …).
    """

    name = "masks"
    description = "generic images/ + masks/*.png (class id = pixel value; classes.json optional)"
    CONFIG = "classes.json"

    def __init__(self, location: str | None = None, **options: Any) -> None:
        self.class_names: list[str] | None = None
        self.ignore_index = 255
        self.reduce_zero_label = False
        self._scanned: list[dict[str, Any]] | None = None
        super().__init__(location, **options)

    def _read_config(self) -> None:
        path = self.root / self.CONFIG
        if not path.is_file():
            return
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DatasetError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise DatasetError(f'{path}: expected {{"classes": [...], "ignore_index": 255}}')
        unknown = sorted(set(data) - {"classes", "ignore_index", "reduce_zero_label"})
        if unknown:
            raise DatasetError(f"{path}: unknown key(s) {', '.join(unknown)}")
        classes = data.get("classes")
        if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
            raise DatasetError(f'{path}: "classes" must be a non-empty list of class names')
        ignore = data.get("ignore_index", 255)
        if not isinstance(ignore, int) or isinstance(ignore, bool):
            raise DatasetError(f'{path}: "ignore_index" must be an integer')
        reduce_zero = data.get("reduce_zero_label", False)
        if not isinstance(reduce_zero, bool):
            raise DatasetError(f'{path}: "reduce_zero_label" must be true or false')
        self.class_names, self.ignore_index, self.reduce_zero_label = classes, ignore, reduce_zero

    def _find_pairs(self) -> list[tuple[str, Path, Path]]:
        image_dir, mask_dir = self.root / "images", self.root / "masks"
        missing = [str(d) for d in (image_dir, mask_dir) if not d.is_dir()]
        if missing:
            raise DatasetError(
                f"{', '.join(missing)}: no such directory; the masks format expects "
                "DIR/images/* and DIR/masks/*.png with the same file stems"
            )
        self._read_config()
        return _pair(_index(image_dir, IMAGE_SUFFIXES, self._dirs),
                     _index(mask_dir, (".png",), self._dirs), image_dir, mask_dir)

    def _max_label(self) -> int:
        """Largest non-ignored class id over all masks (read as the task reads them)."""
        top = -1
        for stem, _, mask in self.pairs:
            if file_problem(mask, MAX_IMAGE_BYTES) is not None:
                continue  # not a regular file: its sample fails with the reason
            try:
                with open_regular(mask, MAX_IMAGE_BYTES) as fh, Image.open(fh) as img:
                    if img.mode not in ("P", "L", "1", "I;16", "I;16L", "I;16B", "I"):
                        raise DatasetError(
                            f"{mask}: mask has mode {img.mode}; colour-coded RGB masks are not "
                            "supported; convert to a palette (P) or greyscale (L) PNG"
                        )
                    values = np.unique(np.asarray(img).astype(np.int64))
            except ImageError:
                continue  # it changed since it was looked at: its sample fails
            except (OSError, UnidentifiedImageError) as exc:
                raise DatasetError(f"{mask}: cannot read mask of {stem!r} ({exc})") from exc
            if self.reduce_zero_label:
                values = values[(values != 0) & (values != self.ignore_index)] - 1
            values = values[values != self.ignore_index]
            if values.size:
                top = max(top, int(values.max()))
        if top < 0:
            raise DatasetError(f"{self.root}: every mask pixel is ignored; nothing to score")
        return top

    def categories(self) -> list[dict[str, Any]]:
        if self.class_names is not None:
            return [{"id": i, "name": n} for i, n in enumerate(self.class_names)]
        if self._scanned is None:
            self._scanned = [{"id": i, "name": f"class_{i}"} for i in range(self._max_label() + 1)]
        return self._scanned

    def _fingerprint_extra(self) -> bytes:
        path = self.root / self.CONFIG
        return bytes.fromhex(sha256_file(path)) if path.is_file() else b""


@hookimpl
def lossybench_datasets() -> list[type[Dataset]]:
    return [Ade20k, Voc, GenericMasks]
