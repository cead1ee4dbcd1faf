"""The shipped JSON Schema mirrors the pydantic result models, and aggregates are right."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from jsonschema import Draft202012Validator

from lossybench.engine.aggregate import area_under_curve, mean_std, relative_drop, robustness
from lossybench.engine.results import generated_schema, shipped_schema


def test_shipped_schema_is_generated_from_the_models():
    assert shipped_schema() == generated_schema(), "run: python -m lossybench.results"


def test_shipped_schema_is_valid_draft_2020_12():
    schema = shipped_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_bench_schema_prints_it():
    out = subprocess.run([sys.executable, "-m", "lossybench", "schema"], capture_output=True,
                         text=True, check=True, timeout=120).stdout
    assert json.loads(out) == shipped_schema()


def test_area_of_a_flat_curve_is_width_times_value():
    area, reason = area_under_curve([0.1, 0.3, 1.0, 2.0], [0.5] * 4)
    assert reason is None
    assert area == pytest.approx(0.5 * (math.log2(2) - math.log2(0.1)))
    assert robustness(area, 0.5) == pytest.approx(1.0)


def test_area_of_a_linear_curve_in_log2_bpp():
    # metric = log2(bpp): integral of x over [log2 .1, 1] is (1 - log2(.1)^2) / 2
    b = [0.1, 0.25, 0.5, 1.0, 2.0]
    area, _ = area_under_curve(b, [math.log2(x) for x in b])
    lo = math.log2(0.1)
    assert area == pytest.approx((1.0 - lo * lo) / 2, rel=1e-9)


@pytest.mark.parametrize(
    "bpp, reason",
    [([0.2, 0.5, 1.0, 2.0], "covers"), ([0.1, 0.5, 2.0], "at least 4"),
     ([0.1, 0.1, 0.5, 2.0], "at least 4"), ([0.1, 0.3, 0.5, 1.0], "covers")],
)
def test_area_is_undefined_rather_than_extrapolated(bpp, reason):
    area, why = area_under_curve(bpp, [0.5] * len(bpp))
    assert area is None and reason in why


def test_small_helpers():
    assert mean_std([1.0, 3.0]) == (2.0, 1.0)
    assert mean_std([]) == (None, None)
    assert relative_drop(0.8, 0.6) == pytest.approx(0.25)
    assert relative_drop(0.0, 0.6) is None


def test_ends_inside_the_cover_margin_are_held_flat():
    # rate control answers below each target: a "2 bpp" point averaging 1.9 still covers
    area, reason = area_under_curve([0.105, 0.3, 0.5, 1.9], [0.5] * 4)
    assert reason is None
    assert area == pytest.approx(0.5 * (math.log2(2) - math.log2(0.1)))
    assert area_under_curve([0.12, 0.3, 0.5, 1.9], [0.5] * 4)[0] is None
