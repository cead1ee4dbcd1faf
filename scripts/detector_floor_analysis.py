"""Why a detector fails at JPEG's floor on the scenes: lost objects, or lost classes?

docs/finetune.md quotes three measurements on the 200 validation scenes; this script
makes them, for the shipped reference detector or finetuned weights::

    .venv/bin/python scripts/detector_floor_analysis.py                       # base model
    .venv/bin/python scripts/detector_floor_analysis.py --weights results/ft/model.pt

1. **mAP with and without classes** (pycocotools COCOeval, clean and JPEG quality
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
import contextlib
import copy
import io
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from lossybench.plugins.codecs.jpeg import JpegCodec
from lossybench.plugins.datasets import scenes
from lossybench.plugins.models.reference_models import ReferenceFamily

#: COCO's object size groups (visible pixels).
GROUPS = {"small": (0, 32**2), "medium": (32**2, 96**2), "large": (96**2, float("inf"))}
STATS = ("map", "ap50", "ap75", "aps", "apm", "apl")


def coco_stats(gt: dict[str, Any], dets: list[dict[str, Any]], agnostic: bool) -> list[float]:
    data = copy.deepcopy(gt)
    if agnostic:
        for a in data["annotations"]:
            a["category_id"] = 1
        data["categories"] = [{"id": 1, "name": "object"}]
        dets = [dict(d, category_id=1) for d in dets]
    with contextlib.redirect_stdout(io.StringIO()):
        ref = COCO()
        ref.dataset = data
        ref.createIndex()
        ev = COCOeval(ref, ref.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [round(100 * float(x), 1) for x in ev.stats[:6]]


def iou(box: np.ndarray, gt: tuple[float, float, float, float]) -> np.ndarray:
    """IoU of xyxy boxes (N, 4) with one xyxy box."""
    x0 = np.maximum(box[:, 0], gt[0])
    y0 = np.maximum(box[:, 1], gt[1])
    x1 = np.minimum(box[:, 2], gt[2])
    y1 = np.minimum(box[:, 3], gt[3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
    return inter / (area + (gt[2] - gt[0]) * (gt[3] - gt[1]) - inter)


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
    gt = dataset.ground_truth()
    images = gt["images"][: args.limit]
    ids = {im["id"] for im in images}
    gt = dict(gt, images=images, annotations=[a for a in gt["annotations"] if a["image_id"] in ids])
    codec = JpegCodec()
    model = ReferenceFamily().build("scenes-detector", "detection", weights=args.weights)

    def compress(image: np.ndarray) -> np.ndarray:
        return codec.roundtrip(image, args.quality)[1]

    per_image: dict[int, list[dict[str, Any]]] = {}
    for a in gt["annotations"]:
        per_image.setdefault(a["image_id"], []).append(a)
    dets: dict[str, list[dict[str, Any]]] = {"clean": [], "jpeg": []}
    best: dict[str, dict[str, list[float]]] = {k: {g: [] for g in GROUPS} for k in dets}
    trace: dict[str, list[tuple[float, float]]] = {g: [] for g in GROUPS}
    for n, im in enumerate(images):
        scene = scenes.render("val", n)
        versions = {"clean": scene.image, "jpeg": compress(scene.image)}
        for kind, pixels in versions.items():
            out = model.forward([model.preprocess(pixels)], [pixels.shape[:2]])[0]
            for box, score, label in zip(out["boxes"], out["scores"], out["labels"], strict=True):
                x0, y0, x1, y1 = (float(v) for v in box)
                dets[kind].append({"image_id": im["id"], "category_id": int(label),
                                   "bbox": [x0, y0, x1 - x0, y1 - y0], "score": float(score)})
            kept = out["boxes"][out["scores"] > args.score]
            for a in per_image.get(im["id"], []):
                x, y, w, h = a["bbox"]
                m = float(iou(kept, (x, y, x + w, y + h)).max()) if len(kept) else 0.0
                best[kind][group(a["area"])].append(m)
        for k, obj in enumerate(scene.objects):
            without = scenes.render("val", n, omit=k).image
            x, y, w, h = obj["bbox"]
            win = (slice(y, y + h), slice(x, x + w))
            before = np.abs(scene.image[win].astype(int) - without[win].astype(int)).mean()
            after = np.abs(versions["jpeg"][win].astype(int) - compress(without)[win].astype(int))
            trace[group(obj["area"])].append((float(before), float(after.mean())))

    label = f"JPEG q{args.quality}"
    names = {"clean": "clean", "jpeg": label}
    print(f"weights: {args.weights or 'shipped'}; {len(images)} validation scenes")
    print(f"{'':22s}" + "".join(f"{s:>7s}" for s in STATS))
    for kind in dets:
        for agnostic in (False, True):
            name = f"{names[kind]}, {'no classes' if agnostic else 'classes'}"
            stats = coco_stats(gt, dets[kind], agnostic)
            # COCOeval reports -1 for a size group without objects
            print(f"{name:22s}" + "".join(f"{v:7.1f}" if v >= 0 else "      -" for v in stats))
    print(f"\ntrace an object leaves in its box (mean |with - without|, grey levels), {label}:")
    for g, rows in trace.items():
        if rows:
            r = np.array(rows)
            print(f"  {g:6s} n={len(r):4d}  uncompressed median {np.median(r[:, 0]):5.1f}  "
                  f"compressed median {np.median(r[:, 1]):5.1f}  "
                  f"under 5: {np.mean(r[:, 1] < 5):.0%}")
    print(f"\nbest IoU of a box scoring > {args.score} per object:")
    for kind in dets:
        for g, vals in best[kind].items():
            if vals:
                v = np.array(vals)
                print(f"  {names[kind]:9s} {g:6s} n={len(v):4d}  "
                      f"none at 0.1: {np.mean(v < 0.1):4.0%}   0.1-0.5: "
                      f"{np.mean((v >= 0.1) & (v < 0.5)):4.0%}   >= 0.5: {np.mean(v >= 0.5):4.0%}")


if __name__ == "__main__":
    main()
