"""Train the reference scenes models shipped in lossybench/plugins/models/weights/.

One command per model, on CPU, seeded::

    .venv/bin/python scripts/train_reference_models.py --task detection
    .venv/bin/python scripts/train_reference_models.py --task segmentation

Training scenes are rendered by the scenes generator (train split: training backgrounds
and the top half of the textures only) and cached as arrays under the scenes cache
folder. Augmentation is exact: flips and 90° rotations, which keep every box and mask
pixel-aligned. Forward passes run under bfloat16 autocast (fast on CPUs with AMX or
AVX-512 BF16; exact reproduction needs the same CPU kind, torch and thread count).
Validation on the 200-image val split uses the same task plugins as ``bench run``.

Writes ``<out>/scenes-<kind>.pt`` (fp16 state dict) and ``<out>/scenes-<kind>.json``
(configuration, sha256, wall time, clean validation metrics); paste the printed sha256
into ``MODELS`` in ``plugins/models/reference_models/weights.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lossybench.plugins.datasets import scenes
from lossybench.plugins.models import reference_models as ref

DEFAULTS: dict[str, dict[str, Any]] = {
    "detection": {"steps": 2400, "batch_size": 8, "lr": 2e-3, "weight_decay": 1e-4,
                  "permute_colours": False},
    # the segmenter tends to call unseen background photos objects: it trains longer and
    # sees RGB-permuted scenes, so it learns outlines and textures rather than palettes
    "segmentation": {"steps": 2400, "batch_size": 8, "lr": 2e-3, "weight_decay": 1e-4,
                     "permute_colours": True},
}
NAMES = {"detection": "scenes-detector", "segmentation": "scenes-segmenter"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- data ------------------------------------------------------------------------------------
def _render_one(i: int) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    s = scenes.render("train", i)
    return s.image, s.mask, [[o["category_id"], *o["bbox"]] for o in s.objects]


def train_arrays(n: int, workers: int) -> tuple[np.ndarray, np.ndarray, list[list[list[int]]]]:
    """Images, masks and ``[category, x, y, w, h]`` objects of train scenes 0..n-1 (cached)."""
    folder = scenes.cache_root() / f"train-arrays-{n}"
    if (folder / "objects.json").is_file():
        return (np.load(folder / "images.npy"), np.load(folder / "masks.npy"),
                json.loads((folder / "objects.json").read_text()))
    log(f"rendering {n} training scenes into {folder}")
    h, w = scenes.SIZE
    images = np.zeros((n, h, w, 3), np.uint8)
    masks = np.zeros((n, h, w), np.uint8)
    objects: list[list[list[int]]] = []
    if workers > 1:
        from multiprocessing import get_context

        with get_context("spawn").Pool(workers) as pool:
            results = pool.imap(_render_one, range(n), chunksize=16)
            for i, (im, m, o) in enumerate(results):
                images[i], masks[i] = im, m
                objects.append(o)
    else:
        for i in range(n):
            images[i], masks[i], o = _render_one(i)
            objects.append(o)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "images.npy", images)
    np.save(folder / "masks.npy", masks)
    (folder / "objects.json").write_text(json.dumps(objects))
    return images, masks, objects


def augment(
    image: np.ndarray, mask: np.ndarray, boxes: np.ndarray, k: int, flip: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotate by k×90° and optionally mirror; boxes (xyxy, pixel edges) follow exactly."""
    h, w = mask.shape
    for _ in range(k):  # np.rot90 turns counter-clockwise: (x, y) → (y, W - x)
        image, mask = np.rot90(image), np.rot90(mask)
        x0, y0, x1, y1 = boxes.T
        boxes = np.stack([y0, w - x1, y1, w - x0], axis=1)
        h, w = w, h
    if flip:
        image, mask = image[:, ::-1], mask[:, ::-1]
        x0, y0, x1, y1 = boxes.T
        boxes = np.stack([w - x1, y0, w - x0, y1], axis=1)
    return np.ascontiguousarray(image), np.ascontiguousarray(mask), boxes


def batch(
    rng: np.random.Generator, idx: np.ndarray, images: np.ndarray, masks: np.ndarray,
    objects: list[list[list[int]]], permute_colours: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, list[dict[str, torch.Tensor]]]:
    xs, ms, targets = [], [], []
    for i in idx:
        obj = np.asarray(objects[i], dtype=np.float32).reshape(-1, 5)
        boxes = obj[:, 1:].copy()
        boxes[:, 2:] += boxes[:, :2]
        im, m, boxes = augment(images[i], masks[i], boxes, int(rng.integers(4)),
                               bool(rng.integers(2)))
        if permute_colours:
            im = np.ascontiguousarray(im[..., rng.permutation(3)])
        xs.append(torch.from_numpy(im).permute(2, 0, 1))
        ms.append(torch.from_numpy(m.astype(np.int64)))
        targets.append({"boxes": torch.from_numpy(boxes.astype(np.float32)),
                        "labels": torch.from_numpy(obj[:, 0].astype(np.int64))})
    return torch.stack(xs).float().div_(255.0), torch.stack(ms), targets


