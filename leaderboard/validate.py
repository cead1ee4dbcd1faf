"""Checking one submitted result file (and its per-image JSONL) without trusting it.

Layers, each run only when the previous one passed, so every problem is reported
once: safe parsing (caps, duplicate keys, non-finite numbers) → the shipped JSON
Schema (draft 2020-12, what ``bench schema`` prints) → the pydantic ``RunResult`` →
semantic checks → recomputation of every stated aggregate from the points and, when
the JSONL is given, from the per-image records. Each layer has its own module
(``schema``, ``semantics``, ``records``, ``recompute``, all reporting into ``problems``);
this one runs them in order and is what the command line and the board call.

Metrics are recomputed only by a task registered in the local installation, looked up
by name in the plugin registry; nothing named in a submission is ever imported.

The per-image records are required: without them a result's numbers can only be checked
for consistency with each other, and an inflated but consistent result would pass. Only
``require_records=False`` (``--allow-unverified``, for a board that accepts unverified
entries) checks a result without them, and says so in a note.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from lossybench.engine.results import RunResult
from lossybench.errors import LossybenchError
from lossybench.leaderboard.bounds import MAX_BPP, same
from lossybench.leaderboard.problems import Problem, Report, dump_problems
from lossybench.leaderboard.records import Record, read_records
from lossybench.leaderboard.safejson import Limits, UnsafeInput, clean_text, read_capped
from lossybench.leaderboard.schema import model_result, parse_result
from lossybench.leaderboard.semantics import check_semantics
from lossybench.registry import get_registry


def find_records(result_path: Path, explicit: Path | Literal[False] | None) -> Path | None:
    """The JSONL to check: ``explicit``, else the same stem next to the result file.

    The file name stated inside the submission is never used as a path.
    """
    if explicit is False:
        return None
    if explicit is not None:
        return explicit
    candidate = result_path.with_suffix(".jsonl")
    return candidate if candidate.exists() else None


def validate_file(
    path: str | Path,
    registry: Any = None,
    records: Path | Literal[False] | None = None,
    limits: Limits | None = None,
    require_records: bool = True,
) -> Report:
    """Validate one result file (and its records); never raises for bad input.

    ``require_records=False`` accepts a result without its per-image JSONL as unverified.
    """
    limits = limits or Limits()
    path = Path(path)
    report = Report(file=str(path))
    try:
        data = read_capped(path, limits.max_bytes, "result file", "--max-bytes")
    except UnsafeInput as exc:
        report.add("$", exc.message)
        return report
    report.raw = data
    doc = parse_result(report, data, limits)
    if doc is None:
        return report
    result = model_result(report, doc)
    if result is None:
        return report
    task_cls = _lookup_task(report, result.task.name, registry)
    if task_cls is None:
        return report
    report.task_cls = task_cls
    try:
        _check(report, path, result, task_cls, records, limits, require_records)
    except Exception as exc:  # a check that trips over input nobody foresaw still rejects
        report.add("$", f"could not be checked ({type(exc).__name__}: {clean_text(exc, 200)})")
    if report.problems:
        report.result = None
    return report


def _check(
    report: Report, path: Path, result: RunResult, task_cls: Any,
    records: Path | Literal[False] | None, limits: Limits, require_records: bool,
) -> None:
    check_semantics(report, result, task_cls)
    if report.problems:
        return
    jsonl = find_records(path, records)
    missing = _records_missing(path, result, records, jsonl)
    if missing is not None:
        if require_records:
            report.add("$.records", f"{missing}: without them not one number can be "
                       "recomputed, so results are refused without their records; give "
                       "the JSONL `bench run` wrote next to the result (only a board made "
                       "with `bench leaderboard init --allow-unverified` takes results "
                       "without it, with --allow-unverified, and marks them unverified)")
            return
        report.notes.append(f"unverified: {missing}; only the consistency of the stated "
                            "numbers was checked (no per-image checks, no bootstrap interval)")
    report.result = result
    if jsonl is not None and result.records is not None:
        try:
            report.task = task_cls(None)
        except Exception as exc:
            report.task = None
            report.notes.append(f"task {result.task.name!r} cannot be built without its "
                                f"dataset ({type(exc).__name__})")
        read_records(report, jsonl, result, limits)


def _records_missing(
    path: Path, result: RunResult, records: Path | Literal[False] | None, jsonl: Path | None
) -> str | None:
    """Why the per-image records cannot be checked, or None when they can."""
    if result.records is None:
        return "the result states no per-image records (\"records\": null)"
    if records is False:
        return "the per-image records were not read (--no-records)"
    if jsonl is None:
        return (f"no per-image records given (pass --records FILE, or put "
                f"{clean_text(path.with_suffix('.jsonl').name, 120)} next to the result)")
    return None


def _lookup_task(report: Report, name: str, registry: Any) -> Any:
    """The locally registered task class called ``name`` (a dict look-up, no import)."""
    try:
        reg = registry if registry is not None else get_registry()
        return reg.get("tasks", name).obj
    except (LossybenchError, KeyError) as exc:
        report.add("$.task.name", f"{clean_text(exc, 300)}; only tasks registered in this "
                   "installation are accepted")
        return None


def validate_files(
    paths: Sequence[str | Path], registry: Any = None,
    records: Path | Literal[False] | None = None, limits: Limits | None = None,
    require_records: bool = True,
) -> list[Report]:
    if records not in (None, False) and len(paths) != 1:
        raise LossybenchError("--records needs exactly one result file")
    reg = registry if registry is not None else get_registry()
    return [validate_file(p, reg, records, limits, require_records) for p in paths]


def result_digest(report: Report) -> str:
    assert report.raw is not None
    return hashlib.sha256(report.raw).hexdigest()


__all__ = [
    "MAX_BPP",
    "Limits",
    "Problem",
    "Record",
    "Report",
    "dump_problems",
    "find_records",
    "result_digest",
    "same",
    "validate_file",
    "validate_files",
]
