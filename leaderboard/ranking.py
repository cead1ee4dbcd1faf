"""Ranking a board: on the rate range all entries share, with 0.1–2 bpp beside it.

Everything is recomputed from the stored points at read time with the run's own
aggregate functions (:mod:`lossybench.engine.aggregate`), so a board never shows a
number that a submitter merely stated. Per entry: the robustness on the common range
(:mod:`.common`, the ranking score) and on 0.1–2 bpp, the metric at fixed rates, the
rates that keep 95 % / 99 % of the clean metric (:mod:`.thresholds`), BD-rate
(:mod:`.bdrate`) and BD-metric against the same model's JPEG entry, and the fraction
a finetuned entry wins back; per codec, the same averaged over models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from lossybench.engine.aggregate import AREA_RANGE, area_under_curve, relative_drop, robustness
from lossybench.leaderboard.bdrate import bd_rate
from lossybench.leaderboard.bootstrap import resampled_curves
from lossybench.leaderboard.common import common_interval, common_range, common_score
from lossybench.leaderboard.curves import bd_metric, curve, metric_at, recovered_fraction
from lossybench.leaderboard.formats import BoardEntry
from lossybench.leaderboard.thresholds import FRACTIONS, Threshold, threshold

#: Rates of the "metric at" columns (bpp).
CHECKPOINTS: tuple[float, ...] = (0.1, 0.5, 1.0)
#: The anchor codec of the BD columns.
ANCHOR = "jpeg"

__all__ = ["ANCHOR", "CHECKPOINTS", "BoardView", "CodecRow", "Row", "bd_metric",
           "board_views", "codec_view", "curve", "metric_at", "ranks_with_ties",
           "recovered_fraction"]


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
    """One entry as the board shows it; ``None`` values come with a reason.

    ``common*`` is the board's ranking (the range all entries share); ``rank``,
    ``robustness``, ``ci_*`` and ``unranked_reason`` are the 0.1–2 bpp column.
    """

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
    common: float | None = None
    common_low: float | None = None
    common_high: float | None = None
    common_ci_reason: str = ""
    common_rank: int | None = None
    common_reason: str = ""
    keep: dict[str, Threshold] = field(default_factory=dict)
    bd_rate: float | None = None
    bd_rate_reason: str = ""


@dataclass
class CodecRow:
    codec: str
    mean: float | None
    std: float | None
    models: int
    rank: int | None
    reason: str
    common_mean: float | None = None
    #: rank by ``common_mean`` (``rank`` is by ``mean``, the 0.1–2 bpp robustness)
    common_rank: int | None = None
    bd_rate_mean: float | None = None
    bd_rate_reason: str = ""
    #: model -> BD-rate against that model's JPEG entry (None: undefined)
    bd_rate_models: dict[str, float | None] = field(default_factory=dict)


@dataclass
class BoardView:
    """One board: a task on one dataset (name and sha256).

    ``rows`` are in the order of the 0.1–2 bpp rank (as before the common range);
    :meth:`ranked` gives them in the board's ranking on the common range.
    """

    task: str
    dataset: str
    dataset_sha256: str
    headline: str
    images: int
    rows: list[Row]
    codecs: list[CodecRow]
    common_range: tuple[float, float] | None = None
    common_note: str = ""

    @property
    def key(self) -> str:
        return f"{self.task}/{self.dataset}/{self.dataset_sha256[:12]}"

    def ranked(self) -> list[Row]:
        """Rows by rank on the common range, then score; entries not scored last."""
        return sorted(self.rows, key=lambda r: (
            r.common_rank is None, r.common_rank or 0, -(r.common or 0.0), r.model,
            r.codec_label))

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["checkpoints"] = list(CHECKPOINTS)
        d["area_range"] = list(AREA_RANGE)
        d["keep_fractions"] = list(FRACTIONS)
        d["ranking"] = [r.id for r in self.ranked()]
        return d


def _anchor(e: BoardEntry, group: list[BoardEntry]) -> BoardEntry | None:
    """The same model's (same weights') JPEG entry on this board."""
    anchors = [g for g in group if g.model == e.model and g.weights_sha256 == e.weights_sha256
               and g.codec == ANCHOR]
    anchors.sort(key=lambda g: (g.codec_label != ANCHOR, g.codec_label))
    return anchors[0] if anchors else None


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
    samples, why_none = resampled_curves(e.bootstrap, len(e.points))
    keep = {f"{f:g}": threshold(bpp, met, clean, f, samples, why_none) for f in FRACTIONS}
    anchor = _anchor(e, group)
    if anchor is None:
        bd = bdr = None
        bd_reason = bdr_reason = f"no {ANCHOR} entry for this model"
    elif anchor.id == e.id:
        bd, bd_reason, bdr, bdr_reason = 0.0, "reference", 0.0, "reference"
    else:
        bd, bd_reason = bd_metric((bpp, met), curve(anchor))
        bdr, bdr_reason = bd_rate((bpp, met), curve(anchor))
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
        submitted=e.submitted, keep=keep, bd_rate=bdr, bd_rate_reason=bdr_reason,
    )


def _rank(rows: Sequence[Row], score: str, low: str, high: str, rank: str) -> None:
    """Set ``rank`` on the rows with a ``score``, from their intervals (point if none)."""
    scored = [r for r in rows if getattr(r, score) is not None]

    def span(r: Row, attr: str) -> float:
        v = getattr(r, attr)
        return getattr(r, score) if v is None else v

    ranks = ranks_with_ties([(r.id, getattr(r, score), span(r, low), span(r, high))
                             for r in scored])
    for r in scored:
        setattr(r, rank, ranks[r.id])


def _common(rows: list[Row], entries: dict[str, BoardEntry]) -> tuple[
    tuple[float, float] | None, str
]:
    """Score every row on the range the board's entries share; rank them."""
    cr = common_range({r.id: [b for b, _ in r.points] for r in rows})
    for r in rows:
        if r.id in cr.left_out:
            r.common_reason = cr.left_out[r.id]
    if cr.lo is None or cr.hi is None:
        return None, cr.note
    for r in rows:
        if r.id not in cr.members:
            continue
        e = entries[r.id]
        r.common, why = common_score(*zip(*r.points, strict=True), r.clean, cr.lo, cr.hi)
        if r.common is None:
            r.common_reason = why
            continue
        samples, r.common_ci_reason = resampled_curves(e.bootstrap, len(e.points))
        if samples is not None:
            r.common_low, r.common_high, why = common_interval(samples, cr.lo, cr.hi)
            r.common_ci_reason = f"score {why}" if why else ""
    _rank(rows, "common", "common_low", "common_high", "common_rank")
    return (cr.lo, cr.hi), cr.note


