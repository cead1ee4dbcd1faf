"""From names to objects: everything a run needs, checked before heavy work starts.

The one resolution of lossybench: `bench finetune` builds on it
(:mod:`lossybench.engine.finetune.resolve` opens its validation side with
:func:`resolve` and its training side with the same :func:`open_task`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lossybench.codec import Codec, CodecSpec
from lossybench.dataset import Dataset, Subset
from lossybench.engine.run.config import RunConfig
from lossybench.errors import DatasetError, OutOfRangeError
from lossybench.kits.device import rank_device
from lossybench.model import LoadedModel, ModelFamily
from lossybench.registry import Registry
from lossybench.task import Task


@dataclass
class Resolved:
    """Everything a run needs, checked before any heavy work starts."""

    config: RunConfig
    task: Task
    dataset: Dataset
    model: LoadedModel
    codecs: list[Codec]
    mode: str
    points: list[float]
    task_details: dict[str, Any]
    #: encodes actually made by this process per codec label (cache hits excluded): for
    #: benchmarks and the console, never for results, which must not depend on the cache
    encodes: dict[str, int] = field(default_factory=dict)
    #: registered codecs left out of an all-codecs run because they are unavailable here
    skipped_codecs: list[str] = field(default_factory=list)
    #: the registry the names were resolved in: results record each entry's plugin
    registry: Registry | None = None


def placed(cls: type[Codec], settings: dict[str, Any], device: str | None) -> dict[str, Any]:
    """``settings`` plus the run's device for a codec that has a ``device`` placement
    option the user left unset (a learned codec runs where the model runs)."""
    if device is None or "device" in settings:
        return settings
    if any(o.name == "device" and o.placement for o in cls.options):
        return {**settings, "device": device}
    return settings


def build_codecs(
    specs: list[str] | None, reg: Registry, skipped: list[str] | None = None,
    device: str | None = None,
) -> list[Codec]:
    """Instantiate codecs from ``NAME[:k=v,...]``; all *available* ones when none are named
    (the names of unavailable ones are appended to ``skipped``, for the front end to say).
    ``device``: where codecs with a ``device`` placement option run unless told."""
    if not specs:
        out = []
        for name in reg.names("codecs"):
            cls = reg.codec(name)
            try:
                cls.check_available()
            except Exception:
                if skipped is not None:
                    skipped.append(name)
                continue
            out.append(cls(**placed(cls, {}, device)))
        return out
    codecs = []
    for text in specs:
        spec = CodecSpec.parse(text)
        cls = reg.codec(spec.name)
        if not spec.settings:  # settings (e.g. checkpoint=PATH) may be what makes it available
            cls.check_available()
        codecs.append(cls(**placed(cls, spec.settings, device)))
    labels = [c.label for c in codecs]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise OutOfRangeError(f"codec given twice: {', '.join(dupes)}")
    return codecs


def open_dataset(spec: str, reg: Registry, options: dict[str, Any] | None = None) -> Dataset:
    name, _, location = spec.partition(":")
    cls = reg.get("datasets", name).obj
    if cls.requires_location and not location:
        raise DatasetError(f"dataset format {name!r} needs a location: --dataset {name}:PATH")
    try:
        return cls(location or None, **(options or {}))
    except TypeError as exc:
        raise DatasetError(f"dataset format {name!r} does not take these options: {exc}") from None


def model_and_task(
    model: str, task: str, reg: Registry
) -> tuple[type[ModelFamily], str, type[Task]]:
    """(family class, model name, task class) of ``FAMILY:NAME`` for ``task``, or a clear error."""
    family_name, sep, model_name = model.partition(":")
    if not sep or not model_name:
        have = ", ".join(reg.names("models")) or "none"
        raise OutOfRangeError(f"--model must be FAMILY:NAME (e.g. timm:resnet50); families: {have}")
    family_cls: type[ModelFamily] = reg.get("models", family_name).obj
    task_cls: type[Task] = reg.get("tasks", task).obj
    if family_cls.tasks and task not in family_cls.tasks:
        raise OutOfRangeError(
            f"model family {family_name!r} supports tasks "
            f"{', '.join(family_cls.tasks)}, not {task!r}"
        )
    return family_cls, model_name, task_cls


def open_task(
    task_cls: type[Task],
    task_name: str,
    spec: str,
    dataset_options: dict[str, Any],
    task_options: dict[str, Any],
    reg: Registry,
    limit: int | None = None,
) -> tuple[Dataset, Task, dict[str, Any]]:
    """The dataset (first ``limit`` images), the task over it and its prepared details."""
    return task_on(open_dataset(spec, reg, dataset_options), task_cls, task_name, task_options,
                   limit)


def task_on(
    dataset: Dataset,
    task_cls: type[Task],
    task_name: str,
    task_options: dict[str, Any],
    limit: int | None = None,
) -> tuple[Dataset, Task, dict[str, Any]]:
    """:func:`open_task` for a dataset already opened (or made by the Python API)."""
    if limit is not None:
        dataset = Subset(dataset, limit)
    if dataset.task is not None and dataset.task != task_name:
        raise DatasetError(
            f"dataset {dataset.name!r} carries {dataset.task} targets; "
            f"it cannot be used for {task_name!r}"
        )
    try:
        task = task_cls(dataset, **task_options)
    except TypeError as exc:
        raise OutOfRangeError(f"task {task_name!r} does not take these options: {exc}") from None
    return dataset, task, task.prepare()


def build_model(
    family_cls: type[ModelFamily], model_name: str, task: str, weights: str | None,
    device: str, num_classes: int | None,
) -> LoadedModel:
    """The model, built where it will run: under torchrun, bare ``cuda`` is this rank's
    GPU (``cuda:LOCAL_RANK``) before the family sees it, never moved there later."""
    return family_cls().build(
        model_name, task, weights, rank_device(device), num_classes=num_classes
    )


def resolve(cfg: RunConfig, reg: Registry, num_classes: int | None = None) -> Resolved:
    """Check every name and setting, open the dataset, build codecs and the model.

    ``num_classes``: classes the model must predict besides the dataset's own (the
    larger counts; a finetune passes its training set's).
    """
    mode, points = cfg.points()
    if mode == "quality" and not cfg.codecs:
        raise OutOfRangeError("--quality needs explicit --codec names (settings differ per codec)")
    family_cls, model_name, task_cls = model_and_task(cfg.model, cfg.task, reg)
    dataset, task, details = open_task(
        task_cls, cfg.task, cfg.dataset, cfg.dataset_options, cfg.task_options, reg, cfg.limit
    )
    skipped: list[str] = []
    codecs = build_codecs(cfg.codecs, reg, skipped, rank_device(cfg.device))
    if not codecs:
        raise OutOfRangeError("no codec available; see `bench list`")
    check_settings(mode, points, codecs)
    ks = [k for k in (details.get("num_classes"), num_classes) if k]
    model = build_model(
        family_cls, model_name, cfg.task, cfg.weights, cfg.device, max(ks) if ks else None
    )
    return Resolved(
        cfg, task, dataset, model, codecs, mode, points, details, skipped_codecs=skipped,
        registry=reg,
    )


def check_settings(mode: str, points: list[float], codecs: list[Codec]) -> None:
    """In quality mode every setting must be valid for every codec (bpp targets are checked
    by the configuration)."""
    if mode == "quality":
        for c in codecs:
            for q in points:
                c.quality.validate(q)


def resolve_objects(
    cfg: RunConfig,
    reg: Registry,
    dataset: Dataset,
    make_model: Callable[[Task, dict[str, Any]], LoadedModel],
    codecs: list[Codec] | None = None,
) -> Resolved:
    """:func:`resolve` for objects in hand (the Python API, ``lossybench.evaluate``).

    ``dataset`` replaces opening ``cfg.dataset``; ``make_model(task, details)`` replaces a
    model family (it sees the prepared task, e.g. its ``num_classes``); ``codecs``, when
    given, replace building ``cfg.codecs`` from the registry. Everything else is checked
    as :func:`resolve` checks it.
    """
    mode, points = cfg.points()
    if mode == "quality" and not (codecs or cfg.codecs):
        raise OutOfRangeError("--quality needs explicit --codec names (settings differ per codec)")
    task_cls: type[Task] = reg.get("tasks", cfg.task).obj
    dataset, task, details = task_on(dataset, task_cls, cfg.task, cfg.task_options, cfg.limit)
    skipped: list[str] = []
    built = list(codecs) if codecs else build_codecs(cfg.codecs, reg, skipped,
                                                     rank_device(cfg.device))
    if not built:
        raise OutOfRangeError("no codec available; see `bench list`")
    check_settings(mode, points, built)
    model = make_model(task, details)
    return Resolved(
        cfg, task, dataset, model, built, mode, points, details, skipped_codecs=skipped,
        registry=reg,
    )
