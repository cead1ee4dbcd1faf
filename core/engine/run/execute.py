"""`bench run`: compress → decode → infer → score, per operating point, streamed.

Images are streamed (never all in memory). Codec work runs in ``workers``
processes (:mod:`lossybench.engine.workers`) while this process batches inference.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from lossybench.dataset import Sample
from lossybench.engine.codec_batch import batch_for
from lossybench.engine.codec_stage import CodecStage, ImageWork
from lossybench.engine.results import RunResult
from lossybench.engine.run.config import auto_workers
from lossybench.engine.run.records import RecordLog, image_records, write_records
from lossybench.engine.run.resolve import Resolved
from lossybench.engine.run.summary import build_result
from lossybench.engine.workers import StreamStats, stream
from lossybench.errors import DatasetError
from lossybench.kits.cores import available_cores
from lossybench.kits.device import choose_device


def _stream(
    res: Resolved, samples: list[Sample], workers: int, stats: StreamStats | None = None
) -> Iterator[tuple[Sample, ImageWork]]:
    return stream(samples, stage_of(res), workers, stats)


def stage_of(res: Resolved) -> CodecStage:
    """The codec stage of a resolved run (a finetune's evaluation is one too)."""
    cfg = res.config
    return CodecStage(
        res.codecs, res.mode, res.points, cfg.policy, cfg.cache_root(),
        tolerance=cfg.rate_tolerance, batch=batch_for(res.codecs),
    )


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
    res: Resolved,
    on_image: Callable[[str], None] | None = None,
    command: list[str] | None = None,
    on_resume: Callable[[int, int], None] | None = None,
    stats: StreamStats | None = None,
) -> tuple[RunResult | None, Path]:
    """Run, resume or (under torchrun) run one shard; rank 0 returns the result.

    A resumed run calls ``on_resume(done, total)`` (images of this rank already in the
    records, and all of them) before anything else, so the caller can say so; then
    ``on_image`` is called for each done image and each image finished now.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) each rank takes every N-th image, appends
    to its own shard JSONL, and rank 0 gathers the records, writes them in dataset
    order and builds the one result: identical to a single-process run.

    ``stats``, when given, is filled with where the codec stream's time went (for
    benchmarks: ``benchmarks/pipeline.py``; never part of the result).
    """
    from lossybench.engine import distributed

    cfg = res.config
    import numpy as np
    import torch

    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    device = choose_device(cfg.device)
    workers = cfg.workers if cfg.workers is not None else auto_workers(device)
    set_threads()
    start = time.perf_counter()
    out_dir = Path(cfg.out)
    name = cfg.run_name()
    samples = list(res.dataset.samples())
    if not samples:
        raise DatasetError(f"dataset {cfg.dataset!r} has no images")
    world = distributed.World.from_env(device)
    mine = samples[world.rank :: world.size]
    shard = out_dir / (
        f"{name}.jsonl" if world.size == 1 else f"{name}.rank{world.rank}-of-{world.size}.jsonl"
    )
    log = RecordLog(shard, cfg.digest())
    todo = [s for s in mine if s.id not in log.done]
    if on_resume and len(todo) < len(mine):
        on_resume(len(mine) - len(todo), len(mine))
    for s in mine:
        if s.id in log.done and on_image:
            on_image(s.id)
    for sample, work in _stream(res, todo, workers, stats):
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
