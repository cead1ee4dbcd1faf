"""The per-image codec stage of a run, runnable in worker processes.

For one image: read it, find each codec's setting for every operating point (rate
control shares encodes across targets), decode, and measure bpp and PSNR. Everything
here is picklable and free of model state, so ``--workers N`` can run it in N
processes while the main process runs inference.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossybench.cache import CodecCache, image_key
from lossybench.codec import Codec, bits_per_pixel
from lossybench.dataset import Sample
from lossybench.errors import LossybenchError
from lossybench.metrics import MsSsimReference, psnr
from lossybench.ratecontrol import Policy, RateSearch


@dataclass
class Compressed:
    """One decoded operating point of one codec on one image (or why it failed)."""

    codec: str
    point: float
    quality: float | None = None
    nbytes: int | None = None
    bpp: float | None = None
    psnr: float | None = None
    status: str = "ok"
    decoded: np.ndarray | None = None
    error: str | None = None
    encode_seconds: float | None = None
    decode_seconds: float | None = None
    ms_ssim: float | None = None


@dataclass
class ImageWork:
    sample_id: str
    image: np.ndarray | None  # None when unreadable, or when pixels were not kept
    items: list[Compressed] = field(default_factory=list)
    encodes: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    shape: tuple[int, ...] | None = None  # of the original image


def describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, LossybenchError) else f"{type(exc).__name__}: {exc}"


def codec_stage(
    sample: Sample,
    codecs: list[Codec],
    mode: str,
    points: list[float],
    policy: Policy,
    cache_root: str | None = None,
    with_ms_ssim: bool = False,
    tolerance: float = 0.0,
    keep_pixels: bool = True,
) -> ImageWork:
    """Compress and decode one image with every codec at every point; never raises.

    With ``cache_root``, rate tables and chosen bitstreams are read from and written to
    the on-disk :mod:`lossybench.cache`, so a repeated image encodes nothing.
    ``tolerance`` is rate control's relative rate tolerance (0 = exact search).
    ``keep_pixels=False`` drops the original and decoded images once measured (a sweep
    needs only the numbers; not shipping the pixels back from workers saves the copies).
    """
    try:
        image = sample.image()
    except Exception as exc:
        return ImageWork(sample.id, None, error=describe(exc))
    h, w = image.shape[:2]
    work = ImageWork(sample.id, image, shape=image.shape)
    reference = MsSsimReference(image) if with_ms_ssim else None
    cache = CodecCache(cache_root) if cache_root is not None else None
    key = image_key(image) if cache is not None else ""
    for codec in codecs:
        try:
            if mode == "bpp":
                entry = cache.entry(key, codec) if cache is not None else None
                search = RateSearch(
                    codec, image, policy=policy, cache=entry, tolerance=tolerance
                )
                chosen = [
                    (p.target, p.quality, p.bitstream, p.status, p.encode_seconds)
                    for p in search.solve(points)
                ]
                work.encodes[codec.label] = search.encodes
            else:
                chosen = []
                for q in points:
                    start = time.perf_counter()
                    bits = codec.encode(image, codec.quality.validate(q))
                    chosen.append((q, q, bits, "ok", time.perf_counter() - start))
                work.encodes[codec.label] = len(points)
        except Exception as exc:
            msg = f"{w}x{h}: {describe(exc)}"
            work.items.extend(Compressed(codec.label, p, error=msg) for p in points)
            continue
        # targets that share a setting share its bitstream: decode and measure it once
        # (the items then share one decoded array, and inference predicts on it once)
        done: dict[bytes, Compressed] = {}
        for point, quality, bits, status, enc_s in chosen:
            item = Compressed(
                codec.label, point, quality, len(bits), bits_per_pixel(bits, w, h), status=status,
                encode_seconds=enc_s,
            )
            same = done.get(bits)
            if same is not None:
                item.decoded, item.error, item.decode_seconds = (
                    same.decoded, same.error, same.decode_seconds
                )
                item.psnr, item.ms_ssim = same.psnr, same.ms_ssim
                work.items.append(item)
                continue
            done[bits] = item
            try:
                start = time.perf_counter()
                decoded = codec.safe_decode(bits)
                item.decode_seconds = time.perf_counter() - start
                if decoded.shape != image.shape:
                    raise LossybenchError(
                        f"{codec.name}: decoded shape {decoded.shape} differs from {image.shape}"
                    )
                item.decoded = decoded
                item.psnr = psnr(image, decoded)
                if reference is not None:
                    item.ms_ssim = reference.score(decoded)
            except Exception as exc:
                item.error = describe(exc)
            work.items.append(item)
    if not keep_pixels:
        work.image = None
        for item in work.items:
            item.decoded = None
    return work


def _worker_init() -> None:
    """One compute thread per codec worker: the workers already fill the cores."""
    import warnings

    # spawned workers do not inherit the CLI's warning filters; this deprecation comes
    # from compressai's import of torch.jit and is not the user's business
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def stream(
    samples: Iterable[Sample], args: tuple[Any, ...], workers: int
) -> Iterator[tuple[Sample, ImageWork]]:
    """:func:`codec_stage` for each sample, in order; ``workers`` processes, at most
    2×workers images in flight so memory stays flat (0 = in this process)."""
    if workers <= 0:
        for s in samples:
            yield s, codec_stage(s, *args)
        return
    import multiprocessing as mp

    with ProcessPoolExecutor(
        workers, mp_context=mp.get_context("spawn"), initializer=_worker_init
    ) as pool:
        pending: deque[tuple[Sample, Future[ImageWork]]] = deque()
        it = iter(samples)
        for s in it:
            pending.append((s, pool.submit(codec_stage, s, *args)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            s, fut = pending.popleft()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(codec_stage, nxt, *args)))
            yield s, fut.result()
