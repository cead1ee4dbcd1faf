"""torchvision's model zoo (``--model torchvision:NAME``) for classification, detection
and segmentation.

Weights (``--weights``):

* none given → the model's ``DEFAULT`` pretrained weights, read from the torch hub cache
  (``$TORCH_HOME/hub/checkpoints/<file>``). A missing file is downloaded once; when
  that fails (offline machines) the error names the exact file and URL, so the file
  can be copied there by hand;
* ``random`` → random initialisation, backbone included (nothing is downloaded);
* ``PATH`` → a state dict saved with ``torch.save`` (raw, or under ``"model"`` /
  ``"state_dict"``, as training scripts write it).

Preprocessing is always the ``DEFAULT`` weights' own transforms (they need no
download), so random and finetuned models see the same input as the pretrained one.
Predictions follow :class:`lossybench.model.LoadedModel`: classification logits,
detection boxes in original pixels with category-id labels (torchvision's COCO models
use COCO's ids, 91 outputs), and segmentation class maps at the original size.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from lossybench import hookimpl
from lossybench.errors import ModelError
from lossybench.kits.checkpoint import brief_error, read_state_dict, state_mismatches
from lossybench.kits.device import resolve_device
from lossybench.kits.tensors import (
    channels_last,
    detections_as_arrays,
    image_batch,
    same_shape_groups,
    soft_target_divergence,
)
from lossybench.model import LoadedModel, ModelFamily, WeightsInfo
from lossybench.task import TRAIN_IGNORE_INDEX

TASKS = ("classification", "detection", "segmentation")


def task_models() -> dict[str, list[str]]:
    """Builder names per task, from torchvision's own registry."""
    import torchvision.models as tvm

    modules = {
        "classification": tvm,
        "detection": tvm.detection,
        "segmentation": tvm.segmentation,
    }
    return {task: sorted(tvm.list_models(module=mod)) for task, mod in modules.items()}


