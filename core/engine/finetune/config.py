"""`bench finetune`'s configuration; its digest pins ``last.pt`` and the report."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from lossybench.engine.ratecontrol import (
    DEFAULT_RATE_TOLERANCE,
    MAX_TOLERANCE,
    normalize_targets,
    targets_note,
    validate_targets,
)
from lossybench.engine.run.config import RunConfig
from lossybench.errors import LossybenchError


class FinetuneConfig(BaseModel):
    """Everything `bench finetune` takes; its digest pins ``last.pt`` and the report."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    task: str = Field(description="task name: classification, detection, segmentation")
    model: str = Field(description="FAMILY:NAME, e.g. reference:scenes-segmenter")
    weights: str | None = Field(
        default=None, description="the base weights: path, 'random', package:..., None"
    )
    train_dataset: str = Field(description="FORMAT[:LOCATION] of the training images")
    val_dataset: str = Field(description="FORMAT[:LOCATION] of the evaluation images")
    train_dataset_options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    val_dataset_options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    task_options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    codecs: list[str] = Field(min_length=1, description="NAME[:k=v,...]; trained on and scored")
    bpp: list[float] | None = Field(
        default=None, description="training targets: a list (sorted, each once)"
    )
    bpp_range: tuple[float, float] | None = Field(
        default=None, description="training targets: log-uniform on [LO, HI]"
    )
    eval_bpp: list[float] | None = Field(
        default=None,
        description="evaluation targets (sorted, each once); default: the list, or LO, "
        "√(LO·HI), HI",
    )
    clean_fraction: float = Field(default=0.25, ge=0.0, le=1.0)
    augment: Literal["none", "flip", "dihedral"] = Field(
        default="none",
        description="geometric augmentation of training images, targets following: none; "
        "flip (left-right mirror, p = 1/2); dihedral (mirror and a random quarter turn)",
    )
    steps: int | None = Field(default=None, ge=1)
    epochs: float | None = Field(default=None, gt=0)
    lr: float = Field(default=1e-4, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    warmup: int | None = Field(default=None, ge=0, description="None: 5% of steps, <= 100")
    batch_size: int = Field(default=8, ge=1, le=4096, description="images per forward pass")
    accumulate: int = Field(default=1, ge=1, le=1024, description="forward passes per step")
    max_grad_norm: float | None = Field(default=10.0, gt=0)
    freeze_bn: bool = True
    bf16: bool = False
    policy: Literal["floor", "nearest"] = "floor"
    rate_tolerance: float = Field(
        default=DEFAULT_RATE_TOLERANCE, ge=0, le=MAX_TOLERANCE,
        description="rate control's relative tolerance, as in bench run (0 = exact)",
    )
    train_limit: int | None = Field(default=None, ge=1)
    eval_limit: int | None = Field(default=None, ge=1)
    holdout: int = Field(
        default=0, ge=0,
        description="the last N training images are not trained on: they choose the "
        "interpolation (max_clean_drop), unless select_dataset does",
    )
    select_dataset: str | None = Field(
        default=None,
        description="FORMAT[:LOCATION] of the images that choose the interpolation: like "
        "the validation images, but not them",
    )
    select_dataset_options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    max_clean_drop: float | None = Field(
        default=None, ge=0, le=1,
        description="largest clean-metric loss accepted (headline units: 0.02 = 2 points); "
        "the saved weights interpolate base and finetuned weights to keep it on the "
        "selection images (holdout or select_dataset)",
    )
    distill: float = Field(
        default=0.0, ge=0, le=100,
        description="weight of a distillation term: the model's outputs on each training "
        "image (compressed or clean) are pulled towards the base model's on the clean image "
        "(0 = off)",
    )
    train_only: list[str] | None = Field(
        default=None, min_length=1,
        description="glob patterns of parameter names to train (fnmatch); the others stay "
        "frozen at the base weights — surgical finetuning: compression is an input-level "
        "shift, which the first layers can absorb (Lee et al., ICLR 2023)",
    )
    eval_every: int = Field(default=0, ge=0)
    checkpoint_every: int = Field(default=50, ge=0)
    stop_after: int | None = Field(default=None, ge=0)
    device: str = Field(default="auto", description="auto: cuda when available, else cpu")
    workers: int = Field(default=1, ge=0, le=256)
    threads: int | None = Field(
        default=None, ge=1, description="torch threads; None: the cores the workers leave"
    )
    seed: int = 0
    out: str = "finetune"
    cache: str | None = "default"
    _notes: list[str] = PrivateAttr(default_factory=list)

    @field_validator("bpp", "eval_bpp")
    @classmethod
    def _targets(cls, v: list[float] | None) -> list[float] | None:
        return normalize_targets(v) if v else v  # empty: refused below, with its name

    @property
    def notes(self) -> list[str]:
        """What validation changed in the given data (targets sorted, repeats dropped)."""
        return list(self._notes)

    @model_validator(mode="after")
    def _check(self) -> FinetuneConfig:
        if (self.bpp is None) == (self.bpp_range is None):
            raise ValueError("give training targets as bpp (a list) or bpp_range, exactly one")
        if self.bpp is not None and not self.bpp:
            raise ValueError("bpp list is empty")
        if self.bpp_range is not None:
            lo, hi = self.bpp_range
            validate_targets([lo, hi])
            if not lo < hi:
                raise ValueError(f"bpp_range needs LO < HI, got {lo:g}:{hi:g}")
        if self.eval_bpp is not None and not self.eval_bpp:
            raise ValueError("eval_bpp list is empty")
        if (self.steps is None) == (self.epochs is None):
            raise ValueError("give the training length as steps or epochs, exactly one")
        if self.max_clean_drop is not None and (self.holdout < 1) == (
            self.select_dataset is None
        ):
            raise ValueError(
                "max_clean_drop chooses the interpolation on selection images: give either "
                "select_dataset (images like the validation set's, e.g. --select-dataset "
                "scenes-segmentation:dev) or holdout N (held-out training images), not both"
            )
        return self

    def identity(self) -> dict[str, Any]:
        """What determines the weights and the report (not where, how fast, how often)."""
        data = self.model_dump(exclude={"out", "workers", "threads", "device", "cache",
                                        "stop_after", "eval_every", "checkpoint_every"})
        # settings added later leave the digests of configurations without them as they were
        for key, default in (("holdout", 0), ("max_clean_drop", None),
                             ("select_dataset", None), ("select_dataset_options", {}),
                             ("distill", 0.0), ("train_only", None)):
            if data[key] == default:
                del data[key]
        return data

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()

    def eval_targets(self) -> list[float]:
        if self.eval_bpp is not None:
            return list(self.eval_bpp)
        if self.bpp is not None:
            return list(self.bpp)
        lo, hi = self.bpp_range  # type: ignore[misc]
        return [lo, float(f"{math.sqrt(lo * hi):.3g}"), hi]

    def evaluation_run(self) -> RunConfig:
        """The run that scores this finetune: validation images, codecs, eval targets."""
        return RunConfig(
            task=self.task, model=self.model, weights=self.weights, dataset=self.val_dataset,
            dataset_options=self.val_dataset_options, task_options=self.task_options,
            codecs=self.codecs, bpp=self.eval_targets(), policy=self.policy,
            rate_tolerance=self.rate_tolerance, batch_size=self.batch_size,
            device=self.device, workers=self.workers, limit=self.eval_limit, seed=self.seed,
            cache=self.cache,
        )


def make_config(data: dict[str, Any], where: str = "options") -> FinetuneConfig:
    """A validated config, or a LossybenchError that lists every problem."""
    try:
        cfg = FinetuneConfig(**data)
        notes = (targets_note(data.get("bpp"), "bpp"),
                 targets_note(data.get("eval_bpp"), "eval_bpp"))
        cfg._notes = [n for n in notes if n]
        return cfg
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}".replace("Value error, ", "")
            for e in exc.errors()
        )
        raise LossybenchError(f"invalid finetune configuration in {where}: {problems}") from None
