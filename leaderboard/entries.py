"""From a validated result to the board entries it makes, one per codec.

A result file holds a whole run; the board ranks (model, weights, codec, dataset, task)
lines. This mapping is kept apart from the board folder so that it stays a pure function
of the result, its validation report and the bootstrap intervals.
"""

from __future__ import annotations

from typing import Any

from lossybench.engine.results import RunResult
from lossybench.leaderboard.formats import (
    BoardEntry,
    Bootstrap,
    CurvePoint,
    Provenance,
    Source,
    entry_id,
    now,
)
from lossybench.leaderboard.problems import Report
from lossybench.leaderboard.validate import result_digest


def entries_from_result(
    r: RunResult, report: Report, finetuned_from_weights: str | None = None,
    intervals: dict[str, Any] | None = None, submitted: str | None = None,
) -> list[BoardEntry]:
    """One board entry per codec of a validated result."""
    model = f"{r.model.family}:{r.model.name}"
    digest = result_digest(report)
    out = []
    for c in r.codecs:
        base = None
        if finetuned_from_weights:
            base = entry_id(r.task.name, r.dataset.sha256, model, finetuned_from_weights,
                            c.label)
        iv = (intervals or {}).get(c.label)
        out.append(BoardEntry(
            id=entry_id(r.task.name, r.dataset.sha256, model, r.model.weights.sha256, c.label),
            task=r.task.name, headline=r.task.headline,
            metric_range=tuple(getattr(report.task_cls, "metric_range", (0.0, 1.0))),
            dataset=r.dataset.name, dataset_sha256=r.dataset.sha256,
            images=r.clean.images + r.clean.failures, model=model,
            weights_sha256=r.model.weights.sha256, codec=c.name, codec_label=c.label,
            mode=r.settings.mode, clean=dict(r.clean.metrics),
            points=[CurvePoint(**p.model_dump(exclude={"quality_min", "quality_max"}))
                    for p in c.points],
            bootstrap=Bootstrap(**iv.as_dict()) if iv is not None else None,
            finetuned_from=base,
            provenance=Provenance(
                lossybench=r.lossybench.version, created=r.created,
                plugins=[f"{p.name} ({p.distribution} {p.version})"
                         + ("" if getattr(p, "status", None) in (None, "loaded")
                            else f" [{p.status}]")
                         for p in r.lossybench.plugins],
                environment={k: str(v) for k, v in r.environment.model_dump().items()
                             if k != "command" and v is not None},
                backend=c.backend.model_dump(), knob=c.quality,
                weights_source=r.model.weights.source,
            ),
            source=Source(result=f"results/{digest}.json", result_sha256=digest,
                          records_sha256=report.records_sha256),
            submitted=submitted or now(),
        ))
    return out
