"""BD-rate: the bits a codec saves against JPEG at equal metric (Bjøntegaard).

For each curve, ln(bpp) is fitted as a function of the metric with monotone PCHIP (as
modern implementations do instead of VCEG-M33's cubic polynomial, which can overshoot);
the mean difference of the two fits over the metric range both curves cover gives the
rate ratio: ``BD-rate = exp(mean(ln r_test − ln r_ref)) − 1``, negative when the test
codec needs fewer bits for the same metric.

The fit needs the metric to rise with the rate. Task metrics on few images are noisy,
so a point whose metric does not exceed that of every lower-rate point is dropped first
(the rate–metric front: that metric is already reached at a lower rate). BD-rate is
undefined, with the reason, when either front keeps fewer than 4 points or the metric
ranges do not overlap: nothing is extrapolated.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

MIN_POINTS = 4


def front(bpp: Sequence[float], metric: Sequence[float]) -> tuple[list[float], list[float]]:
    """The points (by increasing bpp) whose metric beats every lower-rate point's."""
    fb: list[float] = []
    fm: list[float] = []
    for b, m in sorted(zip(bpp, metric, strict=True)):
        if not fm or m > fm[-1]:
            fb.append(b)
            fm.append(m)
    return fb, fm


def bd_rate(
    test: tuple[Sequence[float], Sequence[float]],
    ref: tuple[Sequence[float], Sequence[float]],
    min_points: int = MIN_POINTS,
) -> tuple[float | None, str]:
    """Bjøntegaard delta rate of ``test`` against ``ref`` (fractions: -0.2 = 20 % fewer bits)."""
    import numpy as np
    from scipy.interpolate import PchipInterpolator

    (tb, tm), (rb, rm) = front(*test), front(*ref)
    for what, b, raw in (("this entry", tb, test[0]), ("the reference", rb, ref[0])):
        if len(b) < min_points:
            return None, (f"{what} has {len(b)} of {len(raw)} points on its rate–metric "
                          f"front; needs {min_points}")
    lo, hi = max(tm[0], rm[0]), min(tm[-1], rm[-1])
    if hi - lo <= 1e-12:
        return None, (f"the metric ranges do not overlap ({tm[0]:.3g}–{tm[-1]:.3g} vs "
                      f"{rm[0]:.3g}–{rm[-1]:.3g})")
    t = PchipInterpolator(np.asarray(tm), np.log(tb)).integrate(lo, hi)
    r = PchipInterpolator(np.asarray(rm), np.log(rb)).integrate(lo, hi)
    return float(math.expm1((t - r) / (hi - lo))), ""


def summary(values: dict[str, float | None]) -> tuple[float | None, str]:
    """The mean over models of the defined values, or None with the reason."""
    got = [v for v in values.values() if v is not None]
    if not got:
        return None, "BD-rate undefined for every model" if values else "no model"
    return statistics.fmean(got), ""
