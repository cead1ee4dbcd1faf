"""Everything a finetune needs, checked before any heavy work starts.

Built on the run's resolution (:mod:`lossybench.engine.run.resolve`): the validation
side is resolved as a run, the training side with the same dataset and task opening.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lossybench.codec import Codec
from lossybench.dataset import Dataset, Sample
from lossybench.engine.finetune.config import FinetuneConfig
from lossybench.engine.run.resolve import Resolved as RunResolved
from lossybench.engine.run.resolve import model_and_task, open_task
from lossybench.engine.run.resolve import resolve as resolve_run
from lossybench.errors import DatasetError, LossybenchError, ModelError
from lossybench.model import LoadedModel
from lossybench.registry import Registry
from lossybench.task import Task


@dataclass
class Resolved:
    """Everything a finetune needs: the run it is scored by, plus what training adds."""

    config: FinetuneConfig
    run: RunResolved  # the validation side: model, codecs, val dataset/task, eval targets
    task: Task  # over the training set: supplies training targets
    train_samples: list[Sample]
    select_samples: list[Sample]  # choose the interpolation: held-out or select_dataset
    select_task: Task
    val_samples: list[Sample]
    total_steps: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> LoadedModel:
        return self.run.model

    @property
    def codecs(self) -> list[Codec]:
        return self.run.codecs

    @property
    def val_task(self) -> Task:
        return self.run.task

    @property
    def val_dataset(self) -> Dataset:
        return self.run.dataset

    @property
    def eval_targets(self) -> list[float]:
        return self.run.points


def check_trainable(model: LoadedModel, task: Task) -> None:
    """Refuse, before training, a family or task that does not implement the training API."""
    cls = type(model)
    missing = [m for m in ("trainable", "loss") if getattr(cls, m) is getattr(LoadedModel, m)]
    if missing:
        raise ModelError(
            f"model family {model.family!r} does not support finetuning: "
            f"{model.family}:{model.name} implements no {' / '.join(missing)} "
            "(see lossybench.model.LoadedModel)"
        )
    if type(task).training_target is Task.training_target:
        raise LossybenchError(
            f"task {task.name!r} does not support finetuning: it defines no training targets"
        )


def resolve(cfg: FinetuneConfig, reg: Registry) -> Resolved:
    """Open the training side, then resolve the validation side as a run would.

    The validation side *is* a run (:func:`lossybench.engine.run.resolve.resolve` of
    :meth:`FinetuneConfig.evaluation_run`), so before/after figures are scored exactly as
    ``bench run`` scores them; the model is built there, sized for both datasets.
    """
    import torch

    _, _, task_cls = model_and_task(cfg.model, cfg.task, reg)
    train_ds, task, train_details = open_task(
        task_cls, cfg.task, cfg.train_dataset, cfg.train_dataset_options, cfg.task_options,
        reg, cfg.train_limit,
    )
    train_samples = list(train_ds.samples())
    if not train_samples:
        raise DatasetError(f"training dataset {cfg.train_dataset!r} has no images")
    select_samples: list[Sample] = []
    select_task = task
    if cfg.select_dataset is not None:
        _, select_task, _ = open_task(
            task_cls, cfg.task, cfg.select_dataset, cfg.select_dataset_options,
            cfg.task_options, reg, None,
        )
        select_samples = list(select_task.dataset.samples())
        if not select_samples:
            raise DatasetError(f"selection dataset {cfg.select_dataset!r} has no images")
    if cfg.holdout:
        if cfg.holdout >= len(train_samples):
            raise DatasetError(
                f"--holdout {cfg.holdout} leaves no training images: the training dataset "
                f"{cfg.train_dataset!r} has {len(train_samples)}"
            )
        train_samples, select_samples = (
            train_samples[: -cfg.holdout], train_samples[-cfg.holdout :]
        )
    torch.manual_seed(cfg.seed)  # random initial weights are part of the experiment
    run = resolve_run(cfg.evaluation_run(), reg, num_classes=train_details.get("num_classes"))
    val_samples = list(run.dataset.samples())
    if not val_samples:
        raise DatasetError(f"validation dataset {cfg.val_dataset!r} has no images")
    model = run.model
    check_trainable(model, task)
    if cfg.distill and not model.distills():
        raise ModelError(
            f"{cfg.model} does not support --distill for {cfg.task} (its family implements "
            "no distillation_loss for this task); finetune without --distill"
        )
    if cfg.train_only is not None:
        freeze_all_but(model.trainable(), cfg.train_only, cfg.model)
    if cfg.augment != "none" and type(task).transform_target is Task.transform_target:
        raise LossybenchError(
            f"task {task.name!r} does not support geometric augmentation "
            f"(--augment {cfg.augment}); use --augment none"
        )
    per_step = cfg.batch_size * cfg.accumulate
    epochs = cfg.epochs or 0.0
    total = cfg.steps or max(1, math.ceil(epochs * len(train_samples) / per_step))
    return Resolved(
        cfg, run, task, train_samples, select_samples, select_task, val_samples, total,
        {"train": train_details, "val": run.task_details},
    )


def freeze_all_but(module: Any, patterns: list[str], model: str) -> None:
    """Leave only parameters whose names match a glob trainable (the report counts them).

    A pattern that matches nothing is refused, naming the module's top-level blocks, so
    a typo never silently trains nothing (or everything).
    """
    from fnmatch import fnmatchcase

    names = [n for n, _ in module.named_parameters()]
    unmatched = [p for p in patterns if not any(fnmatchcase(n, p) for n in names)]
    if unmatched:
        blocks = sorted({".".join(n.split(".")[:2]) for n in names})
        raise LossybenchError(
            f"--train-only {', '.join(unmatched)} matches no parameter of {model}; its "
            f"parameters are named like {', '.join(b + '.*' for b in blocks[:12])}"
            f"{' …' if len(blocks) > 12 else ''}"
        )
    for name, param in module.named_parameters():
        param.requires_grad_(any(fnmatchcase(name, p) for p in patterns))
