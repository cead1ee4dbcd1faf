"""The rate range every entry of a board covers, and the score on it.

Entries are ranked on the intersection of their measured ranges (from the lowest to
the highest mean bpp of each curve, in log2(bpp)), so every entry is scored on rates it
was measured at and none is extrapolated. The score is the run's robustness on that
range: the area under the headline metric (PCHIP in log2(bpp)) divided by the clean
metric times the range's width; 1.0 means no loss.

A range is usable when it holds at least :data:`MIN_INSIDE` measured points of every
entry scored on it. When the intersection of all entries is empty or holds fewer, the
board is ranked on the range that the most entries share (then the widest in log2(bpp)),
and every entry left out is listed last with the reason: none is dropped silently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lossybench.engine.aggregate import area_under_curve, robustness

MIN_INSIDE = 2
_TOL = 1e-9


@dataclass
class CommonRange:
    """The range (bpp) a board is ranked on, who is scored on it, and why others are not."""

    lo: float | None
    hi: float | None
    members: list[str]
    left_out: dict[str, str] = field(default_factory=dict)
    note: str = ""


def inside(bpp: Sequence[float], lo: float, hi: float) -> int:
    """How many measured rates lie in [lo, hi]."""
    return sum(1 for b in bpp if lo * (1 - _TOL) <= b <= hi * (1 + _TOL))


def _members(curves: dict[str, Sequence[float]], lo: float, hi: float) -> list[str]:
    return [i for i, b in curves.items()
            if b[0] <= lo * (1 + _TOL) and b[-1] >= hi * (1 - _TOL)
            and inside(b, lo, hi) >= MIN_INSIDE]


def common_range(curves: dict[str, Sequence[float]]) -> CommonRange:
    """The range for ``curves`` (entry id -> its sorted, distinct measured bpp)."""
    usable = {i: b for i, b in curves.items() if len(b) >= MIN_INSIDE}
    left = {i: f"needs at least {MIN_INSIDE} points with distinct bpp, has {len(b)}"
            for i, b in curves.items() if len(b) < MIN_INSIDE}
    if not usable:
        return CommonRange(None, None, [], left, "no entry has a curve to score")
    lo = max(b[0] for b in usable.values())
    hi = min(b[-1] for b in usable.values())
    best = _members(usable, lo, hi) if hi > lo * (1 + _TOL) else []
    if len(best) < len(usable):
        # the intersection is empty or too narrow: the range most entries share
        key = (len(best), math.log2(hi / lo) if best else 0.0)
        for a in sorted({b[0] for b in usable.values()}):
            for z in sorted({b[-1] for b in usable.values()}):
                if z <= a * (1 + _TOL):
                    continue
                m = _members(usable, a, z)
                k = (len(m), math.log2(z / a))
                if m and k > key:
                    best, key = m, k
        lo = max(usable[i][0] for i in best)
        hi = min(usable[i][-1] for i in best)
    note = ""
    for i, b in usable.items():
        if i not in best:
            left[i] = (f"its measured {b[0]:.3g}–{b[-1]:.3g} bpp does not hold {MIN_INSIDE} "
                       f"points across the {lo:.3g}–{hi:.3g} bpp the ranked entries share")
    if left:
        note = (f"{len(left)} of {len(curves)} entries cannot be scored on the common range "
                "and are listed last, with the reason")
    return CommonRange(lo, hi, best, left, note)


def common_score(
    bpp: Sequence[float | None], metric: Sequence[float | None], clean: float | None,
    lo: float, hi: float,
) -> tuple[float | None, str]:
    """Robustness on [lo, hi]: area / (clean × width), the run's own functions.

    Within :data:`lossybench.engine.aggregate.COVER_TOLERANCE` of the range's ends the
    curve is held flat, as for the 0.1–2 bpp area (a bootstrap resample's end points
    move a little around the range the board was ranked on).
    """
    area, why = area_under_curve(bpp, metric, lo, hi, MIN_INSIDE)
    score = robustness(area, clean, lo, hi)
    if score is None:
        return None, why or "the clean metric is not positive"
    return score, ""


def common_interval(
    resamples: Sequence[Any], lo: float, hi: float, level: float = 0.95
) -> tuple[float | None, float | None, str]:
    """The score's percentile interval over stored bootstrap resamples of one entry.

    Each resample is scored as :func:`common_score` scores the entry (the same PCHIP area
    with the same held-flat ends, computed by :func:`lossybench.leaderboard.pchip.area`).
    """
    from lossybench.leaderboard.bootstrap import interval_of
    from lossybench.leaderboard.curves import tidy
    from lossybench.leaderboard.pchip import area

    width = math.log2(hi) - math.log2(lo)
    vals: list[float | None] = []
    for c, b, m in resamples:
        bpp, met = tidy(b, m)
        a = area(bpp, met, lo, hi) if len(bpp) >= MIN_INSIDE else None
        vals.append(None if a is None or c is None or c <= 0 else a / (c * width))
    return interval_of(vals, level)
