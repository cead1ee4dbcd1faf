"""Checking one submitted result file (and its per-image JSONL) without trusting it.

Layers, each run only when the previous one passed, so every problem is reported
once: safe parsing (caps, duplicate keys, non-finite numbers) → the shipped JSON
Schema (draft 2020-12, what ``bench schema`` prints) → the pydantic ``RunResult`` →
semantic checks → recomputation of every stated aggregate from the points and, when
the JSONL is given, from the per-image records.

Metrics are recomputed only by a task registered in the local installation, looked up
by name in the plugin registry; nothing named in a submission is ever imported.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lossybench.engine.results import RunResult, shipped_schema
from lossybench.errors import LossybenchError
from lossybench.leaderboard.safejson import (
    Limits,
    UnsafeInput,
    clean_text,
    json_path,
    loads,
    nesting_depth,
    read_capped,
)
from lossybench.registry import get_registry

#: Stated and recomputed aggregates must agree this closely (relative).
REL_TOL = 1e-9
ABS_TOL = 1e-12
#: Bit rates: above 24 bpp a "lossy" image is bigger than raw 8-bit RGB.
MAX_BPP = 24.0
#: PSNR of 8-bit images is finite and far below this.
MAX_PSNR = 200.0
MAX_PROBLEMS = 100
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|\+00:00)$")


@dataclass
class Problem:
    """One thing wrong with one file, at one JSON path."""

    file: str
    path: str
    message: str

    def line(self) -> str:
        return f"{clean_text(self.file, 200)}: {self.path}: {clean_text(self.message, 400)}"

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "path": self.path, "message": clean_text(self.message, 400)}


@dataclass
class Report:
    """What validation found; ``result``/``records`` are set only when they parsed."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    result: RunResult | None = None
    raw: bytes | None = None
    records: list[dict[str, Any]] | None = None
    records_file: str | None = None
    records_sha256: str | None = None
    #: the registered task class, and an instance built without data when the records
    #: could be aggregated by it
    task_cls: Any = None
    task: Any = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, path: str, message: str, file: str | None = None) -> None:
        self.problems.append(Problem(file or self.file, path, message))

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "valid": self.ok,
            "records": self.records_file,
            "problems": [p.as_dict() for p in self.problems[:MAX_PROBLEMS]],
            "more_problems": max(0, len(self.problems) - MAX_PROBLEMS),
            "notes": [clean_text(n, 400) for n in self.notes],
        }


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


def same(a: float | None, b: float | None) -> bool:
    """Equal within the recomputation tolerance; None only equals None."""
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _fmt(v: Any) -> str:
    return "null" if v is None else (f"{v:.12g}" if isinstance(v, float) else clean_text(v, 80))


# -- layer 1-3: parse, schema, pydantic -------------------------------------------------
@functools.cache
def _schema_validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        shipped_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _schema_problem(err: Any) -> tuple[str, str]:
    """(JSON path, message) of a schema error, pointing inside anyOf branches."""
    from jsonschema.exceptions import best_match

    where = list(err.absolute_path)
    if err.validator in ("anyOf", "oneOf") and err.context:
        specific = [e for e in err.context if e.validator != "type"]
        if specific:
            where += list(best_match(specific).relative_path)
    return json_path(where), f"schema: {_schema_message(err)}"


def _schema_message(err: Any) -> str:
    from jsonschema.exceptions import best_match

    if err.validator in ("anyOf", "oneOf") and err.context:
        # the branch whose type matched says what is wrong ("less than the minimum");
        # when no type matched, name them all rather than an arbitrary one
        specific = [e for e in err.context if e.validator != "type"]
        if not specific:
            types = " or ".join(repr(e.validator_value) for e in err.context)
            return f"{_short(repr(err.instance))} is not of type {types}"
        return _short(best_match(specific).message)
    return _short(err.message)


def _short(msg: str) -> str:
    return clean_text(msg, 240)


def parse_result(report: Report, data: bytes, limits: Limits) -> dict[str, Any] | None:
    try:
        doc = loads(data, limits.max_depth)
    except UnsafeInput as exc:
        report.add(exc.path, exc.message)
        return None
    except ExceptionGroup as group:
        for exc in group.exceptions:
            assert isinstance(exc, UnsafeInput)
            report.add(exc.path, exc.message)
        return None
    if not isinstance(doc, dict):
        report.add("$", f"a result is a JSON object, not {type(doc).__name__}")
        return None
    errors = sorted(_schema_validator().iter_errors(doc), key=lambda e: list(map(str, e.path)))
    for err in errors:
        report.add(*_schema_problem(err))
    if errors:
        return None
    return doc


