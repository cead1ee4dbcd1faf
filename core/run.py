"""`bench run`: compress → decode → infer → score, per operating point, streamed.

Images are streamed (never all in memory). Codec work runs in ``workers`` processes
(:mod:`lossybench.pipeline`) while this process batches inference. Every per-image
record is appended to a JSONL sidecar as soon as it exists, so a killed run restarted
with the same command skips finished images, and every aggregate in the result is
recomputed from those records.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lossybench import __version__
from lossybench.aggregate import area_under_curve, mean_std, relative_drop, robustness
from lossybench.codec import Codec, CodecSpec
from lossybench.config import RunConfig, auto_workers, available_cores
from lossybench.dataset import Dataset, Sample, Subset
from lossybench.errors import DatasetError, LossybenchError, OutOfRangeError
from lossybench.model import LoadedModel, ModelFamily
from lossybench.pipeline import ImageWork, stream
from lossybench.registry import Registry
from lossybench.results import RunResult
from lossybench.task import Task

RECORDS_FORMAT = 1


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


def build_codecs(specs: list[str] | None, reg: Registry, quiet: bool = False) -> list[Codec]:
    """Instantiate codecs from ``NAME[:k=v,...]``; all *available* ones when none are named."""
    if not specs:
        out, skipped = [], []
        for name in reg.names("codecs"):
            cls = reg.codec(name)
            try:
                cls.check_available()
            except Exception:
                skipped.append(name)
                continue
            out.append(cls())
        if skipped and not quiet:
            from lossybench.console import console

            console.print(
                f"[dim]skipping {len(skipped)} unavailable codecs ({', '.join(skipped)}); "
                "`bench list` says why[/dim]"
            )
        return out
    codecs = []
    for text in specs:
        spec = CodecSpec.parse(text)
        cls = reg.codec(spec.name)
        if not spec.settings:  # settings (e.g. checkpoint=PATH) may be what makes it available
            cls.check_available()
        codecs.append(cls(**spec.settings))
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
    dataset: Dataset = open_dataset(spec, reg, dataset_options)
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


def resolve(cfg: RunConfig, reg: Registry) -> Resolved:
    mode, points = cfg.points()
    if mode == "quality" and not cfg.codecs:
        raise OutOfRangeError("--quality needs explicit --codec names (settings differ per codec)")
    family_cls, model_name, task_cls = model_and_task(cfg.model, cfg.task, reg)
    dataset, task, details = open_task(
        task_cls, cfg.task, cfg.dataset, cfg.dataset_options, cfg.task_options, reg, cfg.limit
    )
    codecs = build_codecs(cfg.codecs, reg)
    if not codecs:
        raise OutOfRangeError("no codec available; see `bench list`")
    if mode == "quality":
        for c in codecs:
            for q in points:
                c.quality.validate(q)
    model = family_cls().build(
        model_name, cfg.task, cfg.weights, cfg.device, num_classes=details.get("num_classes")
    )
    return Resolved(cfg, task, dataset, model, codecs, mode, points, details)


# -- records ---------------------------------------------------------------------------
def record_key(rec: dict[str, Any]) -> tuple[str, str | None, float | None]:
    return rec["image"], rec.get("codec"), rec.get("point")


class RecordLog:
    """Append-only JSONL of per-image records, with a header that pins the config."""

    def __init__(self, path: Path, digest: str) -> None:
        self.path = path
        self.digest = digest
        self.done: set[str] = set()  # ids only: memory must not grow with the dataset
        if path.exists():
            self._load()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._write_line(self.header(digest))

    @staticmethod
    def header(digest: str) -> dict[str, Any]:
        return {"lossybench_records": RECORDS_FORMAT, "config_sha256": digest}

    def _load(self) -> None:
        lines = self.path.read_bytes().split(b"\n")
        good: list[bytes] = []
        for i, raw in enumerate(lines):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError:
                if i >= len(lines) - 2:  # a torn last line from a killed run: drop it
                    break
                raise LossybenchError(
                    f"{self.path}: line {i + 1} is not JSON; delete the file to start over"
                ) from None
            if not good:
                if obj.get("config_sha256") != self.digest:
                    raise LossybenchError(
                        f"{self.path} holds records of a different configuration; "
                        "use another --out or --name, or delete it to start over"
                    )
            else:
                self.done.add(obj["image"])
            good.append(raw)
        # rewrite without a torn tail so later appends stay valid JSONL
        self.path.write_bytes(b"\n".join(good) + b"\n")

    def _write_line(self, obj: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(obj, sort_keys=True, allow_nan=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def append_image(self, records: list[dict[str, Any]]) -> None:
        """All records of one image in one write: an image is done or not at all."""
        text = "".join(json.dumps(r, sort_keys=True, allow_nan=False) + "\n" for r in records)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        self.done.add(records[0]["image"])

    def records(self, wanted: set[str] | None = None) -> list[dict[str, Any]]:
        """Read the records back (of the ``wanted`` images only, if given)."""
        out = []
        with open(self.path, encoding="utf-8") as f:
            next(f, None)  # header
            for line in f:
                rec = json.loads(line)
                if wanted is None or rec["image"] in wanted:
                    out.append(rec)
        return out


def finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def image_records(
    work: ImageWork, sample: Sample, task: Task, model: LoadedModel, batch_size: int
) -> list[dict[str, Any]]:
    """Predict on the original and every decoded point; score; build JSONL records."""
    if work.image is None:
        return [{"image": sample.id, "codec": None, "point": None, "error": work.error}]
    # points that share a bitstream share one decoded array (codec_stage): predict once
    inputs = [work.image]
    slot: dict[int, int] = {}
    for it in work.items:
        if it.decoded is not None and id(it.decoded) not in slot:
            slot[id(it.decoded)] = len(inputs)
            inputs.append(it.decoded)
    preds: list[Any] = []
    for i in range(0, len(inputs), batch_size):
        preds.extend(model.predict(inputs[i : i + batch_size]))
    records = [
        {
            "image": sample.id,
            "codec": None,
            "point": None,
            "outcome": task.outcome(sample, preds[0]),
            "error": None,
        }
    ]
    for it in work.items:
        rec: dict[str, Any] = {
            "image": sample.id,
            "codec": it.codec,
            "point": it.point,
            "quality": it.quality,
            "bytes": it.nbytes,
            "bpp": it.bpp,
            "psnr": finite(it.psnr),
            "status": it.status,
            "error": it.error,
            "outcome": None,
        }
        if it.decoded is not None:
            rec["outcome"] = task.outcome(sample, preds[slot[id(it.decoded)]])
        records.append(rec)
    return records


# -- execution -------------------------------------------------------------------------
def _stream(
    res: Resolved, samples: list[Sample], workers: int
) -> Iterator[tuple[Sample, ImageWork]]:
    cfg = res.config
    args = (
        res.codecs, res.mode, res.points, cfg.policy, cfg.cache_root(), False, cfg.rate_tolerance
    )
    return stream(samples, args, workers)


def set_threads(workers: int | None = None) -> None:
    """Torch's intra-op threads: every core, or the cores ``workers`` processes leave.

    A run gives inference every core: when it is forward-bound the codec workers sit
    idle and two threads beat one (1.5x on 2 cores), and when codec-bound the idle
    OpenMP threads sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``, set by the
    CLI before torch loads), so they cost the workers nothing. The count depends only
    on the machine, never on timing: thread count changes float rounding.
    """
    import torch

    torch.set_num_threads(max(1, available_cores() - (workers or 0)))


def execute(
    res: Resolved, on_image: Callable[[str], None] | None = None, command: list[str] | None = None
) -> tuple[RunResult | None, Path]:
    """Run, resume or (under torchrun) run one shard; rank 0 returns the result.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) each rank takes every N-th image, appends
    to its own shard JSONL, and rank 0 gathers the records, writes them in dataset
    order and builds the one result: identical to a single-process run.
    """
    from lossybench import distributed

    cfg = res.config
    import numpy as np
    import torch

    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    workers = cfg.workers if cfg.workers is not None else auto_workers()
    set_threads()
    start = time.perf_counter()
    out_dir = Path(cfg.out)
    name = cfg.run_name()
    samples = list(res.dataset.samples())
    if not samples:
        raise DatasetError(f"dataset {cfg.dataset!r} has no images")
    world = distributed.World.from_env(cfg.device)
    mine = samples[world.rank :: world.size]
    shard = out_dir / (
        f"{name}.jsonl" if world.size == 1 else f"{name}.rank{world.rank}-of-{world.size}.jsonl"
    )
    log = RecordLog(shard, cfg.digest())
    todo = [s for s in mine if s.id not in log.done]
    for s in mine:
        if s.id in log.done and on_image:
            on_image(s.id)
    for sample, work in _stream(res, todo, workers):
        for label, n in work.encodes.items():
            res.encodes[label] = res.encodes.get(label, 0) + n
        log.append_image(image_records(work, sample, res.task, res.model, cfg.batch_size))
        if on_image:
            on_image(sample.id)
    wanted = {s.id for s in mine}
    records = log.records(wanted)
    final = out_dir / f"{name}.jsonl"
    if world.size > 1:
        gathered = world.gather(records)
        if not world.is_main:
            world.close()
            return None, final
        order = {s.id: i for i, s in enumerate(samples)}
        records = sorted((r for part in gathered for r in part), key=lambda r: order[r["image"]])
        write_records(final, cfg.digest(), records)
    result = build_result(
        res, records, final, time.perf_counter() - start, command or sys.argv, samples
    )
    out_path = out_dir / f"{name}.json"
    tmp = out_path.with_suffix(".json.tmp")
    tmp.write_text(result.model_dump_json(indent=2))
    os.replace(tmp, out_path)
    world.close()
    return result, out_path


def write_records(path: Path, digest: str, records: list[dict[str, Any]]) -> None:
    """The whole JSONL at once, atomically, in the byte format RecordLog appends."""
    lines = [RecordLog.header(digest), *records]
    text = "".join(json.dumps(r, sort_keys=True, allow_nan=False) + "\n" for r in lines)
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def summarize_points(
    task: Task, records: list[dict[str, Any]], codec: str, points: list[float]
) -> list[dict[str, Any]]:
    out = []
    for p in points:
        recs = [r for r in records if r.get("codec") == codec and r.get("point") == p]
        ok = [r for r in recs if r.get("outcome") is not None]
        bpp_mean, bpp_std = mean_std([r["bpp"] for r in ok])
        psnr_mean, _ = mean_std([r["psnr"] for r in ok if r.get("psnr") is not None])
        qs = [r["quality"] for r in ok]
        out.append(
            {
                "target": p,
                "bpp_mean": bpp_mean,
                "bpp_std": bpp_std,
                "psnr_mean": psnr_mean,
                "metrics": task.aggregate([r["outcome"] for r in ok]) if ok else {},
                "images": len(ok),
                "failures": len(recs) - len(ok),
                "flagged": sum(1 for r in ok if r.get("status") != "ok"),
                "quality_min": min(qs) if qs else None,
                "quality_max": max(qs) if qs else None,
            }
        )
    return out


def codec_summary(
    task: Task, clean: dict[str, float], points: list[dict[str, Any]], mode: str
) -> dict[str, Any]:
    head = task.headline
    c = clean.get(head)
    at = []
    for p in points:
        v = p["metrics"].get(head)
        at.append({"target": p["target"], "value": v, "relative_drop": relative_drop(c, v)})
    if mode != "bpp":
        area, reason = None, "quality mode: no bit-rate axis targets"
    else:
        area, reason = area_under_curve(
            [p["bpp_mean"] for p in points], [p["metrics"].get(head) for p in points]
        )
    return {
        "headline": head,
        "at": at,
        "area": area,
        "robustness": robustness(area, c),
        "reason": reason,
    }


def _env(cfg: RunConfig, command: list[str]) -> dict[str, Any]:
    import numpy
    import PIL
    import torch
    import torchvision

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
        "device": cfg.device,
        "seed": cfg.seed,
        "command": [str(c) for c in command],
    }


def _plugins() -> list[dict[str, str]]:
    from importlib.metadata import entry_points

    from lossybench.markers import ENTRY_POINT_GROUP

    out = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        out.append(
            {
                "name": ep.name,
                "distribution": dist.metadata["Name"] if dist else "?",
                "version": dist.version if dist else "?",
            }
        )
    return out


def build_result(
    res: Resolved,
    records: list[dict[str, Any]],
    jsonl: Path,
    wall: float,
    command: list[str],
    samples: list[Sample],
) -> RunResult:
    cfg, task = res.config, res.task
    clean_recs = [r for r in records if r.get("codec") is None]
    clean_ok = [r["outcome"] for r in clean_recs if r.get("outcome") is not None]
    clean = task.aggregate(clean_ok) if clean_ok else {}
    codecs = []
    for codec in res.codecs:
        pts = summarize_points(task, records, codec.label, res.points)
        codecs.append(
            {
                "name": codec.name,
                "label": codec.label,
                "settings": codec.settings,
                "backend": codec.backend().as_dict(),
                "quality": codec.quality.describe(),
                "points": pts,
                "summary": codec_summary(task, clean, pts, res.mode),
            }
        )
    digest = hashlib.sha256(jsonl.read_bytes()).hexdigest()
    data = {
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lossybench": {"version": __version__, "plugins": _plugins()},
        "task": {
            "name": task.name,
            "headline": task.headline,
            "metrics": list(task.metrics),
            "details": res.task_details,
        },
        "model": res.model.info(),
        "dataset": res.dataset.info(samples),
        "environment": _env(cfg, command),
        "settings": {
            "mode": res.mode,
            "points": res.points,
            "policy": cfg.policy,
            "rate_tolerance": cfg.rate_tolerance,
            "batch_size": cfg.batch_size,
            "workers": cfg.workers if cfg.workers is not None else auto_workers(),
            "limit": cfg.limit,
        },
        "clean": {
            "metrics": clean,
            "images": len(clean_ok),
            "failures": len(clean_recs) - len(clean_ok),
        },
        "codecs": codecs,
        "records": {"file": jsonl.name, "sha256": digest, "count": len(records)},
        "config": cfg.model_dump(),
        "wall_seconds": wall,
    }
    return RunResult.model_validate(data)
