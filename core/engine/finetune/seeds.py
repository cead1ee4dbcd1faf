"""Finetunes over several seeds, and the spread of every figure they report.

Why: one seed is an anecdote. The same recipe trained with seeds 0, 1, 2 moved the clean
mIoU by −5.4, −4.9 and −6.2 points; a claim about what finetuning wins back is the mean
with its standard deviation, so ``bench finetune --seeds N`` trains N seeds (each in
``OUT/seed-S``, each resumable on its own) and writes ``OUT/seeds.json``.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lossybench.engine.finetune.config import FinetuneConfig, make_config

SEEDS_FILE = "seeds.json"
SEEDS_FORMAT = "lossybench-finetune-seeds/1"


def seed_configs(cfg: FinetuneConfig, n: int) -> list[FinetuneConfig]:
    """``n`` copies of ``cfg`` with seeds ``cfg.seed`` … ``cfg.seed + n - 1``, each with its
    own output folder ``OUT/seed-S`` (``n == 1``: ``cfg`` itself, in ``OUT``)."""
    if n < 1:
        raise ValueError("at least one seed")
    if n == 1:
        return [cfg]
    return [
        make_config({**cfg.model_dump(), "seed": cfg.seed + i,
                     "out": str(Path(cfg.out) / f"seed-{cfg.seed + i}")})
        for i in range(n)
    ]


def mean_std(values: Sequence[float | None]) -> dict[str, Any]:
    """Mean and sample standard deviation (n − 1) of the defined values, with their count."""
    xs = [float(v) for v in values if v is not None and math.isfinite(v)]
    return {
        "mean": statistics.fmean(xs) if xs else None,
        "std": statistics.stdev(xs) if len(xs) > 1 else None,
        "n": len(xs),
        "values": [None if v is None else float(v) for v in values],
    }


def spread(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± std over seeds of every before/after figure of the reports' summaries."""
    summaries = [r["summary"] for r in reports]
    first = summaries[0]
    rows = []
    for i, row in enumerate(first["points"]):
        per_seed = [s["points"][i] for s in summaries]
        if any((p["codec"], p["target"]) != (row["codec"], row["target"]) for p in per_seed):
            raise ValueError("the seeds' reports do not cover the same codecs and targets")
        rows.append({
            "codec": row["codec"],
            "target": row["target"],
            **{key: mean_std([p[key] for p in per_seed])
               for key in ("bpp_mean", "before", "after", "drop", "recovered_fraction")},
            "change": mean_std([
                None if p["after"] is None or p["before"] is None else p["after"] - p["before"]
                for p in per_seed
            ]),
        })
    return {
        "format": SEEDS_FORMAT,
        "headline": first["headline"],
        "seeds": [r["config"]["seed"] for r in reports],
        "clean_before": mean_std([s["clean_before"] for s in summaries]),
        "clean_after": mean_std([s["clean_after"] for s in summaries]),
        "clean_change": mean_std([s["clean_change"] for s in summaries]),
        "points": rows,
        # The weights each seed saved: alpha < 1 when --max-clean-drop pulled them back.
        "alpha": mean_std([(r.get("interpolation") or {}).get("alpha") for r in reports]),
        "train_seconds": mean_std([r.get("train", {}).get("seconds") for r in reports]),
        "reports": [str(Path(r["config"]["out"]) / "finetune.json") for r in reports],
    }


def write_spread(out: str | Path, data: dict[str, Any]) -> Path:
    path = Path(out) / SEEDS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{SEEDS_FILE}.tmp")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False))
    os.replace(tmp, path)
    return path


def run_seeds(
    cfg: FinetuneConfig, n: int, train: Callable[[FinetuneConfig], dict[str, Any] | None]
) -> dict[str, Any] | None:
    """Train every seed with ``train`` (returns the report, or None when stopped early);
    the spread once all are done, written to ``OUT/seeds.json``."""
    reports = []
    for one in seed_configs(cfg, n):
        report = train(one)
        if report is None:
            return None
        reports.append(report)
    data = spread(reports)
    write_spread(cfg.out, data)
    return data