def model_result(report: Report, doc: dict[str, Any]) -> RunResult | None:
    try:
        return RunResult.model_validate(doc, strict=True)
    except ValidationError as exc:
        for e in exc.errors():
            report.add(json_path(list(e["loc"])), _short(e["msg"]))
        return None


# -- layer 4: semantic checks -------------------------------------------------------------
def _traversal(value: str) -> bool:
    if "." not in value and not value.startswith("/"):
        return False
    parts = value.replace("\\", "/").split("/")
    return value.startswith("/") or any(p in ("..", ".") for p in parts)


def check_semantics(report: Report, r: RunResult, task_cls: Any) -> None:
    """Facts a schema cannot express: ranges, consistency, provenance, names."""
    add = report.add
    lo, hi = task_cls.metric_range
    known = list(task_cls.metrics)

    names = [
        ("$.task.name", r.task.name),
        ("$.model.family", r.model.family),
        ("$.model.name", r.model.name),
        ("$.model.task", r.model.task),
        ("$.dataset.name", r.dataset.name),
    ]
    for i, c in enumerate(r.codecs):
        names += [(f"$.codecs[{i}].name", c.name), (f"$.codecs[{i}].label", c.label)]
    for path, value in names:
        if _traversal(value):
            add(path, f"{clean_text(value, 80)!r} contains a path traversal ('..', '.' or a "
                "leading '/'); names must be plain identifiers")

    if r.task.headline != task_cls.headline:
        add("$.task.headline", f"is {r.task.headline!r}; task {r.task.name!r} reports "
            f"{task_cls.headline!r}")
    if list(r.task.metrics) != known:
        add("$.task.metrics", f"is {r.task.metrics!r}; task {r.task.name!r} has {known!r}")
    if r.model.task != r.task.name:
        add("$.model.task", f"is {r.model.task!r} but the result is for task {r.task.name!r}")

    # provenance
    if not _ISO.match(r.created):
        add("$.created", "must be an ISO 8601 UTC time such as 2024-05-01T12:00:00Z")
    else:
        try:
            when = datetime.fromisoformat(r.created.replace("Z", "+00:00"))
            if when > datetime.now(UTC) + timedelta(days=1):
                add("$.created", "lies in the future")
        except ValueError:
            add("$.created", "is not a valid date and time")
    if not r.lossybench.version.strip():
        add("$.lossybench.version", "missing provenance: the lossybench version is empty")
    if not r.lossybench.plugins:
        add("$.lossybench.plugins", "missing provenance: no plugins are listed")
    for key in ("python", "platform", "torch", "numpy", "pillow", "device"):
        if not str(getattr(r.environment, key)).strip():
            add(f"$.environment.{key}", f"missing provenance: environment {key} is empty")
    if r.model.weights.sha256 is None and r.model.weights.source != "random":
        add("$.model.weights.sha256", "missing provenance: results of trained weights must "
            "carry the sha256 of the weights file")
    for i, c in enumerate(r.codecs):
        for key in ("library", "version"):
            v = getattr(c.backend, key).strip()
            if not v or v == "?":
                add(f"$.codecs[{i}].backend.{key}",
                    f"missing provenance: codec backend {key} is {v or 'empty'!r}")

    # settings
    pts = list(r.settings.points)
    if any(b <= a for a, b in itertools.pairwise(pts)):
        add("$.settings.points", "targets must be unique and in increasing order")
    if r.settings.mode == "bpp":
        for j, t in enumerate(pts):
            if not 0 < t <= MAX_BPP:
                add(f"$.settings.points[{j}]", f"bpp target {t:g} is outside (0, {MAX_BPP:g}]")
    if r.settings.limit is not None and r.settings.limit < r.dataset.images:
        add("$.dataset.images", f"is {r.dataset.images} but the run was limited to "
            f"{r.settings.limit} images; the dataset's images and sha256 must describe the "
            "images used, as `bench run --limit` records them")

    # clean
    if r.clean.images + r.clean.failures != r.dataset.images:
        add("$.clean.images", f"images ({r.clean.images}) + failures ({r.clean.failures}) "
            f"should be {r.dataset.images}, the dataset's images")
    _check_metrics(report, "$.clean.metrics", r.clean.metrics, known, lo, hi,
                   r.clean.images, task_cls.headline)

    # codecs and points
    labels = [c.label for c in r.codecs]
    for i, c in enumerate(r.codecs):
        base = f"$.codecs[{i}]"
        if labels.count(c.label) > 1:
            add(f"{base}.label", f"codec label {c.label!r} appears more than once")
        targets = [p.target for p in c.points]
        if targets != pts:
            add(f"{base}.points", f"targets {targets} differ from settings.points {pts}")
        for j, p in enumerate(c.points):
            _check_point(report, f"{base}.points[{j}]", p, r.clean.images, known, lo, hi,
                         task_cls.headline)
        _check_summary(report, base, c, r, task_cls)

    # the configuration must replay the run
    _check_config(report, r)


