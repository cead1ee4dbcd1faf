"""Results and per-image JSONL made exactly as ``bench run`` makes them, from synthetic data.

The per-image records follow ``lossybench.run.image_records``; every aggregate is computed
by the run's own ``summarize_points``/``codec_summary``, so a file made here is an honest
result. A toy classification task (registered in a test-only registry) scores them.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lossybench import hookimpl
from lossybench.engine.results import RunResult
from lossybench.engine.run.config import make_config
from lossybench.engine.run.summary import codec_summary, summarize_points
from lossybench.task import Task

DATASET_SHA = hashlib.sha256(b"toy dataset").hexdigest()
POINTS = (0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 2.5)
WIDTH = HEIGHT = 512
#: codec label -> how hard it hits accuracy at low rates (0 = not at all)
CODECS = {"jpeg": 0.7, "webp": 0.45}


class ToyClassification(Task):
    """Top-1/top-5 from per-image booleans, as a classification task would."""

    name = "classification"
    description = "toy classification for tests"
    metrics = ("top1", "top5")
    headline = "top1"

    def outcome(self, sample: Any, prediction: Any) -> dict[str, Any]:  # pragma: no cover
        return {"correct": bool(prediction), "top5": bool(prediction)}

    def aggregate(self, outcomes: Sequence[dict[str, Any]]) -> dict[str, float]:
        if not outcomes:
            return {}
        n = len(outcomes)
        return {
            "top1": sum(1 for o in outcomes if o["correct"] is True) / n,
            "top5": sum(1 for o in outcomes if o["top5"] is True) / n,
        }


@hookimpl
def lossybench_tasks() -> list[type[Task]]:
    return [ToyClassification]


def toy_registry() -> Any:
    from lossybench.registry import load_registry

    return load_registry(use_entry_points=False, extra_plugins=[("toy", sys.modules[__name__])])


def weights_sha(model: str, variant: str = "") -> str:
    return hashlib.sha256(f"weights of {model}{variant}".encode()).hexdigest()


def make_records(
    *, n: int, p_clean: float, codecs: dict[str, float], points: Sequence[float], seed: int,
    failed: int = 0, recovery: float = 0.0,
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for k in range(n):
        image = f"n{k:04d}/img_{k:02d}.JPEG"
        if k < failed:
            records.append({"image": image, "codec": None, "point": None,
                            "error": "ImageError: truncated file"})
            continue
        u = rng.random()
        records.append({"image": image, "codec": None, "point": None, "error": None,
                        "outcome": {"correct": u < p_clean, "top5": u < min(1.0, p_clean + .15)}})
        for label, strength in codecs.items():
            for target in points:
                nbytes = int(target * (0.86 + 0.13 * rng.random()) * WIDTH * HEIGHT / 8)
                bpp = nbytes * 8 / (WIDTH * HEIGHT)
                hit = strength * (1 - recovery) * math.exp(-bpp / 0.3)
                p = p_clean * (1 - hit)
                records.append({
                    "image": image, "codec": label, "point": target,
                    "quality": float(max(1, min(95, round(40 * bpp)))), "bytes": nbytes,
                    "bpp": bpp, "psnr": 24 + 4 * math.log2(bpp / 0.1), "status": "ok",
                    "encodes": 4, "error": None,
                    "outcome": {"correct": u < p, "top5": u < min(1.0, p + 0.15)},
                })
    return records


def board_holding_another_model(root: Path, scratch: Path, reg: Any, resamples: int) -> Path:
    """A default board at ``root`` that knows the 8-image dataset and already holds
    another model's entries (its result written under ``scratch``)."""
    from lossybench.leaderboard.board import Board

    b = Board(root)
    b.init()
    b.add_dataset("imagenet-samples", DATASET_SHA, 8)
    other, _ = make_result(scratch, "other", model="timm:other", n=8)
    out = b.submit([other], reg, resamples=resamples)
    assert out.ok, [p.line() for r in out.reports for p in r.problems]
    return root


