"""The board's ranking on the common rate range, the 95 %/99 % rates and BD-rate.

Every formula is checked against an answer computed independently: by hand on curves
with a closed form (log-linear curves, constant rate factors), by a dense-grid scan of
scipy's PCHIP, or by the classic VCEG-M33 cubic-polynomial Bjøntegaard formula.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from leaderboard_fixtures.factory import DATASET_SHA, make_result, toy_registry
from scipy.interpolate import PchipInterpolator

from lossybench.leaderboard.bdrate import bd_rate, front
from lossybench.leaderboard.board import (
    Board,
    BoardEntry,
    CurvePoint,
    Provenance,
    Source,
    entry_id,
)
from lossybench.leaderboard.bootstrap import Interval, bootstrap, interval_of, resampled_curves
from lossybench.leaderboard.common import common_range, common_score
from lossybench.leaderboard.formats import Bootstrap
from lossybench.leaderboard.ranking import board_views
from lossybench.leaderboard.render import render_html, render_markdown
from lossybench.leaderboard.thresholds import Keep, keep_bpp, threshold

B = [0.1, 0.2, 0.4, 0.8, 1.6]


# -- the rate that keeps 95 % / 99 % of the clean metric -------------------------------
def test_threshold_on_a_log_linear_curve_is_its_closed_form() -> None:
    # metric = a + s·log2(bpp): PCHIP reproduces a straight line, so the level
    # L = f·clean is crossed at log2(bpp) = (L − a) / s exactly
    a, s, clean = 0.8, 0.05, 0.85
    m = [a + s * math.log2(b) for b in B]
    got = keep_bpp(B, m, clean, 0.95)
    assert got.bound == "" and got.bpp == pytest.approx(2 ** ((0.95 * clean - a) / s), rel=1e-12)
    assert got.bpp == pytest.approx(2 ** 0.15, rel=1e-12)  # by hand: (0.8075 − 0.8) / 0.05
    # 99 % of 0.85 = 0.8415 is above the curve's highest point (0.8 + 0.05·log2 1.6 = 0.834)
    assert keep_bpp(B, m, clean, 0.99) == Keep(1.6, "above")
    assert keep_bpp(B, m, clean, 0.99).text() == "> 1.6"
    # a clean metric the curve keeps 95 % of everywhere: at most the lowest measured rate
    # (the lowest point, 0.8 + 0.05·log2 0.1 = 0.634, is above 95 % of 0.6 = 0.57)
    assert keep_bpp(B, m, 0.6, 0.95) == Keep(0.1, "below")
    assert keep_bpp(B, m, 0.6, 0.95).text() == "≤ 0.1"
    assert keep_bpp(B, m, 0.0, 0.95).bpp is None
    assert keep_bpp([0.5], [0.8], 0.8, 0.95).reason.startswith("needs at least 2")


def _grid_threshold(b: list[float], m: list[float], level: float) -> float:
    """Independent oracle: scan scipy's PCHIP on a fine log2 grid from the top down."""
    x = np.linspace(math.log2(b[0]), math.log2(b[-1]), 200_001)
    y = PchipInterpolator(np.log2(b), m)(x)
    bad = np.nonzero(y < level)[0]
    return float(2 ** x[bad[-1]]) if len(bad) else b[0]


def test_threshold_is_the_first_crossing_from_above() -> None:
    # a dip at 0.2 bpp: the curve recovers above the level only from (0.2, 0.4) upwards
    b, m = [0.1, 0.2, 0.4, 0.8], [0.96, 0.5, 0.955, 0.97]
    got = keep_bpp(b, m, 1.0, 0.95)
    assert 0.2 < got.bpp < 0.4 and got.bpp == pytest.approx(_grid_threshold(b, m, 0.95),
                                                            rel=1e-4)
    rng = random.Random(3)
    for _ in range(30):
        b = sorted(rng.uniform(0.08, 2.5) for _ in range(6))
        m = [min(1.0, 0.3 + 0.25 * math.log2(1 + v) + rng.gauss(0, 0.04)) for v in b]
        clean = max(m) * rng.uniform(0.98, 1.04)
        got = keep_bpp(b, m, clean, 0.95)
        want = _grid_threshold(b, m, 0.95 * clean)
        if got.bound == "above":
            assert m[-1] < 0.95 * clean
        elif got.bound == "below":
            assert min(m) >= 0.95 * clean and want == b[0]
        else:
            assert got.bpp == pytest.approx(want, rel=2e-4)


