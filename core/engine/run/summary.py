"""A run's result: per-point summaries and per-codec aggregates, from the records."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lossybench.dataset import Sample
from lossybench.engine.aggregate import area_under_curve, mean_std, relative_drop, robustness
from lossybench.engine.provenance import entry_origin, model_libraries, provenance
from lossybench.engine.results import RunResult
from lossybench.engine.run.config import auto_workers
from lossybench.engine.run.resolve import Resolved
from lossybench.kits.device import choose_device
from lossybench.registry import get_registry
from lossybench.task import Task


def summarize_points(
    task: Task, records: list[dict[str, Any]], codec: str, points: list[float]
) -> list[dict[str, Any]]:
    out = []
    for p in points:
        recs = [r for r in records if r.get("codec") == codec and r.get("point") == p]
        ok = [r for r in recs if r.get("outcome") is not None]
        bpp_mean, bpp_std = mean_std([r["bpp"] for r in ok])
        psnr_mean, _ = mean_std([r["psnr"] for r in ok if r.get("psnr") is not None])
        qs = [r["quality"] for r in ok]
        out.append(
            {
                "target": p,
                "bpp_mean": bpp_mean,
                "bpp_std": bpp_std,
                "psnr_mean": psnr_mean,
                "metrics": task.aggregate([r["outcome"] for r in ok]) if ok else {},
                "images": len(ok),
                "failures": len(recs) - len(ok),
                "flagged": sum(1 for r in ok if r.get("status") != "ok"),
                "quality_min": min(qs) if qs else None,
                "quality_max": max(qs) if qs else None,
            }
        )
    return out


def codec_summary(
    task: Task, clean: dict[str, float], points: list[dict[str, Any]], mode: str
) -> dict[str, Any]:
    head = task.headline
    c = clean.get(head)
    at = []
    for p in points:
        v = p["metrics"].get(head)
        at.append({"target": p["target"], "value": v, "relative_drop": relative_drop(c, v)})
    if mode != "bpp":
        area, reason = None, "quality mode: no bit-rate axis targets"
    else:
        area, reason = area_under_curve(
            [p["bpp_mean"] for p in points], [p["metrics"].get(head) for p in points]
        )
    return {
        "headline": head,
        "at": at,
        "area": area,
        "robustness": robustness(area, c),
        "reason": reason,
    }


def build_result(
    res: Resolved,
    records: list[dict[str, Any]],
    jsonl: Path,
    wall: float,
    command: list[str],
    samples: list[Sample],
) -> RunResult:
    cfg, task = res.config, res.task
    reg = res.registry if res.registry is not None else get_registry()
    clean_recs = [r for r in records if r.get("codec") is None]
    clean_ok = [r["outcome"] for r in clean_recs if r.get("outcome") is not None]
    clean = task.aggregate(clean_ok) if clean_ok else {}
    codecs = []
    for codec in res.codecs:
        pts = summarize_points(task, records, codec.label, res.points)
        codecs.append(
            {
                "name": codec.name,
                "label": codec.label,
                "settings": codec.settings,
                "backend": codec.backend().as_dict(),
                "quality": codec.quality.describe(),
                "points": pts,
                "summary": codec_summary(task, clean, pts, res.mode),
                "plugin": entry_origin(reg, "codecs", codec.name, codec),
            }
        )
    digest = hashlib.sha256(jsonl.read_bytes()).hexdigest()
    device = choose_device(cfg.device)  # where it ran: auto is recorded as chosen
    made = provenance(reg, device, cfg.seed, command)
    data = {
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lossybench": made["lossybench"],
        "task": {
            "name": task.name,
            "headline": task.headline,
            "metrics": list(task.metrics),
            "details": res.task_details,
            "plugin": entry_origin(reg, "tasks", task.name, task),
        },
        "model": {
            **res.model.info(),
            "plugin": entry_origin(reg, "models", res.model.family),
            "libraries": model_libraries(res.model) or None,
        },
        "dataset": {
            **res.dataset.info(samples),
            "plugin": entry_origin(reg, "datasets", res.dataset.name, res.dataset),
        },
        "environment": made["environment"],
        "settings": {
            "mode": res.mode,
            "points": res.points,
            "policy": cfg.policy,
            "rate_tolerance": cfg.rate_tolerance,
            "batch_size": cfg.batch_size,
            "workers": cfg.workers if cfg.workers is not None else auto_workers(device),
            "limit": cfg.limit,
        },
        "clean": {
            "metrics": clean,
            "images": len(clean_ok),
            "failures": len(clean_recs) - len(clean_ok),
        },
        "codecs": codecs,
        "records": {"file": jsonl.name, "sha256": digest, "count": len(records)},
        "config": cfg.model_dump(),
        "wall_seconds": wall,
    }
    return RunResult.model_validate(data)
