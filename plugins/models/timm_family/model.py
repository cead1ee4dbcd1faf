"""A timm network behind :class:`lossybench.model.LoadedModel`, so evaluation and
``bench finetune`` (loss, distillation) drive it like any other family."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossybench.kits.tensors import image_batch, soft_target_divergence
from lossybench.model import LoadedModel


@dataclass
class TimmModel(LoadedModel):
    net: Any = field(default=None, repr=False)
    transform: Any = field(default=None, repr=False)

    def preprocess(self, image: np.ndarray) -> Any:
        from PIL import Image

        return self.transform(Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)))

    def forward(self, inputs: Sequence[Any], sizes: Sequence[tuple[int, int]]) -> list[Any]:
        import torch

        if not inputs:
            return []
        with torch.no_grad():
            logits = self.net(image_batch(inputs, self.device)).float().cpu().numpy()
        return [np.asarray(row, dtype=np.float32) for row in logits]

    # -- training API (bench finetune) ---------------------------------------------------
    def trainable(self) -> Any:
        return self.net

    def loss(self, inputs: Sequence[Any], targets: Sequence[Any]) -> Any:
        """Cross-entropy over class indices (inputs are same-size tensors: timm crops)."""
        return self._loss(inputs, targets)

    def distills(self) -> bool:
        return True

    def distillation_loss(
        self, inputs: Sequence[Any], targets: Sequence[Any], references: Sequence[Any],
        teacher: Any, weight: float,
    ) -> Any:
        """Cross-entropy + ``weight`` × KL to the teacher's logits on the clean images."""
        return self._loss(inputs, targets, references, teacher, weight)

    def _loss(
        self, inputs: Sequence[Any], targets: Sequence[Any],
        references: Sequence[Any] | None = None, teacher: Any = None, weight: float = 0.0,
    ) -> Any:
        import torch
        import torch.nn.functional as F

        y = torch.stack([torch.as_tensor(t) for t in targets]).to(self.device)
        logits = self.net(image_batch(inputs, self.device))
        loss = F.cross_entropy(logits.float(), y)
        if teacher is not None and references is not None:
            with torch.no_grad():
                soft = teacher(image_batch(references, self.device))
            loss = loss + weight * soft_target_divergence(logits, soft)
        return loss