def test_threshold_interval_reads_bounds_as_bounds() -> None:
    b, m = [0.2, 0.4, 0.8, 1.6], [0.5, 0.7, 0.8, 0.82]
    # resamples: 60 % cross between 0.2 and 0.4, 20 % keep the level at every rate,
    # 20 % never reach it: the 2.5th and 97.5th percentiles are the bounds
    resamples = ([(0.8, b, [0.5, 0.7 + k / 1000, 0.8, 0.82]) for k in range(60)]
                 + [(0.8, b, [0.79, 0.8, 0.8, 0.82])] * 20 + [(0.8, b, [0.5, 0.6, 0.7, 0.7])] * 20)
    t = threshold(b, m, 0.8, 0.95, resamples)
    assert t.value.bound == "" and 0.4 < t.value.bpp < 0.8
    assert t.low == Keep(0.2, "below") and t.high == Keep(1.6, "above")
    assert t.text() == f"{t.value.bpp:.3g} [≤ 0.2, > 1.6]"
    lo, hi, why = interval_of([1.0, 2.0, None, 3.0])
    assert (lo, hi) == (pytest.approx(1.05), pytest.approx(2.95)) and "1 of 4" in why
    assert interval_of([1.0, None, None])[0] is None


# -- BD-rate ---------------------------------------------------------------------------
REF = (B, [0.5, 0.6, 0.7, 0.75, 0.78])


@pytest.mark.parametrize("factor", [0.8, 0.5, 1.25])
def test_bd_rate_of_a_constant_rate_factor_is_that_factor(factor: float) -> None:
    test = ([factor * b for b in REF[0]], REF[1])
    got, why = bd_rate(test, REF)
    assert why == "" and got == pytest.approx(factor - 1, abs=1e-12)
    assert bd_rate(REF, test)[0] == pytest.approx(1 / factor - 1, abs=1e-12)


def test_bd_rate_with_partial_overlap_by_hand() -> None:
    # ln r = a + s·m for both (PCHIP reproduces a line), metric ranges [0.5, 0.8] and
    # [0.6, 0.9]: the mean of Δ ln r over the overlap [0.6, 0.8] is
    # (a2 − a1) + (s2 − s1)·0.7, so BD-rate = exp(that) − 1
    m1, m2 = [0.5, 0.6, 0.7, 0.8], [0.6, 0.7, 0.8, 0.9]
    ref = ([math.exp(-6 + 6 * m) for m in m1], m1)
    test = ([math.exp(-5 + 4 * m) for m in m2], m2)
    got, _ = bd_rate(test, ref)
    assert got == pytest.approx(math.expm1((-5 + 6) + (4 - 6) * 0.7), abs=1e-12)


def _classic_bd_rate(test: tuple[list[float], list[float]],
                     ref: tuple[list[float], list[float]]) -> float:
    """VCEG-M33 (Bjøntegaard 2001): cubic polynomial of log-rate in the metric."""
    p1 = np.polyint(np.polyfit(ref[1], np.log(ref[0]), 3))
    p2 = np.polyint(np.polyfit(test[1], np.log(test[0]), 3))
    lo, hi = max(min(ref[1]), min(test[1])), min(max(ref[1]), max(test[1]))
    avg = (np.polyval(p2, hi) - np.polyval(p2, lo) - np.polyval(p1, hi) + np.polyval(p1, lo))
    return float(np.expm1(avg / (hi - lo)))


def test_bd_rate_on_saturating_curves_with_a_known_ratio() -> None:
    # metric = 0.8·(1 − exp(−bpp/τ)): at every metric level the rate is proportional to
    # τ, so the test codec (τ = 0.17) needs 0.17 / 0.25 of the reference's bits
    rates = [0.1, 0.2, 0.3, 0.5, 1.0, 2.0]
    ref = (rates, [0.8 * (1 - math.exp(-b / 0.25)) for b in rates])
    test = (rates, [0.8 * (1 - math.exp(-b / 0.17)) for b in rates])
    got, _ = bd_rate(test, ref)
    assert got == pytest.approx(0.17 / 0.25 - 1, abs=0.005)
    # the classic cubic polynomial is 5 points off here: why PCHIP is used
    assert abs(_classic_bd_rate(test, ref) - (0.17 / 0.25 - 1)) > 0.04


