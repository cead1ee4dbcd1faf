"""Object detection scored with COCO box AP, computed by pycocotools (the reference).

Per image the outcome is the image id and its detections in COCO result form
(``[x, y, w, h, score, category_id]``, full float precision, at most 100 per image
as the COCO protocol requires). :meth:`DetectionTask.aggregate` hands the detections of
exactly the images it is given to ``COCOeval`` (``iouType="bbox"``), so every number
is pycocotools' own and any subset (one codec point, a bootstrap resample, one rank's
share) is scored against the ground truth of those images only.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lossybench import hookimpl
from lossybench.dataset import Dataset, Sample
from lossybench.errors import DatasetError, LossybenchError
from lossybench.task import Task

#: COCO's limit on detections per image (results files may hold no more).
MAX_DETS = 100

#: Our metric name → index in ``COCOeval.stats`` (box AP part of ``summarize()``).
STATS = {"map": 0, "ap50": 1, "ap75": 2, "aps": 3, "apm": 4, "apl": 5}


def _quiet() -> contextlib.AbstractContextManager[Any]:
    """pycocotools prints progress on stdout; results and CLI output must stay clean."""
    return contextlib.redirect_stdout(io.StringIO())


def to_detections(prediction: dict[str, Any], limit: int = MAX_DETS) -> list[list[float]]:
    """xyxy boxes, scores, labels → ``[[x, y, w, h, score, category_id], ...]``.

    Highest scores first (ties keep the model's order, as pycocotools' stable sort
    does), capped at ``limit``; non-finite values are dropped because the records
    are strict JSON.
    """
    boxes = np.asarray(prediction.get("boxes", np.zeros((0, 4))), dtype=np.float64)
    scores = np.asarray(prediction.get("scores", np.zeros(0)), dtype=np.float64).reshape(-1)
    labels = np.asarray(prediction.get("labels", np.zeros(0))).reshape(-1)
    boxes = boxes.reshape(-1, 4)
    if not (len(boxes) == len(scores) == len(labels)):
        raise LossybenchError(
            f"detection prediction has {len(boxes)} boxes, {len(scores)} scores and "
            f"{len(labels)} labels; they must match"
        )
    keep = np.isfinite(boxes).all(axis=1) & np.isfinite(scores)
    order = [i for i in np.argsort(-scores, kind="mergesort") if keep[i]][:limit]
    out = []
    for i in order:
        x1, y1, x2, y2 = (float(v) for v in boxes[i])
        out.append([x1, y1, x2 - x1, y2 - y1, float(scores[i]), int(labels[i])])
    return out


class DetectionTask(Task):
    name = "detection"
    description = "object detection: COCO box mAP@[.5:.95] by pycocotools"
    metrics = tuple(STATS)
    headline = "map"

    def __init__(self, dataset: Dataset, **options: Any) -> None:
        super().__init__(dataset, **options)
        self._coco: Any = None

    def _ground_truth(self) -> Any:
        """The pycocotools COCO object, built in memory once (no temporary files)."""
        if self._coco is None:
            from pycocotools.coco import COCO

            get = getattr(self.dataset, "ground_truth", None)
            gt = get() if callable(get) else None
            if not isinstance(gt, dict):
                raise DatasetError(
                    f"dataset {self.dataset.name!r} has no box annotations; detection needs "
                    "a dataset with ground_truth(), e.g. --dataset coco:instances.json"
                )
            # COCOeval writes an "ignore" flag into each ground-truth annotation:
            # give it shallow copies so the dataset's dict stays as loaded.
            data = {
                "images": list(gt["images"]),
                "annotations": [dict(a) for a in gt["annotations"]],
                "categories": list(gt["categories"]),
            }
            coco = COCO()
            coco.dataset = data
            with _quiet():
                coco.createIndex()
            self._coco = coco
        return self._coco

    def prepare(self) -> dict[str, Any]:
        """Build the ground truth; report the label space a model must cover.

        ``num_classes`` is ``max(category id) + 1``, not the number of categories:
        detection labels *are* category ids (COCO's 80 categories use ids up to 90,
        hence torchvision's 91 outputs), so a model needs that many outputs.
        """
        coco = self._ground_truth()
        cats = coco.dataset["categories"]
        if not cats:
            raise DatasetError(f"dataset {self.dataset.name!r} defines no categories")
        return {
            "num_classes": max(c["id"] for c in cats) + 1,
            "categories": len(cats),
            "annotations": len(coco.dataset["annotations"]),
            "evaluator": f"pycocotools {_pycocotools_version()} COCOeval bbox",
        }

    def outcome(self, sample: Sample, prediction: Any) -> dict[str, Any]:
        target = sample.target or {}
        if "image_id" not in target:
            raise DatasetError(f"sample {sample.id!r} carries no COCO image_id")
        return {"image_id": int(target["image_id"]), "detections": to_detections(prediction)}

    def training_target(self, sample: Sample, size: tuple[int, int]) -> Any:
        """torchvision's target dict: xyxy boxes rescaled to ``size``, category-id labels.

        Crowd regions are left out (COCO does not score them as objects either), boxes are
        clipped to the image, and boxes that end up thinner than 1/100 px are dropped
        because torchvision's detectors refuse degenerate boxes.
        """
        import torch

        target = sample.target or {}
        if "image_id" not in target:
            raise DatasetError(f"sample {sample.id!r} carries no COCO image_id")
        coco = self._ground_truth()
        image_id = int(target["image_id"])
        info = coco.imgs.get(image_id)
        if info is None:
            raise DatasetError(f"sample {sample.id!r}: image_id {image_id} has no ground truth")
        h, w = size
        sy, sx = h / float(info["height"]), w / float(info["width"])
        boxes: list[list[float]] = []
        labels: list[int] = []
        for ann in coco.imgToAnns.get(image_id, []):
            if ann.get("iscrowd"):
                continue
            x, y, bw, bh = (float(v) for v in ann["bbox"])
            x0, x1 = min(max(x * sx, 0.0), w), min(max((x + bw) * sx, 0.0), w)
            y0, y1 = min(max(y * sy, 0.0), h), min(max((y + bh) * sy, 0.0), h)
            if x1 - x0 < 0.01 or y1 - y0 < 0.01:
                continue
            boxes.append([x0, y0, x1, y1])
            labels.append(int(ann["category_id"]))
        return {
            "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor(labels, dtype=torch.int64),
        }

    def transform_target(
        self, target: Any, size: tuple[int, int], flip: bool, turns: int
    ) -> Any:
        """Boxes of an image mirrored left-right, then turned ``turns`` × 90° (np.rot90).

        Exact: a mirror or a quarter turn maps an axis-aligned box onto one.
        """
        import torch

        boxes = target["boxes"].clone()
        h, w = size
        if flip:
            boxes = torch.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], 1)
        for _ in range(turns % 4):  # counter-clockwise: (x, y) -> (y, W - x); H, W swap
            boxes = torch.stack([boxes[:, 1], w - boxes[:, 2], boxes[:, 3], w - boxes[:, 0]], 1)
            h, w = w, h
        return {**target, "boxes": boxes.reshape(-1, 4)}

    def aggregate(self, outcomes: Sequence[dict[str, Any]]) -> dict[str, float]:
        """COCO box AP over the images in ``outcomes``.

        A metric pycocotools marks undefined (-1: no ground-truth box in that size
        range among these images) is left out of the result rather than reported
        as 0 or -1, which would read as a real score.
        """
        if not outcomes:
            return {}
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        gt = self._ground_truth()
        by_image: dict[int, list[list[float]]] = {}
        for o in outcomes:
            image_id = int(o["image_id"])
            if image_id in by_image:
                raise LossybenchError(f"image_id {image_id} appears twice in the outcomes")
            if image_id not in gt.imgs:
                raise LossybenchError(f"image_id {image_id} is not in the ground truth")
            by_image[image_id] = o["detections"]
        results = [
            {"image_id": i, "bbox": d[:4], "score": d[4], "category_id": int(d[5])}
            for i in sorted(by_image)
            for d in by_image[i]
        ]
        with _quiet():
            if results:
                dt = gt.loadRes(results)
            else:  # loadRes cannot take an empty list: an empty result set scores 0
                dt = COCO()
                dt.dataset = {
                    "images": list(gt.dataset["images"]),
                    "annotations": [],
                    "categories": list(gt.dataset["categories"]),
                }
                dt.createIndex()
            ev = COCOeval(gt, dt, iouType="bbox")
            ev.params.imgIds = sorted(by_image)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        out = {}
        for name, idx in STATS.items():
            value = float(ev.stats[idx])
            if value >= 0 and math.isfinite(value):
                out[name] = value
        return out


def _pycocotools_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pycocotools")
    except PackageNotFoundError:  # pragma: no cover
        return "?"


@hookimpl
def lossybench_tasks() -> list[type[Task]]:
    return [DetectionTask]
