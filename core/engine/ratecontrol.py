"""Rate control: the codec setting that hits a bit-rate target, with few encodes.

Each target is searched on its own *path*: a sequence of trial settings in which every
decision reads only the trials this target's own search made. Its answer is therefore a
function of (image pixels, codec configuration, target, policy, tolerance) alone, never
of the other targets, their order, the worker count, the cache or timing. What targets
share is a *memo* of encodes (setting → bytes, this image's and the on-disk cache's
rate table): a path that asks for a setting already encoded reads it instead of
encoding again, which saves encodes and cannot change a decision.

Settings are mapped to a coordinate ``u`` along which bits grow. A path starts at the
setting where the codec's :meth:`~lossybench.codec.Codec.rate_prior` puts the *rung*
nearest the target (a fixed ladder of rates a factor 4 apart, so nearby targets share
that encode), or at the codec's :meth:`~lossybench.codec.Codec.initial_guess`; then it
moves the prior's curve through what it measured and steps to where that curve meets
the target, bisecting when three trials in a row land on one side.

Policies (exact definitions in docs/rate-control.md): ``floor`` (default) stops when two
adjacent levels bracket the target and returns the lower, so with bpp non-decreasing in
the setting it is the largest setting whose bpp is not above the target, whatever the
path; ``nearest`` returns the closer of the two. Continuous knobs stop at the first
trial within ``rel_tol`` below the target. A target outside what the codec can reach
for this image is *flagged* (``too_low``/``too_high``) and answered with the extreme
setting, never silently moved. ``tolerance`` (relative, ``--rate-tolerance``, default 0:
exact) stops a path at its first trial in the band [(1 − tol)·target, target] (``floor``)
or within tol·target of it (``nearest``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from lossybench.codec import Codec, bits_per_pixel
from lossybench.engine.cache import CacheEntry
from lossybench.errors import CodecError, OutOfRangeError

#: Version of the search, recorded in each run's records: 2 = every target's own path
#: (answers independent of the other targets), exact floor by default.
RATE_CONTROL = 2
Policy = Literal["floor", "nearest"]
Status = Literal["ok", "too_low", "too_high"]
#: Bit-rate targets the tool accepts (bits per pixel).
MIN_TARGET, MAX_TARGET = 0.005, 24.0
#: How far (in log bpp) an image's own slope may move the prior when extrapolating.
MAX_RESID_SHIFT = math.log(2.0)
#: ... and how much of that slope is trusted (two trials measure it noisily).
SLOPE_TRUST = 0.5
#: Without data, assume bits grow 2**6-fold over a knob's whole range.
PRIOR_LOG_SPAN = math.log(64.0)
#: The ladder of first trials: a target's search starts where the codec's prior puts the
#: rung nearest the target, 2**(2k + 1/2) bpp (..., 0.088, 0.35, 1.41, 5.7, ...; rungs a
#: factor 4 apart, so targets within a factor 2 share a first encode through the memo;
#: the boundaries 2**(2k + 3/2) = 0.177, 0.707, 2.83 ... are rates nobody types).
RUNG_RATIO_LOG2, RUNG_OFFSET_LOG2 = 2.0, 0.5
#: Largest relative rate tolerance accepted.
MAX_TOLERANCE = 0.5
#: ``bench run``'s, ``bench codecs sweep``'s, ``bench finetune``'s and the Python API's
#: default: the exact search, whose answer on a discrete knob is the largest setting not
#: above the target whatever the search's path (2.5-2.7 encodes per (image, target) over
#: the classic codecs against 1.6-1.8 at 0.1; measured and argued in docs/rate-control.md).
DEFAULT_RATE_TOLERANCE = 0.0


def validate_tolerance(tol: float) -> float:
    if not isinstance(tol, int | float) or not math.isfinite(tol) or not 0 <= tol <= MAX_TOLERANCE:
        raise OutOfRangeError(
            f"rate tolerance {tol!r} is outside [0, {MAX_TOLERANCE}] "
            "(a fraction of the target: --rate-tolerance 0.1 accepts 0.45-0.5 bpp for 0.5)"
        )
    return float(tol)


@dataclass(frozen=True)
class Trial:
    quality: float
    bpp: float
    bitstream: bytes | None  # None: known from the cache's rate table, bytes not loaded yet
    seconds: float = 0.0


@dataclass(frozen=True)
class RatePoint:
    """The answer for one target: the setting, its real bpp and its bitstream."""

    target: float
    quality: float
    bpp: float
    bitstream: bytes
    status: Status
    encode_seconds: float = 0.0

    @property
    def reached(self) -> bool:
        return self.status == "ok"


def validate_targets(targets: list[float]) -> list[float]:
    """``targets`` as floats, in the order given; refuses one outside the accepted range."""
    out = []
    for t in targets:
        if (
            not isinstance(t, int | float)
            or not math.isfinite(t)
            or not MIN_TARGET <= t <= MAX_TARGET
        ):
            raise OutOfRangeError(
                f"bit-rate target {t!r} bpp is outside [{MIN_TARGET}, {MAX_TARGET}] "
                "(example: --bpp 0.1,0.25,0.5,1,2)"
            )
        out.append(float(t))
    return out


def normalize_targets(targets: list[float]) -> list[float]:
    """The one rule for a study's targets: validated, ascending, each once.

    ``bench run``, ``bench codecs sweep``, ``bench finetune`` (``--bpp``, ``--eval-bpp``),
    :class:`~lossybench.engine.run.config.RunConfig`,
    :class:`~lossybench.engine.finetune.config.FinetuneConfig` and
    :func:`~lossybench.engine.sweep.run_sweep` all apply it, so ``0.3,0.3`` is one point
    and ``1,0.3`` is ``0.3,1`` everywhere (the leaderboard accepts nothing else). The
    CLI says so when it changed a list (:func:`targets_note`).
    """
    return sorted(set(validate_targets(targets)))


def targets_note(targets: list[float] | None, what: str = "bit-rate targets") -> str | None:
    """One line saying how :func:`normalize_targets` changed ``targets``; None if it did not."""
    try:
        given = validate_targets(list(targets or []))
    except (OutOfRangeError, TypeError):
        return None  # not a valid list: the validation that refuses it says why
    used = sorted(set(given))
    if used == given:
        return None
    return (
        f"note: {what} {','.join(f'{t:g}' for t in given)} run as "
        f"{','.join(f'{t:g}' for t in used)} (targets are sorted, each run once)"
    )


class RateSearch:
    """Searches one codec on one image: one path per target, one memo of encodes."""

    def __init__(
        self,
        codec: Codec,
        image: np.ndarray,
        policy: Policy = "floor",
        rel_tol: float = 0.02,
        max_trials: int = 40,
        cache: CacheEntry | None = None,
        tolerance: float = 0.0,
        ahead: dict[float, tuple[bytes, float]] | None = None,
    ) -> None:
        if policy not in ("floor", "nearest"):
            raise OutOfRangeError(f"rate policy must be 'floor' or 'nearest', not {policy!r}")
        self.codec = codec
        self.image = image
        self.policy = policy
        self.rel_tol = rel_tol
        self.tolerance = validate_tolerance(tolerance)
        self.max_trials = max_trials
        self.height, self.width = image.shape[:2]
        q = codec.quality
        self.levels = q.search_levels
        self.discrete = self.levels is not None
        self.u_max = float(len(self.levels) - 1) if self.levels is not None else 1.0
        self.u_res = 1.0 if self.discrete else 1e-4
        # the band a trial must fall in to be accepted (continuous knobs: at least rel_tol)
        self.band = max(self.tolerance, 0.0 if self.discrete else rel_tol)
        # the current target's own path: every decision of its search reads only these
        self.trials: dict[float, Trial] = {}
        # the image's memo of trials (by u), shared by every target's path: it only saves
        # encodes, a path reads an entry only when it asks for that setting itself
        self._seen: dict[float, Trial] = {}
        self.encodes = 0
        self.cache = cache
        self._new: dict[float, int] = {}  # trials made by this search: quality -> bytes
        # the cached rate table: a memo of encodes (setting -> bytes), consulted only
        # when the search asks for that setting, so it never changes the search's path
        self._memo: dict[float, int] = cache.table() if cache is not None else {}
        self._prior_ok = self._prior_log(0.0) is not None
        # encodes made ahead, with other images (setting -> (bytes, seconds)): a memo too
        self._ahead: dict[float, tuple[bytes, float]] = dict(ahead or {})

    # -- coordinate mapping ---------------------------------------------------------
    def quality_at(self, u: float) -> float:
        q = self.codec.quality
        if not q.higher_is_better:
            u = self.u_max - u
        if self.levels is not None:
            return self.levels[round(u)]
        if q.log_scale:
            return float(
                math.exp(math.log(q.minimum) + u * (math.log(q.maximum) - math.log(q.minimum)))
            )
        return q.minimum + u * (q.maximum - q.minimum)

    def u_of(self, quality: float) -> float:
        q = self.codec.quality
        if self.levels is not None:  # the nearest searched level (the one above on a tie)
            u = min(range(len(self.levels)), key=lambda i: (abs(self.levels[i] - quality), -i))
        elif q.log_scale:
            u = (math.log(quality) - math.log(q.minimum)) / (
                math.log(q.maximum) - math.log(q.minimum)
            )
        else:
            u = (quality - q.minimum) / (q.maximum - q.minimum)
        u = min(max(u, 0.0), self.u_max)
        return self.u_max - u if not q.higher_is_better else u

    # -- trials -----------------------------------------------------------------------
    def trial(self, u: float) -> Trial:
        """The trial at ``u`` on the current path: from the memo, the cache, or one encode."""
        u = float(min(max(u, 0.0), self.u_max))
        if self.discrete:
            u = float(round(u))
        hit = self.trials.get(u)
        if hit is None:
            hit = self._seen.get(u)
            if hit is None:
                hit = self._seen[u] = self._measure(u)
            self.trials[u] = hit
        return hit

    def _measure(self, u: float) -> Trial:
        quality = self.quality_at(u)
        made = self._ahead.pop(float(quality), None)
        if made is not None:
            bits, seconds = made
            self.encodes += 1
            self._new[quality] = len(bits)
            return Trial(quality, bits_per_pixel(bits, self.width, self.height), bits, seconds)
        nbytes = self._memo.get(float(quality))
        if nbytes is not None:
            return Trial(quality, bits_per_pixel(nbytes, self.width, self.height), None)
        start = time.perf_counter()
        bits = self.codec.encode(self.image, quality)
        seconds = time.perf_counter() - start
        self.encodes += 1
        if not bits:
            raise CodecError(f"{self.codec.name}: encode returned no bytes at {quality:g}")
        self._new[quality] = len(bits)
        return Trial(quality, bits_per_pixel(bits, self.width, self.height), bytes(bits), seconds)

    def _bytes_of(self, u: float) -> Trial:
        """The trial at ``u`` with its bitstream: from memory, the cache, or one encode."""
        tr = self.trials[u]
        if tr.bitstream is not None:
            return tr
        bits = self.cache.bitstream(tr.quality) if self.cache is not None else None
        seconds = 0.0
        if bits is None:
            start = time.perf_counter()
            bits = bytes(self.codec.encode(self.image, tr.quality))
            seconds = time.perf_counter() - start
            self.encodes += 1
            self._new[tr.quality] = len(bits)
        tr = Trial(tr.quality, bits_per_pixel(bits, self.width, self.height), bits, seconds)
        self.trials[u] = self._seen[u] = tr
        return tr

    def bracket(self, target: float) -> tuple[float | None, float | None]:
        """(largest u below the first crossing with bpp <= target, smallest u with bpp > target)."""
        us = sorted(self.trials)
        hi = next((u for u in us if self.trials[u].bpp > target), None)
        below = [u for u in us if self.trials[u].bpp <= target and (hi is None or u < hi)]
        return (below[-1] if below else None), hi

    # -- search -------------------------------------------------------------------------
    def solve(self, targets: list[float]) -> list[RatePoint]:
        """One answer per target, in the order given; each from its own path."""
        validate_targets(targets)
        answers = {}
        for t in sorted(set(targets)):  # any order: only the memo's hits depend on it
            self.trials = {}
            answers[t] = self._solve_one(t)
        if self.cache is not None:
            if self._new:
                self.cache.save_table(self._new)
            for p in answers.values():
                if self.cache.bitstream(p.quality, len(p.bitstream)) is None:
                    self.cache.put_bitstream(p.quality, p.bitstream)
        return [answers[t] for t in targets]

    def first_setting(self, target: float) -> float:
        """The setting ``target``'s path tries first. It is chosen before any trial is read
        (priors and the image's size only), so a group of images can encode it together
        (:mod:`lossybench.engine.codec_batch`) and hand it to their searches as a memo."""
        saved, self.trials = self.trials, {}
        try:
            u = self._rung_start(target)
            if u is None:  # the search loop's first proposal, made from no trials
                u = self._propose(target, None, None, bisect=False)
        finally:
            self.trials = saved
        u = float(min(max(u, 0.0), self.u_max))
        return self.quality_at(float(round(u)) if self.discrete else u)

    def _point(self, target: float, u: float, status: Status) -> RatePoint:
        tr = self._bytes_of(u)
        assert tr.bitstream is not None
        return RatePoint(target, tr.quality, tr.bpp, tr.bitstream, status, tr.seconds)

    def _finish(self, target: float, lo: float | None, hi: float | None) -> RatePoint:
        if lo is None:
            assert hi is not None
            return self._point(target, hi, "too_low")
        if hi is None:
            return self._point(target, lo, "too_high")
        if self.policy == "nearest":
            d_lo = target - self.trials[lo].bpp
            d_hi = self.trials[hi].bpp - target
            return self._point(target, hi if d_hi < d_lo else lo, "ok")
        return self._point(target, lo, "ok")

    def _solve_one(self, target: float) -> RatePoint:
        streak: tuple[str, int] = ("", 0)  # which bracket side moved, how often in a row
        rung = self._rung_start(target)
        if rung is not None:
            self.trial(rung)  # targets near one rung share this encode
        for _ in range(self.max_trials):
            lo, hi = self.bracket(target)
            if hi is not None and hi <= 0.0:
                return self._finish(target, None, hi)
            if lo is not None and lo >= self.u_max and hi is None:
                return self._finish(target, lo, None)
            if lo is not None and self.band > 0 and self.trials[lo].bpp >= target * (1 - self.band):
                # in the band below the target: done, no upper trial needed (nearest: the
                # closer of the two ends when both are known)
                return self._finish(target, lo, hi) if hi is not None else self._point(
                    target, lo, "ok"
                )
            if lo is not None and hi is not None and hi - lo <= self.u_res:
                return self._finish(target, lo, hi)
            if (
                hi is not None
                and self.band > 0
                and self.policy == "nearest"
                and self.trials[hi].bpp <= target * (1 + self.band)
                and (lo is not None or self.tolerance > 0)
            ):
                return self._finish(target, lo, hi) if lo is not None else self._point(
                    target, hi, "ok"
                )
            u = self._propose(target, lo, hi, bisect=streak[1] >= 3)
            if self._known(u) and lo is not None and hi is not None:
                u = 0.5 * (lo + hi)
            if self._known(u):  # nothing new to learn: the bracket is as tight as it gets
                return (
                    self._finish(target, lo, hi)
                    if lo is not None or hi is not None
                    else self._point(target, u, "ok")
                )
            tr = self.trial(u)
            side = "lo" if tr.bpp <= target else "hi"
            streak = (side, streak[1] + 1 if streak[0] == side else 1)
        lo, hi = self.bracket(target)
        return self._finish(target, lo, hi)

    def _x(self, u: float) -> float:
        """The codec's rate axis at (possibly fractional) ``u``; grows with bits."""
        x = self.codec.rate_axis(self._quality_f(u))
        return x if self.codec.quality.higher_is_better else -x

    def _u_at_x(self, x: float, a: float, b: float) -> float:
        """Invert the (monotone) rate axis on [a, b] by bisection: no encodes."""
        for _ in range(50):
            m = 0.5 * (a + b)
            if self._x(m) <= x:
                a = m
            else:
                b = m
        return 0.5 * (a + b)

    def _interpolate(self, log_target: float, lo: float, hi: float) -> float:
        """Where the measured curve crosses the target between ``lo`` and ``hi``.

        Works on the codec's rate axis, where log(bpp) is close to linear. With three
        or more monotone trials a PCHIP follows the remaining curvature; with two it is
        the secant.
        """
        pts = [(self._x(u), math.log(self.trials[u].bpp)) for u in sorted(self.trials)]
        mono = [pts[0]]
        for x, b in pts[1:]:
            if b > mono[-1][1] and x > mono[-1][0]:
                mono.append((x, b))
        x_lo, x_hi = self._x(lo), self._x(hi)
        b_lo, b_hi = math.log(self.trials[lo].bpp), math.log(self.trials[hi].bpp)
        xs = [x for x, _ in mono]
        if len(mono) >= 3 and x_lo in xs and x_hi in xs:
            from scipy.interpolate import PchipInterpolator

            curve = PchipInterpolator(xs, [b for _, b in mono])
            a, b = x_lo, x_hi
            for _ in range(50):
                m = 0.5 * (a + b)
                if curve(m) <= log_target:
                    a = m
                else:
                    b = m
            x_star = 0.5 * (a + b)
        else:
            frac = (log_target - b_lo) / (b_hi - b_lo) if b_hi > b_lo else 0.5
            x_star = x_lo + min(max(frac, 0.0), 1.0) * (x_hi - x_lo)
        return self._u_at_x(x_star, lo, hi)

    @staticmethod
    def rung(target: float) -> float:
        """The ladder's rung nearest ``target`` in log(bpp): where its search starts."""
        k = math.floor((math.log2(target) - RUNG_OFFSET_LOG2) / RUNG_RATIO_LOG2 + 0.5)
        return 2.0 ** (RUNG_RATIO_LOG2 * k + RUNG_OFFSET_LOG2)

    def _rung_start(self, target: float) -> float | None:
        """Where ``target``'s path starts when the prior leads it (no knob-given guess)."""
        if self._prior_ok and self._guess(target) is None:
            return self._rung_u(target)
        return None

    def _rung_u(self, target: float) -> float:
        """The setting where the prior alone puts the target's rung (no trial read)."""
        u = self._model_u(math.log(self.rung(target)), None, None)
        return float(round(u)) if self.discrete else u

    def _aim(self, target: float) -> float:
        """log of the bpp the next trial aims at: the middle of the acceptance band."""
        if self.tolerance > 0 and self.policy == "floor":
            return math.log(target * (1 - self.band / 2))
        return math.log(target)

    def _quality_f(self, u: float) -> float:
        """The knob's value at a (possibly fractional) ``u``."""
        q = self.codec.quality
        v = self.u_max - u if not q.higher_is_better else u
        if self.levels is not None:
            return self._level_at(v)
        if q.log_scale:
            return math.exp(math.log(q.minimum) + v * (math.log(q.maximum) - math.log(q.minimum)))
        return q.minimum + v * (q.maximum - q.minimum)

    def _level_at(self, v: float) -> float:
        """The setting at a fractional level index (linear between searched levels)."""
        assert self.levels is not None
        i = min(max(math.floor(v), 0), len(self.levels) - 1)
        if i == len(self.levels) - 1:
            return self.levels[i]
        return self.levels[i] + (v - i) * (self.levels[i + 1] - self.levels[i])

    def _prior_log(self, u: float) -> float | None:
        b = self.codec.rate_prior(self._quality_f(u))
        return math.log(b) if b is not None and b > 0 else None

    def _model_u(self, log_aim: float, lo: float | None, hi: float | None) -> float:
        """Where the codec's prior curve, shifted through the nearest trials, meets the aim.

        The image's log(bpp) is modelled as prior + residual; the residual is measured at
        the trials and interpolated linearly on the rate axis between ``lo`` and ``hi``
        (held constant beyond the last one). No trials: the prior itself.
        """

        def resid(u: float) -> float:
            p = self._prior_log(u)
            assert p is not None
            return math.log(self.trials[u].bpp) - p

        if lo is not None and hi is not None:
            r_lo, r_hi = resid(lo), resid(hi)
            x_lo, x_hi = self._x(lo), self._x(hi)

            def r_at(u: float) -> float:
                t = (self._x(u) - x_lo) / (x_hi - x_lo) if x_hi != x_lo else 0.5
                return r_lo + min(max(t, 0.0), 1.0) * (r_hi - r_lo)
        else:
            r0 = resid(lo) if lo is not None else resid(hi) if hi is not None else 0.0
            # two trials on the same side: follow this image's own slope away from the
            # prior's (steep or flat photos), not a curve parallel to the prior
            us = sorted(self.trials)
            pair = us[-2:] if hi is None else us[:2]
            slope = 0.0
            if len(pair) == 2 and self._x(pair[1]) != self._x(pair[0]):
                slope = (resid(pair[1]) - resid(pair[0])) / (self._x(pair[1]) - self._x(pair[0]))
            anchor = lo if lo is not None else hi
            # measured on the package photos: it saves encodes when a band is accepted
            # (tol > 0) but costs AVIF encodes in the exact search, so only there
            trust = SLOPE_TRUST if self.tolerance > 0 else 0.0

            def r_at(u: float) -> float:
                if anchor is None:
                    return r0
                delta = trust * slope * (self._x(u) - self._x(anchor))
                return r0 + min(max(delta, -MAX_RESID_SHIFT), MAX_RESID_SHIFT)

        def f(u: float) -> float:
            p = self._prior_log(u)
            assert p is not None
            return p + r_at(u)

        a = lo if lo is not None else 0.0
        b = hi if hi is not None else self.u_max
        if f(b) <= log_aim:
            return b
        if f(a) >= log_aim:
            return a
        for _ in range(50):
            m = 0.5 * (a + b)
            if f(m) <= log_aim:
                a = m
            else:
                b = m
        return 0.5 * (a + b)

    def _guess(self, target: float) -> float | None:
        q = self.codec.initial_guess(target, self.width, self.height)
        if q is None:
            return None
        q = min(max(q, self.codec.quality.minimum), self.codec.quality.maximum)
        u = self.u_of(q)
        return None if self._known(u) else u

    def _known(self, u: float) -> bool:
        return (float(round(u)) if self.discrete else u) in self.trials

    def _slope(self, us: list[float]) -> float:
        """d log(bpp) / dx from two trials, or a prior spanning 2**6 over the knob's range."""
        if len(us) == 2 and us[0] != us[1]:
            a, b = self.trials[us[0]], self.trials[us[1]]
            s = (math.log(b.bpp) - math.log(a.bpp)) / (self._x(us[1]) - self._x(us[0]))
            if s > 1e-6:
                return s
        return PRIOR_LOG_SPAN / (self._x(self.u_max) - self._x(0.0))

    def _propose(self, target: float, lo: float | None, hi: float | None, bisect: bool) -> float:
        lt = self._aim(target)
        nearest = self.tolerance > 0  # aiming at a band's middle: round to the closest level
        if lo is not None and hi is not None:
            # bisect when interpolation keeps landing on one side
            if bisect:
                u = 0.5 * (lo + hi)
            elif self._prior_ok:
                u = self._model_u(lt, lo, hi)
            else:
                u = self._interpolate(lt, lo, hi)
            if self.discrete:
                u = float(round(u)) if nearest else float(math.floor(u + 1e-9))
                u = min(max(u, lo + 1), hi - 1)
            else:
                margin = 0.02 * (hi - lo)
                u = min(max(u, lo + margin), hi - margin)
            return u
        guess = self._guess(target if self.tolerance == 0 else math.exp(lt))
        if guess is not None and (lo is None or guess > lo) and (hi is None or guess < hi):
            return guess
        if self._prior_ok:
            u = self._model_u(lt, lo, hi)
            if self.discrete:
                if nearest:
                    u = float(round(u))
                else:  # step past the side already known
                    u = float(math.ceil(u - 1e-9) if hi is None else math.floor(u + 1e-9))
                if lo is not None:
                    u = max(u, lo + 1)
                if hi is not None:
                    u = min(u, hi - 1)
            return float(min(max(u, 0.0), self.u_max))
        if lo is None and hi is None:
            q = self.codec.quality.default
            return self.u_of(q) if q is not None else 0.5 * self.u_max
        us = sorted(self.trials)
        if hi is None:  # every trial is below the target: step up along the rate axis
            assert lo is not None
            x = self._x(lo) + (lt - math.log(self.trials[lo].bpp)) / self._slope(
                [u for u in us if u <= lo][-2:]
            )
            u = self._u_at_x(x, lo, self.u_max) if x < self._x(self.u_max) else self.u_max
            return float(min(math.ceil(u - 1e-9), self.u_max)) if self.discrete else u
        x = self._x(hi) - (math.log(self.trials[hi].bpp) - lt) / self._slope(
            [u for u in us if u >= hi][:2]
        )
        u = self._u_at_x(x, 0.0, hi) if x > self._x(0.0) else 0.0
        return float(max(math.floor(u + 1e-9), 0.0)) if self.discrete else u
