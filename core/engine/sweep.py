"""The codec sweep: bpp, PSNR and MS-SSIM of codecs over images, per operating point.

Operating points are either bit-rate targets (rate control picks the setting per image)
or fixed quality settings (as CompressAI's bench). Metrics are computed per image and
then averaged. With targets, an image whose target is out of the codec's reach is
answered with the codec's extreme setting, kept in the means at its *real* bpp, and
counted in ``flagged`` (so a "0.1 bpp" JPEG point may average 0.19 bpp: look at both).
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from lossybench.codec import Codec
from lossybench.dataset import Sample
from lossybench.engine.codec_batch import batch_for
from lossybench.engine.codec_stage import CodecStage, ImageWork
from lossybench.engine.metrics import finite_mean
from lossybench.engine.provenance import entry_origin, provenance, sample_sha256
from lossybench.engine.ratecontrol import (
    DEFAULT_RATE_TOLERANCE,
    Policy,
    normalize_targets,
    validate_tolerance,
)
from lossybench.engine.workers import stream
from lossybench.registry import Registry, get_registry


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
    #: encodes rate control made per (image, target) of this codec (bpp mode; cache hits
    #: excluded). Older sweep JSON called it ``encodes_per_image`` (:func:`encodes_per_target`
    #: reads either).
    encodes_per_target: float | None = None


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
    rate_tolerance: float = 0.0
    policy: str = "floor"
    #: each image swept, in order: its id and the sha256 of its bytes (None: unreadable)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    #: the ``lossybench`` (version, commit, plugins) and ``environment`` blocks of a run
    provenance: dict[str, Any] = field(default_factory=dict)
    created: str = ""

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
                        encodes_per_target=per_target,
                    )
                )
        return out

    def encodes_per_target(self, codec: str) -> float:
        n_img = len({r.image for r in self.records if r.codec == codec})
        return self.encodes.get(codec, 0) / max(1, n_img * len(self.points))

    def inputs_sha256(self) -> str:
        """One sha256 over the sorted (image id, image sha256) pairs: same images, same hash."""
        h = hashlib.sha256()
        for item in sorted(self.inputs, key=lambda i: i["image"]):
            h.update(f"{item['image']}\0{item['sha256']}\n".encode())
        return h.hexdigest()

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "sweep",
            "created": self.created,
            **self.provenance,
            "mode": self.mode,
            "points": self.points,
            "policy": self.policy,
            "rate_tolerance": self.rate_tolerance,
            "images": self.images,
            "inputs_sha256": self.inputs_sha256(),
            "inputs": self.inputs,
            "aggregation": "mean over images of per-image values (CompressAI bench)",
            "codecs": self.codecs,
            "summary": [json_safe(asdict(s)) for s in self.summaries()],
            "records": [json_safe(asdict(r)) for r in self.records],
            "errors": [asdict(e) for e in self.errors],
        }


def encodes_per_target(summary_row: dict[str, Any]) -> float | None:
    """Encodes per (image, target) of one ``summary`` row of a sweep JSON, new or old."""
    return summary_row.get("encodes_per_target", summary_row.get("encodes_per_image"))


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
    cache_root: str | None = None,
    workers: int = 0,
    rate_tolerance: float = DEFAULT_RATE_TOLERANCE,
    registry: Registry | None = None,
    command: list[str] | None = None,
) -> SweepResult:
    """Sweep every codec over every sample; one bad image or codec never stops the rest.

    The per-image work is the run's own codec stage
    (:class:`lossybench.engine.codec_stage.CodecStage`), so a sweep and a run compress,
    decode and measure identically. ``rate_tolerance`` is rate control's relative
    tolerance (0 = exact; see :mod:`lossybench.engine.ratecontrol`). ``bpp`` targets are
    sorted and a repeated one runs once (``result.points``). ``registry`` (the codecs'
    registry; default the process-wide one) and ``command`` (default ``sys.argv``) go into
    the result's provenance, as a run's do.
    """
    if (bpp is None) == (quality is None):
        raise ValueError("give exactly one of bpp targets or quality settings")
    mode = "bpp" if bpp is not None else "quality"
    # targets: ascending, each once (ratecontrol.normalize_targets, the rule everywhere)
    points = normalize_targets(bpp) if bpp is not None else [float(q) for q in quality or []]
    if quality is not None:
        for c in codecs:
            for q in points:
                c.quality.validate(q)
    reg = registry if registry is not None else get_registry()
    result = SweepResult(
        mode=mode,
        points=points,
        codecs={c.label: {**c.identity(), "quality": c.quality.describe(),
                          "plugin": entry_origin(reg, "codecs", c.name, c)} for c in codecs},
        rate_tolerance=validate_tolerance(rate_tolerance),
        policy=policy,
    )
    stage = CodecStage(
        codecs, mode, points, policy, cache_root, with_ms_ssim, result.rate_tolerance,
        keep_pixels=False, batch=batch_for(codecs),
    )
    for sample, work in stream(samples, stage, workers):
        result.inputs.append({"image": sample.id, "sha256": sample_sha256(sample)})
        if work.shape is None:
            result.errors.append(SweepError(sample.id, None, work.error or "unreadable"))
        else:
            result.images += 1
            _collect(result, work)
        if on_step:
            for _ in codecs:
                on_step()
    result.created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    result.provenance = provenance(reg, _device(codecs), None,
                                   sys.argv if command is None else command)
    return result


def _device(codecs: list[Codec]) -> str:
    """Where the sweep ran: a GPU when a codec was placed on one, else the CPU."""
    placed = [str(c.settings.get("device", "")) for c in codecs]
    return next((d for d in placed if d.startswith("cuda")), "cpu")


def _collect(result: SweepResult, work: ImageWork) -> None:
    assert work.shape is not None
    h, w = work.shape[:2]
    failed: set[str] = set()
    for codec, n in work.encodes.items():
        result.encodes[codec] = result.encodes.get(codec, 0) + n
    for it in work.items:
        if it.error is not None:
            if it.codec not in failed:  # one line per (image, codec), not per point
                failed.add(it.codec)
                result.errors.append(SweepError(work.sample_id, it.codec, it.error))
            continue
        result.records.append(
            ImageRecord(
                image=work.sample_id,
                codec=it.codec,
                point=it.point,
                quality=float(it.quality if it.quality is not None else math.nan),
                bpp=float(it.bpp if it.bpp is not None else math.nan),
                psnr=float(it.psnr if it.psnr is not None else math.nan),
                ms_ssim=it.ms_ssim if it.ms_ssim is not None else math.nan,
                status=it.status,
                encode_seconds=it.encode_seconds or 0.0,
                decode_seconds=it.decode_seconds or 0.0,
                width=w,
                height=h,
            )
        )