def test_bd_rate_agrees_with_the_classic_cubic_where_that_is_exact() -> None:
    # ln r an exact cubic of the metric: VCEG-M33's fit is exact; the answer by hand is
    # exp(mean over [0.5, 0.85] of (−0.3 + 0.2·(m − 0.7)²)) − 1
    m = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85]
    ref = ([math.exp(-2 + 3 * v + v ** 3) for v in m], m)
    test = ([math.exp(-2.3 + 3 * v + v ** 3 + 0.2 * (v - 0.7) ** 2) for v in m], m)
    lo, hi = 0.5, 0.85
    exact = math.expm1(-0.3 + 0.2 * ((hi - 0.7) ** 3 - (lo - 0.7) ** 3) / 3 / (hi - lo))
    assert _classic_bd_rate(test, ref) == pytest.approx(exact, abs=1e-9)
    assert bd_rate(test, ref)[0] == pytest.approx(exact, abs=2e-3)


def test_bd_rate_is_undefined_rather_than_extrapolated() -> None:
    got, why = bd_rate(([0.1, 0.5, 2.0], [0.5, 0.6, 0.7]), REF)
    assert got is None and "3 of 3 points" in why and "needs 4" in why
    high = ([0.5, 0.8, 1.2, 2.0], [0.8, 0.85, 0.9, 0.95])
    got, why = bd_rate(high, REF)
    assert got is None and "do not overlap" in why
    # the front drops points that do not beat a lower rate's metric (noise, saturation)
    assert front([0.1, 0.2, 0.4, 0.8, 1.6], [0.5, 0.45, 0.7, 0.7, 0.72]) == (
        [0.1, 0.4, 1.6], [0.5, 0.7, 0.72])
    got, why = bd_rate(([0.1, 0.2, 0.4, 0.8, 1.6], [0.5, 0.45, 0.7, 0.7, 0.72]), REF)
    assert got is None and "3 of 5 points on its rate–metric front" in why


# -- the common range ------------------------------------------------------------------
def test_common_range_is_the_intersection() -> None:
    cr = common_range({"a": [0.09, 0.2, 0.5, 1.0, 1.95], "b": [0.19, 0.3, 0.5, 1.0, 1.9],
                       "c": [0.1, 0.5, 1.0, 2.3]})
    assert (cr.lo, cr.hi) == (0.19, 1.9) and sorted(cr.members) == ["a", "b", "c"]
    assert not cr.left_out and cr.note == ""
    # the score on it: a line in log2(bpp) averages to its mid-range value
    lo, hi = 0.15, 1.2
    m = [0.4 + 0.1 * math.log2(b) for b in B]
    want = (0.4 + 0.1 * (math.log2(lo) + math.log2(hi)) / 2) / 0.8
    assert common_score(B, m, 0.8, lo, hi)[0] == pytest.approx(want, rel=1e-12)


def test_a_narrow_or_empty_common_range_ranks_what_it_can_and_says_so() -> None:
    cr = common_range({"a": [0.1, 0.2, 0.5, 1.0], "b": [0.12, 0.3, 0.6, 0.9],
                       "c": [0.8, 1.5, 3.0], "d": [0.5]})
    # a–b share 0.12–0.9 bpp; c shares at most 0.8–1.0 (one point of b inside): left out
    assert (cr.lo, cr.hi) == (0.12, 0.9) and sorted(cr.members) == ["a", "b"]
    assert "does not hold 2 points" in cr.left_out["c"]
    assert "needs at least 2 points" in cr.left_out["d"]
    assert "2 of 4 entries" in cr.note
    # two disjoint entries: the widest one is ranked alone, the other listed with the reason
    cr = common_range({"a": [0.1, 0.2, 0.4], "b": [1.0, 1.5]})
    assert cr.members == ["a"] and "b" in cr.left_out
    assert common_range({}).lo is None
    # two entries the others cannot share a range with: the wider of the two ranges wins
    cr = common_range({"a": [0.09, 0.2, 0.5, 1.0, 1.95], "b": [0.19, 0.3, 0.5, 1.0, 1.9],
                       "c": [0.1, 0.5, 2.3]})
    assert (cr.lo, cr.hi) == (0.1, 1.95) and sorted(cr.members) == ["a", "c"]


