"""Image classification scored by top-1 and top-5 accuracy.

Targets are integer class indices (``Sample.target``); predictions are 1-D class
scores (logits) whose position *i* is class *i*. Per image the outcome records the
label, the arg-max prediction and whether the label is the top-1 / among the top-5
scores, so every metric is a mean over outcome records (order-independent, and any
subset — one codec point, a bootstrap resample — can be re-scored from the JSONL).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from lossybench import hookimpl
from lossybench.dataset import Dataset, Sample
from lossybench.errors import DatasetError, LossybenchError
from lossybench.task import Task

#: top-k of the second metric; with fewer classes it is top-min(5, K).
TOP_K = 5


def as_label(value: Any) -> int | None:
    """``value`` as a class index, or None when it is not an integer (bools are not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def num_classes_of(dataset: Dataset) -> int | None:
    """Class count from ``dataset.categories()``: largest id + 1 (ids may have gaps)."""
    cats = dataset.categories()
    if not cats:
        return None
    ids = [as_label(c.get("id")) for c in cats]
    if any(i is None or i < 0 for i in ids):
        raise DatasetError(
            f"dataset {dataset.name!r}: category ids must be non-negative integers"
        )
    return max(ids) + 1  # type: ignore[type-var]


class ClassificationTask(Task):
    """Top-1 / top-5 accuracy over integer class labels.

    The valid label range is ``[0, K)`` with K, in order of precedence: the option
    ``num_classes`` (``--task-option num_classes=10``), the dataset's categories
    (largest id + 1), or the largest label + 1.
    """

    name = "classification"
    description = "image classification: top-1 / top-5 accuracy over integer class labels"
    metrics = ("top1", "top5")
    headline = "top1"
    metric_range = (0.0, 1.0)

    def __init__(self, dataset: Dataset, num_classes: int | str | None = None) -> None:
        super().__init__(dataset, num_classes=num_classes)

    def prepare(self) -> dict[str, Any]:
        """Check every label before any image is compressed: a bad one fails fast."""
        raw = self.options.get("num_classes")
        if raw is not None:
            k = int(raw) if isinstance(raw, str) and raw.strip().isdigit() else as_label(raw)
            if k is None or k < 1:
                raise DatasetError(f"num_classes must be a positive integer, not {raw!r}")
        else:
            k = num_classes_of(self.dataset)
        labels: list[tuple[str, Any]] = [(s.id, s.target) for s in self.dataset.samples()]
        if k is None:
            ints = [v for _, t in labels if (v := as_label(t)) is not None]
            k = max(ints) + 1 if ints else 0
        for sample_id, target in labels:
            label = as_label(target)
            if label is None or not 0 <= label < k:
                raise DatasetError(
                    f"dataset {self.dataset.name!r}, sample {sample_id!r}: label {target!r} "
                    f"is not a class index in [0, {k}) (valid range 0..{k - 1}); "
                    "classification targets must be integers"
                )
        if k < 1:
            raise DatasetError(f"dataset {self.dataset.name!r} has no labelled samples")
        return {"num_classes": k}

    def outcome(self, sample: Sample, prediction: Any) -> dict[str, Any]:
        logits = np.asarray(prediction, dtype=np.float64)
        label = as_label(sample.target)
        if logits.ndim != 1 or logits.size == 0:
            raise LossybenchError(
                f"sample {sample.id!r}: classification needs 1-D class scores, "
                f"got shape {logits.shape}"
            )
        if label is None or not 0 <= label < logits.size:
            raise LossybenchError(
                f"sample {sample.id!r}: label {sample.target!r} is outside the model's "
                f"{logits.size} outputs"
            )
        # NaN would win np.argmax; treat it as the lowest score instead.
        logits = np.where(np.isnan(logits), -np.inf, logits)
        k = min(TOP_K, logits.size)
        order = np.argsort(-logits, kind="stable")  # ties: lower index first, like argmax
        pred = int(order[0])
        return {
            "label": label,
            "pred": pred,
            "correct": pred == label,
            "top5": bool(label in order[:k]),
        }

    def training_target(self, sample: Sample, size: tuple[int, int]) -> Any:
        """The class index as a 0-d int64 tensor (geometry does not matter here)."""
        import torch

        label = as_label(sample.target)
        if label is None or label < 0:
            raise DatasetError(
                f"sample {sample.id!r}: label {sample.target!r} is not a class index"
            )
        return torch.tensor(label, dtype=torch.int64)

    def transform_target(
        self, target: Any, size: tuple[int, int], flip: bool, turns: int
    ) -> Any:
        """A class label does not depend on the geometry."""
        return target

    def aggregate(self, outcomes: Sequence[dict[str, Any]]) -> dict[str, float]:
        if not outcomes:
            return {}
        n = len(outcomes)
        return {
            "top1": sum(bool(o["correct"]) for o in outcomes) / n,
            "top5": sum(bool(o["top5"]) for o in outcomes) / n,
        }


@hookimpl
def lossybench_tasks() -> list[type[Task]]:
    return [ClassificationTask]