def check_name(model: str, task: str) -> str:
    """The builder name for ``model`` or a ModelError with close matches / the right task."""
    if task not in TASKS:
        raise ModelError(f"torchvision models serve {', '.join(TASKS)}, not {task!r}")
    names = task_models()
    key = model.lower()
    if key in names[task]:
        return key
    for other, listed in names.items():
        if key in listed:
            raise ModelError(
                f"torchvision:{model} is a {other} model, not a {task} model; "
                f"use --task {other} or pick a {task} model"
            )
    import torchvision.models as tvm

    if key in tvm.list_models():
        raise ModelError(
            f"torchvision:{model} is not a {task} model (it is a video, optical-flow or "
            "quantized model, which lossybench does not run)"
        )
    close = difflib.get_close_matches(key, names[task], n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ModelError(
        f"torchvision has no {task} model {model!r}{hint} "
        f'(`python -c "import torchvision; print(torchvision.models.list_models())"` lists them)'
    )


def default_weights(name: str) -> Any:
    import torchvision.models as tvm

    try:
        return tvm.get_model_weights(name).DEFAULT
    except (ValueError, AttributeError) as exc:
        raise ModelError(f"torchvision:{name} has no pretrained weights: {exc}") from None


def cache_path(weights: Any) -> Path:
    """Where torch.hub keeps (and torchvision reads) the file of a weights enum."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)


def ensure_cached(weights: Any) -> Path:
    """The cached weights file, downloaded first if missing; never a silent failure.

    Downloading here (not inside torchvision's builder) lets us turn any failure —
    no network, a proxy, a hash mismatch — into an error that says which file to put
    where. torch.hub writes through a temporary file, so no partial file remains.
    """
    import torch.hub

    path = cache_path(weights)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    match = torch.hub.HASH_REGEX.search(path.name)
    try:
        torch.hub.download_url_to_file(
            weights.url,
            str(path),
            match.group(1) if match else None,
            progress=sys.stderr.isatty(),
        )
    except Exception as exc:
        raise ModelError(
            f"pretrained weights {weights} are not in the torch hub cache and could not be "
            f"downloaded ({brief_error(exc)}). Fetch {weights.url} on a machine "
            f"with internet access and copy it to {path} (set TORCH_HOME to use another "
            "cache folder), or use --weights PATH / --weights random"
        ) from None
    return path


def infer_num_classes(own: dict[str, Any], state: dict[str, Any], built: int) -> int | None:
    """The class count of a checkpoint whose only difference is the size of its head.

    Head tensors have ``k × num_classes`` rows (k = 1 for a classifier, 4 for a box
    regressor, anchors per location for SSD/RetinaNet), so every differing tensor gives
    ``built × file_rows / model_rows``; they must all agree, else the answer is None.
    """
    _, _, shapes = state_mismatches(own, state)
    found = set()
    for k in shapes:
        a, b = tuple(state[k].shape), tuple(own[k].shape)
        if len(a) != len(b) or a[1:] != b[1:] or not b[0] or (built * a[0]) % b[0]:
            return None
        found.add(built * a[0] // b[0])
    return found.pop() if len(found) == 1 else None


def describe_mismatch(own: dict[str, Any], state: dict[str, Any]) -> str:
    missing, unexpected, shapes = state_mismatches(own, state)
    shown = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in shapes]
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape", shown)):
        if items:
            more = f" (+{len(items) - 3} more)" if len(items) > 3 else ""
            parts.append(f"{len(items)} {label}: {', '.join(items[:3])}{more}")
    return "; ".join(parts)


def describe_transforms(transform: Any, weights: Any, net: Any) -> dict[str, Any]:
    """JSON facts about preprocessing, for results: what the model actually saw."""
    out: dict[str, Any] = {"transforms": str(transform), "from": str(weights)}
    for attr in ("resize_size", "crop_size", "mean", "std", "interpolation", "antialias"):
        value = getattr(transform, attr, None)
        if value is not None:
            out[attr] = getattr(value, "value", value)
    inner = getattr(net, "transform", None)  # detection models resize and normalise inside
    if inner is not None:
        out["model_transform"] = str(inner)
        for attr in ("min_size", "max_size", "image_mean", "image_std", "fixed_size"):
            value = getattr(inner, attr, None)
            if value is not None:
                out[attr] = list(value) if isinstance(value, tuple) else value
    return out


def _by_shape(inputs: Sequence[Any], run: Callable[[Any], list[Any]]) -> list[Any]:
    """Run equal-shaped inputs as one batch each, results back in input order."""

    out: list[Any] = [None] * len(inputs)
    for idx in same_shape_groups(inputs):
        for i, r in zip(idx, run(image_batch([inputs[i] for i in idx], "cpu")), strict=True):
            out[i] = r
    return out


@dataclass
class TorchvisionModel(LoadedModel):
    """A torchvision network in eval mode plus its weights' preprocessing transform."""

    net: Any = field(default=None, repr=False)
    transform: Any = field(default=None, repr=False)

    def preprocess(self, image: np.ndarray) -> Any:
        import torch

        # a copy: decoded images may be read-only arrays, which torch warns about
        x = torch.tensor(np.asarray(image, dtype=np.uint8)).permute(2, 0, 1)
        return self.transform(x)

    def forward(self, inputs: Sequence[Any], sizes: Sequence[tuple[int, int]]) -> list[Any]:
        import torch

        if not inputs:
            return []
        with torch.inference_mode():
            if self.task == "detection":
                return self._detect(inputs)
            if self.task == "segmentation":
                return self._segment(inputs, sizes)
            return _by_shape(inputs, self._classify)

    def _classify(self, batch: Any) -> list[np.ndarray]:
        logits = self.net(batch.to(self.device))
        return list(logits.float().cpu().numpy())

    def _detect(self, inputs: Sequence[Any]) -> list[dict[str, np.ndarray]]:
        # Original-size images in, boxes in their pixels out: the model's own
        # transform resizes and maps boxes back.
        return detections_as_arrays(self.net([x.to(self.device) for x in inputs]))

    def _segment(self, inputs: Sequence[Any], sizes: Sequence[tuple[int, int]]) -> list[np.ndarray]:
        import torch.nn.functional as F

        logits = _by_shape(inputs, lambda b: list(self.net(b.to(self.device))["out"]))
        return [
            F.interpolate(lg[None].float(), size=tuple(hw), mode="bilinear", align_corners=False)[0]
            .argmax(0)
            .cpu()
            .numpy()
            for lg, hw in zip(logits, sizes, strict=True)
        ]


    # -- training API (bench finetune) ---------------------------------------------------
    def trainable(self) -> Any:
        return self.net

    def loss(self, inputs: Sequence[Any], targets: Sequence[Any]) -> Any:
        """The loss torchvision's own training references use for each task.

        classification: cross-entropy; detection: the sum of the model's loss dict
        (``model(images, targets)`` in train mode, original-size images: the model
        resizes images and boxes itself); segmentation: pixel cross-entropy on ``out``
        plus 0.5 × the ``aux`` head's, ignoring :data:`TRAIN_IGNORE_INDEX`.
        Inputs of different sizes run as one sub-batch per size, weighted by its share.
        """
        import torch

        if self.task == "detection":
            dev = self.device
            losses = self.net(
                [x.to(dev) for x in inputs],
                [{k: v.to(dev) for k, v in t.items()} for t in targets],
            )
            return torch.stack([v.float() for v in losses.values()]).sum()
        return self._dense_or_class_loss(inputs, targets)

    def distills(self) -> bool:
        return self.task != "detection"

    def distillation_loss(
        self, inputs: Sequence[Any], targets: Sequence[Any], references: Sequence[Any],
        teacher: Any, weight: float,
    ) -> Any:
        """:meth:`loss` + ``weight`` × KL to the teacher's logits (segmentation: ``out``)."""
        if not self.distills():
            return super().distillation_loss(inputs, targets, references, teacher, weight)
        return self._dense_or_class_loss(inputs, targets, references, teacher, weight)

    def _dense_or_class_loss(
        self, inputs: Sequence[Any], targets: Sequence[Any],
        references: Sequence[Any] | None = None, teacher: Any = None, weight: float = 0.0,
    ) -> Any:
        import torch

        total: Any = 0.0
        for idx in same_shape_groups(inputs):
            y = torch.stack([torch.as_tensor(targets[i]) for i in idx]).to(self.device)
            out = self.net(image_batch([inputs[i] for i in idx], self.device))
            if self.task == "classification":
                part = torch.nn.functional.cross_entropy(out.float(), y)
                logits = out
            else:
                part = pixel_cross_entropy(out["out"], y)
                if out.get("aux") is not None:
                    part = part + 0.5 * pixel_cross_entropy(out["aux"], y)
                logits = out["out"]
            if teacher is not None and references is not None:
                with torch.no_grad():
                    soft = teacher(image_batch([references[i] for i in idx], self.device))
                soft = soft if self.task == "classification" else soft["out"]
                part = part + weight * soft_target_divergence(logits, soft)
            total = total + part * (len(idx) / len(inputs))
        return total


def pixel_cross_entropy(logits: Any, labels: Any) -> Any:
    """Mean cross-entropy over non-ignored pixels (0, not NaN, when all are ignored)."""
    import torch.nn.functional as F

    if logits.shape[-2:] != labels.shape[-2:]:
        logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear",
                               align_corners=False)
    total = F.cross_entropy(logits.float(), labels, ignore_index=TRAIN_IGNORE_INDEX,
                            reduction="sum")
    return total / (labels != TRAIN_IGNORE_INDEX).sum().clamp(min=1)


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


@hookimpl
def lossybench_models() -> list[type[ModelFamily]]:
    return [TorchvisionFamily]
