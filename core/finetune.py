"""`bench finetune`: win back what compression costs by training on compressed images.

The study behind lossybench found that most of the accuracy lost at low bit rates is a
failure to generalise to compression artefacts, not lost information: finetuning on
compressed training images recovers most of it. This module is that experiment as one
reproducible, resumable procedure:

1. :func:`resolve` checks everything (names, rates, fractions, that the model family and
   the task support training) before any heavy work starts;
2. :func:`finetune` evaluates the model *before* (clean + every codec × target on the
   validation set, with the same code path as ``bench run``), trains on training
   images compressed on the fly at rates drawn per image, evaluates *after*, and writes
   ``model.pt`` (loadable by ``bench run --weights``) and ``finetune.json``.

Determinism: what each training step sees is a pure function of (seed, step). Image
order is a seeded permutation per epoch; clean-or-compressed, the codec, the target
and the mirror/quarter turns (``augment``) of sample *g* come from
``numpy.random.Generator(PCG64([seed, 1, g]))``; compression is deterministic (and
cached). So resuming needs only the step count plus the model,
optimizer and torch RNG state in ``last.pt``, and a resumed run ends with the same
weights as an uninterrupted one. Codec work runs in ``workers`` processes; it does not
change what is drawn.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lossybench import __version__
from lossybench.codec import Codec
from lossybench.dataset import Dataset, Sample
from lossybench.errors import DatasetError, LossybenchError, ModelError
from lossybench.model import LoadedModel
from lossybench.pipeline import codec_stage, stream
from lossybench.ratecontrol import (
    DEFAULT_RATE_TOLERANCE,
    MAX_TOLERANCE,
    validate_targets,
)
from lossybench.registry import Registry
from lossybench.task import Task

#: Format tags of the files this module writes (bump on incompatible changes).
STATE_FORMAT = "lossybench-finetune-state/1"
REPORT_FORMAT = "lossybench-finetune/1"
CHECKPOINT_FORMAT = "lossybench-checkpoint/1"
STATE_FILE, MODEL_FILE, REPORT_FILE = "last.pt", "model.pt", "finetune.json"


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
    bpp: list[float] | None = Field(default=None, description="training targets: a list")
    bpp_range: tuple[float, float] | None = Field(
        default=None, description="training targets: log-uniform on [LO, HI]"
    )
    eval_bpp: list[float] | None = Field(
        default=None, description="evaluation targets; default: the list, or LO, √(LO·HI), HI"
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
    device: str = "cpu"
    workers: int = Field(default=1, ge=0, le=256)
    threads: int | None = Field(
        default=None, ge=1, description="torch threads; None: the cores the workers leave"
    )
    seed: int = 0
    out: str = "finetune"
    cache: str | None = "default"

    @model_validator(mode="after")
    def _check(self) -> FinetuneConfig:
        if (self.bpp is None) == (self.bpp_range is None):
            raise ValueError("give training targets as bpp (a list) or bpp_range, exactly one")
        if self.bpp is not None:
            if not self.bpp:
                raise ValueError("bpp list is empty")
            validate_targets(self.bpp)
        if self.bpp_range is not None:
            lo, hi = self.bpp_range
            validate_targets([lo, hi])
            if not lo < hi:
                raise ValueError(f"bpp_range needs LO < HI, got {lo:g}:{hi:g}")
        if self.eval_bpp is not None:
            if not self.eval_bpp:
                raise ValueError("eval_bpp list is empty")
            validate_targets(self.eval_bpp)
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
            return sorted(set(self.bpp))
        lo, hi = self.bpp_range  # type: ignore[misc]
        return [lo, float(f"{math.sqrt(lo * hi):.3g}"), hi]

    def cache_root(self) -> str | None:
        if self.cache is None:
            return None
        if self.cache == "default":
            from lossybench.cache import default_root

            return str(default_root())
        return self.cache


def make_config(data: dict[str, Any], where: str = "options") -> FinetuneConfig:
    """A validated config, or a LossybenchError that lists every problem."""
    try:
        return FinetuneConfig(**data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}".replace("Value error, ", "")
            for e in exc.errors()
        )
        raise LossybenchError(f"invalid finetune configuration in {where}: {problems}") from None


# -- resolution ----------------------------------------------------------------------------
@dataclass
class Resolved:
    """Everything a finetune needs, checked before any heavy work starts."""

    config: FinetuneConfig
    task: Task  # over the training set: supplies training targets
    val_task: Task  # over the validation set: scores outcomes
    train_samples: list[Sample]
    select_samples: list[Sample]  # choose the interpolation: held-out or select_dataset
    select_task: Task
    val_dataset: Dataset
    val_samples: list[Sample]
    model: LoadedModel
    codecs: list[Codec]
    eval_targets: list[float]
    total_steps: int
    details: dict[str, Any] = field(default_factory=dict)


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
    """Check every name and setting, open both datasets, build the base model."""
    import torch

    from lossybench.run import build_codecs, model_and_task, open_task

    family_cls, model_name, task_cls = model_and_task(cfg.model, cfg.task, reg)
    codecs = build_codecs(cfg.codecs, reg)
    train_ds, task, train_details = open_task(
        task_cls, cfg.task, cfg.train_dataset, cfg.train_dataset_options, cfg.task_options,
        reg, cfg.train_limit,
    )
    val_ds, val_task, val_details = open_task(
        task_cls, cfg.task, cfg.val_dataset, cfg.val_dataset_options, cfg.task_options,
        reg, cfg.eval_limit,
    )
    train_samples = list(train_ds.samples())
    val_samples = list(val_ds.samples())
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
    if not val_samples:
        raise DatasetError(f"validation dataset {cfg.val_dataset!r} has no images")
    ks = [d["num_classes"] for d in (train_details, val_details) if d.get("num_classes")]
    torch.manual_seed(cfg.seed)  # random initial weights are part of the experiment
    model = family_cls().build(
        model_name, cfg.task, cfg.weights, cfg.device, num_classes=max(ks) if ks else None
    )
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
        cfg, task, val_task, train_samples, select_samples, select_task, val_ds, val_samples,
        model, codecs,
        cfg.eval_targets(), total, {"train": train_details, "val": val_details},
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


# -- what each step sees -------------------------------------------------------------------
@dataclass(frozen=True)
class Draw:
    """Sample ``g`` of the training stream: which image, clean or which codec at what bpp."""

    g: int
    index: int
    codec: int | None  # index into the codec list; None = the clean image
    bpp: float | None
    flip: bool = False  # mirror left-right (--augment flip, dihedral) ...
    turns: int = 0  # ... then turn this many quarter turns counter-clockwise (dihedral)


class Sampler:
    """Pure function of (seed, sample number): resumable without saving any state."""

    def __init__(self, cfg: FinetuneConfig, n_images: int, n_codecs: int) -> None:
        self.cfg = cfg
        self.n = n_images
        self.n_codecs = n_codecs
        self._perm: tuple[int, np.ndarray] | None = None

    def _order(self, epoch: int) -> np.ndarray:
        if self._perm is None or self._perm[0] != epoch:
            rng = np.random.Generator(np.random.PCG64([self.cfg.seed, 0, epoch]))
            self._perm = (epoch, rng.permutation(self.n))
        return self._perm[1]

    def draw(self, g: int) -> Draw:
        cfg = self.cfg
        index = int(self._order(g // self.n)[g % self.n])
        rng = np.random.Generator(np.random.PCG64([cfg.seed, 1, g]))
        u_clean, u_codec, u_rate, u_flip, u_turn = rng.random(5)  # stable streams
        flip = cfg.augment != "none" and bool(u_flip < 0.5)
        turns = min(int(u_turn * 4), 3) if cfg.augment == "dihedral" else 0
        codec = min(int(u_codec * self.n_codecs), self.n_codecs - 1)
        if cfg.bpp is not None:
            bpp = cfg.bpp[min(int(u_rate * len(cfg.bpp)), len(cfg.bpp) - 1)]
        else:
            lo, hi = cfg.bpp_range  # type: ignore[misc]
            bpp = float(math.exp(math.log(lo) + u_rate * (math.log(hi) - math.log(lo))))
        if u_clean < cfg.clean_fraction:
            return Draw(g, index, None, None, flip, turns)
        return Draw(g, index, codec, float(bpp), flip, turns)


@dataclass
class Item:
    """A decoded training image (or why it could not be made)."""

    draw: Draw
    image: np.ndarray | None
    bpp: float | None = None
    error: str | None = None
    clean: np.ndarray | None = None  # the uncompressed image, kept for --distill


def make_item(
    draw: Draw,
    sample: Sample,
    codec: Codec | None,
    policy: str,
    cache_root: str | None,
    tolerance: float = 0.0,
    keep_clean: bool = False,
) -> Item:
    """Read (and compress + decode) one training image; never raises (runs in workers)."""
    if codec is None:
        try:
            image = sample.image()
            return Item(draw, image, clean=image if keep_clean else None)
        except Exception as exc:
            return Item(draw, None, error=f"{type(exc).__name__}: {exc}")
    assert draw.bpp is not None
    work = codec_stage(
        sample, [codec], "bpp", [draw.bpp], policy, cache_root,  # type: ignore[arg-type]
        tolerance=tolerance,
    )
    if work.image is None:
        return Item(draw, None, error=work.error)
    it = work.items[0]
    if it.decoded is None:
        return Item(draw, None, error=it.error)
    return Item(draw, it.decoded, bpp=it.bpp, clean=work.image if keep_clean else None)


def items(
    res: Resolved, start: int, workers: int
) -> Iterator[Item]:
    """Training items from sample ``start`` on, in order; codec work in ``workers`` processes."""
    cfg = res.config
    sampler = Sampler(cfg, len(res.train_samples), len(res.codecs))
    cache_root = cfg.cache_root()

    def args(g: int) -> tuple[Any, ...]:
        d = sampler.draw(g)
        codec = None if d.codec is None else res.codecs[d.codec]
        return (d, res.train_samples[d.index], codec, cfg.policy, cache_root,
                cfg.rate_tolerance, cfg.distill > 0)

    g = start
    if workers <= 0:
        while True:
            yield make_item(*args(g))
            g += 1
    import multiprocessing as mp

    from lossybench.pipeline import _worker_init

    ahead = max(2 * workers, cfg.batch_size * cfg.accumulate)
    with ProcessPoolExecutor(
        workers, mp_context=mp.get_context("spawn"), initializer=_worker_init
    ) as pool:
        pending: deque[Future[Item]] = deque()
        while True:
            while len(pending) < ahead:
                pending.append(pool.submit(make_item, *args(g)))
                g += 1
            yield pending.popleft().result()


# -- evaluation ----------------------------------------------------------------------------
def evaluate(
    res: Resolved, on_image: Callable[[], None] | None = None, select: bool = False
) -> dict[str, Any]:
    """Clean and per-codec/target metrics of the model as it is now, as `bench run` scores.

    Uses the run's own codec stage, per-image records and point summaries, so the numbers
    equal those of ``bench run`` on the same images with these weights. ``select``: on
    the selection images (held-out or ``select_dataset``) instead of the validation set.
    """
    from lossybench.run import image_records, summarize_points

    cfg = res.config
    samples, task = (res.select_samples, res.select_task) if select else (res.val_samples,
                                                                           res.val_task)
    module = res.model.trainable()
    was_training = module.training
    module.eval()
    records: list[dict[str, Any]] = []
    args = (res.codecs, "bpp", res.eval_targets, cfg.policy, cfg.cache_root(), False,
            cfg.rate_tolerance)
    try:
        for sample, work in stream(samples, args, cfg.workers):
            records.extend(image_records(work, sample, task, res.model, cfg.batch_size))
            if on_image:
                on_image()
    finally:
        if was_training:
            set_train_mode(module, cfg.freeze_bn)
    clean = [r["outcome"] for r in records if r.get("codec") is None and r.get("outcome")]
    return {
        "clean": task.aggregate(clean) if clean else {},
        "images": len(clean),
        "codecs": {
            c.label: summarize_points(task, records, c.label, res.eval_targets)
            for c in res.codecs
        },
    }


def headline_view(res: Resolved, ev: dict[str, Any]) -> dict[str, Any]:
    """The headline metric only: what the history keeps of a periodic evaluation."""
    head = res.val_task.headline
    return {
        "clean": ev["clean"].get(head),
        "codecs": {
            label: {f"{p['target']:g}": p["metrics"].get(head) for p in points}
            for label, points in ev["codecs"].items()
        },
    }


def recovered_fraction(
    before_clean: float | None, before: float | None, after: float | None
) -> float | None:
    """(after − before) / (before_clean − before): the share of the drop won back.

    None when undefined: a missing value, or no drop to recover (compressed ≥ clean).
    """
    if before_clean is None or before is None or after is None:
        return None
    drop = before_clean - before
    if drop <= 0:
        return None
    return (after - before) / drop


def summarize(headline: str, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Per codec and target: before/after headline metric and the recovered fraction."""
    bc, ac = before["clean"].get(headline), after["clean"].get(headline)
    rows = []
    for label, points in before["codecs"].items():
        after_points = {p["target"]: p for p in after["codecs"].get(label, [])}
        for p in points:
            q = after_points.get(p["target"], {})
            b, a = p["metrics"].get(headline), q.get("metrics", {}).get(headline)
            frac = recovered_fraction(bc, b, a)
            rows.append({
                "codec": label,
                "target": p["target"],
                "bpp_mean": p.get("bpp_mean"),
                "before": b,
                "after": a,
                "drop": None if bc is None or b is None else bc - b,
                "recovered_fraction": frac,
                "note": None if frac is not None else (
                    "no drop to recover" if None not in (bc, b, a) else "missing value"
                ),
            })
    return {
        "headline": headline,
        "clean_before": bc,
        "clean_after": ac,
        "clean_change": None if bc is None or ac is None else ac - bc,
        "points": rows,
    }


