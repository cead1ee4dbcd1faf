"""The per-image codec stage of a run, runnable in worker processes.

For one image: read it, find each codec's setting for every operating point (rate
control shares encodes across targets), decode, and measure bpp and PSNR. Everything
here is picklable and free of model state, so ``--workers N`` can run it in N
processes while the main process runs inference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lossybench.codec import Codec, bits_per_pixel
from lossybench.dataset import Sample
from lossybench.errors import LossybenchError
from lossybench.metrics import psnr
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


@dataclass
class ImageWork:
    sample_id: str
    image: np.ndarray | None
    items: list[Compressed] = field(default_factory=list)
    encodes: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, LossybenchError) else f"{type(exc).__name__}: {exc}"


def codec_stage(
    sample: Sample, codecs: list[Codec], mode: str, points: list[float], policy: Policy
) -> ImageWork:
    """Compress and decode one image with every codec at every point; never raises."""
    try:
        image = sample.image()
    except Exception as exc:
        return ImageWork(sample.id, None, error=describe(exc))
    h, w = image.shape[:2]
    work = ImageWork(sample.id, image)
    for codec in codecs:
        try:
            if mode == "bpp":
                search = RateSearch(codec, image, policy=policy)
                chosen = [
                    (p.target, p.quality, p.bitstream, p.status) for p in search.solve(points)
                ]
                work.encodes[codec.label] = search.encodes
            else:
                chosen = [
                    (q, q, codec.encode(image, codec.quality.validate(q)), "ok") for q in points
                ]
                work.encodes[codec.label] = len(points)
        except Exception as exc:
            msg = f"{w}x{h}: {describe(exc)}"
            work.items.extend(Compressed(codec.label, p, error=msg) for p in points)
            continue
        for point, quality, bits, status in chosen:
            item = Compressed(
                codec.label, point, quality, len(bits), bits_per_pixel(bits, w, h), status=status
            )
            try:
                decoded = codec.safe_decode(bits)
                if decoded.shape != image.shape:
                    raise LossybenchError(
                        f"{codec.name}: decoded shape {decoded.shape} differs from {image.shape}"
                    )
                item.decoded = decoded
                item.psnr = psnr(image, decoded)
            except Exception as exc:
                item.error = describe(exc)
            work.items.append(item)
    return work
