"""Layer 4 of validation: what a schema cannot say about a result.

A result can be well-formed and still impossible: counts that do not add up, metrics
outside the task's range, a summary the points do not give, missing provenance, or a
configuration that would not replay the run. These checks run only on a result that
passed the schema, so each field they read is known to be there and typed.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from lossybench.engine.results import RunResult
from lossybench.errors import LossybenchError
from lossybench.leaderboard.bounds import MAX_BPP, MAX_PSNR, is_traversal, same
from lossybench.leaderboard.problems import Report, fmt_value
from lossybench.leaderboard.safejson import clean_text

_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|\+00:00)$")


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
        if is_traversal(value):
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
            add(f"{path}.bpp_mean", f"{fmt_value(p.bpp_mean)} bpp is outside (0, {MAX_BPP:g}]")
        if p.bpp_std is None or not 0 <= p.bpp_std <= MAX_BPP:
            add(f"{path}.bpp_std", f"{fmt_value(p.bpp_std)} is outside [0, {MAX_BPP:g}]")
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
                    report.add(f"{path}.at[{k}].{key}", f"states {fmt_value(getattr(got, key))} "
                               f"but the points give {fmt_value(exp[key])}")
    for key in ("area", "robustness"):
        if not same(getattr(s, key), want[key]):
            extra = f" ({want['reason']})" if want["reason"] and want[key] is None else ""
            report.add(f"{path}.{key}", f"states {fmt_value(getattr(s, key))} but recomputation "
                       f"from the points gives {fmt_value(want[key])}{extra}")


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
