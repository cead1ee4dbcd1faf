"""The codec worker pool: spawned processes that run codec work ahead of inference.

One pool shape for run, sweep and finetune: spawn (no forked torch state), one
compute thread per worker, a bounded number of images in flight so memory stays
flat, results yielded in submission order (so records never depend on timing).
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from lossybench.dataset import Sample
from lossybench.engine.codec_stage import CodecStage, ImageWork


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
    samples: Iterable[Sample], stage: CodecStage, workers: int
) -> Iterator[tuple[Sample, ImageWork]]:
    """:class:`CodecStage` ``stage`` for each sample, in order; ``workers`` processes, at most
    2×workers images in flight so memory stays flat (0 = in this process)."""
    if workers <= 0:
        for s in samples:
            yield s, stage(s)
        return
    import multiprocessing as mp

    with ProcessPoolExecutor(
        workers, mp_context=mp.get_context("spawn"), initializer=worker_init
    ) as pool:
        pending: deque[tuple[Sample, Future[ImageWork]]] = deque()
        it = iter(samples)
        for s in it:
            pending.append((s, pool.submit(stage, s)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            s, fut = pending.popleft()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(stage, nxt)))
            yield s, fut.result()
