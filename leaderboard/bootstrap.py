"""Bootstrap 95 % intervals of the ranking score from per-image records.

Images are resampled with replacement (seeded), and for every resample the clean
metric, each point's mean bpp and metric, the area and the robustness are recomputed
exactly as for the point estimate: the interval reflects which images were drawn,
the dominant source of uncertainty on small evaluation sets.

Each resample's curve (clean metric, every point's mean bpp and metric) is kept with
the interval, so that statistics that depend on the whole board (the score on the rate
range all entries share) or on nothing but the curve (the rate that keeps 95 % of the
clean metric) get their intervals from the same resamples at read time
(:func:`resampled_curves`, :func:`interval_of`).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lossybench.engine.aggregate import area_under_curve, robustness
from lossybench.leaderboard.formats import Bootstrap

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
#: Stop before starting a bootstrap expected to take longer than this (seconds).
DEFAULT_BUDGET_S = 120.0


@dataclass
class Interval:
    """A percentile interval of the robustness; ``low``/``high`` None with a reason."""

    resamples: int
    seed: int
    level: float
    low: float | None
    high: float | None
    defined: int
    reason: str | None = None
    #: per resample ``[clean, bpp of each point..., metric of each point...]`` (None
    #: where a resample leaves a point without images), in the result's point order
    curves: list[list[float | None]] | None = None

    def as_dict(self) -> dict[str, Any]:
        """What the board stores: the fields its entry format (``formats.Bootstrap``) has."""
        d = {
            "resamples": self.resamples,
            "seed": self.seed,
            "level": self.level,
            "low": self.low,
            "high": self.high,
            "defined": self.defined,
            "reason": self.reason,
            "curves": self.curves,
        }
        return {k: v for k, v in d.items() if k in Bootstrap.model_fields}


def _percentile(sorted_vals: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default) of sorted values."""
    pos = q * (len(sorted_vals) - 1)
    i = int(pos)
    j = min(i + 1, len(sorted_vals) - 1)
    return sorted_vals[i] + (sorted_vals[j] - sorted_vals[i]) * (pos - i)


def bootstrap(
    task: Any,
    records: Sequence[dict[str, Any]],
    labels: Sequence[str],
    points: Sequence[float],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
    budget_s: float = DEFAULT_BUDGET_S,
) -> dict[str, Interval]:
    """One interval per codec label; ``task`` is the registered task (never the submission's)."""
    import numpy as np

    head = task.headline
    images = sorted({r["image"] for r in records})
    clean: dict[str, dict[str, Any] | None] = {}
    cell: dict[tuple[str, float], dict[str, dict[str, Any]]] = {}
    for r in records:
        if r.get("codec") is None:
            clean[r["image"]] = r.get("outcome")
        elif r.get("outcome") is not None:
            cell.setdefault((r["codec"], r["point"]), {})[r["image"]] = r
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {lb: [] for lb in labels}
    curves: dict[str, list[list[float | None]]] = {lb: [] for lb in labels}
    undefined = dict.fromkeys(labels, 0)

    def one(draw: list[str]) -> None:
        outs = [clean[i] for i in draw if clean.get(i) is not None]
        c = task.aggregate(outs).get(head) if outs else None
        for lb in labels:
            bpp, met = [], []
            for p in points:
                got = cell.get((lb, p), {})
                recs = [got[i] for i in draw if i in got]
                if not recs:
                    bpp.append(None)
                    met.append(None)
                    continue
                # the mean of mean_std, without its (slow, exact) standard deviation
                vals = [r["bpp"] for r in recs if r["bpp"] is not None
                        and math.isfinite(r["bpp"])]
                bpp.append(statistics.fmean(vals) if vals else None)
                met.append(task.aggregate([r["outcome"] for r in recs]).get(head))
            curves[lb].append([_stored(v) for v in (c, *bpp, *met)])
            area, _ = area_under_curve(bpp, met)
            rob = robustness(area, c)
            if rob is None:
                undefined[lb] += 1
            else:
                samples[lb].append(rob)

    def fail(why: str) -> dict[str, Interval]:
        return {lb: Interval(resamples, seed, level, None, None, 0, why) for lb in labels}

    if not images:
        return fail("no per-image records")
    import scipy.interpolate  # noqa: F401  (imported here, not inside the timed loop)

    start = time.perf_counter()
    try:
        for k in range(resamples):
            idx = rng.integers(0, len(images), len(images))
            one([images[i] for i in idx])
            if k == 0:
                start = time.perf_counter()  # the first resample warms caches up
            elif k == 10:
                expected = (time.perf_counter() - start) / 10 * resamples
                if expected > budget_s:
                    return fail(f"skipped: {resamples} resamples would take about "
                                f"{expected:.0f} s (budget {budget_s:.0f} s); lower --bootstrap")
    except Exception:  # e.g. a task that refuses an image drawn twice
        return fail("no interval: this task cannot score a resample that draws an image twice "
                    "(e.g. COCO detection keys its ground truth by image), so images cannot "
                    "be resampled with replacement")
    out = {}
    alpha = (1 - level) / 2
    for lb in labels:
        vals = sorted(samples[lb])
        if len(vals) < max(2, 0.5 * resamples):
            out[lb] = Interval(resamples, seed, level, None, None, len(vals),
                               f"robustness undefined in {undefined[lb]} of {resamples} resamples",
                               curves[lb])
            continue
        reason = None
        if undefined[lb]:
            reason = f"robustness undefined in {undefined[lb]} of {resamples} resamples"
        out[lb] = Interval(resamples, seed, level, _percentile(vals, alpha),
                           _percentile(vals, 1 - alpha), len(vals), reason, curves[lb])
    return out


