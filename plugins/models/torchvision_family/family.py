"""``--model torchvision:NAME --weights ...`` → a loaded model: the one place that picks
the weights source, fits the head to the dataset and records the preprocessing used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lossybench.errors import ModelError
from lossybench.kits.checkpoint import brief_error, read_state_dict, state_mismatches
from lossybench.kits.device import resolve_device
from lossybench.kits.tensors import channels_last
from lossybench.model import LoadedModel, ModelFamily, WeightsInfo
from lossybench.plugins.models.torchvision_family.checkpoint import (
    describe_mismatch,
    infer_num_classes,
)
from lossybench.plugins.models.torchvision_family.model import TorchvisionModel
from lossybench.plugins.models.torchvision_family.names import TASKS, check_name
from lossybench.plugins.models.torchvision_family.pretrained import default_weights, ensure_cached


def describe_transforms(transform: Any, weights: Any, net: Any) -> dict[str, Any]:
    """JSON facts about preprocessing, for results: what the model actually saw."""
    # one line each: results refuse control characters such as the newlines of a repr
    out: dict[str, Any] = {"transforms": " ".join(str(transform).split()), "from": str(weights)}
    for attr in ("resize_size", "crop_size", "mean", "std", "interpolation", "antialias"):
        value = getattr(transform, attr, None)
        if value is not None:
            out[attr] = getattr(value, "value", value)
    inner = getattr(net, "transform", None)  # detection models resize and normalise inside
    if inner is not None:
        out["model_transform"] = " ".join(str(inner).split())
        for attr in ("min_size", "max_size", "image_mean", "image_std", "fixed_size"):
            value = getattr(inner, attr, None)
            if value is not None:
                out[attr] = list(value) if isinstance(value, tuple) else value
    return out


class TorchvisionFamily(ModelFamily):
    name = "torchvision"
    description = "torchvision model zoo: classification, detection, segmentation"
    tasks = TASKS

    def build(
        self,
        model: str,
        task: str,
        weights: str | None = None,
        device: str = "cpu",
        num_classes: int | None = None,
    ) -> LoadedModel:
        import torchvision.models as tvm

        name = check_name(model, task)
        dev = resolve_device(device)
        default = default_weights(name)
        transform = default.transforms()
        # Detection and segmentation builders fetch ImageNet backbone weights unless told not to.
        extra: dict[str, Any] = {} if task == "classification" else {"weights_backbone": None}

        if weights is None:
            have = len(default.meta.get("categories") or ()) or None
            self._check_outputs(f"pretrained {default}", have, num_classes)
            path = ensure_cached(default)
            try:
                net = tvm.get_model(name, weights=default)
            except Exception as exc:
                raise ModelError(
                    f"the cached weights {path} of {default} do not load "
                    f"({brief_error(exc)}); delete the file to download it again"
                ) from None
            info = WeightsInfo.from_file(f"pretrained:{default}", path)
        elif weights == "random":
            net = self._make(tvm, name, weights=None, num_classes=num_classes, **extra)
            info = WeightsInfo(source="random")
        else:
            path = Path(weights).expanduser()
            state = read_state_dict(path)
            if task == "segmentation" and any(k.startswith("aux_classifier.") for k in state):
                extra["aux_loss"] = True
            net = self._from_checkpoint(tvm, name, state, path, num_classes, default, extra)
            info = WeightsInfo.from_file(str(path), path)

        net.eval().to(dev)
        if task != "detection":  # detection models batch and resize inside: left as they are
            channels_last(net)
        return TorchvisionModel(
            family=self.name,
            name=name,
            task=task,
            weights=info,
            preprocessing=describe_transforms(transform, default, net),
            device=str(dev),
            net=net,
            transform=transform,
        )

    @staticmethod
    def _check_outputs(what: str, have: int | None, need: int | None) -> None:
        """Labels are output indices: a model needs at least ``need`` outputs.

        More is fine (as in the timm family): ImageNet weights on a dataset whose labels
        stop at 973, or COCO's 91 detection outputs on a dataset using a few COCO ids.
        """
        if need is not None and have is not None and have < need:
            raise ModelError(
                f"{what} predicts {have} classes but the dataset needs {need} (labels up to "
                f"{need - 1}); use a checkpoint trained on this label set (--weights PATH) "
                "or --weights random"
            )

    def _from_checkpoint(
        self,
        tvm: Any,
        name: str,
        state: dict[str, Any],
        path: Path,
        num_classes: int | None,
        default: Any,
        extra: dict[str, Any],
    ) -> Any:
        """Build for the dataset's class count; else for the checkpoint's own head size."""
        built = num_classes or len(default.meta.get("categories") or ()) or None
        net = self._make(tvm, name, weights=None, num_classes=built, **extra)
        own = net.state_dict()
        missing, unexpected, shapes = state_mismatches(own, state)
        if shapes and not (missing or unexpected) and built:
            inferred = infer_num_classes(own, state, built)
            if inferred:
                candidate = self._make(tvm, name, weights=None, num_classes=inferred, **extra)
                if not any(state_mismatches(candidate.state_dict(), state)):
                    self._check_outputs(f"{path}", inferred, num_classes)
                    net, own, shapes = candidate, candidate.state_dict(), []
        if missing or unexpected or shapes:
            hint = f" (model built with num_classes={built})" if shapes else ""
            raise ModelError(
                f"{path} does not fit torchvision:{name}: {describe_mismatch(own, state)}{hint}"
            )
        net.load_state_dict(state)
        return net

    @staticmethod
    def _make(tvm: Any, name: str, **kwargs: Any) -> Any:
        """get_model with None-valued num_classes left to the builder's default."""
        if kwargs.get("num_classes") is None:
            kwargs.pop("num_classes", None)
        try:
            return tvm.get_model(name, **kwargs)
        except (ValueError, TypeError, NotImplementedError) as exc:
            raise ModelError(
                f"cannot build torchvision:{name} with {kwargs}: {brief_error(exc)}"
            ) from None
