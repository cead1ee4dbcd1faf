"""The codec worker pool: spawned processes that run codec work ahead of inference.

One pool shape for run, sweep and finetune: spawn (no forked torch state), one
compute thread per worker, a bounded number of images in flight so memory stays
flat, results yielded in submission order (so records never depend on timing).
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lossybench.dataset import Sample
from lossybench.engine.codec_batch import GroupStage
from lossybench.engine.codec_stage import CodecStage, ImageWork

T = TypeVar("T")
X = TypeVar("X")


@dataclass
class StreamStats:
    """Where one :func:`stream`'s time went: for benchmarks, never for results.

    ``wall_s``: the stream's first step to its end. The consumer (the model stage) has
    turns: from a result handed to it until it asks for the next (inference, records).
    ``model_wait_s``: the rest of ``wall_s``, the consumer inside the stream waiting for
    codec results (blocked in ``fut.result()``; with ``workers`` 0, the codec work
    itself). ``codec_wait_s``: pool-seconds the codec stage stood idle during the
    consumer's turns, the integral over them of (workers - min(workers, unfinished
    images)) / workers: workers with nothing to do because the consumer had not yet
    taken results to make room (with ``workers`` 0, all of its turns). ``codec_cpu_s``:
    CPU seconds of the codec work, each image's process time plus the programs it ran
    (worker start-up not included).
    """

    workers: int = 0
    images: int = 0
    wall_s: float = 0.0
    model_wait_s: float = 0.0
    codec_wait_s: float = 0.0
    codec_cpu_s: float = 0.0
    #: (time, +1 submitted / -1 finished) of pool work; (start, end) of consumer turns
    events: list[tuple[float, int]] = field(default_factory=list, repr=False)
    turns: list[tuple[float, float]] = field(default_factory=list, repr=False)

    def settle(self) -> None:
        """``model_wait_s`` and ``codec_wait_s`` from the recorded turns and events."""
        self.model_wait_s = self.wall_s - sum(end - start for start, end in self.turns)
        n = self.workers
        if n <= 0:
            self.codec_wait_s = self.wall_s - self.model_wait_s
            return
        events = sorted(self.events)
        idle, i, unfinished = 0.0, 0, 0
        for start, end in self.turns:
            t = start
            while i < len(events) and events[i][0] <= end:
                when, step = events[i]
                if when > t:
                    idle += (when - t) * (1 - min(unfinished, n) / n)
                    t = when
                unfinished += step
                i += 1
            idle += (end - t) * (1 - min(unfinished, n) / n)
        self.codec_wait_s = idle


def cpu_now() -> float:
    """CPU seconds of this process and of the programs it ran and waited for."""
    try:
        import resource

        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + kids.ru_utime + kids.ru_stime
    except ImportError:  # not on Unix
        return time.process_time()


class Timed:
    """``stage`` that also returns the CPU seconds it took (picklable for the pool)."""

    def __init__(self, stage: Callable[[Any], Any]) -> None:
        self.stage = stage

    def __call__(self, s: Any) -> tuple[Any, float]:
        t0 = cpu_now()
        work = self.stage(s)
        return work, cpu_now() - t0


def worker_init() -> None:
    """One compute thread per codec worker: the workers already fill the cores."""
    import warnings

    # spawned workers do not inherit the CLI's warning filters; this deprecation comes
    # from compressai's import of torch.jit and is not the user's business
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def stream(
    samples: Iterable[Sample], stage: Callable[[Sample], ImageWork], workers: int,
    stats: StreamStats | None = None,
) -> Iterator[tuple[Sample, ImageWork]]:
    """:class:`CodecStage` ``stage`` for each sample, in order; ``workers`` processes, at most
    2×workers images in flight so memory stays flat (0 = in this process). ``stats``, when
    given, is filled in as the stream runs (:class:`StreamStats`)."""
    if stats is None:
        for s, (work, _cpu) in _timed(samples, stage, workers):
            yield s, work
        return
    stats.workers = workers
    clock = time.perf_counter
    start = clock()
    try:
        for s, (work, cpu) in _timed(samples, stage, workers, stats.events):
            stats.codec_cpu_s += cpu
            stats.images += 1
            given = clock()
            yield s, work
            stats.turns.append((given, clock()))
    finally:
        stats.wall_s = clock() - start
        stats.settle()


def _timed(
    samples: Iterable[Sample], stage: Callable[[Sample], ImageWork], workers: int,
    events: list[tuple[float, int]] | None = None,
) -> Iterator[tuple[Sample, tuple[ImageWork, float]]]:
    """Each sample with its work and CPU seconds; in groups of ``stage.batch`` images
    when a codec batches (a group's CPU seconds are counted at its first image)."""
    if not (isinstance(stage, CodecStage) and stage.batching):  # or any per-sample callable
        yield from _stream(samples, Timed(stage), workers, events)
        return
    # a group per worker and one ready: every worker busy, the images in flight bounded
    for chunk, (works, cpu) in _stream(
        _chunks(samples, stage.batch), Timed(GroupStage(stage)), workers, events,
        in_flight=workers + 1,
    ):
        for j, (s, work) in enumerate(zip(chunk, works, strict=True)):
            yield s, (work, cpu if j == 0 else 0.0)


def _chunks(samples: Iterable[Sample], size: int) -> Iterator[list[Sample]]:
    chunk: list[Sample] = []
    for s in samples:
        chunk.append(s)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _stream(
    samples: Iterable[X], stage: Callable[[X], T], workers: int,
    events: list[tuple[float, int]] | None = None, in_flight: int | None = None,
) -> Iterator[tuple[X, T]]:
    """``stage`` of each item in ``workers`` processes, in order, at most ``in_flight``
    items submitted and not yet taken (default 2×workers)."""
    if workers <= 0:
        for s in samples:
            yield s, stage(s)
        return
    import multiprocessing as mp

    with ProcessPoolExecutor(
        workers, mp_context=mp.get_context("spawn"), initializer=worker_init
    ) as pool:
        pending: deque[tuple[X, Future[T]]] = deque()

        def submit(s: X) -> None:
            fut = pool.submit(stage, s)
            if events is not None:
                events.append((time.perf_counter(), 1))
                fut.add_done_callback(lambda _f: events.append((time.perf_counter(), -1)))
            pending.append((s, fut))

        it = iter(samples)
        for s in it:
            submit(s)
            if len(pending) >= (in_flight or 2 * workers):
                break
        while pending:
            s, fut = pending.popleft()
            nxt = next(it, None)
            if nxt is not None:
                submit(nxt)
            yield s, fut.result()