def _stored(v: float | None) -> float | None:
    """A resampled value as stored: 7 significant digits (the interval needs no more)."""
    return None if v is None or not math.isfinite(v) else float(f"{v:.7g}")


Curve = tuple[float | None, list[float | None], list[float | None]]


def resampled_curves(boot: Any, points: int) -> tuple[list[Curve] | None, str]:
    """The stored resamples of an entry as (clean, bpp per point, metric per point)."""
    if boot is None:
        return None, "no per-image records"
    rows = getattr(boot, "curves", None)
    if not rows:
        failed = boot.resamples == 0 or (boot.defined == 0 and boot.reason and not
                                         boot.reason.startswith("robustness undefined"))
        if failed:  # the bootstrap was disabled, skipped or could not run
            return None, boot.reason or "no bootstrap"
        return None, "no interval: the board keeps no resampled curves for this entry"
    if any(len(r) != 1 + 2 * points for r in rows):
        return None, "the stored resampled curves do not match the entry's points"
    return [(r[0], list(r[1:1 + points]), list(r[1 + points:])) for r in rows], ""


def interval_of(
    values: Sequence[float | None], level: float = 0.95
) -> tuple[float | None, float | None, str]:
    """Percentile interval of resampled values (None: undefined in that resample).

    Values may be ±inf (a bound beyond the measured range); an end that falls next to
    one takes the outer value rather than interpolating towards infinity. As for the
    robustness, the interval needs a value in at least half the resamples.
    """
    vals = sorted(v for v in values if v is not None)
    missing = len(values) - len(vals)
    if len(vals) < max(2, 0.5 * len(values)):
        return None, None, f"undefined in {missing} of {len(values)} resamples"
    alpha = (1 - level) / 2
    ends = []
    for q, outer in ((alpha, 0), (1 - alpha, 1)):
        pos = q * (len(vals) - 1)
        i, j = int(pos), min(int(pos) + 1, len(vals) - 1)
        if math.isfinite(vals[i]) and math.isfinite(vals[j]):
            ends.append(_percentile(vals, q))
        else:
            ends.append(vals[(i, j)[outer]])
    reason = f"undefined in {missing} of {len(values)} resamples" if missing else ""
    return ends[0], ends[1], reason
