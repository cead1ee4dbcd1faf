"""The shipped JSON Schema mirrors the pydantic result models, and aggregates are right."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from lossybench.engine.aggregate import area_under_curve, mean_std, relative_drop, robustness
from lossybench.engine.results import (
    RunResult,
    generated_schema,
    load_result,
    shipped_schema,
    string_problem,
)
from lossybench.errors import LossybenchError


def test_shipped_schema_is_generated_from_the_models():
    assert shipped_schema() == generated_schema(), "run: python -m lossybench.engine.results"


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


# -- string rules and required constants (issue 18) ----------------------------------------
REAL = Path(__file__).parent / "leaderboard_fixtures" / "real" / "limit3-jpeg-webp.json"


def test_the_unsafe_characters_cover_every_control_and_format_character():
    """The hard-coded ranges hold every Cc, Cf, Zl, Zp and Co code point of this Python."""
    missed = [f"U+{cp:04X}" for cp in range(0x110000)
              if unicodedata.category(chr(cp)) in ("Cc", "Cf", "Zl", "Zp", "Co")
              and string_problem(chr(cp)) is None]
    assert missed == []
    for fine in ("plain", "Größe", "画像", "🙂", "a b", "C:\\data", "/data/val 2", "{x}", ""):
        assert string_problem(fine) is None, fine
    assert "U+202E RIGHT-TO-LEFT OVERRIDE at character 3" in string_problem("ab\u202ec")
    assert "path traversal" in string_problem("a/../b", name=True)
    assert string_problem("a/../b") is None  # free text may hold a path


def test_a_result_written_before_the_rules_still_loads():
    doc = json.loads(REAL.read_text())
    Draft202012Validator(shipped_schema()).validate(doc)
    assert load_result(REAL).schema_version == "1.0"


def test_a_stored_result_states_its_kind_and_version(tmp_path):
    doc = json.loads(REAL.read_text())
    for key in ("kind", "schema_version"):
        partial = {k: v for k, v in doc.items() if k != key}
        assert not Draft202012Validator(shipped_schema()).is_valid(partial)
        p = tmp_path / f"no-{key}.json"
        p.write_text(json.dumps(partial))
        with pytest.raises(LossybenchError, match=f"'{key}' missing"):
            load_result(p)
        # code that builds a result (bench run) gets the constants filled in
        assert RunResult.model_validate(partial).kind == "run"


# -- provenance (issue 17 §3) -----------------------------------------------------------------
def with_provenance(doc: dict) -> dict:
    """REAL as a result made now records it: commit, plugin statuses, entries' plugins."""
    doc = json.loads(json.dumps(doc))
    origin = {"name": "builtin", "distribution": "lossybench", "version": "0.1.0"}
    doc["lossybench"].update(commit="0123456789abcdef0123456789abcdef01234567", dirty=True)
    doc["lossybench"]["plugins"][0].update(status="loaded")
    doc["lossybench"]["plugins"].append({
        "name": "acme", "distribution": "acme-codec", "version": "1.0", "status": "failed",
        "errors": [{"stage": "lossybench_codecs", "error": "RuntimeError: no licence file"}]})
    doc["environment"].update(cpu="AMD EPYC 9654 96-Core Processor", cores=16, threads=16,
                              cuda="12.4", cudnn="9.1.0", gpu="NVIDIA H200")
    for entry in (doc["task"], doc["model"], doc["dataset"], *doc["codecs"]):
        entry["plugin"] = origin
    doc["model"]["libraries"] = {"timm": "1.0.9", "torchvision": "0.19.1+cu121"}
    return doc


def test_a_result_with_full_provenance_validates(tmp_path):
    doc = with_provenance(json.loads(REAL.read_text()))
    Draft202012Validator(shipped_schema()).validate(doc)
    p = tmp_path / "new.json"
    p.write_text(json.dumps(doc))
    r = load_result(p)
    assert r.lossybench.plugins[-1].errors[0].stage == "lossybench_codecs"
    assert r.codecs[0].plugin.distribution == "lossybench" and r.environment.threads == 16


@pytest.mark.parametrize("path, value", [
    (("lossybench", "commit"), "HEAD"),
    (("lossybench", "dirty"), "maybe"),
    (("lossybench", "plugins", -1, "status"), "broken"),
    (("lossybench", "plugins", -1, "errors", 0, "stage"), "Import Stage"),
    (("lossybench", "plugins", -1, "errors", 0, "error"), "line one\nline two"),
    (("environment", "gpu"), "NVIDIA\u202eH200"),
    (("environment", "threads"), 0),
    (("environment", "cuda"), "12.4 beta"),
    (("model", "libraries"), {"ti mm": "1.0"}),
    (("codecs", 0, "plugin", "name"), "a b"),
    (("dataset", "plugin", "version"), "1.0\u200b"),
], ids=lambda v: str(v)[:30])
def test_provenance_fields_keep_the_string_rules(path, value):
    doc = with_provenance(json.loads(REAL.read_text()))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert not Draft202012Validator(shipped_schema()).is_valid(doc)
    with pytest.raises(ValueError):
        RunResult.model_validate(doc)
