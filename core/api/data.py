"""A torch ``Dataset`` or any iterable of (image, target) as a lossybench dataset.

Why files: codec work runs in spawned worker processes, which receive each
:class:`~lossybench.dataset.Sample` pickled. An image from a user's iterable exists only in
this process, so each is written once as a PNG named by the sha256 of its pixels (the
bitstream cache's image key) and the sample carries the path: small to pickle, lossless,
shared by every later run on the same pixels, and a resumed run finds them again.
Segmentation masks are written the same way, because the task reads masks from files.

Targets are turned into what the tasks score: a class index (classification); COCO
ground truth built from ``{"boxes": (n, 4) xyxy, "labels": (n,)}`` (detection); a label
mask PNG (segmentation).
"""

from __future__ import annotations

import hashlib
import io
import json
import numbers
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lossybench.dataset import Dataset, Sample
from lossybench.engine.cache import atomic_write, image_key
from lossybench.errors import DatasetError

#: class names torchvision puts where a detection label id is unused
_PLACEHOLDERS = {"__background__", "background", "N/A"}


def as_pixels(image: Any, where: str) -> np.ndarray:
    """A PIL image, uint8 HWC array or uint8 / [0, 1] float CHW tensor → (H, W, 3) uint8."""
    from PIL import Image

    from lossybench.image import to_rgb8

    if isinstance(image, Image.Image):
        return to_rgb8(image)
    if hasattr(image, "detach") and hasattr(image, "permute"):  # a torch tensor
        t = image.detach().cpu()
        if t.ndim == 3 and t.shape[0] in (1, 3) and t.shape[-1] not in (1, 3):
            t = t.permute(1, 2, 0)
        if t.is_floating_point():
            if t.numel() and (float(t.min()) < 0 or float(t.max()) > 1):
                raise DatasetError(f"{where}: a float image tensor must hold pixels in [0, 1] "
                                   "(not normalised); give the dataset without Normalize")
            t = (t * 255).round()
        image = t.numpy()
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise DatasetError(f"{where}: images must be PIL images or uint8 (H, W, 3) arrays; got "
                           f"{type(image).__name__} of dtype {arr.dtype}, shape {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or 0 in arr.shape[:2]:
        raise DatasetError(f"{where}: an image must be (H, W, 3) (or greyscale (H, W)); "
                           f"got shape {arr.shape}")
    return np.ascontiguousarray(arr[..., :3])


def _write_png(folder: Path, array: np.ndarray) -> tuple[str, Path]:
    """The array as ``folder/KEY[:2]/KEY.png`` (written once), with KEY its pixel hash."""
    from PIL import Image

    key = image_key(array)
    path = folder / key[:2] / f"{key}.png"
    if not path.exists():
        buf = io.BytesIO()
        Image.fromarray(array).save(buf, format="PNG")
        atomic_write(path, buf.getvalue())
    return key, path


def _array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _label(target: Any, where: str) -> int:
    arr = _array(target) if not isinstance(target, numbers.Integral) else None
    if arr is not None and arr.ndim == 0 and np.issubdtype(arr.dtype, np.integer):
        target = int(arr)
    if isinstance(target, bool) or not isinstance(target, numbers.Integral):
        raise DatasetError(f"{where}: a classification target must be a class index (int); "
                           f"got {target!r:.80}")
    return int(target)


def _boxes(target: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(target, dict) or not {"boxes", "labels"} <= set(target):
        raise DatasetError(f'{where}: a detection target must be {{"boxes": (n, 4) xyxy, '
                           f'"labels": (n,)}}; got {target!r:.120}')
    fmt = getattr(target["boxes"], "format", None)
    if fmt is not None and "XYXY" not in str(fmt):
        raise DatasetError(f"{where}: boxes must be XYXY, got {fmt}")
    boxes = _array(target["boxes"]).astype(np.float64).reshape(-1, 4) \
        if _array(target["boxes"]).size else np.zeros((0, 4))
    labels = _array(target["labels"]).reshape(-1)
    if len(labels) != len(boxes) or (len(labels) and not np.issubdtype(labels.dtype, np.integer)):
        raise DatasetError(f"{where}: {len(boxes)} boxes need as many integer labels; got "
                           f"{len(labels)} of {labels.dtype}")
    if not np.isfinite(boxes).all() or (boxes[:, 2:] < boxes[:, :2]).any():
        raise DatasetError(f"{where}: boxes must be finite xyxy with x2 >= x1 and y2 >= y1")
    return boxes, labels.astype(np.int64)


def _mask(target: Any, size: tuple[int, int], where: str) -> np.ndarray:
    from PIL import Image

    arr = np.asarray(target) if isinstance(target, Image.Image) else _array(target)
    if arr.ndim == 3 and 1 in (arr.shape[0], arr.shape[-1]):
        arr = arr.reshape(arr.shape[1:] if arr.shape[0] == 1 else arr.shape[:2])
    if arr.ndim != 2 or (not np.issubdtype(arr.dtype, np.integer) and arr.dtype != bool):
        raise DatasetError(f"{where}: a segmentation target must be an (H, W) integer label "
                           f"mask; got {arr.dtype} of shape {arr.shape}")
    if arr.shape != size:
        raise DatasetError(f"{where}: the mask is {arr.shape[1]}x{arr.shape[0]}, the image "
                           f"{size[1]}x{size[0]}")
    if arr.size and (arr.min() < 0 or arr.max() > 65535):
        raise DatasetError(f"{where}: mask values must be class ids in 0..65535")
    return arr.astype(np.uint8 if arr.size == 0 or arr.max() < 256 else np.uint16)


def _items(data: Any, limit: int | None) -> Iterator[tuple[int, Any]]:
    """(index, item) of a map-style dataset (by index) or any iterable, first ``limit``."""
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, dict):
        seq: Iterable[Any] = (data[i] for i in range(len(data)))
    else:
        seq = data
    for i, item in enumerate(seq):
        if limit is not None and i >= limit:
            return
        yield i, item


class PythonData(Dataset):
    """(image, target) pairs from Python objects, stored as content-addressed PNGs."""

    name = "python"
    description = "a torch Dataset or iterable of (image, target) (lossybench.evaluate)"
    requires_location = False

    def __init__(
        self, data: Any, task: str, folder: str | Path, limit: int | None = None,
        classes: int | Sequence[str] | None = None, ignore_index: int = 255,
    ) -> None:
        kind = type(data)
        super().__init__(f"{kind.__module__}.{kind.__qualname__}")
        if task not in ("classification", "detection", "segmentation"):
            raise DatasetError(f"Python data can be read for classification, detection or "
                               f"segmentation, not {task!r}; wrap it in a lossybench Dataset")
        self.task = task  # type: ignore[misc]
        self.folder = Path(folder)
        self.ignore_index = ignore_index
        self._samples: list[Sample] = []
        self._annotations: list[dict[str, Any]] = []
        self._images: list[dict[str, Any]] = []
        self._mask_max = -1
        labels: set[int] = set()
        for i, item in _items(data, limit):
            labels |= self._add(i, item)
        if not self._samples:
            raise DatasetError(f"the data ({self.location}) holds no items")
        self._categories = self._make_categories(classes or getattr(data, "classes", None),
                                                 labels)

    def _add(self, i: int, item: Any) -> set[int]:
        where = f"item {i}"
        if not isinstance(item, tuple | list) or len(item) < 2:
            raise DatasetError(f"{where}: each item must be (image, target); got "
                               f"{type(item).__name__}")
        pixels = as_pixels(item[0], where)
        key, path = _write_png(self.folder, pixels)
        h, w = pixels.shape[:2]
        sample = Sample(id=f"{i:06d}", source=str(path), meta={"pixels": key})
        seen: set[int] = set()
        if self.task == "classification":
            sample.target = _label(item[1], where)
        elif self.task == "detection":
            boxes, labels = _boxes(item[1], where)
            image_id = i + 1  # COCO ids start at 1 (pycocotools treats 0 as "no match")
            sample.target = {"image_id": image_id, "width": w, "height": h}
            self._images.append({"id": image_id, "file_name": path.name, "width": w,
                                 "height": h})
            for box, label in zip(boxes, labels, strict=True):
                x1, y1, x2, y2 = (float(v) for v in box)
                self._annotations.append({
                    "id": len(self._annotations) + 1, "image_id": image_id,
                    "category_id": int(label), "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
            seen = {int(v) for v in labels}
        else:
            mask = _mask(item[1], (h, w), where)
            valid = mask[mask != self.ignore_index]
            if valid.size:
                self._mask_max = max(self._mask_max, int(valid.max()))
            mkey, mpath = _write_png(self.folder, mask)
            sample.target = {"mask": str(mpath), "ignore_index": self.ignore_index,
                             "reduce_zero_label": False}
            sample.meta.update(target_files=[str(mpath)], mask=mkey)
        self._samples.append(sample)
        return seen

    def _make_categories(self, classes: Any, labels: set[int]) -> list[dict[str, Any]] | None:
        if isinstance(classes, numbers.Integral) and not isinstance(classes, bool):
            return [{"id": i, "name": str(i)} for i in range(int(classes))]
        if isinstance(classes, Sequence) and not isinstance(classes, str) and classes:
            return [{"id": i, "name": str(n)} for i, n in enumerate(classes)
                    if self.task != "detection" or str(n) not in _PLACEHOLDERS]
        if classes is not None and not isinstance(classes, Sequence):
            raise DatasetError(f"classes must be a class count or a list of names, not "
                               f"{type(classes).__name__}")
        if self.task == "detection":
            return [{"id": i, "name": str(i)} for i in sorted(labels)]
        if self.task == "segmentation" and self._mask_max >= 0:
            return [{"id": i, "name": str(i)} for i in range(self._mask_max + 1)]
        return None

    def samples(self) -> Iterator[Sample]:
        yield from self._samples

    def __len__(self) -> int:
        return len(self._samples)

    def categories(self) -> list[dict[str, Any]] | None:
        return self._categories

    def ground_truth(self) -> dict[str, Any]:
        """The boxes as a COCO instances dict (what the detection task scores against)."""
        if self.task != "detection":
            raise DatasetError("only detection data has box ground truth")
        known = {c["id"] for c in self._categories or []}
        extra = sorted({a["category_id"] for a in self._annotations} - known)
        if extra:
            raise DatasetError(f"box labels {extra[:5]} are not among the classes given "
                               f"(ids {sorted(known)[:10]}...)")
        return {"images": self._images, "annotations": self._annotations,
                "categories": self._categories or []}

    def fingerprint(self, samples: Iterable[Sample] | None = None) -> str:
        """sha256 over ids, pixel hashes, targets (masks by their pixel hash) and boxes: the
        same data gives the same hash wherever its PNGs were written."""
        used = sorted(self.samples() if samples is None else samples, key=lambda s: s.id)
        by_image: dict[int, list[dict[str, Any]]] = {}
        for a in self._annotations:
            by_image.setdefault(a["image_id"], []).append(a)
        h = hashlib.sha256(f"lossybench-python-data/1|{self.task}".encode())
        h.update(json.dumps(self._categories, sort_keys=True).encode())
        for s in used:
            target = s.target
            if self.task == "segmentation":
                target = {**target, "mask": s.meta["mask"]}
            boxes = by_image.get(target["image_id"], []) if self.task == "detection" else []
            h.update(json.dumps({"id": s.id, "pixels": s.meta["pixels"], "target": target,
                                 "boxes": boxes}, sort_keys=True).encode())
        return h.hexdigest()
