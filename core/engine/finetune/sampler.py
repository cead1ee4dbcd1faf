"""What each training step sees: a pure function of (seed, sample number).

Image order is a seeded permutation per epoch; clean-or-compressed, the codec,
the target and the mirror/quarter turns of sample *g* come from
``numpy.random.Generator(PCG64([seed, 1, g]))``; compression is deterministic
(and cached). So resuming needs only the step count, never the sampler's state.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossybench.codec import Codec
from lossybench.dataset import Sample
from lossybench.engine.codec_stage import CodecStage
from lossybench.engine.finetune.config import FinetuneConfig
from lossybench.engine.finetune.resolve import Resolved


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
    stage = CodecStage([codec], "bpp", [draw.bpp], policy, cache_root,  # type: ignore[arg-type]
                       tolerance=tolerance)
    work = stage(sample)
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
    cache_root = res.run.config.cache_root()

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

    from lossybench.engine.workers import worker_init

    ahead = max(2 * workers, cfg.batch_size * cfg.accumulate)
    with ProcessPoolExecutor(
        workers, mp_context=mp.get_context("spawn"), initializer=worker_init
    ) as pool:
        pending: deque[Future[Item]] = deque()
        while True:
            while len(pending) < ahead:
                pending.append(pool.submit(make_item, *args(g)))
                g += 1
            yield pending.popleft().result()