# -- weight interpolation -------------------------------------------------------------------
#: bisection steps on alpha once alpha = 1 misses the clean budget: resolution 1/32
INTERPOLATION_STEPS = 5


def interpolate(base: dict[str, Any], tuned: dict[str, Any], alpha: float) -> dict[str, Any]:
    """base + alpha·(tuned − base) for every floating-point tensor (others: tuned's)."""
    return {
        k: (b + alpha * (tuned[k] - b)).to(b.dtype) if b.is_floating_point() else tuned[k]
        for k, b in base.items()
    }


def selection_name(res: Resolved) -> str:
    cfg = res.config
    if cfg.select_dataset is not None:
        return f"images of {cfg.select_dataset}"
    return "held-out training images"


def choose_interpolation(
    res: Resolved, module: Any, base: dict[str, Any], tuned: dict[str, Any],
    base_eval: dict[str, Any], cb: Callbacks,
) -> dict[str, Any]:
    """The largest alpha whose clean metric on the selection images keeps the budget.

    Why interpolate: finetuning on compressed images trades clean accuracy for
    robustness, and moving part of the way from the base weights to the finetuned ones
    keeps most of the robustness for a fraction of the clean loss (WiSE-FT, Wortsman
    et al., CVPR 2022). The choice is made on held-out training images or on a
    selection dataset, never on the validation set the report scores. alpha = 1 is
    tried first, then a bisection on [0, 1] (clean loss grows with alpha); alpha = 0 is
    the base model itself. Leaves the chosen weights in ``module``.
    """
    cfg = res.config
    assert cfg.max_clean_drop is not None
    head = res.val_task.headline
    base_view = headline_view(res, base_eval)
    floor = (base_view["clean"] or 0.0) - cfg.max_clean_drop
    tried: list[dict[str, Any]] = []

    def within(alpha: float) -> bool:
        module.load_state_dict(interpolate(base, tuned, alpha))
        cb.on_phase(f"selection images, alpha {alpha:.3g}", len(res.select_samples))
        view = headline_view(res, evaluate(res, cb.on_eval_image, select=True))
        ok = view["clean"] is not None and view["clean"] >= floor - 1e-12
        tried.append({"alpha": alpha, **view, "within_budget": ok})
        cb.on_message(_eval_line(f"alpha {alpha:.3g}", head, view)
                      + ("" if ok else " (over the clean budget)"))
        return ok

    if within(1.0):
        alpha = 1.0
    else:
        lo, hi = 0.0, 1.0
        for _ in range(INTERPOLATION_STEPS):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if within(mid) else (lo, mid)
        alpha = lo
    module.load_state_dict(interpolate(base, tuned, alpha))
    return {
        "alpha": alpha,
        "max_clean_drop": cfg.max_clean_drop,
        "selection": selection_name(res),
        "selection_images": len(res.select_samples),
        "base": base_view,
        "tried": tried,
        "method": "weights = base + alpha * (finetuned - base); the largest alpha whose "
        "clean headline metric on the selection images is >= base - max_clean_drop",
    }


