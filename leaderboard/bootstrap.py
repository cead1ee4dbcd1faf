"""Bootstrap 95 % intervals of the ranking score from per-image records.

Images are resampled with replacement (seeded), and for every resample the clean
metric, each point's mean bpp and metric, the area and the robustness are recomputed
exactly as for the point estimate: the interval reflects which images were drawn,
the dominant source of uncertainty on small evaluation sets.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lossybench.engine.aggregate import area_under_curve, robustness

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "resamples": self.resamples,
            "seed": self.seed,
            "level": self.level,
            "low": self.low,
            "high": self.high,
            "defined": self.defined,
            "reason": self.reason,
        }


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
    except Exception as exc:  # e.g. a task that refuses an image drawn twice
        return fail(f"the task cannot aggregate resampled outcomes ({type(exc).__name__})")
    out = {}
    alpha = (1 - level) / 2
    for lb in labels:
        vals = sorted(samples[lb])
        if len(vals) < max(2, 0.5 * resamples):
            out[lb] = Interval(resamples, seed, level, None, None, len(vals),
                               f"robustness undefined in {undefined[lb]} of {resamples} resamples")
            continue
        reason = None
        if undefined[lb]:
            reason = f"robustness undefined in {undefined[lb]} of {resamples} resamples"
        out[lb] = Interval(resamples, seed, level, _percentile(vals, alpha),
                           _percentile(vals, 1 - alpha), len(vals), reason)
    return out
