"""Aggregates computed from per-image records: used by runs and by the leaderboard.

Keeping them in one place means a leaderboard recomputes exactly what a run reported.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

#: The study's bit-rate range for the robustness area.
AREA_RANGE = (0.1, 2.0)
MIN_AREA_POINTS = 4
#: Rate control answers at or below each target, so a curve's end points sit a little
#: inside the range (a "2 bpp" point averages e.g. 1.95 bpp). Ends within this relative
#: margin count as covering the range, the curve held flat over the gap.
COVER_TOLERANCE = 0.10


def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None, None
    return statistics.fmean(vals), (statistics.pstdev(vals) if len(vals) > 1 else 0.0)


def relative_drop(clean: float | None, value: float | None) -> float | None:
    if clean is None or value is None or clean == 0:
        return None
    return (clean - value) / clean


def area_under_curve(
    bpp: Sequence[float],
    metric: Sequence[float],
    lo: float = AREA_RANGE[0],
    hi: float = AREA_RANGE[1],
    min_points: int = MIN_AREA_POINTS,
) -> tuple[float | None, str | None]:
    """Area under metric vs log2(bpp) on [lo, hi] with monotone (PCHIP) interpolation.

    Returns (area, None), or (None, reason) when the curve has fewer than
    ``min_points`` points or does not cover the range: we never extrapolate beyond
    the :data:`COVER_TOLERANCE` margin, where the curve is held flat.
    """
    pts = sorted(
        (b, m)
        for b, m in zip(bpp, metric, strict=True)
        if b is not None and m is not None and b > 0 and math.isfinite(b) and math.isfinite(m)
    )
    # equal bpp (e.g. two targets answered by the same setting) would break interpolation
    dedup: dict[float, float] = {}
    for b, m in pts:
        dedup.setdefault(b, m)
    pts = sorted(dedup.items())
    if len(pts) < min_points:
        return None, f"needs at least {min_points} points with distinct bpp, has {len(pts)}"
    if pts[0][0] > lo * (1 + COVER_TOLERANCE) or pts[-1][0] < hi * (1 - COVER_TOLERANCE):
        return None, (
            f"covers {pts[0][0]:.3g}–{pts[-1][0]:.3g} bpp, not the whole {lo:g}–{hi:g} bpp range"
        )
    import numpy as np
    from scipy.interpolate import PchipInterpolator

    x = np.log2([b for b, _ in pts])
    y = np.array([m for _, m in pts])
    curve = PchipInterpolator(x, y)
    a, b = max(math.log2(lo), x[0]), min(math.log2(hi), x[-1])
    area = float(curve.integrate(a, b))
    area += (a - math.log2(lo)) * y[0] + (math.log2(hi) - b) * y[-1]  # flat ends in the margin
    return area, None


def robustness(
    area: float | None, clean: float | None, lo: float = AREA_RANGE[0], hi: float = AREA_RANGE[1]
) -> float | None:
    """Area divided by the clean metric over the range's width: 1.0 means no loss."""
    if area is None or clean is None or clean <= 0:
        return None
    return area / (clean * (math.log2(hi) - math.log2(lo)))
