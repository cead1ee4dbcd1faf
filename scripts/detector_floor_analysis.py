"""Why a detector fails at JPEG's floor on the scenes: lost objects, or lost classes?

docs/finetune.md quotes three measurements on the 200 validation scenes; this script
makes them, for the shipped reference detector or finetuned weights::

    .venv/bin/python scripts/detector_floor_analysis.py                       # base model
    .venv/bin/python scripts/detector_floor_analysis.py --weights results/ft/model.pt

1. **mAP with and without classes** (the detection task, i.e. COCOeval; clean and JPEG quality
   ``--quality``): class-agnostic scoring puts every prediction and ground-truth box in
   one category. If the two are close, the detector loses objects, not their names.
2. **What each object leaves in the compressed image**: the scene is rendered again
   without that object (``scenes.render(..., omit=k)``) and both versions are
   compressed; the mean absolute difference of the decoded pixels inside the object's
   box says whether the codec erased it (≈ 0) or kept a trace.
3. **Misses**: per ground-truth object, the best IoU of any box scoring above
   ``--score``: none at IoU 0.1 = not found at all; under 0.5 = found but misplaced.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask
from pycocotools.cocoeval import Params

from lossybench.plugins.codecs.jpeg import JpegCodec
from lossybench.plugins.datasets import scenes
from lossybench.plugins.models.reference_models import ReferenceFamily
from lossybench.plugins.tasks.detection import STATS, DetectionTask

#: COCO's object size groups (visible pixels), as COCOeval defines them.
_PARAMS = Params(iouType="bbox")
GROUPS = {
    label: tuple(rng)
    for label, rng in zip(_PARAMS.areaRngLbl, _PARAMS.areaRng, strict=True)
    if label != "all"
}


class OneCategory:
    """A detection dataset's ground truth with every box in category 1, so that the
    project's own DetectionTask scores class-agnostically."""

    name = "scenes-detection, one category"

    def __init__(self, gt: dict[str, Any]) -> None:
        self._gt = dict(
            gt,
            annotations=[dict(a, category_id=1) for a in gt["annotations"]],
            categories=[{"id": 1, "name": "object"}],
        )

    def ground_truth(self) -> dict[str, Any]:
        return self._gt


def group(area: float) -> str:
    return next(name for name, (lo, hi) in GROUPS.items() if lo <= area < hi)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", help="finetuned detector weights (default: the shipped ones)")
    ap.add_argument("--quality", type=int, default=1, help="JPEG quality (1 = the floor)")
    ap.add_argument("--score", type=float, default=0.3, help="score a box needs to count")
    ap.add_argument("--limit", type=int, default=200, help="first N validation scenes")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    dataset = scenes.ScenesDetection()
    one_category = OneCategory(dataset.ground_truth())
    tasks = {False: DetectionTask(dataset), True: DetectionTask(one_category)}  # type: ignore[arg-type]
    samples = list(dataset.samples())[: args.limit]
    codec = JpegCodec()
    model = ReferenceFamily().build("scenes-detector", "detection", weights=args.weights)

    def compress(image: np.ndarray) -> np.ndarray:
        return codec.roundtrip(image, args.quality)[1]

    per_image: dict[int, list[dict[str, Any]]] = {}
    for a in dataset.ground_truth()["annotations"]:
        per_image.setdefault(a["image_id"], []).append(a)
    outcomes: dict[str, list[dict[str, Any]]] = {"clean": [], "jpeg": []}
    best: dict[str, dict[str, list[float]]] = {k: {g: [] for g in GROUPS} for k in outcomes}
    trace: dict[str, list[tuple[float, float]]] = {g: [] for g in GROUPS}
    for sample in samples:
        index = int(sample.id)  # scenes files are named by their render index
        scene = scenes.render("val", index)
        versions = {"clean": scene.image, "jpeg": compress(scene.image)}
        for kind, pixels in versions.items():
            out = model.forward([model.preprocess(pixels)], [pixels.shape[:2]])[0]
            outcomes[kind].append(tasks[False].outcome(sample, out))
            kept = out["boxes"][out["scores"] > args.score].astype(np.float64)
            kept[:, 2:] -= kept[:, :2]  # xyxy -> xywh, as pycocotools takes boxes
            for a in per_image.get(sample.target["image_id"], []):
                ious = coco_mask.iou(kept, [a["bbox"]], [0]) if len(kept) else np.zeros(1)
                best[kind][group(a["area"])].append(float(np.max(ious)))
        for k, obj in enumerate(scene.objects):
            without = scenes.render("val", index, omit=k).image
            x, y, w, h = obj["bbox"]
            win = (slice(y, y + h), slice(x, x + w))
            before = np.abs(scene.image[win].astype(int) - without[win].astype(int)).mean()
            after = np.abs(versions["jpeg"][win].astype(int) - compress(without)[win].astype(int))
            trace[group(obj["area"])].append((float(before), float(after.mean())))

    label = f"JPEG q{args.quality}"
    names = {"clean": "clean", "jpeg": label}
    print(f"weights: {args.weights or 'shipped'}; {len(samples)} validation scenes")
    print(f"{'':22s}" + "".join(f"{s:>7s}" for s in STATS))
    for kind, found in outcomes.items():
        for agnostic, task in tasks.items():
            if agnostic:
                found = [dict(o, detections=[[*d[:5], 1] for d in o["detections"]]) for o in found]
            name = f"{names[kind]}, {'no classes' if agnostic else 'classes'}"
            metrics = task.aggregate(found)  # leaves out a size group without objects
            print(f"{name:22s}" + "".join(
                f"{100 * metrics[m]:7.1f}" if m in metrics else "      -" for m in STATS))
    print(f"\ntrace an object leaves in its box (mean |with - without|, grey levels), {label}:")
    for g, rows in trace.items():
        if rows:
            r = np.array(rows)
            print(f"  {g:6s} n={len(r):4d}  uncompressed median {np.median(r[:, 0]):5.1f}  "
                  f"compressed median {np.median(r[:, 1]):5.1f}  "
                  f"under 5: {np.mean(r[:, 1] < 5):.0%}")
    print(f"\nbest IoU of a box scoring > {args.score} per object:")
    for kind in outcomes:
        for g, vals in best[kind].items():
            if vals:
                v = np.array(vals)
                print(f"  {names[kind]:9s} {g:6s} n={len(v):4d}  "
                      f"none at 0.1: {np.mean(v < 0.1):4.0%}   0.1-0.5: "
                      f"{np.mean((v >= 0.1) & (v < 0.5)):4.0%}   >= 0.5: {np.mean(v >= 0.5):4.0%}")


if __name__ == "__main__":
    main()
