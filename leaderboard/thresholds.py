"""The lowest bit rate at which an entry keeps 95 % (or 99 %) of its clean metric.

The curve is the one every column reads: monotone PCHIP through the measured points in
log2(bpp). With the level ``L = fraction × clean``, the threshold is where the curve,
followed from the highest measured rate downwards, first falls below ``L``:

    r* = inf { r in [b_1, b_n] : metric(s) >= L for every s in [r, b_n] }

that is, the lowest rate from which upwards the entry keeps the level at every measured
rate and everywhere between. PCHIP is monotone between neighbouring points, so the
crossing lies between the highest point below ``L`` and the point after it, where the
curve rises through ``L`` exactly once. Nothing is extrapolated: an entry at or above
``L`` at every measured point keeps it "≤ b_1" (its lowest measured rate), one below
``L`` even at its highest point "> b_n".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

#: The fractions of the clean metric the board reports a rate for.
FRACTIONS: tuple[float, ...] = (0.95, 0.99)


@dataclass(frozen=True)
class Keep:
    """A threshold rate: exact (``bound`` ""), or only bounded by the measured range.

    ``bound`` is "below" when the level holds at every measured rate (the threshold is
    ≤ ``bpp``, the lowest measured rate) and "above" when it holds at none (> ``bpp``,
    the highest measured rate). ``bpp`` is None, with a reason, when undefined.
    """

    bpp: float | None
    bound: str = ""
    reason: str = ""

    @property
    def log2(self) -> float | None:
        """log2 of the rate, -inf / +inf for a bound below / above the measured range."""
        if self.bpp is None:
            return None
        if self.bound == "below":
            return -math.inf
        if self.bound == "above":
            return math.inf
        return math.log2(self.bpp)

    def text(self, spec: str = ".3g") -> str:
        if self.bpp is None:
            return "—"
        prefix = {"below": "≤ ", "above": "> "}.get(self.bound, "")
        return prefix + format(self.bpp, spec)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def keep_bpp(
    bpp: Sequence[float], metric: Sequence[float], clean: float | None, fraction: float
) -> Keep:
    """The threshold rate of a curve (sorted, distinct bpp) for ``fraction`` of ``clean``."""
    if clean is None or not math.isfinite(clean) or clean <= 0:
        return Keep(None, "", "no positive clean metric")
    if len(bpp) < 2:
        return Keep(None, "", f"needs at least 2 points with distinct bpp, has {len(bpp)}")
    level = fraction * clean
    if metric[-1] < level:
        return Keep(bpp[-1], "above")
    below = [k for k, m in enumerate(metric) if m < level]
    if not below:
        return Keep(bpp[0], "below")
    k = below[-1]  # metric[k] < level <= metric[k + 1]
    from lossybench.leaderboard.pchip import Pchip

    return Keep(float(2.0 ** Pchip([math.log2(b) for b in bpp], metric).rise_through(k, level)))


def from_log2(value: float, lowest: float, highest: float) -> Keep:
    """A :class:`Keep` from a log2 rate (an interval end), ±inf as bounds of the range."""
    if value == -math.inf:
        return Keep(lowest, "below")
    if value == math.inf:
        return Keep(highest, "above")
    return Keep(float(2.0 ** value))


@dataclass
class Threshold:
    """A threshold of one entry and its bootstrap interval (ends may be bounds too)."""

    fraction: float
    value: Keep
    low: Keep | None = None
    high: Keep | None = None
    ci_reason: str = ""

    def text(self) -> str:
        """e.g. ``0.342 [0.27, 0.51]``, ``≤ 0.186``, ``0.9 [0.5, > 1.93]``."""
        if self.low is None or self.high is None:
            return self.value.text()
        return f"{self.value.text()} [{self.low.text()}, {self.high.text()}]"


def threshold(
    bpp: Sequence[float], metric: Sequence[float], clean: float | None, fraction: float,
    resamples: Sequence[Any] | None, why_none: str = "", level: float = 0.95,
) -> Threshold:
    """The threshold of a curve and its interval over stored bootstrap resamples.

    ``resamples`` are (clean, bpp per point, metric per point) of each resample
    (:func:`lossybench.leaderboard.bootstrap.resampled_curves`); each gets the same
    definition with its own clean metric and curve. A resample that keeps the level at
    all its rates counts as -inf, one that keeps it at none as +inf, so that an interval
    end among them reads "≤ lowest" / "> highest" measured rate of the entry.
    """
    from lossybench.leaderboard.bootstrap import interval_of
    from lossybench.leaderboard.curves import tidy

    value = keep_bpp(bpp, metric, clean, fraction)
    if value.bpp is None or resamples is None:
        return Threshold(fraction, value, ci_reason=value.reason or why_none)
    logs = [keep_bpp(*tidy(b, m), c, fraction).log2 for c, b, m in resamples]
    lo, hi, why = interval_of(logs, level)
    if lo is None or hi is None:
        return Threshold(fraction, value, ci_reason=f"threshold {why}")
    return Threshold(fraction, value, from_log2(lo, bpp[0], bpp[-1]),
                     from_log2(hi, bpp[0], bpp[-1]), f"threshold {why}" if why else "")
