"""The per-image codec stage: compress, decode and measure one image.

For one image: read it, find each codec's setting for every operating point
(rate control shares encodes across targets), decode, and measure bpp and PSNR.
Everything here is picklable and free of model state, so it runs in worker
processes (:mod:`lossybench.engine.workers`) while the main process infers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from lossybench.codec import Codec, bits_per_pixel
from lossybench.dataset import Sample
from lossybench.engine.cache import CodecCache, image_key
from lossybench.engine.metrics import MsSsimReference, psnr
from lossybench.engine.ratecontrol import Policy, RateSearch
from lossybench.errors import LossybenchError


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


@dataclass(frozen=True)
class CodecStage:
    """What the codec stage does to every image of a run, sweep or finetune.

    One picklable value instead of a positional tuple: worker processes receive it with
    each image, and every caller names what it sets.
    """

    codecs: list[Codec]
    mode: str  # "bpp": ``points`` are targets for rate control; "quality": settings
    points: list[float]
    policy: Policy = "floor"
    #: the on-disk bitstream cache (:mod:`lossybench.engine.cache`); None = off
    cache_root: str | None = None
    with_ms_ssim: bool = False
    #: rate control's relative rate tolerance (0 = exact search)
    tolerance: float = 0.0
    #: False drops the original and decoded images once measured: a sweep needs only the
    #: numbers, and not shipping pixels back from workers saves the copies
    keep_pixels: bool = True
    #: images per call when a codec batches (:attr:`Codec.batches`): their first trials
    #: are encoded together (:mod:`lossybench.engine.codec_batch`); never changes a result
    batch: int = 1

    def __call__(self, sample: Sample) -> ImageWork:
        return codec_stage(sample, self)

    @property
    def batching(self) -> bool:
        """Whether images go through this stage in groups of :attr:`batch`."""
        return self.batch > 1 and any(c.batches for c in self.codecs)


#: encodes made ahead for one image, per codec index: setting -> (bytes, seconds)
Ahead = dict[int, dict[float, tuple[bytes, float]]]


def read_image(sample: Sample) -> tuple[np.ndarray | None, str | None]:
    """The sample's pixels, or why they cannot be read."""
    try:
        return sample.image(), None
    except Exception as exc:
        return None, describe(exc)


def codec_stage(
    sample: Sample,
    stage: CodecStage,
    read: tuple[np.ndarray | None, str | None] | None = None,
    key: str | None = None,
    ahead: Ahead | None = None,
) -> ImageWork:
    """Compress and decode one image with every codec at every point; never raises.

    With a cache, rate tables and chosen bitstreams are read from and written to the
    on-disk cache, so a repeated image encodes nothing. ``read``, ``key`` and ``ahead``:
    the pixels, cache key and encodes a group of images already made
    (:func:`lossybench.engine.codec_batch.stage_group`).
    """
    codecs, mode, points, policy = stage.codecs, stage.mode, stage.points, stage.policy
    cache_root, with_ms_ssim, tolerance = stage.cache_root, stage.with_ms_ssim, stage.tolerance
    image, error = read if read is not None else read_image(sample)
    if image is None:
        return ImageWork(sample.id, None, error=error)
    h, w = image.shape[:2]
    work = ImageWork(sample.id, image, shape=image.shape)
    reference = MsSsimReference(image) if with_ms_ssim else None
    cache = CodecCache(cache_root) if cache_root is not None else None
    if cache is not None and key is None:
        key = image_key(image)
    for index, codec in enumerate(codecs):
        made = dict((ahead or {}).get(index, {}))
        try:
            if mode == "bpp":
                entry = cache.entry(key or "", codec) if cache is not None else None
                search = RateSearch(
                    codec, image, policy=policy, cache=entry, tolerance=tolerance, ahead=made
                )
                chosen = [
                    (p.target, p.quality, p.bitstream, p.status, p.encode_seconds)
                    for p in search.solve(points)
                ]
                work.encodes[codec.label] = search.encodes
            else:
                chosen = []
                for q in points:
                    setting = codec.quality.validate(q)
                    if float(setting) in made:
                        bits, seconds = made.pop(float(setting))
                    else:
                        start = time.perf_counter()
                        bits = codec.encode(image, setting)
                        seconds = time.perf_counter() - start
                    chosen.append((q, q, bits, "ok", seconds))
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
    if not stage.keep_pixels:
        work.image = None
        for item in work.items:
            item.decoded = None
    return work
