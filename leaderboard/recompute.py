"""Recomputing a result's aggregates from its per-image records, as ``bench run`` does.

A stated number is trusted only when the records give it again. The aggregation is the
locally registered task's own, wrapped so that a task which needs its dataset to
aggregate turns into a note (bpp, PSNR and counts still checked) instead of an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lossybench.engine.results import RunResult
from lossybench.leaderboard.bounds import same
from lossybench.leaderboard.problems import Report, fmt_value
from lossybench.leaderboard.safejson import clean_text


class _GuardedTask:
    """The registered task; remembers the first aggregate failure instead of raising."""

    def __init__(self, task: Any) -> None:
        self.task = task
        self.headline = task.headline
        self.failure: str | None = None

    def aggregate(self, outcomes: Sequence[dict[str, Any]]) -> dict[str, float] | None:
        try:
            out = self.task.aggregate(outcomes)
            return {str(k): float(v) for k, v in dict(out).items()}
        except Exception as exc:
            if self.failure is None:
                self.failure = f"{type(exc).__name__}: {clean_text(exc, 200)}"
            return None


def recompute_from_records(report: Report, r: RunResult, records: list[dict[str, Any]]) -> None:
    """Every per-point and clean aggregate from the records, as ``bench run`` computes them."""
    from lossybench.engine.run.summary import summarize_points

    name = report.records_file or "records"
    task_cls = report.task
    guarded = _GuardedTask(task_cls) if task_cls is not None else None
    labels = {c.label for c in r.codecs}
    in_records = {rec["codec"] for rec in records if rec.get("codec") is not None}
    for extra in sorted(in_records - labels):
        report.add("$.codecs", f"{clean_text(extra, 80)!r} has records in {Path(name).name} "
                   "but no entry in the result")
    images = {rec["image"] for rec in records}
    clean_recs = [rec for rec in records if rec.get("codec") is None]
    if {rec["image"] for rec in clean_recs} != images:
        report.add("$.clean", f"some images in {Path(name).name} have no clean record")
    clean_ok = [rec["outcome"] for rec in clean_recs if rec.get("outcome") is not None]
    if len(clean_ok) != r.clean.images or len(clean_recs) - len(clean_ok) != r.clean.failures:
        report.add("$.clean.images", f"states {r.clean.images} images and {r.clean.failures} "
                   f"failures; the records give {len(clean_ok)} and "
                   f"{len(clean_recs) - len(clean_ok)}")
    # a task that aggregates the clean outcomes needs no dataset: from then on, outcomes
    # it cannot aggregate are broken records, not a limitation of the task
    works = False
    if guarded is not None and clean_ok:
        clean = guarded.aggregate(clean_ok)
        if clean is not None:
            works = True
            _compare_metrics(report, "$.clean.metrics", r.clean.metrics, clean)
    by_codec: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        if rec.get("codec") is not None:
            by_codec.setdefault(rec["codec"], []).append(rec)
    for i, c in enumerate(r.codecs):
        pts = summarize_points(guarded or _NoTask(), by_codec.get(c.label, []), c.label,
                               list(r.settings.points))
        if works and guarded is not None and guarded.failure:
            report.add(f"$.codecs[{i}].points", f"task {r.task.name!r} cannot aggregate the "
                       f"records' outcomes for codec {c.label!r}: {guarded.failure}")
            return
        for j, (got, want) in enumerate(zip(c.points, pts, strict=True)):
            path = f"$.codecs[{i}].points[{j}]"
            for key in ("images", "failures", "flagged"):
                if getattr(got, key) != want[key]:
                    report.add(f"{path}.{key}", f"states {getattr(got, key)}, the records "
                               f"give {want[key]}")
            for key in ("bpp_mean", "bpp_std", "psnr_mean", "quality_min", "quality_max"):
                if not same(getattr(got, key), want[key]):
                    report.add(f"{path}.{key}", f"states {fmt_value(getattr(got, key))}, the "
                               f"records give {fmt_value(want[key])}")
            if want["metrics"] is not None and guarded is not None:
                _compare_metrics(report, f"{path}.metrics", got.metrics, want["metrics"])
    if guarded is None or guarded.failure:
        why = guarded.failure if guarded else "no task to aggregate with"
        report.notes.append(f"metrics not recomputed from the records: the task cannot "
                            f"aggregate outcomes without its dataset ({why}); bpp, PSNR and "
                            f"counts were checked")
        report.task = None


class _NoTask:
    headline = ""

    def aggregate(self, outcomes: Sequence[dict[str, Any]]) -> None:
        return None


def _compare_metrics(
    report: Report, path: str, stated: dict[str, float], recomputed: dict[str, float]
) -> None:
    for k in sorted(set(stated) | set(recomputed)):
        a, b = stated.get(k), recomputed.get(k)
        if not same(a, b):
            report.add(f"{path}.{k}" if k.isidentifier() else path,
                       f"{clean_text(k, 60)}: states {fmt_value(a)}, the records give "
                       f"{fmt_value(b)}")
