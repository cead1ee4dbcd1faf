"""The codec sweep: bpp, PSNR and MS-SSIM of codecs over images, per operating point.

Operating points are either bit-rate targets (rate control picks the setting per image)
or fixed quality settings (as CompressAI's bench). Metrics are computed per image and
then averaged. With targets, an image whose target is out of the codec's reach is
answered with the codec's extreme setting, kept in the means at its *real* bpp, and
counted in ``flagged`` (so a "0.1 bpp" JPEG point may average 0.19 bpp: look at both).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from lossybench.codec import Codec, bits_per_pixel
from lossybench.dataset import Sample
from lossybench.errors import LossybenchError
from lossybench.metrics import finite_mean, ms_ssim, psnr
from lossybench.ratecontrol import Policy, RateSearch, validate_targets


@dataclass
class ImageRecord:
    """One image at one operating point of one codec."""

    image: str
    codec: str
    point: float
    quality: float
    bpp: float
    psnr: float
    ms_ssim: float
    status: str
    encode_seconds: float
    decode_seconds: float
    width: int
    height: int


@dataclass
class PointSummary:
    codec: str
    point: float
    images: int
    flagged: int
    bpp: float
    psnr: float
    ms_ssim: float
    quality_min: float
    quality_max: float
    encodes_per_image: float | None = None


@dataclass
class SweepError:
    image: str
    codec: str | None
    error: str


@dataclass
class SweepResult:
    mode: str  # "bpp" or "quality"
    points: list[float]
    codecs: dict[str, dict[str, Any]]
    records: list[ImageRecord] = field(default_factory=list)
    errors: list[SweepError] = field(default_factory=list)
    encodes: dict[str, int] = field(default_factory=dict)
    images: int = 0

    def summaries(self) -> list[PointSummary]:
        out: list[PointSummary] = []
        for codec in self.codecs:
            for p in self.points:
                ok = [r for r in self.records if r.codec == codec and r.point == p]
                qs = [r.quality for r in ok]
                per_target = self.encodes_per_target(codec) if self.mode == "bpp" else None
                out.append(
                    PointSummary(
                        codec=codec,
                        point=p,
                        images=len(ok),
                        flagged=sum(1 for r in ok if r.status != "ok"),
                        bpp=finite_mean([r.bpp for r in ok]),
                        psnr=finite_mean([r.psnr for r in ok]),
                        ms_ssim=finite_mean([r.ms_ssim for r in ok]),
                        quality_min=min(qs) if qs else math.nan,
                        quality_max=max(qs) if qs else math.nan,
                        encodes_per_image=per_target,
                    )
                )
        return out

    def encodes_per_target(self, codec: str) -> float:
        n_img = len({r.image for r in self.records if r.codec == codec})
        return self.encodes.get(codec, 0) / max(1, n_img * len(self.points))

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "points": self.points,
            "images": self.images,
            "aggregation": "mean over images of per-image values (CompressAI bench)",
            "codecs": self.codecs,
            "summary": [json_safe(asdict(s)) for s in self.summaries()],
            "records": [json_safe(asdict(r)) for r in self.records],
            "errors": [asdict(e) for e in self.errors],
        }


def json_safe(d: dict[str, Any]) -> dict[str, Any]:
    """NaN/inf are not JSON: write them as null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def run_sweep(
    codecs: list[Codec],
    samples: Iterable[Sample],
    *,
    bpp: list[float] | None = None,
    quality: list[float] | None = None,
    policy: Policy = "floor",
    with_ms_ssim: bool = True,
    on_step: Callable[[], None] | None = None,
) -> SweepResult:
    """Sweep every codec over every sample; one bad image or codec never stops the rest."""
    if (bpp is None) == (quality is None):
        raise ValueError("give exactly one of bpp targets or quality settings")
    mode = "bpp" if bpp is not None else "quality"
    points = validate_targets(bpp) if bpp is not None else [float(q) for q in quality or []]
    if quality is not None:
        for c in codecs:
            for q in points:
                c.quality.validate(q)
    result = SweepResult(
        mode=mode,
        points=points,
        codecs={c.label: {**c.identity(), "quality": c.quality.describe()} for c in codecs},
    )
    for sample in samples:
        try:
            image = sample.image()
        except LossybenchError as exc:
            result.errors.append(SweepError(sample.id, None, str(exc)))
            for _ in codecs:
                if on_step:
                    on_step()
            continue
        result.images += 1
        h, w = image.shape[:2]
        for codec in codecs:
            try:
                result.records.extend(
                    _sweep_one(
                        codec, sample.id, image, mode, points, policy, with_ms_ssim, result.encodes
                    )
                )
            except Exception as exc:  # one codec failing on one image must not stop the sweep
                msg = (
                    str(exc) if isinstance(exc, LossybenchError) else f"{type(exc).__name__}: {exc}"
                )
                result.errors.append(SweepError(sample.id, codec.label, f"{w}x{h}: {msg}"))
            if on_step:
                on_step()
    return result


def _sweep_one(
    codec: Codec,
    image_id: str,
    image: Any,
    mode: str,
    points: list[float],
    policy: Policy,
    with_ms_ssim: bool,
    encodes: dict[str, int],
) -> list[ImageRecord]:
    h, w = image.shape[:2]
    if mode == "bpp":
        search = RateSearch(codec, image, policy=policy)
        chosen = [
            (p.target, p.quality, p.bitstream, p.status, p.encode_seconds)
            for p in search.solve(points)
        ]
        encodes[codec.label] = encodes.get(codec.label, 0) + search.encodes
    else:
        chosen = []
        for q in points:
            t0 = time.perf_counter()
            bits = codec.encode(image, codec.quality.validate(q))
            chosen.append((q, q, bits, "ok", time.perf_counter() - t0))
    records = []
    for point, q, bits, status, enc_s in chosen:
        t0 = time.perf_counter()
        decoded = codec.safe_decode(bits)
        dec_s = time.perf_counter() - t0
        if decoded.shape != image.shape:
            raise LossybenchError(
                f"{codec.name}: decoded shape {decoded.shape} differs from input {image.shape}"
            )
        records.append(
            ImageRecord(
                image=image_id,
                codec=codec.label,
                point=point,
                quality=q,
                bpp=bits_per_pixel(bits, w, h),
                psnr=psnr(image, decoded),
                ms_ssim=ms_ssim(image, decoded) if with_ms_ssim else math.nan,
                status=status,
                encode_seconds=enc_s,
                decode_seconds=dec_s,
                width=w,
                height=h,
            )
        )
    return records
