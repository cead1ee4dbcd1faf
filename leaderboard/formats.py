"""The shapes of the board's files: the index, its lines, and the entries.

Everything here is read back from a folder that anyone may edit in git, so the models
check types and lengths and forbid unknown keys but never trust the strings, which the
renderer escapes. An entry's id is a digest of its identity, so that two submissions of
the same model, weights, codec, dataset and task are one entry.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

INDEX_FORMAT = "lossybench-board/1"
ENTRY_FORMAT = "lossybench-entry/1"
HEX64 = r"^[0-9a-f]{64}$"
ENTRY_FILE = r"^entries/[0-9a-f]{64}\.[0-9a-f]{16}\.json$"
RESULT_FILE = r"^results/[0-9a-f]{64}\.json$"
GROUND_TRUTH_FILE = r"^groundtruth/[0-9a-f]{64}\.json$"


class Loose(BaseModel):
    """Stored models: types are checked, strings are not trusted (the renderer escapes)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class GroundTruthRef(Loose):
    """Where a registered dataset's ground truth is stored (``groundtruth.GroundTruth``)."""

    file: str = Field(pattern=GROUND_TRUTH_FILE)
    sha256: str = Field(pattern=HEX64)
    #: the task whose targets it holds (detection, segmentation)
    task: str = Field(max_length=200)


class KnownDataset(Loose):
    name: str = Field(max_length=200)
    sha256: str = Field(pattern=HEX64)
    images: int | None = Field(default=None, ge=0)
    added: str = Field(max_length=40)
    #: the ground truth its results' metrics are recomputed against (registered with
    #: ``datasets add NAME[:LOCATION]``); its first ``images`` samples are this dataset.
    #: None (not written): registered by name and sha256 only
    ground_truth: GroundTruthRef | None = Field(default=None, exclude_if=lambda v: v is None)


class IndexEntry(Loose):
    id: str = Field(pattern=HEX64)
    file: str = Field(pattern=ENTRY_FILE)
    sha256: str = Field(pattern=HEX64)
    task: str = Field(max_length=200)
    dataset: str = Field(max_length=200)
    model: str = Field(max_length=500)
    codec: str = Field(max_length=200)
    finetuned_from: str | None = Field(default=None, pattern=HEX64)
    result: str = Field(pattern=RESULT_FILE)


class Index(Loose):
    format: Literal["lossybench-board/1"] = INDEX_FORMAT
    #: whether results without their per-image records may be entered (as unverified);
    #: written only when true, so a default board's index reads as it always did
    allow_unverified: bool = Field(default=False, exclude_if=lambda v: v is False)
    datasets: list[KnownDataset] = Field(default_factory=list)
    entries: list[IndexEntry] = Field(default_factory=list)

    def knows(self, name: str, sha256: str) -> KnownDataset | None:
        return next((d for d in self.datasets if d.name == name and d.sha256 == sha256), None)


class CurvePoint(Loose):
    target: float
    bpp_mean: float | None
    bpp_std: float | None
    psnr_mean: float | None
    metrics: dict[str, float]
    images: int = Field(ge=0)
    failures: int = Field(ge=0)
    flagged: int = Field(ge=0)


class Bootstrap(Loose):
    resamples: int = Field(ge=0)
    seed: int
    level: float = Field(gt=0, lt=1)
    low: float | None
    high: float | None
    defined: int = Field(ge=0)
    reason: str | None = Field(default=None, max_length=500)
    #: each resample's curve (clean metric, then each point's bpp and metric): what the
    #: board's intervals of the common-range score, the 95 %/99 % rates are computed from
    curves: list[list[float | None]] | None = Field(default=None, max_length=100_000)


class Provenance(Loose):
    lossybench: str = Field(max_length=100)
    created: str = Field(max_length=40)
    plugins: list[str] = Field(default_factory=list, max_length=1000)
    environment: dict[str, str] = Field(default_factory=dict)
    backend: dict[str, str] = Field(default_factory=dict)
    knob: str = Field(default="", max_length=300)
    weights_source: str = Field(default="", max_length=1000)


class Source(Loose):
    result: str = Field(pattern=RESULT_FILE)
    result_sha256: str = Field(pattern=HEX64)
    records_sha256: str | None = Field(default=None, pattern=HEX64)


class BoardEntry(Loose):
    """One ranked line: a model (with its weights) under one codec, on one dataset.

    An entry whose source has no ``records_sha256`` was entered without its per-image
    records: it is *unverified* (``verified`` is False) and shown as such.
    """

    format: Literal["lossybench-entry/1"] = ENTRY_FORMAT
    id: str = Field(pattern=HEX64)
    task: str = Field(max_length=200)
    headline: str = Field(max_length=100)
    metric_range: tuple[float, float] = (0.0, 1.0)
    dataset: str = Field(max_length=200)
    dataset_sha256: str = Field(pattern=HEX64)
    images: int = Field(ge=0)
    model: str = Field(max_length=500, description="FAMILY:NAME")
    weights_sha256: str | None = Field(default=None, pattern=HEX64)
    codec: str = Field(max_length=200, description="codec name, e.g. jpeg")
    codec_label: str = Field(max_length=200, description="codec label incl. settings")
    mode: Literal["bpp", "quality"] = "bpp"
    clean: dict[str, float]
    points: list[CurvePoint] = Field(max_length=100)
    bootstrap: Bootstrap | None = None
    finetuned_from: str | None = Field(default=None, pattern=HEX64)
    provenance: Provenance
    source: Source
    submitted: str = Field(max_length=40)

    @property
    def verified(self) -> bool:
        """Whether its numbers were recomputed from the per-image records."""
        return self.source.records_sha256 is not None


def entry_id(task: str, dataset_sha256: str, model: str, weights: str | None, codec: str) -> str:
    """The identity of an entry: duplicates are entries with the same id."""
    ident = ["lossybench-entry/1", task, dataset_sha256, model, weights or "random", codec]
    return hashlib.sha256(json.dumps(ident).encode()).hexdigest()


def index_line(e: BoardEntry, file: str, sha: str) -> IndexEntry:
    """The index's line for entry ``e``, stored as ``file`` with sha256 ``sha``."""
    return IndexEntry(id=e.id, file=file, sha256=sha, task=e.task, dataset=e.dataset,
                      model=e.model, codec=e.codec_label, finetuned_from=e.finetuned_from,
                      result=e.source.result)


def now() -> str:
    """The current time as the board stores it (``added``, ``submitted``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
