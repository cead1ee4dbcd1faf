"""Registering a dataset from its data: fingerprints and the ground truth a board keeps.

``bench leaderboard datasets add NAME[:LOCATION] [--limit N ...]`` opens the dataset
through the plugin registry exactly as ``bench run --dataset NAME[:LOCATION]`` does,
fingerprints it (or its first N images: what a ``--limit N`` run records), and, for a
task whose results are scored against ground truth (``groundtruth.GROUND_TRUTH_TASKS``),
collects it with the registered task itself:

* detection: the task's ``prepare()`` checks the COCO ground truth; each sample's
  target gives its ``image_id``; the COCO images, box annotations (their segmentation
  masks dropped: box AP never reads them) and categories of those images are kept;
* segmentation: ``prepare()`` checks every mask; the task's own ``outcome`` of a
  constant prediction (class 0 everywhere) gives the mask's scored pixels and pixels per
  class (its confusion rows are ``[class, 0, pixels]``), with the task's label mapping
  (ignore index, ``reduce_zero_label``) applied, so nothing of a plugin is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossybench.errors import DatasetError, LossybenchError
from lossybench.leaderboard.groundtruth import (
    GROUND_TRUTH_TASKS,
    Fingerprint,
    GroundTruth,
    StoredSample,
)
from lossybench.leaderboard.safejson import clean_text


@dataclass
class Collected:
    """What registering a dataset stores: its fingerprints, and its ground truth if any."""

    name: str
    task: str | None
    fingerprints: list[Fingerprint]
    ground_truth: GroundTruth | None


def collect(spec: str, registry: Any, limits: Sequence[int] = ()) -> Collected:
    """Open ``NAME[:LOCATION]`` and collect what the board stores for it.

    ``limits``: register the first N images for each N (a ``--limit N`` run's dataset);
    none: the whole dataset. Raises :class:`LossybenchError` with a sentence.
    """
    try:
        return _collect(spec, registry, limits)
    except LossybenchError:
        raise
    except Exception as exc:  # a dataset or task tripping over its own data
        raise DatasetError(f"dataset {clean_text(spec, 200)!r} could not be read: "
                           f"{clean_text(exc, 300)}") from None


def _collect(spec: str, registry: Any, limits: Sequence[int]) -> Collected:
    from lossybench.engine.run.resolve import open_dataset, task_on

    if any(n < 1 for n in limits):
        raise DatasetError("--limit must be at least 1")
    dataset = open_dataset(spec, registry)
    samples = list(dataset.samples())
    if not samples:
        raise DatasetError(f"dataset {clean_text(spec, 200)!r} has no images")
    counts = sorted({min(n, len(samples)) for n in limits} or {len(samples)})
    prints = [Fingerprint(images=n, sha256=dataset.fingerprint(samples[:n])) for n in counts]
    task = dataset.task
    if task not in GROUND_TRUTH_TASKS:
        return Collected(dataset.name, task, prints, None)
    task_cls = registry.get("tasks", task).obj
    sub, scorer, _ = task_on(dataset, task_cls, task, {}, counts[-1])
    used = samples[: counts[-1]]
    if task == "detection":
        stored, coco = _detection(sub, used)
    else:
        stored, coco = _segmentation(scorer, used), None
    gt = GroundTruth(dataset=dataset.name, task=task, fingerprints=prints, samples=stored,
                     coco=coco)
    return Collected(dataset.name, task, prints, gt)


def _detection(dataset: Any, samples: list[Any]) -> tuple[list[StoredSample], dict[str, Any]]:
    get = getattr(dataset, "ground_truth", None)
    coco = get() if callable(get) else None
    if not isinstance(coco, dict):
        raise DatasetError(f"dataset {dataset.name!r} has no COCO ground truth to store")
    stored = []
    for s in samples:
        image_id = (s.target or {}).get("image_id") if isinstance(s.target, dict) else None
        if type(image_id) is not int:
            raise DatasetError(f"sample {clean_text(s.id, 80)!r} of dataset {dataset.name!r} "
                               "carries no COCO image_id")
        stored.append(StoredSample(id=s.id, image_id=image_id))
    ids = {s.image_id for s in stored}
    kept = {
        "images": [dict(im) for im in coco["images"] if im.get("id") in ids],
        "annotations": [{k: v for k, v in a.items() if k != "segmentation"}
                        for a in coco["annotations"] if a.get("image_id") in ids],
        "categories": [dict(c) for c in coco["categories"]],
    }
    return stored, kept


def _segmentation(task: Any, samples: list[Any]) -> list[StoredSample]:
    stored = []
    for s in samples:
        h, w = s.image().shape[:2]
        out = task.outcome(s, np.zeros((h, w), dtype=np.int64))
        classes: dict[int, int] = {}
        for g, _, n in out["confusion"]:
            classes[int(g)] = classes.get(int(g), 0) + int(n)
        stored.append(StoredSample(id=s.id, pixels=int(out["pixels"]),
                                   classes=sorted((k, v) for k, v in classes.items() if v)))
    return stored
