"""Rate control against a brute-force oracle on real photos with a real codec."""

from __future__ import annotations

import numpy as np
import pytest

from lossybench.codec import bits_per_pixel
from lossybench.errors import OutOfRangeError
from lossybench.ratecontrol import RateSearch, validate_targets

TARGETS = [0.1, 0.2, 0.3, 0.5, 1.0, 2.0]


def brute_force(codec, image: np.ndarray) -> dict[float, float]:
    h, w = image.shape[:2]
    return {q: bits_per_pixel(codec.encode(image, q), w, h) for q in codec.quality.levels}


@pytest.fixture(scope="module")
def jpeg(registry):
    return registry.codec("jpeg")()


@pytest.fixture(scope="module")
def oracle(jpeg, astronaut, chelsea):
    return {"astronaut": brute_force(jpeg, astronaut), "chelsea": brute_force(jpeg, chelsea)}


@pytest.mark.parametrize("name", ["astronaut", "chelsea"])
def test_floor_policy_matches_exhaustive_search(name, jpeg, oracle, request):
    image = request.getfixturevalue(name)
    table = oracle[name]
    points = RateSearch(jpeg, image).solve(TARGETS)
    for p in points:
        assert p.bpp == table[p.quality]
        assert bits_per_pixel(p.bitstream, image.shape[1], image.shape[0]) == p.bpp
        fitting = [q for q, b in table.items() if b <= p.target]
        if p.status == "ok":
            assert p.bpp <= p.target
            # the answer is the largest level below the first level that overshoots
            first_over = min(q for q, b in table.items() if b > p.target)
            best = max(q for q in fitting if q < first_over)
            assert p.quality == best
        elif p.status == "too_low":
            assert not fitting or min(fitting) > min(table)  # nothing at or below the target
            assert p.quality == min(table)
            assert p.bpp > p.target
        else:
            assert p.quality == max(table)


def test_nearest_policy_picks_closest_adjacent_level(jpeg, astronaut, oracle):
    table = oracle["astronaut"]
    for p in RateSearch(jpeg, astronaut, policy="nearest").solve([0.3, 0.5, 1.0]):
        assert p.status == "ok"
        lower = max(q for q, b in table.items() if b <= p.target)
        candidates = [lower, lower + 1]
        best = min(candidates, key=lambda q: abs(table[q] - p.target))
        assert p.quality == best


def test_unreachable_targets_are_flagged_not_moved(jpeg, astronaut):
    low, high = RateSearch(jpeg, astronaut).solve([0.01, 20.0])
    assert low.status == "too_low" and low.bpp > 0.01 and low.quality == 1
    assert high.status == "too_high" and high.bpp < 20.0 and high.quality == 95


def test_shared_encodes_beat_bisection(jpeg, astronaut, chelsea):
    # plain bisection over 95 levels costs ~7 encodes per target
    for image in (astronaut, chelsea):
        search = RateSearch(jpeg, image)
        search.solve(TARGETS)
        assert search.encodes / len(TARGETS) < 4.5


def test_answers_do_not_depend_on_target_order(jpeg, astronaut):
    a = RateSearch(jpeg, astronaut).solve(TARGETS)
    b = RateSearch(jpeg, astronaut).solve(list(reversed(TARGETS)))
    assert [p.quality for p in a] == [p.quality for p in reversed(b)]


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), 100.0])
def test_out_of_range_targets_are_refused(bad):
    with pytest.raises(OutOfRangeError, match="outside"):
        validate_targets([bad])


def test_unknown_policy_is_refused(jpeg, astronaut):
    with pytest.raises(OutOfRangeError, match="floor"):
        RateSearch(jpeg, astronaut, policy="closest")  # type: ignore[arg-type]
