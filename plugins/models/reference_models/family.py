"""``--model reference:NAME --weights ...`` → a loaded model: the one place that checks
the name, task and class count against what the reference models were trained for."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from lossybench.errors import ModelError
from lossybench.kits.device import resolve_device
from lossybench.model import LoadedModel, ModelFamily, WeightsInfo
from lossybench.plugins.models.reference_models.architecture import (
    BUILDERS,
    DETECTOR_SIZE,
    MEAN,
    NUM_CLASSES,
    STD,
)
from lossybench.plugins.models.reference_models.model import ReferenceModel
from lossybench.plugins.models.reference_models.weights import (
    MODELS,
    load_state,
    read_state,
    shipped_path,
)


class ReferenceFamily(ModelFamily):
    name = "reference"
    description = "detector and segmenter trained on the procedural scenes (weights shipped)"
    tasks = ("detection", "segmentation")

    def build(
        self,
        model: str,
        task: str,
        weights: str | None = None,
        device: str = "cpu",
        num_classes: int | None = None,
    ) -> LoadedModel:

        spec = MODELS.get(model)
        if spec is None:
            close = difflib.get_close_matches(model, list(MODELS), n=3, cutoff=0.4)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ModelError(
                f"no reference model {model!r}{hint} (have {', '.join(MODELS)})"
            )
        if task != spec.task:
            raise ModelError(
                f"reference:{model} is a {spec.task} model, not a {task} model; use --task "
                f"{spec.task} or reference:"
                + next((n for n, s in MODELS.items() if s.task == task), "?")
            )
        if num_classes is not None and num_classes != NUM_CLASSES:
            raise ModelError(
                f"reference:{model} predicts the scenes classes ({NUM_CLASSES} outputs) but the "
                f"dataset needs {num_classes}; use it with --dataset scenes-{task}"
            )
        dev = resolve_device(device)
        net = BUILDERS[task]()
        if weights == "random":
            info = WeightsInfo(source="random")
        else:
            if weights is None:
                path = shipped_path(model)
                source = f"package:lossybench/plugins/models/weights/{spec.file}"
            else:
                path = Path(weights).expanduser()
                source = str(path)
            load_state(net, read_state(path), path, model)
            info = WeightsInfo.from_file(source, path)
        net.eval().to(dev)
        preprocessing: dict[str, Any] = {
            "input": "RGB float in [0, 1]",
            "mean": list(MEAN),
            "std": list(STD),
            "architecture": spec.architecture,
        }
        if task == "detection":
            preprocessing["resize"] = f"shorter side to {DETECTOR_SIZE} (longer <= {DETECTOR_SIZE})"
            preprocessing["score_threshold"] = 0.05
        else:
            preprocessing["resize"] = "none (native resolution)"
        return ReferenceModel(
            family=self.name,
            name=model,
            task=task,
            weights=info,
            preprocessing=preprocessing,
            device=str(dev),
            net=net,
        )