def _check_metrics(
    report: Report, path: str, metrics: dict[str, float], known: list[str], lo: float,
    hi: float, images: int, headline: str,
) -> None:
    for k, v in metrics.items():
        if k not in known:
            report.add(f"{path}.{k}" if k.isidentifier() else path,
                       f"unknown metric {clean_text(k, 60)!r}; the task has {known}")
        elif not lo <= v <= hi:
            report.add(f"{path}.{k}", f"{v:.6g} is outside the metric range [{lo:g}, {hi:g}]")
    if images == 0 and metrics:
        report.add(path, "metrics given for zero images")
    if images > 0 and headline not in metrics:
        report.add(path, f"the headline metric {headline!r} is missing")


def _check_point(
    report: Report, path: str, p: Any, clean_images: int, known: list[str], lo: float,
    hi: float, headline: str,
) -> None:
    add = report.add
    if p.images + p.failures != clean_images:
        add(f"{path}.images", f"images ({p.images}) + failures ({p.failures}) should equal "
            f"the {clean_images} images that loaded")
    if p.flagged > p.images:
        add(f"{path}.flagged", f"{p.flagged} flagged images but only {p.images} images")
    if p.images == 0:
        for key in ("bpp_mean", "bpp_std", "psnr_mean"):
            if getattr(p, key) is not None:
                add(f"{path}.{key}", "must be null when no image produced a prediction")
    else:
        if p.bpp_mean is None or not 0 < p.bpp_mean <= MAX_BPP:
            add(f"{path}.bpp_mean", f"{_fmt(p.bpp_mean)} bpp is outside (0, {MAX_BPP:g}]")
        if p.bpp_std is None or not 0 <= p.bpp_std <= MAX_BPP:
            add(f"{path}.bpp_std", f"{_fmt(p.bpp_std)} is outside [0, {MAX_BPP:g}]")
    if p.psnr_mean is not None and not 0 <= p.psnr_mean <= MAX_PSNR:
        add(f"{path}.psnr_mean", f"{p.psnr_mean:.6g} dB is outside [0, {MAX_PSNR:g}]")
    if (p.quality_min is None) != (p.quality_max is None) or (
        p.quality_min is not None and p.quality_max is not None
        and p.quality_min > p.quality_max
    ):
        add(f"{path}.quality_min", "quality_min and quality_max disagree")
    _check_metrics(report, f"{path}.metrics", p.metrics, known, lo, hi, p.images, headline)


def _check_summary(report: Report, base: str, c: Any, r: RunResult, task_cls: Any) -> None:
    from lossybench.engine.run.summary import codec_summary

    s = c.summary
    want = codec_summary(task_cls, r.clean.metrics, [p.model_dump() for p in c.points],
                         r.settings.mode)
    path = f"{base}.summary"
    if s.headline != want["headline"]:
        report.add(f"{path}.headline", f"is {s.headline!r}, expected {want['headline']!r}")
    if len(s.at) != len(want["at"]):
        report.add(f"{path}.at", f"has {len(s.at)} items, expected one per point "
                   f"({len(want['at'])})")
    else:
        for k, (got, exp) in enumerate(zip(s.at, want["at"], strict=True)):
            for key in ("target", "value", "relative_drop"):
                if not same(getattr(got, key), exp[key]):
                    report.add(f"{path}.at[{k}].{key}", f"states {_fmt(getattr(got, key))} "
                               f"but the points give {_fmt(exp[key])}")
    for key in ("area", "robustness"):
        if not same(getattr(s, key), want[key]):
            extra = f" ({want['reason']})" if want["reason"] and want[key] is None else ""
            report.add(f"{path}.{key}", f"states {_fmt(getattr(s, key))} but recomputation "
                       f"from the points gives {_fmt(want[key])}{extra}")


