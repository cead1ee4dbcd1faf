"""``lossybench.evaluate(model, data, task=...)``: `bench run` for a model object in hand.

Why through the engine: the numbers must be the ones ``bench run`` gives, with its rate
control, bitstream cache, worker pool, resume and result file. So the objects become a
:class:`~lossybench.engine.run.resolve.Resolved` (a configuration that names them, the
adapted dataset and model, the codecs) and :func:`~lossybench.engine.run.execute.execute`
runs it; nothing here compresses or scores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from lossybench.api.adapters import (
    ModuleModel,
    class_path,
    make_preprocess,
    preprocessing_digest,
    state_digest,
)
from lossybench.api.data import PythonData
from lossybench.api.result import Evaluation
from lossybench.codec import Codec
from lossybench.dataset import Dataset
from lossybench.engine.ratecontrol import DEFAULT_RATE_TOLERANCE
from lossybench.engine.run.config import make_config
from lossybench.engine.run.execute import execute
from lossybench.engine.run.resolve import Resolved, build_codecs, open_dataset, resolve_objects
from lossybench.errors import ModelError, OutOfRangeError
from lossybench.model import LoadedModel, WeightsInfo
from lossybench.registry import Registry, get_registry
from lossybench.task import Task

#: the model family results name for a Python object (``python:module.Class``)
FAMILY = "python"


def evaluate(
    model: Any,
    data: Any,
    *,
    task: str,
    codecs: str | Codec | Sequence[str | Codec] | None = None,
    bpp: float | Sequence[float] | None = None,
    quality: float | Sequence[float] | None = None,
    preprocess: Callable[[np.ndarray], Any] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    size: int | Sequence[int] | None = None,
    classes: int | Sequence[str] | None = None,
    device: str = "cpu",
    batch_size: int = 16,
    workers: int | None = None,
    cache: str | Path | None = "default",
    out: str | Path = "results",
    name: str | None = None,
    policy: str = "floor",
    rate_tolerance: float = DEFAULT_RATE_TOLERANCE,
    seed: int = 0,
    limit: int | None = None,
    task_options: dict[str, Any] | None = None,
    dataset_options: dict[str, Any] | None = None,
    ignore_index: int = 255,
    on_image: Callable[[str], None] | None = None,
    registry: Registry | None = None,
) -> Evaluation | None:
    """How much accuracy ``model`` loses on ``data`` compressed by ``codecs`` at ``bpp``.

    ``model``: a ``torch.nn.Module`` or any callable from a float batch (N, 3, H, W) to
    the task's outputs — class scores (N, K); a list of N torchvision detection dicts
    (``boxes`` xyxy in the input's pixels, ``scores``, ``labels``); per-pixel class scores
    (N, K, H, W). ``data``: a torch ``Dataset`` or any iterable of (image, target) — the
    image a PIL image or uint8 (H, W, 3) array, the target a class index, ``{"boxes":
    (n, 4) xyxy, "labels": (n,)}`` or an (H, W) label mask — or a registered dataset as
    ``"FORMAT[:LOCATION]"`` (``"scenes-classification"``, ``"coco:DIR"``), or a
    :class:`lossybench.dataset.Dataset`. ``preprocess`` turns each decoded uint8 (H, W, 3)
    image into the model's CHW float input; by default pixels / 255, then ``size``
    (an int for a square, or (H, W)) and ``mean``/``std``. ``classes``: a class count or
    names, for Python data without a ``classes`` attribute.

    Returns the :class:`~lossybench.engine.results.RunResult` that ``bench run`` writes
    (also written to ``out``; :meth:`Evaluation.save`, :meth:`Evaluation.image_records`). A
    second call with the same arguments resumes from the per-image records. Under
    torchrun, ranks other than 0 return None.
    """
    reg = registry if registry is not None else get_registry()
    if not callable(model):
        raise ModelError(f"model must be a torch.nn.Module or a callable, not "
                         f"{type(model).__name__}")
    instances, labels = _codecs(codecs, reg, device)
    transform, pre = make_preprocess(preprocess, mean, std, size)
    dataset, spec, options = _dataset(data, task, reg, Path(out), limit, classes, ignore_index,
                                      dataset_options)
    model_name = class_path(model)
    sha = state_digest(model)
    weights = f"sha256:{sha}" if sha else None
    if weights and (preprocess is not None or any(v is not None for v in (mean, std, size))):
        weights += f";preprocess:{preprocessing_digest(pre)[:16]}"
    cfg = make_config({
        "task": task, "model": f"{FAMILY}:{model_name}", "weights": weights,
        "dataset": spec, "dataset_options": options, "task_options": dict(task_options or {}),
        "codecs": labels, "bpp": _floats(bpp), "quality": _floats(quality), "policy": policy,
        "rate_tolerance": rate_tolerance, "batch_size": batch_size, "device": device,
        "workers": workers, "limit": limit, "seed": seed, "out": str(out),
        "cache": None if cache is None else str(cache), "name": name,
    }, "lossybench.evaluate")

    def make_model(task_obj: Task, details: dict[str, Any]) -> LoadedModel:
        from lossybench.kits.device import rank_device, resolve_device

        dev = rank_device(device)
        resolve_device(dev)
        if hasattr(model, "to") and hasattr(model, "state_dict"):
            model.to(dev)
        return ModuleModel(
            family=FAMILY, name=model_name, task=task,
            weights=WeightsInfo("state_dict" if sha else "callable", sha),
            preprocessing=pre, device=dev, net=model, transform=transform,
            num_classes=details.get("num_classes"),
        )

    res = resolve_objects(cfg, reg, dataset, make_model, instances)
    command = ["lossybench.evaluate", f"task={task}", f"model={model_name}", f"data={spec}"]
    with _borrowed(model, device):
        probe(res)
        result, path = execute(res, on_image, command)
    return None if result is None else Evaluation.of(result, path)


def probe(res: Resolved) -> None:
    """Run the model on the first image and score it before any codec work: an output that
    does not fit the task fails in a second, with what was expected and what came."""
    sample = next(iter(res.dataset.samples()), None)
    if sample is None:
        return
    try:
        image = sample.image()
    except Exception:  # the run reports unreadable images one by one
        return
    res.task.outcome(sample, res.model.predict([image])[0])


def _floats(values: float | Sequence[float] | None) -> list[float] | None:
    if values is None:
        return None
    if isinstance(values, int | float):
        return [float(values)]
    return [float(v) for v in values]


def _codecs(
    codecs: str | Codec | Sequence[str | Codec] | None, reg: Registry, device: str
) -> tuple[list[Codec] | None, list[str]]:
    """(instances when any codec was given as an object, labels for the configuration)."""
    if codecs is None:
        return None, []
    given = [codecs] if isinstance(codecs, str | Codec) else list(codecs)
    if not any(isinstance(c, Codec) for c in given):
        return None, [str(c) for c in given]
    from lossybench.kits.device import rank_device

    where = rank_device(device)
    built = [c if isinstance(c, Codec) else build_codecs([str(c)], reg, None, where)[0]
             for c in given]
    labels = [c.label for c in built]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise OutOfRangeError(f"codec given twice: {', '.join(dupes)}")
    return built, labels


def _dataset(
    data: Any, task: str, reg: Registry, out: Path, limit: int | None,
    classes: int | Sequence[str] | None, ignore_index: int,
    dataset_options: dict[str, Any] | None,
) -> tuple[Dataset, str, dict[str, Any]]:
    """(the dataset, its ``FORMAT[:LOCATION]`` for the configuration, its options)."""
    if classes is not None and isinstance(data, str | Dataset):
        raise OutOfRangeError("classes= describes Python data; a registered dataset defines "
                              "its own classes (or give task_options={'num_classes': K})")
    if isinstance(data, str):
        options = dict(dataset_options or {})
        return open_dataset(data, reg, options), data, options
    if isinstance(data, Dataset):
        spec = f"{data.name}:{data.location}" if data.location else data.name
        return data, spec, dict(dataset_options or {})
    if isinstance(data, str | bytes | Path) or (not hasattr(data, "__iter__") and not (
            hasattr(data, "__getitem__") and hasattr(data, "__len__"))):
        raise OutOfRangeError(f"data must be a torch Dataset, an iterable of (image, target), "
                              f"a lossybench Dataset or a 'FORMAT[:LOCATION]' name; got "
                              f"{type(data).__name__}")
    ds = PythonData(data, task, out.absolute() / "python-images", limit, classes, ignore_index)
    # the data's hash is part of the configuration, so a resumed run never mixes datasets
    return ds, f"python:{ds.location}", {"sha256": ds.fingerprint()}


@contextmanager
def _borrowed(model: Any, device: str) -> Iterator[None]:
    """Evaluate in eval mode and give the caller's process back as it was: the module's
    train/eval mode, torch's thread count and the global random generators' states."""
    import torch

    training = getattr(model, "training", None)
    threads = torch.get_num_threads()
    state = np.random.get_state()
    if hasattr(model, "eval") and hasattr(model, "train"):
        model.eval()
    cuda = device.startswith("cuda") and torch.cuda.is_available()
    with torch.random.fork_rng(devices=list(range(torch.cuda.device_count())) if cuda else []):
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            np.random.set_state(state)
            if training:
                model.train(True)
