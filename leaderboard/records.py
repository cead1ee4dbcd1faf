"""Layer 5 of validation: reading the per-image JSONL a result was computed from.

The records are untrusted input like the result: read under caps, bound to the result
by its sha256 and to its configuration by the header, and each line checked on its own
before anything is recomputed from them.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lossybench.engine.results import RunResult
from lossybench.errors import LossybenchError
from lossybench.leaderboard.bounds import MAX_BPP, MAX_PSNR, is_traversal
from lossybench.leaderboard.problems import MAX_PROBLEMS, Report, fmt_value, short_message
from lossybench.leaderboard.recompute import recompute_from_records
from lossybench.leaderboard.safejson import (
    Limits,
    UnsafeInput,
    clean_text,
    json_path,
    loads,
    nesting_depth,
    read_capped,
)


class Record(BaseModel):
    """One line of the per-image JSONL written by ``bench run``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    image: str = Field(min_length=1, max_length=1000)
    codec: str | None = Field(default=None, max_length=200)
    point: float | None = None
    quality: float | None = None
    bytes: int | None = Field(default=None, ge=0)
    bpp: float | None = None
    psnr: float | None = None
    status: Literal["ok", "too_low", "too_high"] | None = None
    encodes: int | None = Field(default=None, ge=0)
    error: str | None = Field(default=None, max_length=20000)
    outcome: dict[str, Any] | None = None


class RecordsHeader(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    lossybench_records: Literal[1]
    config_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    #: the rate-control version that chose the settings (absent before version 2)
    rate_control: int | None = Field(default=None, ge=1, le=1000)


def read_records(report: Report, path: Path, r: RunResult, limits: Limits) -> None:
    """Parse the JSONL; recompute clean and per-point aggregates; compare with the result."""
    name = str(path)
    if r.records is None:
        report.notes.append(f"{path.name} ignored: the result names no per-image records")
        return
    try:
        data = read_capped(path, limits.max_records_bytes, "records file", "--max-records-bytes")
    except UnsafeInput as exc:
        report.add("$", exc.message, file=name)
        return
    digest = hashlib.sha256(data).hexdigest()
    if digest != r.records.sha256:
        report.add("$.records.sha256", f"{path.name} has sha256 {digest[:16]}…, the result "
                   f"was computed from {r.records.sha256[:16]}…: not the same records")
        return
    lines = data.split(b"\n")
    deep = nesting_depth(data) > limits.max_depth
    parsed: list[tuple[int, Any]] = []
    problems = 0
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if len(raw) > limits.max_line_bytes:
            report.add(f"line {n}", f"is {len(raw)} bytes, over the cap of "
                       f"{limits.max_line_bytes}", file=name)
            problems += 1
            continue
        try:
            parsed.append((n, loads(raw, limits.max_depth, check_depth=deep)))
        except UnsafeInput as exc:
            report.add(f"line {n}: {exc.path}", exc.message, file=name)
            problems += 1
        except ExceptionGroup as group:
            for e in group.exceptions:
                assert isinstance(e, UnsafeInput)
                report.add(f"line {n}: {e.path}", e.message, file=name)
            problems += 1
        if problems >= MAX_PROBLEMS:
            return
    if problems:
        return
    if not parsed:
        report.add("line 1", "the records file is empty", file=name)
        return
    n0, head = parsed[0]
    try:
        header = RecordsHeader.model_validate(head)
    except ValidationError:
        report.add(f"line {n0}", "the first line must be the header "
                   '{"lossybench_records": 1, "config_sha256": ...}', file=name)
        return
    from lossybench.engine.run.config import make_config, result_config_data

    try:
        cfg_digest: str | None = make_config(result_config_data(r.config)).digest()
    except LossybenchError:
        cfg_digest = None  # already reported on the result
    if cfg_digest is not None and header.config_sha256 != cfg_digest:
        report.add(f"line {n0}: $.config_sha256", "the records belong to a different run "
                   "configuration than the result's config", file=name)
    records: list[dict[str, Any]] = []
    seen: set[tuple[str, str | None, float | None]] = set()
    for n, obj in parsed[1:]:
        try:
            rec = Record.model_validate(obj)
        except ValidationError as exc:
            for e in exc.errors()[:5]:
                report.add(f"line {n}: {json_path(list(e['loc']))}", short_message(e["msg"]),
                           file=name)
            problems += 1
        else:
            msg = _record_problem(rec, r)
            if msg:
                report.add(f"line {n}", msg, file=name)
                problems += 1
            key = (rec.image, rec.codec, rec.point)
            if key in seen:
                report.add(f"line {n}", f"duplicate record for image {rec.image!r}, codec "
                           f"{rec.codec!r}, point {rec.point!r}", file=name)
                problems += 1
            seen.add(key)
            records.append(rec.model_dump())
        if problems >= MAX_PROBLEMS:
            return
    if problems:
        return
    if len(records) != r.records.count:
        report.add("$.records.count", f"states {r.records.count} records, {path.name} has "
                   f"{len(records)}")
        return
    report.records = records
    report.records_file = name
    report.records_sha256 = digest
    recompute_from_records(report, r, records)


def _record_problem(rec: Record, r: RunResult) -> str | None:
    if is_traversal(rec.image):
        return f"image id {clean_text(rec.image, 80)!r} contains a path traversal"
    for key in ("point", "quality", "bpp", "psnr"):
        v = getattr(rec, key)
        if v is not None and not math.isfinite(v):
            return f"{key} is not finite"
    if rec.codec is None:
        if rec.point is not None or rec.bpp is not None:
            return "a clean record (codec null) must have no point or bpp"
        return None
    if rec.point is None or rec.point not in r.settings.points:
        return f"point {fmt_value(rec.point)} is not one of settings.points"
    if rec.status is None:
        return "a codec record needs a status"
    if rec.outcome is not None and rec.quality is None:
        return "a codec record with an outcome needs its quality setting"
    if rec.outcome is not None and (rec.bpp is None or not 0 < rec.bpp <= MAX_BPP):
        return f"bpp {fmt_value(rec.bpp)} is outside (0, {MAX_BPP:g}]"
    if rec.psnr is not None and not 0 <= rec.psnr <= MAX_PSNR:
        return f"psnr {rec.psnr:.6g} dB is outside [0, {MAX_PSNR:g}]"
    return None