# -- training ------------------------------------------------------------------------------
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


def _atomic_torch_save(obj: Any, path: Path) -> None:
    import torch

    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _rng_state() -> dict[str, Any]:
    import torch

    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"torch": torch.get_rng_state(), "cuda": cuda}


def _set_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class Callbacks:
    """Progress hooks for a front end (the CLI draws rich progress bars with them)."""

    on_phase: Callable[[str, int], None] = lambda name, total: None
    on_eval_image: Callable[[], None] = lambda: None
    on_step: Callable[[dict[str, Any]], None] = lambda info: None
    on_message: Callable[[str], None] = lambda text: None


@dataclass
class Outcome:
    """What :func:`finetune` returns: the report, or that it stopped early (``stop_after``)."""

    report: dict[str, Any] | None
    out: Path
    stopped_at: int | None = None


def _load_state(path: Path, digest: str) -> dict[str, Any]:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise LossybenchError(
            f"{path} cannot be read ({type(exc).__name__}: {exc}); delete it to start over"
        ) from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise LossybenchError(f"{path} is not a lossybench finetune state; delete it")
    if state.get("config_sha256") != digest:
        raise LossybenchError(
            f"{path} holds a finetune with a different configuration; use another --out, "
            "or delete it to start over"
        )
    return state


