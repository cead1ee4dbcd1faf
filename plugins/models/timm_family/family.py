"""``--model timm:NAME --weights ...`` → a loaded model: the one place that decides which
weights source applies and that the class count fits the dataset."""

from __future__ import annotations

from pathlib import Path

from lossybench.errors import ModelError
from lossybench.kits.device import resolve_device
from lossybench.kits.tensors import channels_last
from lossybench.model import LoadedModel, ModelFamily, WeightsInfo
from lossybench.plugins.models.timm_family.checkpoint import (
    classifier_outputs,
    load_into,
    read_checkpoint,
)
from lossybench.plugins.models.timm_family.lukemelas import LUKEMELAS_TARGETS, remap_lukemelas
from lossybench.plugins.models.timm_family.model import TimmModel
from lossybench.plugins.models.timm_family.names import check_name
from lossybench.plugins.models.timm_family.package_weights import package_file
from lossybench.plugins.models.timm_family.preprocessing import (
    WEIGHTS_PREPROCESSING,
    make_transform,
    saved_preprocessing,
)
from lossybench.plugins.models.timm_family.pretrained import build_pretrained


class TimmFamily(ModelFamily):
    name = "timm"
    description = "timm image classifiers (pretrained, random, checkpoint or package weights)"
    tasks = ("classification",)

    def build(
        self,
        model: str,
        task: str,
        weights: str | None = None,
        device: str = "cpu",
        num_classes: int | None = None,
    ) -> LoadedModel:
        if task not in self.tasks:
            raise ModelError(f"timm models serve classification only, not {task!r}")
        import timm

        check_name(model)
        device = str(resolve_device(device))
        override = None
        if weights == "random":
            kwargs = {"num_classes": num_classes} if num_classes else {}
            net = timm.create_model(model, pretrained=False, **kwargs)
            info = WeightsInfo(source="random")
        elif weights is None:
            net, info = build_pretrained(model)
        else:
            if weights.startswith("package:"):
                source, path = package_file(weights)
            else:
                path = Path(weights).expanduser()
                if not path.is_file():
                    raise ModelError(f"--weights {weights}: no such file (give a checkpoint "
                                     "path, 'random', or package:DIST/PATH)")
                source = weights
            state, _, extras = read_checkpoint(path)
            kwargs = {}
            outputs = classifier_outputs(model, state)
            if outputs:
                kwargs["num_classes"] = outputs
            net = timm.create_model(model, pretrained=False, **kwargs)
            if "_conv_stem.weight" in state:
                arch = model.split(".")[0]
                if arch not in LUKEMELAS_TARGETS:
                    raise ModelError(
                        f"{path} is an EfficientNet-PyTorch (lukemelas) state dict; it maps "
                        f"onto {', '.join('timm:' + t for t in LUKEMELAS_TARGETS)} "
                        "(TF 'SAME' padding, BatchNorm eps 1e-3), not timm:" + model
                    )
                state = remap_lukemelas(state, net)
            load_into(net, state, path, model)
            info = WeightsInfo.from_file(source, path)
            override = WEIGHTS_PREPROCESSING.get(info.sha256 or "") or saved_preprocessing(
                extras
            )
        outputs = getattr(net, "num_classes", None)
        if num_classes and outputs and num_classes > outputs:
            raise ModelError(
                f"the dataset has {num_classes} classes but timm:{model} with these weights "
                f"predicts {outputs}; labels ≥ {outputs} could never be right "
                "(use weights trained on this label set, or --weights random)"
            )
        channels_last(net.eval().to(device))
        transform, desc = make_transform(net, override)
        return TimmModel(
            family=self.name,
            name=model,
            task=task,
            weights=info,
            preprocessing=desc,
            device=device,
            net=net,
            transform=transform,
        )