def _check_config(report: Report, r: RunResult) -> None:
    from lossybench.engine.run.config import make_config, result_config_data

    try:
        cfg = make_config(result_config_data(r.config), "config")
    except LossybenchError as exc:
        report.add("$.config", f"does not replay as a run configuration: {clean_text(exc)}")
        return
    model = f"{r.model.family}:{r.model.name}"
    if cfg.task != r.task.name:
        report.add("$.config.task", f"is {cfg.task!r}, the result is for {r.task.name!r}")
    if cfg.model != model:
        report.add("$.config.model", f"is {clean_text(cfg.model, 80)!r}, the result is for "
                   f"{model!r}")
    if cfg.limit != r.settings.limit:
        report.add("$.config.limit", f"is {cfg.limit}, settings.limit is {r.settings.limit}")
    try:
        mode, points = cfg.points()
    except LossybenchError as exc:
        report.add("$.config", clean_text(exc))
        return
    if mode != r.settings.mode or not all(
        same(a, b) for a, b in zip(points, r.settings.points, strict=False)
    ) or len(points) != len(r.settings.points):
        report.add("$.config", f"{mode} targets {points} differ from settings "
                   f"({r.settings.mode} {list(r.settings.points)})")


# -- layer 5: the per-image records -------------------------------------------------------
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
                report.add(f"line {n}: {json_path(list(e['loc']))}", _short(e["msg"]), file=name)
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
    if _traversal(rec.image):
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
        return f"point {_fmt(rec.point)} is not one of settings.points"
    if rec.status is None:
        return "a codec record needs a status"
    if rec.outcome is not None and rec.quality is None:
        return "a codec record with an outcome needs its quality setting"
    if rec.outcome is not None and (rec.bpp is None or not 0 < rec.bpp <= MAX_BPP):
        return f"bpp {_fmt(rec.bpp)} is outside (0, {MAX_BPP:g}]"
    if rec.psnr is not None and not 0 <= rec.psnr <= MAX_PSNR:
        return f"psnr {rec.psnr:.6g} dB is outside [0, {MAX_PSNR:g}]"
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
                    report.add(f"{path}.{key}", f"states {_fmt(getattr(got, key))}, the "
                               f"records give {_fmt(want[key])}")
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
                       f"{clean_text(k, 60)}: states {_fmt(a)}, the records give {_fmt(b)}")


# -- entry point --------------------------------------------------------------------------
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
) -> Report:
    """Validate one result file (and its records); never raises for bad input."""
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
        _check(report, path, result, task_cls, records, limits)
    except Exception as exc:  # a check that trips over input nobody foresaw still rejects
        report.add("$", f"could not be checked ({type(exc).__name__}: {clean_text(exc, 200)})")
    if report.problems:
        report.result = None
    return report


def _check(
    report: Report, path: Path, result: RunResult, task_cls: Any,
    records: Path | Literal[False] | None, limits: Limits,
) -> None:
    check_semantics(report, result, task_cls)
    if report.problems:
        return
    report.result = result
    jsonl = find_records(path, records)
    if jsonl is None:
        if result.records is not None:
            report.notes.append("no per-image records given (pass --records FILE or put "
                                f"{path.with_suffix('.jsonl').name} next to the result): "
                                "per-image checks and bootstrap intervals skipped")
    else:
        try:
            report.task = task_cls(None)
        except Exception as exc:
            report.task = None
            report.notes.append(f"task {result.task.name!r} cannot be built without its "
                                f"dataset ({type(exc).__name__})")
        read_records(report, jsonl, result, limits)


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
) -> list[Report]:
    if records not in (None, False) and len(paths) != 1:
        raise LossybenchError("--records needs exactly one result file")
    reg = registry if registry is not None else get_registry()
    return [validate_file(p, reg, records, limits) for p in paths]


def result_digest(report: Report) -> str:
    assert report.raw is not None
    return hashlib.sha256(report.raw).hexdigest()


def dump_problems(reports: Sequence[Report]) -> str:
    return json.dumps({"valid": all(r.ok for r in reports),
                       "files": [r.as_dict() for r in reports]}, indent=2)


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
