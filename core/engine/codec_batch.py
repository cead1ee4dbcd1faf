"""Groups of images through the codec stage: batched first trials for codecs that batch.

Why: a learned codec's analysis transform runs faster on a batch of images (on a GPU
most of all), but rate control searches one image at a time. The setting each target's
path tries first is chosen before any trial is read (``RateSearch.first_setting``:
priors and the image's size), so a group's first trials are known up front. They are
encoded together with :meth:`Codec.encode_batch` and handed to each image's search as
encodes made ahead, a memo the search reads only when its own path asks for that setting.
``encode_batch`` must give the bytes ``encode`` gives, so no result depends on the group:
the same settings, bytes and records as one image at a time (tests/test_codec_batch.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from lossybench.codec import Codec
from lossybench.dataset import Sample
from lossybench.engine.cache import CodecCache, image_key
from lossybench.engine.codec_stage import (
    Ahead,
    CodecStage,
    ImageWork,
    codec_stage,
    read_image,
)
from lossybench.engine.ratecontrol import RateSearch

#: images per group on a GPU (``bench run --device cuda``): enough to fill a batch, few
#: enough that the decoded images of a group in flight stay small
GPU_BATCH = 8


def batch_for(codecs: Sequence[Codec]) -> int:
    """Images per codec-stage call: groups only pay where a codec batches on a GPU."""
    on_gpu = any(
        c.batches and not str(c.settings.get("device", "cpu")).startswith("cpu") for c in codecs
    )
    return GPU_BATCH if on_gpu else 1


def first_settings(codec: Codec, image: np.ndarray, stage: CodecStage) -> list[float]:
    """The settings the image's search (or fixed-setting sweep) will encode first."""
    if stage.mode != "bpp":
        return sorted({float(codec.quality.validate(q)) for q in stage.points})
    search = RateSearch(codec, image, policy=stage.policy, tolerance=stage.tolerance)
    return sorted({float(search.first_setting(t)) for t in stage.points})


class GroupStage:
    """``stage`` over a list of samples (picklable for the worker pool)."""

    def __init__(self, stage: CodecStage) -> None:
        self.stage = stage

    def __call__(self, samples: list[Sample]) -> list[ImageWork]:
        return stage_group(samples, self.stage)


def stage_group(samples: Sequence[Sample], stage: CodecStage) -> list[ImageWork]:
    """:func:`codec_stage` for each sample, the batching codecs' first trials encoded
    together; never raises (a failed batch leaves each image to encode on its own)."""
    reads = [read_image(s) for s in samples]
    cache = CodecCache(stage.cache_root) if stage.cache_root is not None else None
    keys = [image_key(im) if cache is not None and im is not None else None for im, _ in reads]
    ahead: list[Ahead] = [{} for _ in samples]
    for index, codec in enumerate(stage.codecs):
        if not codec.batches:
            continue
        wanted: dict[float, list[int]] = {}
        for i, (image, _) in enumerate(reads):
            if image is None:
                continue
            if cache is not None and cache.entry(keys[i] or "", codec).table():
                continue  # the cache answers this image's trials without encoding
            try:
                settings = first_settings(codec, image, stage)
            except Exception:  # the image's own stage reports it
                continue
            for q in settings:
                wanted.setdefault(q, []).append(i)
        for q, idx in wanted.items():
            if len(idx) < 2:
                continue  # nothing to share: the search encodes it itself
            try:
                start = time.perf_counter()
                images = [reads[i][0] for i in idx]
                made = codec.encode_batch(images, q)  # type: ignore[arg-type]
                each = (time.perf_counter() - start) / len(idx)
            except Exception:
                continue  # one at a time then, where the failing image says why
            for i, bits in zip(idx, made, strict=True):
                ahead[i].setdefault(index, {})[q] = (bytes(bits), each)
    return [
        codec_stage(s, stage, read=r, key=k, ahead=a)
        for s, r, k, a in zip(samples, reads, keys, ahead, strict=True)
    ]