# -- on a board ------------------------------------------------------------------------
def hand_entry(model: str, codec: str, pts: list[tuple[float, float]], clean: float,
               weights: str = "a" * 64) -> BoardEntry:
    eid = entry_id("classification", DATASET_SHA, model, weights, codec)
    return BoardEntry(
        id=eid, task="classification", headline="top1", dataset="imagenet-samples",
        dataset_sha256=DATASET_SHA, images=20, model=model, weights_sha256=weights,
        codec=codec, codec_label=codec, clean={"top1": clean},
        points=[CurvePoint(target=b, bpp_mean=b, bpp_std=0.0, psnr_mean=30.0,
                           metrics={"top1": m}, images=20, failures=0, flagged=0)
                for b, m in pts],
        provenance=Provenance(lossybench="0.1.0", created="2025-01-01T00:00:00Z"),
        source=Source(result="results/" + "d" * 64 + ".json", result_sha256="d" * 64),
        submitted="2025-01-02T00:00:00Z",
    )


def test_jpeg_is_ranked_on_the_common_range() -> None:
    rates = [0.1, 0.2, 0.3, 0.5, 1.0, 2.0]
    jpeg_b = [0.19, 0.21, 0.3, 0.5, 1.0, 1.95]
    acc = [0.55, 0.6, 0.7, 0.78, 0.82, 0.84]
    e = [hand_entry("m:a", "jpeg", list(zip(jpeg_b, acc, strict=True)), 0.85),
         hand_entry("m:a", "webp", [(0.8 * b, m) for b, m in zip(jpeg_b, acc, strict=True)],
                    0.85),
         hand_entry("m:a", "avif", list(zip(rates, [0.6, 0.7, 0.76, 0.8, 0.83, 0.85],
                                            strict=True)), 0.85)]
    (view,) = board_views(e)
    assert view.common_range == (0.19, pytest.approx(0.8 * 1.95))
    rows = {r.codec: r for r in view.rows}
    assert all(r.common_rank is not None for r in rows.values())
    assert rows["jpeg"].rank is None and rows["avif"].rank is not None  # 0.1–2 bpp column
    assert [r.codec for r in view.ranked()][-1] == "jpeg"
    # WebP is JPEG at 0.8× the bits: BD-rate −20 % exactly
    assert rows["webp"].bd_rate == pytest.approx(-0.2, abs=1e-12)
    assert rows["jpeg"].bd_rate_reason == "reference"
    assert rows["jpeg"].keep["0.95"].value.bpp == pytest.approx(
        keep_bpp(jpeg_b, acc, 0.85, 0.95).bpp)
    codecs = {c.codec: c for c in view.codecs}
    assert codecs["webp"].bd_rate_mean == pytest.approx(-0.2)
    assert codecs["webp"].bd_rate_models == {"m:a": pytest.approx(-0.2)}
    d = view.as_dict()
    assert d["common_range"] == (0.19, pytest.approx(1.56)) and d["keep_fractions"] == [0.95,
                                                                                         0.99]
    assert d["ranking"][-1] == rows["jpeg"].id
    page = render_html([view])
    assert "robustness 0.19–1.56 bpp" in page and "95% kept at bpp" in page
    md = render_markdown([view])
    assert "Ranked on the common range 0.19–1.56 bpp" in md and "−20.0%" not in md
    assert "-20.0%" in md


@pytest.fixture(scope="module")
def reg() -> Any:
    return toy_registry()