def make_result(
    out: Path, stem: str = "run", *, model: str = "timm:toy_net", weights: str | None = None,
    codecs: dict[str, float] | None = None, points: Sequence[float] = POINTS, n: int = 20,
    p_clean: float = 0.8, seed: int = 0, dataset_sha: str = DATASET_SHA, failed: int = 0,
    recovery: float = 0.0, with_records: bool = True,
) -> tuple[Path, Path | None]:
    """Write ``out/stem.json`` (and ``out/stem.jsonl``); return their paths."""
    codecs = dict(CODECS if codecs is None else codecs)
    family, _, name = model.partition(":")
    config = {
        "task": "classification", "model": model, "weights": f"package:{name}-weights",
        "dataset": "imagenet-samples", "codecs": list(codecs), "bpp": list(points),
        "quality": None, "policy": "floor", "batch_size": 16, "device": "cpu", "workers": 1,
        "limit": None, "seed": 0, "out": str(out), "name": stem,
    }
    cfg = make_config(config)
    records = make_records(n=n, p_clean=p_clean, codecs=codecs, points=points, seed=seed,
                           failed=failed, recovery=recovery)
    header = {"lossybench_records": 1, "config_sha256": cfg.digest()}
    text = "".join(json.dumps(r, sort_keys=True, allow_nan=False) + "\n"
                   for r in [header, *records])
    out.mkdir(parents=True, exist_ok=True)
    jsonl = out / f"{stem}.jsonl"
    jsonl.write_text(text)
    task = ToyClassification(None)  # type: ignore[arg-type]
    clean_recs = [r for r in records if r["codec"] is None]
    clean_ok = [r["outcome"] for r in clean_recs if r.get("outcome") is not None]
    clean = task.aggregate(clean_ok)
    normal = [{"quality": None, "bpp": None, "psnr": None, "status": None, **r} for r in records]
    codec_results = []
    for label in codecs:
        pts = summarize_points(task, normal, label, list(points))
        codec_results.append({
            "name": label, "label": label, "settings": {},
            "backend": {"library": f"lib{label}", "version": "1.0.0", "binding": "Pillow 11"},
            "quality": "quality 1..95 step 1 (higher = better)", "points": pts,
            "summary": codec_summary(task, clean, pts, "bpp"),
        })
    data = {
        "created": "2025-01-01T00:00:00Z",
        "lossybench": {"version": "0.1.0", "plugins": [
            {"name": "jpeg", "distribution": "lossybench", "version": "0.1.0"}]},
        "task": {"name": "classification", "headline": "top1", "metrics": ["top1", "top5"],
                 "details": {"num_classes": 1000}},
        "model": {"family": family, "name": name, "task": "classification",
                  "weights": {"source": f"package:{name}-weights",
                              "sha256": weights or weights_sha(model)},
                  "preprocessing": {"resize": 224}},
        "dataset": {"name": "imagenet-samples", "location": None, "images": n,
                    "sha256": dataset_sha},
        "environment": {"python": "3.11.2", "platform": "Linux-x86_64", "torch": "2.14.1",
                        "torchvision": "0.29.1", "numpy": "1.26.4", "pillow": "11.0.0",
                        "device": "cpu", "seed": 0, "command": ["bench", "run"]},
        "settings": {"mode": "bpp", "points": list(points), "policy": "floor",
                     "batch_size": 16, "workers": 1, "limit": None},
        "clean": {"metrics": clean, "images": len(clean_ok),
                  "failures": len(clean_recs) - len(clean_ok)},
        "codecs": codec_results,
        "records": {"file": jsonl.name, "sha256": hashlib.sha256(text.encode()).hexdigest(),
                    "count": len(records)},
        "config": cfg.model_dump(),
        "wall_seconds": 12.5,
    }
    result = RunResult.model_validate(data)
    path = out / f"{stem}.json"
    path.write_text(result.model_dump_json(indent=2))
    if not with_records:
        jsonl.unlink()
        return path, None
    return path, jsonl


def refresh_summaries(doc: dict[str, Any]) -> dict[str, Any]:
    """Recompute every codec summary from the (edited) points, as an honest run would."""
    for c in doc["codecs"]:
        c["summary"] = codec_summary(ToyClassification, doc["clean"]["metrics"], c["points"],
                                     doc["settings"]["mode"])
    return doc


def write_pair(json_path: Path, doc: dict[str, Any], records_text: str | None = None) -> None:
    """Write a result (and optionally new records, updating the stated sha256 and count)."""
    if records_text is not None:
        jsonl = json_path.with_suffix(".jsonl")
        jsonl.write_text(records_text)
        doc["records"]["sha256"] = hashlib.sha256(records_text.encode()).hexdigest()
        doc["records"]["count"] = sum(1 for line in records_text.splitlines() if line.strip()) - 1
    json_path.write_text(json.dumps(doc, indent=2))


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder under ``root``: "unchanged" means equal."""
    import os

    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root) + "/"] = None
        for f in filenames:
            p = os.path.join(dirpath, f)
            out[os.path.relpath(p, root)] = Path(p).read_bytes()
    return out


# -- mutations addressed by JSON path (the hostile corpus and the property tests) ----------
def parse_path(path: str) -> list[str | int]:
    """``$.codecs[0].settings["a key"]`` -> ``["codecs", 0, "settings", "a key"]``."""
    import re

    if not path.startswith("$"):
        raise ValueError(f"a JSON path starts with $: {path!r}")
    parts: list[str | int] = []
    for m in re.finditer(r'\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]',
                         path[1:]):
        name, index, quoted = m.groups()
        parts.append(name if name is not None else int(index) if index is not None
                     else json.loads(quoted))
    return parts


def _parent(doc: Any, parts: Sequence[str | int]) -> Any:
    node = doc
    for p in parts[:-1]:
        node = node[p]
    return node


def mutate(doc: dict[str, Any], ops: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """Apply ``[op, path, value?]`` edits: set, delete, insert (a list item or a new key),
    and ``inflate`` (raise every metric by ``value``, capped at 1, summaries made to agree,
    as a cheat who knows the rules would)."""
    import copy

    doc = copy.deepcopy(doc)
    for op, path, *rest in ops:
        parts = parse_path(path)
        if op == "set":
            _parent(doc, parts)[parts[-1]] = rest[0]
        elif op == "delete":
            del _parent(doc, parts)[parts[-1]]
        elif op == "insert":
            parent = _parent(doc, parts)
            if isinstance(parent, list):
                parent.insert(int(parts[-1]), rest[0])
            else:
                parent[parts[-1]] = rest[0]
        elif op == "inflate":
            for metrics in [doc["clean"]["metrics"],
                            *[p["metrics"] for c in doc["codecs"] for p in c["points"]]]:
                for k in metrics:
                    metrics[k] = min(1.0, metrics[k] + rest[0])
            refresh_summaries(doc)
        else:
            raise ValueError(f"unknown op {op!r}")
    return doc


def string_paths(node: Any, at: str = "$") -> list[str]:
    """The JSON path of every string value in ``node``."""
    out: list[str] = []
    if isinstance(node, str):
        out.append(at)
    elif isinstance(node, dict):
        for k, v in node.items():
            key = f".{k}" if k.isidentifier() else "[" + json.dumps(k) + "]"
            out += string_paths(v, at + key)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += string_paths(v, f"{at}[{i}]")
    return out
