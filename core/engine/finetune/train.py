"""What a training step is made of: train mode, augmentation, schedule, optimizer."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lossybench.dataset import Sample
from lossybench.engine.finetune.config import FinetuneConfig
from lossybench.engine.finetune.sampler import Item
from lossybench.model import LoadedModel
from lossybench.task import Task


def set_train_mode(module: Any, freeze_bn: bool) -> None:
    """Train mode, with BatchNorm layers kept in eval mode when ``freeze_bn``.

    Frozen BatchNorm uses the base model's running statistics: what small finetuning
    batches (and gradient accumulation, whose micro-batches would each normalise on
    their own statistics) cannot estimate well. Its affine parameters still train.
    """
    import torch

    module.train()
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            params = list(m.parameters(recurse=False))
            if freeze_bn or (params and not any(p.requires_grad for p in params)):
                m.eval()  # also the statistics of layers --train-only leaves frozen


def augmented(image: np.ndarray, flip: bool, turns: int) -> np.ndarray:
    """``image`` mirrored left-right (``flip``), then turned ``turns`` × 90° anticlockwise."""
    if flip:
        image = image[:, ::-1]
    return np.ascontiguousarray(np.rot90(image, turns % 4)) if flip or turns % 4 else image


def training_pair(model: LoadedModel, task: Task, sample: Sample, item: Item) -> tuple[Any, Any]:
    """The model input and the task's target of one training item, augmented alike.

    The target is built in the geometry of the un-turned input and then transformed by
    the task (:meth:`Task.transform_target`), so it follows the image exactly.
    """
    assert item.image is not None
    d = item.draw
    if not (d.flip or d.turns % 4):
        x, size = model.training_input(item.image)
        return x, task.training_target(sample, size)
    x, size = model.training_input(augmented(item.image, d.flip, d.turns))
    base = size if d.turns % 2 == 0 else (size[1], size[0])
    return x, task.transform_target(task.training_target(sample, base), base, d.flip, d.turns)


def reference_input(model: LoadedModel, item: Item) -> Any:
    """The teacher's input for ``--distill``: the clean image, augmented as the item was."""
    assert item.clean is not None
    d = item.draw
    return model.training_input(augmented(item.clean, d.flip, d.turns))[0]


def make_teacher(module: Any) -> Any:
    """A frozen copy of the base model in eval mode: the ``--distill`` targets."""
    import copy

    teacher = copy.deepcopy(module)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def lr_at(step: int, total: int, base: float, warmup: int, schedule: str) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine to 0, ×0.1 at ⅔, or constant."""
    if step < warmup:
        return base * (step + 1) / warmup
    if schedule == "constant":
        return base
    t = (step - warmup) / max(total - warmup, 1)
    if schedule == "step":
        return base * (0.1 if t >= 2 / 3 else 1.0)
    return base * 0.5 * (1.0 + math.cos(math.pi * t))


def warmup_steps(cfg: FinetuneConfig, total: int) -> int:
    return cfg.warmup if cfg.warmup is not None else min(100, total // 20)


def make_optimizer(module: Any, cfg: FinetuneConfig) -> Any:
    """AdamW; no weight decay on biases and normalisation parameters (1-D tensors)."""
    import torch

    params = [p for p in module.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim > 1]
    other = [p for p in params if p.ndim <= 1]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay},
         {"params": other, "weight_decay": 0.0}],
        lr=cfg.lr,
    )




def parameter_counts(module: Any) -> dict[str, int]:
    params = list(module.parameters())
    return {"trained": sum(int(p.numel()) for p in params if p.requires_grad),
            "total": sum(int(p.numel()) for p in params)}