def finetune(
    res: Resolved, callbacks: Callbacks | None = None, command: list[str] | None = None
) -> Outcome:
    """Evaluate, train (resuming from ``last.pt``), evaluate; write model.pt + finetune.json."""
    import torch

    from lossybench.run import set_threads

    cb = callbacks or Callbacks()
    cfg = res.config
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    digest = cfg.digest()
    report_path, state_path = out / REPORT_FILE, out / STATE_FILE
    if report_path.is_file():
        try:
            done = json.loads(report_path.read_text())
        except (OSError, json.JSONDecodeError):
            done = {}
        if done.get("config_sha256") != digest:
            raise LossybenchError(
                f"{out} already holds a finished finetune of a different configuration; "
                "use another --out"
            )
        if (out / MODEL_FILE).is_file():
            cb.on_message(f"{out} already holds this finetune; nothing to do")
            return Outcome(done, out)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    else:
        set_threads(cfg.workers)
    if torch.device(res.model.device).type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    model, module = res.model, res.model.trainable()
    total = res.total_steps
    warmup = warmup_steps(cfg, total)
    opt = make_optimizer(module, cfg)
    per_step = cfg.batch_size * cfg.accumulate
    progress: dict[str, Any]
    start = time.perf_counter()
    base_state = (
        {k: v.detach().clone() for k, v in module.state_dict().items()}
        if cfg.max_clean_drop is not None else None
    )
    teacher = make_teacher(module) if cfg.distill else None  # before any resumed weights
    if state_path.is_file():
        state = _load_state(state_path, digest)
        module.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        _set_rng_state(state["rng"])
        step = int(state["step"])
        progress = state["progress"]
        cb.on_message(f"resuming from {state_path} at step {step}/{total}")
    else:
        cb.on_phase("evaluating before finetuning", len(res.val_samples))
        t0 = time.perf_counter()
        before = evaluate(res, cb.on_eval_image)
        step = 0
        progress = {"before": before, "history": [], "evals": [], "train_seconds": 0.0,
                    "eval_seconds": time.perf_counter() - t0, "images": 0, "compressed": 0,
                    "failures": 0, "failure_examples": []}
        if cfg.max_clean_drop is not None:
            cb.on_phase("evaluating the base model on the selection images",
                        len(res.select_samples))
            t0 = time.perf_counter()
            progress["select_before"] = evaluate(res, cb.on_eval_image, select=True)
            progress["eval_seconds"] += time.perf_counter() - t0

    def save(at: int) -> None:
        _atomic_torch_save(
            {"format": STATE_FORMAT, "config_sha256": digest, "step": at,
             "model": module.state_dict(), "optimizer": opt.state_dict(),
             "rng": _rng_state(), "progress": progress},
            state_path,
        )

    if step == 0:
        save(0)  # the before-evaluation is not redone after an interruption
    dev_type = torch.device(model.device).type
    if step < total and (cfg.stop_after is None or step < cfg.stop_after):
        cb.on_phase("training", total)
        set_train_mode(module, cfg.freeze_bn)
        stream_ = items(res, step * per_step, cfg.workers)
        try:
            step = _train_loop(res, stream_, opt, step, total, warmup, progress, save, cb,
                               dev_type, teacher)
        finally:
            stream_.close()  # type: ignore[attr-defined]
    if step < total:
        return Outcome(None, out, stopped_at=step)
    interpolation = None
    if base_state is not None:
        t0 = time.perf_counter()
        tuned = {k: v.detach().clone() for k, v in module.state_dict().items()}
        interpolation = choose_interpolation(
            res, module, base_state, tuned, progress["select_before"], cb
        )
        progress["eval_seconds"] += time.perf_counter() - t0
    cb.on_phase("evaluating after finetuning", len(res.val_samples))
    t0 = time.perf_counter()
    after = evaluate(res, cb.on_eval_image)
    progress["eval_seconds"] += time.perf_counter() - t0
    report = build_report(res, progress["before"], after, progress, command or sys.argv,
                          time.perf_counter() - start)
    report["interpolation"] = interpolation
    ckpt = {
        "model": model.state_dict_for_checkpoint(),
        "preprocessing": _jsonable(model.preprocessing),
        "finetune": {"format": CHECKPOINT_FORMAT, "config_sha256": digest,
                     "base": _jsonable(model.info()["weights"]), "model": cfg.model,
                     "task": cfg.task, "steps": total, "codecs": cfg.codecs,
                     "alpha": None if interpolation is None else interpolation["alpha"]},
    }
    _atomic_torch_save(ckpt, out / MODEL_FILE)
    from lossybench.model import sha256_file

    report["finetuned"] = {"file": MODEL_FILE, "sha256": sha256_file(out / MODEL_FILE)}
    tmp = report_path.with_name(f".{REPORT_FILE}.tmp")
    tmp.write_text(json.dumps(report, indent=2, allow_nan=False))
    os.replace(tmp, report_path)
    state_path.unlink(missing_ok=True)
    return Outcome(report, out)


