"""A reference network behind :class:`lossybench.model.LoadedModel`, with the losses it
was trained with, so evaluation and ``bench finetune`` drive it like any other family."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossybench.kits.tensors import detections_as_arrays, same_shape_groups
from lossybench.model import LoadedModel
from lossybench.plugins.models.reference_models.architecture import MEAN, STD
from lossybench.plugins.models.reference_models.distillation import fcos_divergence


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
