"""The offline demonstration of issue 6 at CI size: the reference models on the scenes.

Its own file, marked ``longest``, so that `pytest -n 2 --dist loadfile` starts these two
long finetunes (segmenter ~5 min, detector ~75 s on one core; first generating the 4000
training scenes if no earlier run did) at once, beside the rest of the suite.
"""

from __future__ import annotations

from typing import Any

import pytest

from lossybench.engine.finetune.config import make_config
from lossybench.engine.finetune.execute import finetune
from lossybench.engine.finetune.resolve import resolve

pytestmark = pytest.mark.longest

# -- the offline demonstration, CI-sized -----------------------------------------------------
#: The CI-sized demonstration (the full one is in docs/finetune.md): the first SCENES_VAL
#: validation scenes, the settings both reference models share, then each model's own.
SCENES_VAL = 40
SCENES_SETTINGS: dict[str, Any] = {
    "codecs": ["jpeg"], "bpp_range": (0.1, 0.3), "eval_bpp": [0.1], "clean_fraction": 0.5,
    "augment": "dihedral", "lr": 3e-4, "batch_size": 8, "bf16": True,
    "workers": 0, "threads": 1, "rate_tolerance": 0.0,
}
#: Segmenter: the recipe that meets the issue's targets (all 4000 training scenes,
#: 300 steps, BatchNorm statistics following the batches; ~5 min on one core).
#: Detector: a short run (200 scenes, 40 steps), since no recipe meets them yet.
SCENES_RUNS: dict[str, dict[str, Any]] = {
    "segmentation": {"train_dataset": "scenes-segmentation:train", "steps": 300,
                     "freeze_bn": False},
    "detection": {"train_dataset": "scenes-detection:train,images=200", "steps": 40},
}
#: What the CI-sized runs reliably achieve (measured: see docs/finetune.md), with margin:
#: (least recovered fraction, least clean change).
SCENES_ACHIEVED = {"segmentation": (0.5, -0.02), "detection": (0.1, -0.10)}
#: The issue's targets (docs/finetune.md, "Offline demonstration").
TARGET_RECOVERED, TARGET_CLEAN_CHANGE = 0.5, -0.02


@pytest.fixture(scope="module", params=["segmentation", "detection"])
def scenes_finetune(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                    registry) -> tuple[str, dict[str, Any]]:
    """One CI-sized finetune of each reference model: JPEG 0.1–0.3 bpp, scored at 0.1.

    JPEG cannot go below ~0.21 bpp on these 320×320 scenes, so the 0.1 target is its
    lowest setting (flagged too_low), exactly as `bench run` scores it. The metrics are
    the real evaluators' (mIoU; COCO mAP over the first SCENES_VAL validation scenes).
    """
    task = request.param
    name = {"segmentation": "scenes-segmenter", "detection": "scenes-detector"}[task]
    cfg = make_config({
        "task": task, "model": f"reference:{name}", "val_dataset": f"scenes-{task}",
        "eval_limit": SCENES_VAL, **SCENES_SETTINGS, **SCENES_RUNS[task],
        "out": str(tmp_path_factory.mktemp(f"ft-{task}")),
    })
    return task, finetune(resolve(cfg, registry)).report["summary"]


def test_scenes_finetune_wins_back_part_of_the_jpeg_drop(scenes_finetune) -> None:
    task, s = scenes_finetune
    (point,) = s["points"]
    assert point["drop"] > 0.1  # JPEG at its floor costs either model > 10 points
    least_recovered, least_clean_change = SCENES_ACHIEVED[task]
    assert point["recovered_fraction"] >= least_recovered, s
    assert s["clean_change"] >= least_clean_change, s


def test_scenes_finetune_meets_the_issue_targets(
    scenes_finetune, request: pytest.FixtureRequest
) -> None:
    task, s = scenes_finetune
    if task == "detection":
        # strict: turns red, to be promoted, the day a CI-sized detector run meets them
        request.applymarker(pytest.mark.xfail(
            strict=True, reason="the detector recipe that meets them (54 % of JPEG's floor "
            "drop for 1.0 clean point) trains 4800 steps, 98 min on 2 cores, not CI's 40: "
            "see docs/finetune.md"))
    (point,) = s["points"]
    assert point["recovered_fraction"] >= TARGET_RECOVERED, s
    assert s["clean_change"] >= TARGET_CLEAN_CHANGE, s
