"""`bench finetune --seeds N`: the spread of every figure, computed by hand here."""

from __future__ import annotations

import math

import pytest

from lossybench.engine.finetune.config import make_config
from lossybench.engine.finetune.seeds import mean_std, seed_configs, spread


def _report(seed: int, clean_before: float, clean_after: float, before: float,
            after: float) -> dict:
    drop = clean_before - before
    return {
        "config": {"seed": seed, "out": f"ft/seed-{seed}"},
        "summary": {
            "headline": "miou",
            "clean_before": clean_before,
            "clean_after": clean_after,
            "clean_change": clean_after - clean_before,
            "points": [{"codec": "jpeg", "target": 0.1, "bpp_mean": 0.19, "before": before,
                        "after": after, "drop": drop,
                        "recovered_fraction": (after - before) / drop}],
        },
    }


def test_spread_is_mean_and_sample_std() -> None:
    reports = [_report(0, 0.70, 0.646, 0.40, 0.574), _report(1, 0.70, 0.651, 0.40, 0.562),
               _report(2, 0.70, 0.638, 0.40, 0.568)]
    data = spread(reports)
    change = data["clean_change"]
    # by hand: changes -0.054, -0.049, -0.062 → mean -0.055, std sqrt(((.001)²+(.006)²+(.007)²)/2)
    assert change["mean"] == pytest.approx(-0.055)
    assert change["std"] == pytest.approx(math.sqrt((0.001**2 + 0.006**2 + 0.007**2) / 2))
    assert change["n"] == 3
    rec = data["points"][0]["recovered_fraction"]
    assert rec["values"] == pytest.approx([0.58, 0.54, 0.56])
    assert rec["mean"] == pytest.approx(0.56) and rec["std"] == pytest.approx(0.02)
    assert data["seeds"] == [0, 1, 2]
    assert data["points"][0]["change"]["values"] == pytest.approx([0.174, 0.162, 0.168])


def test_undefined_values_are_left_out_and_counted() -> None:
    out = mean_std([0.5, None, float("nan")])
    assert out["mean"] == 0.5 and out["std"] is None and out["n"] == 1


def test_reports_of_other_targets_are_refused() -> None:
    a, b = _report(0, 0.7, 0.6, 0.4, 0.5), _report(1, 0.7, 0.6, 0.4, 0.5)
    b["summary"]["points"][0]["target"] = 0.3
    with pytest.raises(ValueError, match="same codecs and targets"):
        spread([a, b])


def test_seed_configs_get_their_own_folder_and_seed() -> None:
    cfg = make_config({"task": "segmentation", "model": "reference:scenes-segmenter",
                       "train_dataset": "scenes-segmentation:train",
                       "val_dataset": "scenes-segmentation", "codecs": ["jpeg"],
                       "bpp_range": (0.1, 0.3), "steps": 10, "seed": 4, "out": "ft"})
    three = seed_configs(cfg, 3)
    assert [c.seed for c in three] == [4, 5, 6]
    assert [c.out for c in three] == ["ft/seed-4", "ft/seed-5", "ft/seed-6"]
    assert len({c.digest() for c in three}) == 3  # each resumes on its own
    assert seed_configs(cfg, 1) == [cfg]


def test_alpha_and_training_time_are_spread_too() -> None:
    reports = [_report(s, 0.7, 0.68, 0.4, 0.55) for s in range(3)]
    for r, alpha, secs in zip(reports, (1.0, 0.75, 0.5), (300.0, 330.0, 360.0), strict=True):
        r["interpolation"] = {"alpha": alpha}
        r["train"] = {"seconds": secs}
    data = spread(reports)
    assert data["alpha"]["mean"] == pytest.approx(0.75)
    assert data["alpha"]["std"] == pytest.approx(0.25)
    assert data["train_seconds"]["mean"] == pytest.approx(330.0)
    # without --max-clean-drop there is no interpolation: nothing to average
    assert spread([_report(0, 0.7, 0.6, 0.4, 0.5)])["alpha"]["n"] == 0
