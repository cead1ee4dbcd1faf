"""Recomputing a result's aggregates from its per-image records, as ``bench run`` does.

A stated number is trusted only when the records give it again. The aggregation is the
locally registered task's own, wrapped so that a task which needs its dataset to
aggregate turns into a note (bpp, PSNR and counts still checked) instead of an error;
a board that stores the dataset's ground truth gives the task a view of it and
recomputes again (``groundtruth.verify``). Messages are sentences: an exception a task
raises on malformed outcomes is described, never shown as its Python repr.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lossybench.engine.results import RunResult
from lossybench.errors import LossybenchError
from lossybench.leaderboard.bounds import same
from lossybench.leaderboard.problems import Report, fmt_value
from lossybench.leaderboard.safejson import clean_text

#: how the note on metrics that could not be recomputed starts (the board drops it once
#: it has recomputed them against the registered ground truth)
NOT_RECOMPUTED = "metrics not recomputed from the records"


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
                self.failure = _reason(exc)
            return None


def _reason(exc: Exception) -> str:
    """Why a task could not aggregate, as a sentence (a task's own errors say it best)."""
    if isinstance(exc, LossybenchError):
        return clean_text(exc, 200)
    return "they are not outcomes of the form this task aggregates"


def recompute_from_records(
    report: Report, r: RunResult, records: list[dict[str, Any]], against: str = ""
) -> None:
    """Every per-point and clean aggregate from the records, as ``bench run`` computes them.

    ``against`` names the ground truth the task was given (``report.task`` built on a
    dataset view); its metrics must then be recomputed, and a failure is a problem.
    """
    from lossybench.engine.run.summary import summarize_points

    name = report.records_file or "records"
    task_cls = report.task
    guarded = _GuardedTask(task_cls) if task_cls is not None else None
    give = f"the records and {against} give" if against else "the records give"
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
            _compare_metrics(report, "$.clean.metrics", r.clean.metrics, clean, give)
        elif against:
            report.add("$.clean.metrics", f"task {clean_text(r.task.name, 60)!r} cannot "
                       f"aggregate the records' clean outcomes against {against}: "
                       f"{guarded.failure}")
            report.task = None
            return
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
                _compare_metrics(report, f"{path}.metrics", got.metrics, want["metrics"],
                                 give)
    if guarded is None or guarded.failure:
        report.notes.append(f"{NOT_RECOMPUTED}: task {clean_text(r.task.name, 60)!r} cannot "
                            "aggregate them without its dataset, which only a board that "
                            "registered the dataset with its ground truth (`bench leaderboard "
                            "datasets add NAME[:LOCATION]`) provides; bpp, PSNR and counts "
                            "were checked")
        report.task = None


class _NoTask:
    headline = ""

    def aggregate(self, outcomes: Sequence[dict[str, Any]]) -> None:
        return None


def _compare_metrics(
    report: Report, path: str, stated: dict[str, float], recomputed: dict[str, float],
    give: str = "the records give",
) -> None:
    for k in sorted(set(stated) | set(recomputed)):
        a, b = stated.get(k), recomputed.get(k)
        if not same(a, b):
            report.add(f"{path}.{k}" if k.isidentifier() else path,
                       f"{clean_text(k, 60)}: states {fmt_value(a)}, {give} {fmt_value(b)}")
