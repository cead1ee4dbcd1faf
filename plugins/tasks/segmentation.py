"""Semantic segmentation: mIoU, pixel accuracy and mean class accuracy.

The task owns the target format, so the rules that turn a mask file into class ids live
here (no plugin imports another plugin): a sample's ``target`` is
``{"mask": path, "ignore_index": int, "reduce_zero_label": bool}``.

* P-mode (palette) PNGs are read as palette *indices*, L / 1 / 16-bit modes as pixel
  values; colour-coded RGB(A) masks are refused instead of guessed at.
* ``reduce_zero_label`` (ADE20K): 0 becomes ``ignore_index`` and every other value ``v``
  becomes ``v - 1``, as mmsegmentation does.

Scoring follows mmsegmentation: one confusion matrix over every non-ignored pixel of the
whole set (never a mean of per-image mIoU), IoU per class where its union is > 0, mIoU
their mean. Each per-image outcome stores that image's confusion matrix sparsely, so
the set's matrix is a sum of outcomes and :meth:`SegmentationTask.aggregate` is a pure,
order-independent function of them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from lossybench import hookimpl
from lossybench.dataset import Dataset, Sample
from lossybench.errors import DatasetError, LossybenchError
from lossybench.task import TRAIN_IGNORE_INDEX, Task

DEFAULT_IGNORE_INDEX = 255
#: Prediction id stored in outcomes for a predicted value outside [0, num_classes).
INVALID = -1
#: Largest K × (K + 1) confusion counted densely per image (np.bincount); above, np.unique.
DENSE_CELLS = 1 << 22
#: How many offending samples an error message names before it only counts the rest.
SHOW = 5

#: Pillow modes whose pixels *are* class ids.
INDEX_MODES = ("P", "L", "1", "I;16", "I;16L", "I;16B", "I")


def read_mask(path: str | Path) -> np.ndarray:
    """Raw class ids of a mask file as an (H, W) int64 array, before any label mapping.

    Palette images give their indices (VOC's colours are a display palette over class
    ids); RGB masks are refused because their colour → class table is dataset-specific.
    """
    try:
        with Image.open(path) as img:
            mode = img.mode
            if mode not in INDEX_MODES:
                raise DatasetError(
                    f"{path}: mask has mode {mode}; colour-coded RGB masks are not supported; "
                    "convert to a palette (P) or greyscale (L) PNG whose pixel values are "
                    "the class ids"
                )
            arr = np.asarray(img)
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: mask file not found") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetError(f"{path}: cannot read mask ({exc})") from exc
    return arr.astype(np.int64)


def target_fields(target: Any, sample_id: str = "?") -> tuple[str, int, bool]:
    """(mask path, ignore_index, reduce_zero_label) of a target, or a DatasetError."""
    if not isinstance(target, dict) or not isinstance(target.get("mask"), str):
        raise DatasetError(
            f"sample {sample_id!r}: a segmentation target must be "
            f'{{"mask": path, "ignore_index": int, "reduce_zero_label": bool}}, got {target!r}'
        )
    ignore = target.get("ignore_index", DEFAULT_IGNORE_INDEX)
    if not isinstance(ignore, int) or isinstance(ignore, bool):
        raise DatasetError(f"sample {sample_id!r}: ignore_index must be an int, got {ignore!r}")
    return target["mask"], ignore, bool(target.get("reduce_zero_label", False))


def label_map(target: Any, sample_id: str = "?") -> np.ndarray:
    """Ground-truth class ids (ignored pixels hold ``ignore_index``) of one target."""
    path, ignore, reduce_zero = target_fields(target, sample_id)
    raw = read_mask(path)
    if not reduce_zero:
        return raw
    labels = raw - 1
    labels[(raw == 0) | (raw == ignore)] = ignore
    return labels


def confusion(
    gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore_index: int
) -> tuple[list[list[int]], int]:
    """Sparse confusion ``[[gt, pred, count], ...]`` over non-ignored pixels, and their count.

    A predicted id outside [0, num_classes) is stored as ``INVALID`` (-1): it is never
    correct, so it counts against the ground-truth class (a false negative) without
    being a false positive of any class, which is what mmsegmentation's histogram does.
    """
    keep = gt != ignore_index
    g = gt[keep].astype(np.int64)
    p = pred[keep].astype(np.int64)
    k = num_classes
    p = np.where((p >= 0) & (p < k), p, k)  # column k collects invalid predictions
    flat = g * (k + 1) + p
    if k * (k + 1) <= DENSE_CELLS:
        dense = np.bincount(flat, minlength=k * (k + 1))
        cells = np.flatnonzero(dense)
        counts = dense[cells]
    else:  # many classes (16-bit masks): a dense K×K count would not fit in memory
        cells, counts = np.unique(flat, return_counts=True)
    rows = [
        [int(c // (k + 1)), int(c % (k + 1)) if c % (k + 1) < k else INVALID, int(n)]
        for c, n in zip(cells, counts, strict=True)
    ]
    return rows, int(g.size)


def scores(matrix: np.ndarray) -> dict[str, float]:
    """The three metrics of a (K, K + 1) confusion matrix whose last column is invalid."""
    k = matrix.shape[0]
    total = int(matrix.sum())
    if total == 0:  # no scored pixel: undefined, but results refuse NaN (see docs)
        return {"miou": 0.0, "pixel_accuracy": 0.0, "mean_accuracy": 0.0}
    tp = np.diag(matrix[:, :k]).astype(np.float64)
    gt_count = matrix.sum(axis=1).astype(np.float64)
    pred_count = matrix[:, :k].sum(axis=0).astype(np.float64)
    union = gt_count + pred_count - tp
    present = union > 0
    in_gt = gt_count > 0
    return {
        "miou": float(np.mean(tp[present] / union[present])),
        "pixel_accuracy": float(tp.sum() / total),
        "mean_accuracy": float(np.mean(tp[in_gt] / gt_count[in_gt])),
    }


def _image_size(sample: Sample) -> tuple[int, int]:
    """(width, height) from the image header only, so checking a set stays cheap."""
    src = sample.source
    if callable(src):
        h, w = sample.image().shape[:2]
        return w, h
    try:
        with Image.open(io.BytesIO(src) if isinstance(src, bytes) else src) as img:
            return img.size
    except (OSError, UnidentifiedImageError) as exc:
        raise DatasetError(f"sample {sample.id!r}: cannot read image {src!r} ({exc})") from exc


def _listing(problems: list[str]) -> str:
    shown = "; ".join(problems[:SHOW])
    more = f"; … and {len(problems) - SHOW} more" if len(problems) > SHOW else ""
    return f"{shown}{more}"


class SegmentationTask(Task):
    """Semantic segmentation scored with one set-level confusion matrix.

    Option ``num_classes`` is used only when the dataset defines no ``categories()``.
    """

    name = "segmentation"
    description = "semantic segmentation: mIoU from one confusion matrix over the whole set"
    metrics = ("miou", "pixel_accuracy", "mean_accuracy")
    headline = "miou"

    def __init__(self, dataset: Dataset, **options: Any) -> None:
        super().__init__(dataset, **options)
        self._num_classes: int | None = None
        self._cached: tuple[str, np.ndarray] | None = None

    @property
    def num_classes(self) -> int:
        """K = largest category id + 1 (ids are the class values in the label map)."""
        if self._num_classes is None:
            self._num_classes = self._count_classes()
        return self._num_classes

    def _count_classes(self) -> int:
        cats = self.dataset.categories()
        if cats:
            ids = [c.get("id") if isinstance(c, dict) else None for c in cats]
            good = [i for i in ids if isinstance(i, int) and not isinstance(i, bool) and i >= 0]
            if len(good) != len(ids):
                raise DatasetError(
                    f"dataset {self.dataset.name!r}: categories() ids must be ints >= 0"
                )
            return max(good) + 1
        k = self.options.get("num_classes")
        if isinstance(k, int) and k > 0:
            return k
        raise DatasetError(
            f"dataset {self.dataset.name!r} defines no categories(); segmentation needs "
            "the number of classes (give the task option num_classes=K)"
        )

    def prepare(self) -> dict[str, Any]:
        """Read every mask once: sizes, label ranges and ignore indices are checked here.

        Masks are small PNGs, so this costs seconds on ADE20K's 2000 validation images
        and saves a run that would otherwise die (or silently mis-score) hours later.
        """
        k = self.num_classes
        problems: list[str] = []
        ignores: set[int] = set()
        reduces: set[bool] = set()
        for sample in self.dataset.samples():
            try:
                _, ignore, reduce_zero = target_fields(sample.target, sample.id)
                ignores.add(ignore)
                reduces.add(reduce_zero)
                if 0 <= ignore < k:
                    problems.append(
                        f"{sample.id}: ignore_index {ignore} is also a class id (0..{k - 1})"
                    )
                    continue
                labels = label_map(sample.target, sample.id)
                w, h = _image_size(sample)
            except DatasetError as exc:
                problems.append(f"{sample.id}: {exc}")
                continue
            if labels.shape != (h, w):
                problems.append(
                    f"{sample.id}: mask is {labels.shape[1]}x{labels.shape[0]}, "
                    f"image is {w}x{h}"
                )
                continue
            bad = labels[(labels != ignore) & ((labels < 0) | (labels >= k))]
            if bad.size:
                values = ", ".join(str(v) for v in np.unique(bad)[:5])
                problems.append(
                    f"{sample.id}: label values {values} outside 0..{k - 1} "
                    f"(ignore_index {ignore})"
                )
        if problems:
            raise DatasetError(
                f"{len(problems)} segmentation sample(s) of dataset {self.dataset.name!r} "
                f"cannot be scored: {_listing(problems)}"
            )
        return {
            "num_classes": k,
            "ignore_index": ignores.pop() if len(ignores) == 1 else sorted(ignores),
            "reduce_zero_label": reduces.pop() if len(reduces) == 1 else sorted(reduces),
        }

    def _labels(self, sample: Sample) -> np.ndarray:
        """Label map of a sample, cached: one image is scored at every codec point in turn."""
        path = target_fields(sample.target, sample.id)[0]
        if self._cached is None or self._cached[0] != path:
            self._cached = (path, label_map(sample.target, sample.id))
        return self._cached[1]

    def outcome(self, sample: Sample, prediction: Any) -> dict[str, Any]:
        """``{"confusion": [[gt, pred, count], ...], "pixels": scored pixels}``."""
        _, ignore, _ = target_fields(sample.target, sample.id)
        gt = self._labels(sample)
        pred = np.asarray(prediction)
        if pred.dtype == bool or not np.issubdtype(pred.dtype, np.integer):
            raise LossybenchError(
                f"sample {sample.id!r}: a segmentation prediction must be an integer class "
                f"map, got dtype {pred.dtype}"
            )
        if pred.shape != gt.shape:
            raise LossybenchError(
                f"sample {sample.id!r}: prediction shape {pred.shape} differs from the mask's "
                f"{gt.shape}; the model must return an (H, W) map at the original resolution"
            )
        k = self.num_classes
        if np.any((gt != ignore) & ((gt < 0) | (gt >= k))):
            raise DatasetError(f"sample {sample.id!r}: mask labels outside 0..{k - 1}")
        rows, pixels = confusion(gt, pred, k, ignore)
        return {"confusion": rows, "pixels": pixels}

    def training_target(self, sample: Sample, size: tuple[int, int]) -> Any:
        """The label map as an int64 (H, W) tensor of ``size``, ignored pixels = 255.

        Resized with nearest neighbour on pixel centres (PIL), so no pixel gets a class
        that is not in the mask, aligned with the half-pixel-centred bilinear resize of
        images. The dataset's own ignore index becomes :data:`TRAIN_IGNORE_INDEX`.
        """
        import torch

        _, ignore, _ = target_fields(sample.target, sample.id)
        k = self.num_classes
        if k > TRAIN_IGNORE_INDEX:
            raise DatasetError(
                f"dataset {self.dataset.name!r} has {k} classes; finetuning supports at most "
                f"{TRAIN_IGNORE_INDEX} (class ids must stay below the ignore value)"
            )
        gt = self._labels(sample)
        bad = (gt == ignore) | (gt < 0) | (gt >= k)
        labels = np.where(bad, TRAIN_IGNORE_INDEX, gt).astype(np.uint8)
        h, w = size
        if labels.shape != (h, w):
            labels = np.asarray(Image.fromarray(labels).resize((w, h), Image.Resampling.NEAREST))
        return torch.from_numpy(labels.astype(np.int64))

    def transform_target(
        self, target: Any, size: tuple[int, int], flip: bool, turns: int
    ) -> Any:
        """The label map mirrored left-right, then turned ``turns`` × 90° (as np.rot90)."""
        import torch

        if flip:
            target = torch.flip(target, (-1,))
        return torch.rot90(target, turns % 4, (-2, -1)).contiguous()

    def aggregate(self, outcomes: Sequence[dict[str, Any]]) -> dict[str, float]:
        """Sum the per-image matrices into one and score it (integer sums: order-free)."""
        cells: list[list[list[int]]] = []
        for o in outcomes:
            rows = o.get("confusion") if isinstance(o, dict) else None
            if not isinstance(rows, list):
                raise LossybenchError(f"not a segmentation outcome: {o!r:.200}")
            cells.append(rows)
        n_rows = sum(len(rows) for rows in cells)
        if n_rows == 0:
            return scores(np.zeros((1, 2), dtype=np.int64))
        # fromiter over the flattened triples is ~4x faster than np.asarray(list of lists)
        flat = np.fromiter(chain.from_iterable(chain.from_iterable(cells)), dtype=np.int64)
        if flat.size != 3 * n_rows:
            raise LossybenchError("segmentation outcome rows must be [gt, pred, count] triples")
        arr = flat.reshape(-1, 3)
        gt, pred, count = arr[:, 0], arr[:, 1], arr[:, 2]
        if gt.min() < 0 or pred.min() < INVALID or count.min() < 0:
            raise LossybenchError("segmentation outcome with negative class ids or counts")
        k = int(max(gt.max(), pred.max())) + 1
        matrix = np.zeros((k, k + 1), dtype=np.int64)
        np.add.at(matrix, (gt, np.where(pred == INVALID, k, pred)), count)
        return scores(matrix)


@hookimpl
def lossybench_tasks() -> list[type[Task]]:
    return [SegmentationTask]
