"""Reference models trained on the procedural scenes (``--model reference:NAME``).

No detection or segmentation weights can be downloaded offline, so lossybench ships two
small torchvision networks trained from scratch on the scenes train split
(``scripts/train_reference_models.py``, CPU, seeded; see docs/scenes.md):

* ``scenes-detector`` — torchvision FCOS on a ResNet-18 trunk (conv1…layer3) with an FPN
  (P3–P5, 96 channels) and a 2-conv head; boxes in original pixels, labels = scenes
  category ids 1..6;
* ``scenes-segmenter`` — torchvision LR-ASPP on the same ResNet-18 trunk (low = layer1,
  stride 4; high = layer3, stride 16); an (H, W) class map, 0 = background.

Weights (``--weights``): omitted → the files shipped in ``weights/`` next to this module,
checked against the sha256 recorded here (a missing or altered file is a ModelError,
never a silently different model); ``random`` → untrained; ``PATH`` → a state dict of the
same architecture (e.g. from a finetune), raw or under ``"model"``/``"state_dict"``.
Shipped files are fp16 to stay small; they are loaded as fp32 and run in fp32.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lossybench import hookimpl
from lossybench.errors import ModelError
from lossybench.kits.checkpoint import read_state_dict, state_mismatches
from lossybench.kits.device import resolve_device
from lossybench.kits.tensors import detections_as_arrays, same_shape_groups
from lossybench.model import LoadedModel, ModelFamily, WeightsInfo

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: Scenes classes + background (detection: category ids 1..6, 0 unused).
NUM_CLASSES = 7
#: ImageNet statistics: the usual torchvision normalisation.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
#: Side the detector resizes images to (its training size); the segmenter runs at the
#: image's own resolution.
DETECTOR_SIZE = 320


@dataclass(frozen=True)
class Spec:
    task: str
    file: str
    sha256: str
    architecture: str


MODELS: dict[str, Spec] = {
    "scenes-detector": Spec(
        "detection",
        "scenes-detector.pt",
        "bf666f7cdecd79b99911ddcc0689b8862c7630d673718326c43bb8712e342ed9",
        "torchvision FCOS, ResNet-18 trunk (to layer3) + FPN P3-P5 (96 ch), 2-conv head",
    ),
    "scenes-segmenter": Spec(
        "segmentation",
        "scenes-segmenter.pt",
        "89078d480304dec4b0f2a3b2bc08df1c71ec1c49cce315c0477a241ce8f83cb9",
        "torchvision LR-ASPP, ResNet-18 trunk (low: layer1, high: layer3), 128 ch",
    ),
}


# -- architectures (also used by scripts/train_reference_models.py) ------------------------
def _trunk() -> Any:
    """torchvision ResNet-18 without layer4/fc: stride 16, 2.8 M parameters."""
    import torch.nn as nn
    import torchvision

    net = torchvision.models.resnet18(weights=None)
    net.layer4 = nn.Identity()
    net.fc = nn.Identity()
    return net


def build_detector(num_classes: int = NUM_CLASSES, score_thresh: float = 0.05) -> Any:
    """FCOS with P3 (stride 8), P4 (16) and P5 (32, max-pooled P4)."""
    from torchvision.models.detection import FCOS
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.models.detection.fcos import FCOSHead
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    channels = 96
    backbone = BackboneWithFPN(
        _trunk(),
        return_layers={"layer2": "0", "layer3": "1"},
        in_channels_list=[128, 256],
        out_channels=channels,
        extra_blocks=LastLevelMaxPool(),
    )
    anchors = AnchorGenerator(((8,), (16,), (32,)), ((1.0,),) * 3)
    return FCOS(
        backbone,
        num_classes,
        min_size=DETECTOR_SIZE,
        max_size=DETECTOR_SIZE,
        image_mean=list(MEAN),
        image_std=list(STD),
        anchor_generator=anchors,
        head=FCOSHead(channels, 1, num_classes, num_convs=2),
        score_thresh=score_thresh,
        nms_thresh=0.6,
        detections_per_img=100,
        topk_candidates=1000,
    )


def build_segmenter(num_classes: int = NUM_CLASSES) -> Any:
    """LR-ASPP whose low-level branch reads stride-4 features (thin strokes, small objects)."""
    from torchvision.models._utils import IntermediateLayerGetter
    from torchvision.models.segmentation.lraspp import LRASPP

    backbone = IntermediateLayerGetter(_trunk(), return_layers={"layer1": "low", "layer3": "high"})
    return LRASPP(backbone, low_channels=64, high_channels=256, num_classes=num_classes,
                  inter_channels=128)


BUILDERS = {"detection": build_detector, "segmentation": build_segmenter}


# -- weights ---------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def shipped_path(name: str) -> Path:
    """The verified shipped weights file of ``name`` (ModelError if missing or altered)."""
    spec = MODELS[name]
    path = WEIGHTS_DIR / spec.file
    if not path.is_file():
        raise ModelError(
            f"reference:{name}: the shipped weights {path} are missing; reinstall lossybench "
            f"or recreate them with `python scripts/train_reference_models.py --task {spec.task}`"
        )
    digest = _sha256(path)
    if spec.sha256 and digest != spec.sha256:
        raise ModelError(
            f"reference:{name}: {path} has sha256 {digest}, expected {spec.sha256}; the file is "
            "corrupt or was replaced: reinstall lossybench, or pass it as --weights PATH"
        )
    return path


def training_config(name: str) -> dict[str, Any] | None:
    """The training record shipped next to the weights (config, time, clean metrics)."""
    path = WEIGHTS_DIR / Path(MODELS[name].file).with_suffix(".json")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def read_state(path: Path) -> dict[str, Any]:
    """A fp32 state dict from ``path`` (see :func:`lossybench.model.read_state_dict`)."""
    obj = read_state_dict(path)
    return {k: v.float() if v.is_floating_point() else v for k, v in obj.items()}


def load_state(net: Any, state: dict[str, Any], path: Path, name: str) -> None:
    """Strict load with a message that says what does not fit."""
    missing, unexpected, shapes = state_mismatches(net.state_dict(), state)
    if missing or unexpected or shapes:
        parts = [
            f"{len(items)} {label} (e.g. {items[0]})"
            for label, items in (("missing", missing), ("unexpected", unexpected),
                                 ("wrong-shape", shapes))
            if items
        ]
        raise ModelError(
            f"{path} is not a reference:{name} checkpoint: {'; '.join(parts)} "
            f"({MODELS[name].architecture})"
        )
    net.load_state_dict(state)


# -- inference -------------------------------------------------------------------------------
@dataclass
class ReferenceModel(LoadedModel):
    """A reference network in eval mode; preprocessing is a plain tensor conversion."""

    net: Any = field(default=None, repr=False)

    def preprocess(self, image: np.ndarray) -> Any:
        """uint8 (H, W, 3) → float CHW; the segmenter also normalises here.

        The detector normalises (and resizes to its training size) inside FCOS's own
        transform, which also maps boxes back to original pixels.
        """
        import torch

        x = torch.from_numpy(np.require(image, np.uint8, ["C", "W"])).permute(2, 0, 1)
        x = x.float().div_(255.0)
        if self.task == "segmentation":
            mean = torch.tensor(MEAN).view(3, 1, 1)
            std = torch.tensor(STD).view(3, 1, 1)
            x = (x - mean) / std
        return x

    def forward(self, inputs: Sequence[Any], sizes: Sequence[tuple[int, int]]) -> list[Any]:
        import torch

        if not inputs:
            return []
        with torch.inference_mode():
            if self.task == "detection":
                return detections_as_arrays(self.net([x.to(self.device) for x in inputs]))
            return self._segment(inputs, sizes)

    def _segment(self, inputs: Sequence[Any], sizes: Sequence[tuple[int, int]]) -> list[Any]:
        import torch
        import torch.nn.functional as F

        out: list[Any] = [None] * len(inputs)
        for idx in same_shape_groups(inputs):
            logits = self.net(torch.stack([inputs[i] for i in idx]).to(self.device))["out"]
            for i, lg in zip(idx, logits, strict=True):
                if tuple(lg.shape[-2:]) != tuple(sizes[i]):
                    lg = F.interpolate(lg[None], size=tuple(sizes[i]), mode="bilinear",
                                       align_corners=False)[0]
                out[i] = lg.argmax(0).cpu().numpy().astype(np.int64)
        return out

    # -- training API (bench finetune; see lossybench.model.LoadedModel) -------------------
    def trainable(self) -> Any:
        return self.net

    def loss(self, inputs: Sequence[Any], targets: Sequence[Any]) -> Any:
        """The losses the models were trained with (scripts/train_reference_models.py).

        Detector: FCOS's own loss dict (focal, GIoU, centre-ness), summed; images at their
        own size, FCOS resizes images and boxes itself. Segmenter: pixel cross-entropy,
        ignoring :data:`lossybench.task.TRAIN_IGNORE_INDEX`; one sub-batch per input size.
        """
        if self.task == "detection":
            return self._detector_loss(inputs, targets)
        return self._segmenter_loss(inputs, targets)

    def distills(self) -> bool:
        return True

    def distillation_loss(
        self, inputs: Sequence[Any], targets: Sequence[Any], references: Sequence[Any],
        teacher: Any, weight: float,
    ) -> Any:
        """Segmenter: cross-entropy + ``weight`` × per-pixel KL to the teacher's class map.

        Detector: FCOS's losses + ``weight`` × :func:`fcos_divergence` between the
        student's head outputs and the teacher's on the clean images (same geometry: both
        go through FCOS's resize to 320 px).
        """
        if self.task == "detection":
            return self._detector_loss(inputs, targets, references, teacher, weight)
        return self._segmenter_loss(inputs, targets, references, teacher, weight)

    def _detector_loss(
        self, inputs: Sequence[Any], targets: Sequence[Any],
        references: Sequence[Any] | None = None, teacher: Any = None, weight: float = 0.0,
    ) -> Any:
        import torch

        dev, net = self.device, self.net
        images = [x.to(dev) for x in inputs]
        boxes = [{k: v.to(dev) for k, v in t.items()} for t in targets]
        if teacher is None or references is None:
            losses = net(images, boxes)
            return torch.stack([v.float() for v in losses.values()]).sum()
        # FCOS.forward's training path, keeping the head outputs for the second term
        batch, boxes = net.transform(images, boxes)
        features = list(net.backbone(batch.tensors).values())
        head = net.head(features)
        anchors = net.anchor_generator(batch, features)
        per_level = [f.size(2) * f.size(3) for f in features]
        losses = net.compute_loss(boxes, head, anchors, per_level)
        with torch.no_grad():
            ref, _ = teacher.transform([r.to(dev) for r in references])
            soft = teacher.head(list(teacher.backbone(ref.tensors).values()))
        task_loss = torch.stack([v.float() for v in losses.values()]).sum()
        return task_loss + weight * fcos_divergence(head, soft)

    def _segmenter_loss(
        self, inputs: Sequence[Any], targets: Sequence[Any],
        references: Sequence[Any] | None = None, teacher: Any = None, weight: float = 0.0,
    ) -> Any:
        import torch
        import torch.nn.functional as F

        from lossybench.kits.tensors import soft_target_divergence
        from lossybench.task import TRAIN_IGNORE_INDEX

        dev = self.device
        total: Any = 0.0
        for idx in same_shape_groups(inputs):
            x = torch.stack([inputs[i] for i in idx]).to(dev)
            y = torch.stack([torch.as_tensor(targets[i]) for i in idx]).to(dev)
            logits = self.net(x)["out"].float()
            part = F.cross_entropy(logits, y, ignore_index=TRAIN_IGNORE_INDEX, reduction="sum")
            part = part / (y != TRAIN_IGNORE_INDEX).sum().clamp(min=1)
            if teacher is not None and references is not None:
                with torch.no_grad():
                    ref = torch.stack([references[i] for i in idx]).to(dev)
                    soft = teacher(ref)["out"]
                part = part + weight * soft_target_divergence(logits, soft)
            total = total + part * (len(idx) / len(inputs))
        return total


def fcos_divergence(student: dict[str, Any], teacher: dict[str, Any]) -> Any:
    """How far FCOS head outputs stray from a teacher's, per teacher-detected object.

    Classification: the Bernoulli KL of each location's per-class sigmoid (FCOS scores
    classes independently), summed; centre-ness: the same for its sigmoid; box
    regression: L1 on the (stride-normalised) distances. The centre-ness and box terms
    are weighted by the teacher's confidence at the location (top class probability ×
    centre-ness), since background locations' boxes mean nothing. All sums are divided
    by the teacher's soft count of objects, as FCOS divides by its foreground count.
    """
    import torch
    import torch.nn.functional as F

    def bernoulli_kl(logits: Any, target_logits: Any) -> Any:
        p = torch.sigmoid(target_logits)
        return (F.binary_cross_entropy_with_logits(logits, p, reduction="none")
                - F.binary_cross_entropy_with_logits(target_logits, p, reduction="none"))

    s_cls, t_cls = student["cls_logits"].float(), teacher["cls_logits"].float()
    s_ctr, t_ctr = student["bbox_ctrness"].float(), teacher["bbox_ctrness"].float()
    confidence = torch.sigmoid(t_cls).amax(dim=-1) * torch.sigmoid(t_ctr[..., 0])
    count = confidence.sum().clamp(min=1.0)
    cls = bernoulli_kl(s_cls, t_cls).sum()
    ctr = (bernoulli_kl(s_ctr, t_ctr)[..., 0] * confidence).sum()
    box = ((student["bbox_regression"].float() - teacher["bbox_regression"].float()).abs()
           .sum(dim=-1) * confidence).sum()
    return (cls + ctr + box) / count


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


@hookimpl
def lossybench_models() -> list[type[ModelFamily]]:
    return [ReferenceFamily]