# -- training --------------------------------------------------------------------------------
def lr_at(step: int, steps: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(steps - warmup, 1)
    return base * 0.5 * (1.0 + math.cos(math.pi * t))


def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(args.seed)
    rng = np.random.Generator(np.random.PCG64(args.seed))
    images, masks, objects = train_arrays(args.images, args.threads)
    net = ref.BUILDERS[args.task]()
    net.train()
    decay = [p for n, p in net.named_parameters() if p.ndim > 1]
    other = [p for n, p in net.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": other, "weight_decay": 0.0}], lr=args.lr)
    mean = torch.tensor(ref.MEAN).view(1, 3, 1, 1)
    std = torch.tensor(ref.STD).view(1, 3, 1, 1)
    order = rng.permutation(len(images))
    pos = 0
    start = time.perf_counter()
    running: dict[str, float] = {}
    evaluating = 0.0
    for step in range(args.steps):
        if pos + args.batch_size > len(order):
            order, pos = rng.permutation(len(images)), 0
        idx = order[pos : pos + args.batch_size]
        pos += args.batch_size
        x, y, targets = batch(rng, idx, images, masks, objects, args.permute_colours)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            if args.task == "detection":
                losses = net(list(x), targets)
            else:
                logits = net((x - mean) / std)["out"]
                losses = {"ce": torch.nn.functional.cross_entropy(logits.float(), y)}
        loss = sum(losses.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        for k, v in losses.items():
            running[k] = 0.98 * running.get(k, v.item()) + 0.02 * v.item()
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            rate = (time.perf_counter() - start - evaluating) / (step + 1)
            parts = " ".join(f"{k}={v:.4f}" for k, v in running.items())
            log(f"step {step + 1}/{args.steps} {parts} ({rate:.2f} s/step, "
                f"eta {rate * (args.steps - step - 1) / 60:.1f} min)")
        if args.eval_every and (step + 1) % args.eval_every == 0 and step + 1 < args.steps:
            t0 = time.perf_counter()
            log(f"val[:{args.eval_images}] {evaluate(net, args.task, args.eval_images)}")
            net.train()
            evaluating += time.perf_counter() - t0
    seconds = time.perf_counter() - start - evaluating  # training only
    return {"net": net, "seconds": seconds}


# -- evaluation (the same task plugins as `bench run`) --------------------------------------
def evaluate(net: Any, task: str, limit: int | None = None) -> dict[str, float]:
    """Clean metrics of ``net`` on the first ``limit`` validation images (fp32)."""
    from lossybench.registry import load_registry

    reg = load_registry()
    dataset = reg.get("datasets", f"scenes-{task}").obj()
    task_obj = reg.get("tasks", task).obj(dataset)
    task_obj.prepare()
    model = ref.ReferenceModel(family="reference", name=NAMES[task], task=task,
                               weights=ref.WeightsInfo(source="training"), net=net.eval())
    samples = list(dataset.samples())[: limit or None]
    outcomes = []
    for i in range(0, len(samples), 8):
        chunk = samples[i : i + 8]
        preds = model.predict([s.image() for s in chunk])
        outcomes += [task_obj.outcome(s, p) for s, p in zip(chunk, preds, strict=True)]
    return {k: round(v, 4) for k, v in task_obj.aggregate(outcomes).items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", choices=sorted(DEFAULTS), required=True)
    p.add_argument("--images", type=int, default=4000, help="training scenes (train split)")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--permute-colours", action=argparse.BooleanOptionalAction,
                   help="randomly permute RGB channels (default: per task)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-bf16", dest="bf16", action="store_false")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--eval-every", type=int, default=0)
    p.add_argument("--eval-images", type=int, default=40)
    p.add_argument("--out", type=Path, default=ref.WEIGHTS_DIR)
    args = p.parse_args(argv)
    for k, v in DEFAULTS[args.task].items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    torch.set_num_threads(args.threads)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
              if k not in ("out", "log_every", "eval_every", "eval_images")}
    log(f"training {NAMES[args.task]}: {config}")
    result = train(args)
    net = result["net"].eval()
    state = {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    net.load_state_dict({k: v.float() for k, v in state.items()})  # evaluate what ships
    log("evaluating on the 200-image validation split")
    metrics = evaluate(net, args.task)
    args.out.mkdir(parents=True, exist_ok=True)
    name = NAMES[args.task]
    weights = args.out / f"{name}.pt"
    torch.save(state, weights)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    record = {
        "model": f"reference:{name}",
        "architecture": ref.MODELS[name].architecture,
        "parameters": sum(v.numel() for v in state.values() if v.is_floating_point()),
        "file": weights.name,
        "bytes": weights.stat().st_size,
        "sha256": digest,
        "dtype": "float16",
        "dataset": f"{scenes.VERSION} train split, scenes 0..{args.images - 1}",
        "augmentation": "random 90-degree rotation and mirror"
        + (", random RGB channel permutation" if args.permute_colours else ""),
        "optimizer": "AdamW, linear warmup then cosine decay, grad-norm clip 10",
        "config": config,
        "train_seconds": round(result["seconds"], 1),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "environment": {"torch": torch.__version__, "python": platform.python_version(),
                        "machine": platform.machine(), "threads": args.threads},
        "val_metrics": metrics,
    }
    (args.out / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    log(f"val metrics {metrics}; {weights} ({record['bytes']} bytes) sha256 {digest}; "
        f"trained in {result['seconds'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