def _train_loop(
    res: Resolved, stream_: Iterator[Item], opt: Any, step: int, total: int, warmup: int,
    progress: dict[str, Any], save: Callable[[int], None], cb: Callbacks, dev_type: str,
    teacher: Any = None,
) -> int:
    import torch

    cfg, model, task = res.config, res.model, res.task
    params = [p for g in opt.param_groups for p in g["params"]]
    if cfg.distill and teacher is None:
        raise LossybenchError("internal error: --distill needs the base model as teacher")
    while step < total and (cfg.stop_after is None or step < cfg.stop_after):
        t0 = time.perf_counter()
        lr = lr_at(step, total, cfg.lr, warmup, cfg.schedule)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss_sum, seen = 0.0, 0
        for _ in range(cfg.accumulate):
            inputs, targets, references = [], [], []
            for _ in range(cfg.batch_size):
                item = next(stream_)
                sample = res.train_samples[item.draw.index]
                if item.image is None:
                    progress["failures"] += 1
                    if len(progress["failure_examples"]) < 5:
                        progress["failure_examples"].append(f"{sample.id}: {item.error}")
                    continue
                x, target = training_pair(model, task, sample, item)
                inputs.append(x)
                targets.append(target)
                if teacher is not None:
                    references.append(reference_input(model, item))
                progress["compressed"] += item.draw.codec is not None
            if not inputs:
                continue
            with torch.autocast(dev_type, dtype=torch.bfloat16, enabled=cfg.bf16):
                if teacher is None:
                    loss = model.loss(inputs, targets)
                else:
                    loss = model.distillation_loss(inputs, targets, references, teacher,
                                                   cfg.distill)
            if not torch.isfinite(loss):
                save(step)
                raise LossybenchError(
                    f"training loss became {loss.item()} at step {step + 1}; lower --lr "
                    f"(now {cfg.lr:g}) or check the data (state saved at step {step})"
                )
            (loss / cfg.accumulate).backward()
            loss_sum += float(loss.detach()) * len(inputs)
            seen += len(inputs)
        if cfg.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        opt.step()
        step += 1
        seconds = time.perf_counter() - t0
        progress["train_seconds"] += seconds
        progress["images"] += seen
        entry = {"step": step, "loss": loss_sum / max(seen, 1), "lr": lr, "images": seen}
        progress["history"].append(entry)
        cb.on_step({**entry, "images_per_second": seen / max(seconds, 1e-9)})
        if cfg.eval_every and step % cfg.eval_every == 0 and step < total:
            cb.on_phase(f"evaluating at step {step}", len(res.val_samples))
            t1 = time.perf_counter()
            ev = evaluate(res, cb.on_eval_image)
            progress["eval_seconds"] += time.perf_counter() - t1
            view = headline_view(res, ev)
            progress["evals"].append({"step": step, **view})
            cb.on_message(_eval_line(f"step {step}", res.val_task.headline, view))
            cb.on_phase("training", total)
        if (cfg.checkpoint_every and step % cfg.checkpoint_every == 0) or step == total or (
            cfg.stop_after is not None and step >= cfg.stop_after
        ):
            save(step)
    return step


