"""An entry's curve and what is read off it: metric at a rate, BD-metric, recovery.

Every column of the board reads the same curve: the points' real mean bpp and headline
metric, sorted by bpp, a repeated bpp keeping its first point, interpolated with
monotone PCHIP in log2(bpp) exactly as the run's area is
(:mod:`lossybench.engine.aggregate`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from lossybench.engine.aggregate import COVER_TOLERANCE, MIN_AREA_POINTS
from lossybench.leaderboard.formats import BoardEntry

_TOL = 1e-9


def tidy(
    bpp: Sequence[float | None], metric: Sequence[float | None]
) -> tuple[list[float], list[float]]:
    """Finite points with positive bpp, sorted by bpp; a repeated bpp keeps its first point.

    The same rule as :func:`lossybench.engine.aggregate.area_under_curve`.
    """
    pts = sorted(
        (b, m) for b, m in zip(bpp, metric, strict=True)
        if b is not None and m is not None and b > 0 and math.isfinite(b) and math.isfinite(m)
    )
    dedup: dict[float, float] = {}
    for b, m in pts:
        dedup.setdefault(b, m)
    return list(dedup), list(dedup.values())


def curve(entry: BoardEntry) -> tuple[list[float], list[float]]:
    """(bpp, headline metric) of an entry, as :func:`tidy` keeps them."""
    return tidy([p.bpp_mean for p in entry.points],
                [p.metrics.get(entry.headline) for p in entry.points])


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