def codec_view(rows: Sequence[Row]) -> list[CodecRow]:
    """Codecs ranked by the robustness averaged over models (finetuned entries left out).

    Beside it: the mean robustness on the common range and the BD-rate against JPEG,
    mean and per model.
    """
    import statistics

    from lossybench.leaderboard.bdrate import summary

    by: dict[str, list[Row]] = {}
    for r in rows:
        if not r.finetuned_from:
            by.setdefault(r.codec_label, []).append(r)
    out = []
    for codec, group in by.items():
        vals = [r.robustness for r in group if r.robustness is not None]
        common = [r.common for r in group if r.common is not None]
        per_model = {r.model: r.bd_rate for r in group}
        bdm, bdm_reason = summary(per_model)
        if all(r.bd_rate_reason == "reference" for r in group):
            bdm_reason = "reference"
        extra = {"common_mean": statistics.fmean(common) if common else None,
                 "bd_rate_mean": bdm, "bd_rate_reason": bdm_reason,
                 "bd_rate_models": per_model}
        if vals:
            std = statistics.pstdev(vals) if len(vals) > 1 else 0.0
            out.append(CodecRow(codec, statistics.fmean(vals), std, len(vals), None, "",
                                **extra))
        else:
            out.append(CodecRow(codec, None, None, 0, None,
                                "no entry with this codec covers the rate range", **extra))
    for attr, rank_attr in (("common_mean", "common_rank"), ("mean", "rank")):
        scored = sorted((c for c in out if getattr(c, attr) is not None),
                        key=lambda c: -getattr(c, attr))
        prev, rank = None, 0
        for k, c in enumerate(scored, start=1):
            if getattr(c, attr) != prev:
                rank, prev = k, getattr(c, attr)
            setattr(c, rank_attr, rank)
    ranked = sorted((c for c in out if c.mean is not None), key=lambda c: -(c.mean or 0))
    return ranked + sorted((c for c in out if c.mean is None), key=lambda c: c.codec)


def board_views(entries: Sequence[BoardEntry]) -> list[BoardView]:
    """One view per (task, dataset name, dataset sha256)."""
    by_id = {e.id: e for e in entries}
    groups: dict[tuple[str, str, str], list[BoardEntry]] = {}
    for e in entries:
        groups.setdefault((e.task, e.dataset, e.dataset_sha256), []).append(e)
    views = []
    for (task, dataset, sha), group in sorted(groups.items()):
        rows = [_row(e, by_id, group) for e in group]
        _rank(rows, "robustness", "ci_low", "ci_high", "rank")
        common, note = _common(rows, by_id)
        ranked = sorted((r for r in rows if r.rank is not None),
                        key=lambda r: (r.rank, -(r.robustness or 0.0), r.model, r.codec_label))
        rest = sorted((r for r in rows if r.rank is None),
                      key=lambda r: (r.model, r.codec_label))
        views.append(BoardView(task=task, dataset=dataset, dataset_sha256=sha,
                               headline=group[0].headline, images=max(e.images for e in group),
                               rows=ranked + rest, codecs=codec_view(rows),
                               common_range=common, common_note=note))
    return views