def _eval_line(prefix: str, head: str, view: dict[str, Any]) -> str:
    """``PREFIX: HEAD clean 71.3; jpeg 0.1:53.2 0.3:66.1`` (headline metric ×100)."""
    def f(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}"

    parts = [f"clean {f(view['clean'])}"]
    for label, pts in view["codecs"].items():
        parts.append(f"{label} " + " ".join(f"{t}:{f(v)}" for t, v in pts.items()))
    return f"{prefix}: {head} " + "; ".join(parts)


def _parameter_counts(module: Any) -> dict[str, int]:
    params = list(module.parameters())
    return {"trained": sum(int(p.numel()) for p in params if p.requires_grad),
            "total": sum(int(p.numel()) for p in params)}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# -- the report ----------------------------------------------------------------------------
def build_report(
    res: Resolved, before: dict[str, Any], after: dict[str, Any], progress: dict[str, Any],
    command: list[str], wall: float,
) -> dict[str, Any]:
    import PIL
    import torch
    import torchvision

    cfg, task = res.config, res.val_task
    return {
        "format": REPORT_FORMAT,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lossybench": __version__,
        "config_sha256": cfg.digest(),
        "task": {"name": task.name, "headline": task.headline, "metrics": list(task.metrics)},
        "base": res.model.info(),
        "train": {
            "dataset": cfg.train_dataset,
            "images": len(res.train_samples),
            "holdout_images": res.config.holdout,
            "codecs": [c.label for c in res.codecs],
            "backends": {c.label: c.backend().as_dict() for c in res.codecs},
            "targets": {"bpp": cfg.bpp} if cfg.bpp is not None else {"bpp_range": cfg.bpp_range},
            "clean_fraction": cfg.clean_fraction,
            "parameters": _parameter_counts(res.model.trainable()),
            "steps": res.total_steps,
            "images_seen": progress["images"],
            "compressed_seen": progress["compressed"],
            "failures": progress["failures"],
            "failure_examples": progress["failure_examples"],
            "seconds": round(progress["train_seconds"], 2),
        },
        "val": {**res.val_dataset.info(res.val_samples), "targets": res.eval_targets},
        "before": before,
        "after": after,
        "summary": summarize(task.headline, before, after),
        "history": progress["history"],
        "evals": progress["evals"],
        "eval_seconds": round(progress["eval_seconds"], 2),
        "wall_seconds": round(wall, 2),
        "config": cfg.model_dump(),
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "numpy": np.__version__,
            "pillow": PIL.__version__,
            "device": cfg.device,
            "threads": torch.get_num_threads(),
            "seed": cfg.seed,
            "command": [str(c) for c in command],
        },
    }


