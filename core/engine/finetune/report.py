"""The finetune report (``finetune.json``): before, after, what was recovered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lossybench import __version__
from lossybench.engine.finetune.evaluate import summarize
from lossybench.engine.finetune.resolve import Resolved
from lossybench.engine.finetune.state import REPORT_FORMAT
from lossybench.engine.finetune.train import parameter_counts
from lossybench.engine.provenance import environment, git_state
from lossybench.kits.device import choose_device


def build_report(
    res: Resolved, before: dict[str, Any], after: dict[str, Any], progress: dict[str, Any],
    command: list[str], wall: float,
) -> dict[str, Any]:
    cfg, task = res.config, res.val_task
    git = git_state()
    return {
        "format": REPORT_FORMAT,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lossybench": __version__,
        "lossybench_commit": git.get("commit"),
        "lossybench_dirty": git.get("dirty"),
        "config_sha256": cfg.digest(),
        "task": {"name": task.name, "headline": task.headline, "metrics": list(task.metrics)},
        "base": res.model.info(),
        "train": {
            "dataset": cfg.train_dataset,
            "images": len(res.train_samples),
            "holdout_images": res.config.holdout,
            "codecs": [c.label for c in res.codecs],
            "backends": {c.label: c.backend().as_dict() for c in res.codecs},
            "targets": {"bpp": cfg.bpp} if cfg.bpp is not None else {"bpp_range": cfg.bpp_range},
            "clean_fraction": cfg.clean_fraction,
            "parameters": parameter_counts(res.model.trainable()),
            "steps": res.total_steps,
            "images_seen": progress["images"],
            "compressed_seen": progress["compressed"],
            "failures": progress["failures"],
            "failure_examples": progress["failure_examples"],
            "seconds": round(progress["train_seconds"], 2),
        },
        "val": {**res.val_dataset.info(res.val_samples), "targets": res.eval_targets},
        "before": before,
        "after": after,
        "summary": summarize(task.headline, before, after),
        "history": progress["history"],
        "evals": progress["evals"],
        "eval_seconds": round(progress["eval_seconds"], 2),
        "wall_seconds": round(wall, 2),
        "config": cfg.model_dump(),
        "environment": environment(choose_device(cfg.device), cfg.seed, command),
    }