def test_intervals_from_the_stored_resamples(tmp_path: Path, reg: Any) -> None:
    """The bootstrap keeps each resample's curve; intervals of the new columns come from it."""
    a, _ = make_result(tmp_path, "a", n=30, points=(0.2, 0.3, 0.5, 1.0, 2.0, 2.5))
    board = Board(tmp_path / "board")
    board.init()
    board.add_dataset("imagenet-samples", DATASET_SHA)
    out = board.submit([a], reg, resamples=200, seed=2)
    assert out.ok, [p.line() for r in out.reports for p in r.problems]
    rep = out.reports[0]
    assert rep.result is not None and rep.records is not None and rep.task is not None
    labels = [c.label for c in rep.result.codecs]
    ivs = bootstrap(rep.task, rep.records, labels, list(rep.result.settings.points), 200, 2)
    entries = board.entries()
    stored = {e.codec_label: e for e in entries}
    for lb, iv in ivs.items():
        assert isinstance(iv, Interval) and iv.curves is not None and len(iv.curves) == 200
        assert all(len(row) == 1 + 2 * 6 for row in iv.curves)
        # the board stores the resampled curves: the new columns' intervals come from them
        assert set(iv.as_dict()) == set(Bootstrap.model_fields) & set(iv.as_dict())
        assert stored[lb].bootstrap is not None and stored[lb].bootstrap.low == iv.low
        assert stored[lb].bootstrap.curves == iv.curves
    (view,) = board_views(entries)
    for r in view.rows:
        assert r.common_low is not None and r.common_high is not None
        assert r.common_low <= r.common <= r.common_high
        k = r.keep["0.95"]
        assert k.low is not None and k.high is not None
        lo, hi = (x.log2 for x in (k.low, k.high))
        assert lo is not None and hi is not None and lo <= hi
    # without stored resamples (a board written before they were kept): no interval, and
    # the reason says why
    old = board.entries()
    for e in old:
        assert e.bootstrap is not None
        e.bootstrap.curves = None
    (bare,) = board_views(old)
    assert all(r.common_low is None and "no resampled curves" in r.common_ci_reason
               for r in bare.rows)
    assert resampled_curves(None, 6) == (None, "no per-image records")


def test_the_plain_pchip_is_scipys() -> None:
    """The resample loops' PCHIP against scipy's and the run's own area."""
    from lossybench.engine.aggregate import area_under_curve
    from lossybench.leaderboard.pchip import Pchip, area

    rng = random.Random(5)
    for n in (2, 3, 4, 6, 9):
        for _ in range(20):
            b = sorted(rng.sample([0.05 * k for k in range(1, 60)], n))
            m = [rng.choice([0.3, 0.5, 0.5, 0.7, 0.8, 0.85]) + rng.gauss(0, 0.02) * (n % 2)
                 for _ in b]
            x = [math.log2(v) for v in b]
            ours, ref = Pchip(x, m), PchipInterpolator(x, m)
            for v in np.linspace(x[0], x[-1], 37):
                assert ours(float(v)) == pytest.approx(float(ref(v)), abs=1e-12)
            lo, hi = x[0] + 0.3 * (x[-1] - x[0]), x[-1] - 0.1 * (x[-1] - x[0])
            assert ours.integrate(lo, hi) == pytest.approx(float(ref.integrate(lo, hi)),
                                                           abs=1e-12)
            for a, z in ((b[0] * 1.05, b[-1] * 0.97), (b[0] * 1.5, b[-1] * 0.5)):
                if z <= a:
                    continue
                want, _ = area_under_curve(b, m, a, z, 2)
                got = area(b, m, a, z)
                assert (got is None) == (want is None)
                if want is not None:
                    assert got == pytest.approx(want, abs=1e-12)


def test_entries_that_cannot_be_scored_are_listed_last_with_the_reason() -> None:
    e = [hand_entry("m:a", "jpeg", [(0.2, 0.5), (0.4, 0.7), (0.8, 0.8), (1.6, 0.82)], 0.85),
         hand_entry("m:a", "webp", [(0.15, 0.6), (0.3, 0.75), (0.6, 0.8), (1.2, 0.84)], 0.85),
         hand_entry("m:a", "far", [(3.0, 0.8), (6.0, 0.84)], 0.85),
         hand_entry("m:a", "one", [(0.5, 0.8)], 0.85)]
    (view,) = board_views(e)
    assert view.common_range == (0.2, 1.2)
    order = view.ranked()
    assert [r.codec for r in order[:2]] == ["webp", "jpeg"]
    last = {r.codec: r for r in order[2:]}
    assert set(last) == {"far", "one"} and all(r.common_rank is None for r in last.values())
    assert "does not hold 2 points across the 0.2–1.2 bpp" in last["far"].common_reason
    assert "needs at least 2 points" in last["one"].common_reason
    assert "2 of 4 entries cannot be scored" in view.common_note
    md = render_markdown([view])
    assert "Not ranked (listed last):" in md and "far" in md.split("Not ranked")[1]
