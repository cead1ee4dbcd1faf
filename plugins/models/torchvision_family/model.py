"""A torchvision network behind :class:`lossybench.model.LoadedModel`: one class serves
all three tasks, with the losses torchvision's training references use, so evaluation
and ``bench finetune`` drive it like any other family."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossybench.kits.tensors import (
    detections_as_arrays,
    image_batch,
    same_shape_groups,
    soft_target_divergence,
)
from lossybench.model import LoadedModel
from lossybench.task import TRAIN_IGNORE_INDEX


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