def report_table(report: dict[str, Any]) -> Any:
    """A rich table: clean and each codec × target, before → after, recovered share."""
    from rich.table import Table

    s = report["summary"]
    head = s["headline"]

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}"

    def delta(a: float | None, b: float | None) -> str:
        return "-" if a is None or b is None else f"{100 * (a - b):+.1f}"

    t = Table(
        title=f"Finetune of {report['base']['family']}:{report['base']['name']} — {head} (×100)"
        f" on {report['val']['name']} ({report['val']['images']} images)",
        title_justify="left",
    )
    for col in ("codec", "target bpp", "bpp", "before", "after", "change", "recovered"):
        t.add_column(col, justify="left" if col == "codec" else "right")
    t.add_row("clean", "-", "-", pct(s["clean_before"]), pct(s["clean_after"]),
              delta(s["clean_after"], s["clean_before"]), "-")
    for r in s["points"]:
        frac = r["recovered_fraction"]
        t.add_row(
            r["codec"], f"{r['target']:g}",
            "-" if r["bpp_mean"] is None else f"{r['bpp_mean']:.3f}",
            pct(r["before"]), pct(r["after"]), delta(r["after"], r["before"]),
            f"{100 * frac:.0f} %" if frac is not None else f"[dim]{r['note']}[/dim]",
        )
    ip = report.get("interpolation")
    if ip:
        t.caption = (
            f"weights = base + {ip['alpha']:.3g} × (finetuned − base): the largest share "
            f"keeping the clean loss ≤ {100 * ip['max_clean_drop']:.1f} points on "
            f"{ip['selection_images']} {ip['selection']}"
        )
        t.caption_justify = "left"
    return t
