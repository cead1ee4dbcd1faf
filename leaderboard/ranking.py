"""Ranking a board: robustness, metric at fixed rates, BD-metric, recovered fraction.

Everything is recomputed from the stored points at read time with the run's own
aggregate functions (:mod:`lossybench.aggregate`), so a board never shows a number
that a submitter merely stated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from lossybench.engine.aggregate import (
    AREA_RANGE,
    COVER_TOLERANCE,
    MIN_AREA_POINTS,
    area_under_curve,
    relative_drop,
    robustness,
)
from lossybench.leaderboard.formats import BoardEntry

#: Rates of the "metric at" columns (bpp).
CHECKPOINTS: tuple[float, ...] = (0.1, 0.5, 1.0)
#: The anchor codec of the BD-metric column.
ANCHOR = "jpeg"
_TOL = 1e-9


def curve(entry: BoardEntry) -> tuple[list[float], list[float]]:
    """(bpp, headline metric), sorted by bpp; a repeated bpp keeps its first point.

    The same rule as :func:`lossybench.aggregate.area_under_curve`, so every column
    reads the curve the area was computed from.
    """
    pts = sorted(
        (p.bpp_mean, p.metrics[entry.headline])
        for p in entry.points
        if p.bpp_mean is not None and p.bpp_mean > 0 and math.isfinite(p.bpp_mean)
        and entry.headline in p.metrics and math.isfinite(p.metrics[entry.headline])
    )
    dedup: dict[float, float] = {}
    for b, m in pts:
        dedup.setdefault(b, m)
    return list(dedup), list(dedup.values())


def _pchip(bpp: Sequence[float], metric: Sequence[float]) -> Any:
    import numpy as np
    from scipy.interpolate import PchipInterpolator

    return PchipInterpolator(np.log2(bpp), np.asarray(metric, dtype=float))


def metric_at(bpp: Sequence[float], metric: Sequence[float], at: float) -> tuple[float | None, str]:
    """The metric at ``at`` bpp by monotone interpolation in log2(bpp).

    Not extrapolated: beyond the measured points only within the margin the area uses
    (:data:`lossybench.aggregate.COVER_TOLERANCE`), where the curve is held flat.
    """
    if len(bpp) < 2:
        return None, f"needs at least 2 points with distinct bpp, has {len(bpp)}"
    if at < bpp[0] * (1 - _TOL):
        if bpp[0] <= at * (1 + COVER_TOLERANCE):
            return metric[0], ""
        return None, f"{at:g} bpp lies outside the measured {bpp[0]:.3g}–{bpp[-1]:.3g} bpp"
    if at > bpp[-1] * (1 + _TOL):
        if bpp[-1] >= at * (1 - COVER_TOLERANCE):
            return metric[-1], ""
        return None, f"{at:g} bpp lies outside the measured {bpp[0]:.3g}–{bpp[-1]:.3g} bpp"
    x = min(max(math.log2(at), math.log2(bpp[0])), math.log2(bpp[-1]))
    return float(_pchip(bpp, metric)(x)), ""


def bd_metric(
    test: tuple[Sequence[float], Sequence[float]],
    ref: tuple[Sequence[float], Sequence[float]],
    min_points: int = MIN_AREA_POINTS,
) -> tuple[float | None, str]:
    """Bjøntegaard delta of the metric: mean of test − ref over the shared log-rate range.

    Each curve is a PCHIP fit of metric vs log(bpp) (monotone, no overshoot, unlike the
    classic cubic polynomial); the average difference does not depend on the log base.
    """
    (tb, tm), (rb, rm) = test, ref
    for what, b in (("this entry", tb), ("the reference", rb)):
        if len(b) < min_points:
            return None, f"{what} has {len(b)} points with distinct bpp; needs {min_points}"
    lo = max(math.log2(tb[0]), math.log2(rb[0]))
    hi = min(math.log2(tb[-1]), math.log2(rb[-1]))
    if hi - lo <= 1e-12:
        return None, (f"bpp ranges do not overlap ({tb[0]:.3g}–{tb[-1]:.3g} vs "
                      f"{rb[0]:.3g}–{rb[-1]:.3g})")
    t = _pchip(tb, tm).integrate(lo, hi)
    r = _pchip(rb, rm).integrate(lo, hi)
    return float((t - r) / (hi - lo)), ""


def recovered_fraction(after: BoardEntry, base: BoardEntry, at: float = 0.1) -> tuple[
    float | None, str
]:
    """(after − before) / (clean before − before), all at ``at`` bpp on the same codec."""
    a, why = metric_at(*curve(after), at)
    if a is None:
        return None, f"finetuned entry: {why}"
    b, why = metric_at(*curve(base), at)
    if b is None:
        return None, f"base entry: {why}"
    c = base.clean.get(base.headline)
    if c is None:
        return None, "the base entry has no clean metric"
    if c - b <= 0:
        return None, f"the base entry lost nothing at {at:g} bpp"
    return (a - b) / (c - b), ""


def ranks_with_ties(items: Sequence[tuple[str, float, float, float]]) -> dict[str, int]:
    """Competition ranks over the graph of significantly different (non-overlapping) pairs.

    ``items`` are (id, score, low, high). An entry is significantly better than another
    when its whole interval lies above the other's; each entry's rank is 1 + the number
    of entries significantly better than it. Entries whose intervals overlap are never
    ordered against each other, so they share a rank unless a third entry is
    significantly better than one of them only. (Overlap is not transitive: making every
    overlapping pair share a rank would chain the whole table into one rank.)
    """
    spans = [(i, min(lo, s), max(hi, s)) for i, s, lo, hi in items]
    return {i: 1 + sum(1 for _, lo2, _ in spans if lo2 > hi) for i, _, hi in spans}


@dataclass
class Row:
    """One entry as the board shows it; ``None`` values come with a reason."""

    id: str
    model: str
    weights_sha256: str | None
    codec: str
    codec_label: str
    finetuned_from: str | None
    clean: float | None
    at: dict[str, float | None]
    at_reason: dict[str, str]
    drop: float | None
    drop_reason: str
    area: float | None
    robustness: float | None
    ci_low: float | None
    ci_high: float | None
    ci_reason: str
    rank: int | None
    unranked_reason: str
    bd: float | None
    bd_reason: str
    recovered: float | None
    recovered_reason: str
    points: list[tuple[float, float]] = field(default_factory=list)
    backend: str = ""
    submitted: str = ""


@dataclass
class CodecRow:
    codec: str
    mean: float | None
    std: float | None
    models: int
    rank: int | None
    reason: str


@dataclass
class BoardView:
    """One board: a task on one dataset (name and sha256)."""

    task: str
    dataset: str
    dataset_sha256: str
    headline: str
    images: int
    rows: list[Row]
    codecs: list[CodecRow]

    @property
    def key(self) -> str:
        return f"{self.task}/{self.dataset}/{self.dataset_sha256[:12]}"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["checkpoints"] = list(CHECKPOINTS)
        d["area_range"] = list(AREA_RANGE)
        return d


def _row(e: BoardEntry, by_id: dict[str, BoardEntry], group: list[BoardEntry]) -> Row:
    bpp, met = curve(e)
    clean = e.clean.get(e.headline)
    at: dict[str, float | None] = {}
    at_reason: dict[str, str] = {}
    for b in CHECKPOINTS:
        v, why = metric_at(bpp, met, b)
        at[f"{b:g}"], at_reason[f"{b:g}"] = v, why
    first = at[f"{CHECKPOINTS[0]:g}"]
    drop = relative_drop(clean, first)
    drop_reason = ""
    if drop is None:
        drop_reason = at_reason[f"{CHECKPOINTS[0]:g}"] or "no clean metric"
    area, why = area_under_curve(bpp, met)
    rob = robustness(area, clean)
    unranked = "" if rob is not None else (why or "the clean metric is not positive")
    ci_low = ci_high = None
    ci_reason = "no per-image records" if e.bootstrap is None else (e.bootstrap.reason or "")
    if rob is not None and e.bootstrap is not None and e.bootstrap.low is not None \
            and e.bootstrap.high is not None:
        ci_low, ci_high = e.bootstrap.low, e.bootstrap.high
    # BD-metric against the same model's (same weights) JPEG entry
    anchors = [g for g in group if g.model == e.model and g.weights_sha256 == e.weights_sha256
               and g.codec == ANCHOR]
    anchors.sort(key=lambda g: (g.codec_label != ANCHOR, g.codec_label))
    if not anchors:
        bd, bd_reason = None, f"no {ANCHOR} entry for this model"
    elif anchors[0].id == e.id:
        bd, bd_reason = 0.0, "reference"
    else:
        bd, bd_reason = bd_metric((bpp, met), curve(anchors[0]))
    rec, rec_reason = None, ""
    if e.finetuned_from:
        base = by_id.get(e.finetuned_from)
        if base is None:
            rec_reason = "its base entry is not on this board"
        else:
            rec, rec_reason = recovered_fraction(e, base)
    be = e.provenance.backend
    return Row(
        id=e.id, model=e.model, weights_sha256=e.weights_sha256, codec=e.codec,
        codec_label=e.codec_label, finetuned_from=e.finetuned_from, clean=clean, at=at,
        at_reason=at_reason, drop=drop, drop_reason=drop_reason, area=area, robustness=rob,
        ci_low=ci_low, ci_high=ci_high, ci_reason=ci_reason, rank=None, unranked_reason=unranked,
        bd=bd, bd_reason=bd_reason, recovered=rec, recovered_reason=rec_reason,
        points=list(zip(bpp, met, strict=True)),
        backend=f"{be.get('library', '')} {be.get('version', '')}".strip(),
        submitted=e.submitted,
    )


def codec_view(rows: Sequence[Row]) -> list[CodecRow]:
    """Codecs ranked by the robustness averaged over models (finetuned entries left out)."""
    import statistics

    by: dict[str, list[float]] = {}
    for r in rows:
        if r.finetuned_from:
            continue
        by.setdefault(r.codec_label, [])
        if r.robustness is not None:
            by[r.codec_label].append(r.robustness)
    out = []
    for codec, vals in by.items():
        if vals:
            std = statistics.pstdev(vals) if len(vals) > 1 else 0.0
            out.append(CodecRow(codec, statistics.fmean(vals), std, len(vals), None, ""))
        else:
            out.append(CodecRow(codec, None, None, 0, None,
                                "no entry with this codec covers the rate range"))
    ranked = sorted((c for c in out if c.mean is not None), key=lambda c: -(c.mean or 0))
    prev, rank = None, 0
    for k, c in enumerate(ranked, start=1):
        if c.mean != prev:
            rank, prev = k, c.mean
        c.rank = rank
    return ranked + sorted((c for c in out if c.mean is None), key=lambda c: c.codec)


def board_views(entries: Sequence[BoardEntry]) -> list[BoardView]:
    """One view per (task, dataset name, dataset sha256), rows in rank order."""
    by_id = {e.id: e for e in entries}
    groups: dict[tuple[str, str, str], list[BoardEntry]] = {}
    for e in entries:
        groups.setdefault((e.task, e.dataset, e.dataset_sha256), []).append(e)
    views = []
    for (task, dataset, sha), group in sorted(groups.items()):
        rows = [_row(e, by_id, group) for e in group]
        ranked = [r for r in rows if r.robustness is not None]
        ranks = ranks_with_ties([
            (r.id, r.robustness or 0.0,
             r.ci_low if r.ci_low is not None else r.robustness or 0.0,
             r.ci_high if r.ci_high is not None else r.robustness or 0.0)
            for r in ranked
        ])
        for r in ranked:
            r.rank = ranks[r.id]
        ranked.sort(key=lambda r: (r.rank, -(r.robustness or 0.0), r.model, r.codec_label))
        rest = sorted((r for r in rows if r.robustness is None),
                      key=lambda r: (r.model, r.codec_label))
        views.append(BoardView(task=task, dataset=dataset, dataset_sha256=sha,
                               headline=group[0].headline, images=max(e.images for e in group),
                               rows=ranked + rest, codecs=codec_view(rows)))
    return views
