"""Before/after evaluation of a finetune, scored exactly as `bench run` scores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lossybench.engine.finetune.resolve import Resolved
from lossybench.engine.finetune.train import set_train_mode
from lossybench.engine.workers import stream


def evaluate(
    res: Resolved, on_image: Callable[[], None] | None = None, select: bool = False
) -> dict[str, Any]:
    """Clean and per-codec/target metrics of the model as it is now, as `bench run` scores.

    Uses the run's own codec stage, per-image records and point summaries, so the numbers
    equal those of ``bench run`` on the same images with these weights. ``select``: on
    the selection images (held-out or ``select_dataset``) instead of the validation set.
    """
    from lossybench.engine.run.execute import stage_of
    from lossybench.engine.run.records import image_records
    from lossybench.engine.run.summary import summarize_points

    cfg = res.config
    samples, task = (res.select_samples, res.select_task) if select else (res.val_samples,
                                                                           res.val_task)
    module = res.model.trainable()
    was_training = module.training
    module.eval()
    records: list[dict[str, Any]] = []
    try:
        for sample, work in stream(samples, stage_of(res.run), cfg.workers):
            records.extend(image_records(work, sample, task, res.model, cfg.batch_size))
            if on_image:
                on_image()
    finally:
        if was_training:
            set_train_mode(module, cfg.freeze_bn)
    clean = [r["outcome"] for r in records if r.get("codec") is None and r.get("outcome")]
    return {
        "clean": task.aggregate(clean) if clean else {},
        "images": len(clean),
        "codecs": {
            c.label: summarize_points(task, records, c.label, res.eval_targets)
            for c in res.codecs
        },
    }


def headline_view(res: Resolved, ev: dict[str, Any]) -> dict[str, Any]:
    """The headline metric only: what the history keeps of a periodic evaluation."""
    head = res.val_task.headline
    return {
        "clean": ev["clean"].get(head),
        "codecs": {
            label: {f"{p['target']:g}": p["metrics"].get(head) for p in points}
            for label, points in ev["codecs"].items()
        },
    }


def recovered_fraction(
    before_clean: float | None, before: float | None, after: float | None
) -> float | None:
    """(after − before) / (before_clean − before): the share of the drop won back.

    None when undefined: a missing value, or no drop to recover (compressed ≥ clean).
    """
    if before_clean is None or before is None or after is None:
        return None
    drop = before_clean - before
    if drop <= 0:
        return None
    return (after - before) / drop


def summarize(headline: str, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Per codec and target: before/after headline metric and the recovered fraction."""
    bc, ac = before["clean"].get(headline), after["clean"].get(headline)
    rows = []
    for label, points in before["codecs"].items():
        after_points = {p["target"]: p for p in after["codecs"].get(label, [])}
        for p in points:
            q = after_points.get(p["target"], {})
            b, a = p["metrics"].get(headline), q.get("metrics", {}).get(headline)
            frac = recovered_fraction(bc, b, a)
            rows.append({
                "codec": label,
                "target": p["target"],
                "bpp_mean": p.get("bpp_mean"),
                "before": b,
                "after": a,
                "drop": None if bc is None or b is None else bc - b,
                "recovered_fraction": frac,
                "note": None if frac is not None else (
                    "no drop to recover" if None not in (bc, b, a) else "missing value"
                ),
            })
    return {
        "headline": headline,
        "clean_before": bc,
        "clean_after": ac,
        "clean_change": None if bc is None or ac is None else ac - bc,
        "points": rows,
    }


def eval_line(prefix: str, head: str, view: dict[str, Any]) -> str:
    """``PREFIX: HEAD clean 71.3; jpeg 0.1:53.2 0.3:66.1`` (headline metric ×100)."""
    def f(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}"

    parts = [f"clean {f(view['clean'])}"]
    for label, pts in view["codecs"].items():
        parts.append(f"{label} " + " ".join(f"{t}:{f(v)}" for t, v in pts.items()))
    return f"{prefix}: {head} " + "; ".join(parts)
