"""Run configuration: what `bench run` options and `--config run.toml` files hold.

A result stores its configuration; replaying it with ``bench run --config``
reproduces the run exactly (same data hash, codecs, settings, seed).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from lossybench.engine.ratecontrol import (
    DEFAULT_RATE_TOLERANCE,
    MAX_TOLERANCE,
    normalize_targets,
    targets_note,
)
from lossybench.errors import LossybenchError
from lossybench.kits.cores import available_cores
from lossybench.kits.device import AUTO

DEFAULT_BPP = [0.1, 0.2, 0.3, 0.5, 1.0, 2.0]


def auto_workers(device: str = "cpu") -> int:
    """Codec processes for ``workers=None``: one per available core, less one for the
    process that feeds the GPU when ``device`` (already chosen, not ``auto``) is a GPU.

    Codec work dominates most runs. CPU inference shares the cores with the workers (its
    idle threads sleep, lossybench.engine.run.execute.set_threads); GPU inference needs one
    core of its own to read, batch and copy. The count never changes a result."""
    gpu = not str(device).startswith("cpu")
    return max(1, available_cores() - (1 if gpu else 0))


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    task: str = Field(description="task name, e.g. classification")
    model: str = Field(description="FAMILY:NAME, e.g. timm:resnet50 or torchvision:resnet50")
    weights: str | None = Field(
        default=None, description="checkpoint path, 'random', or None = pretrained"
    )
    dataset: str = Field(description="FORMAT[:LOCATION], e.g. imagefolder:/data/val")
    dataset_options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="format options, e.g. {split = 'val'}"
    )
    task_options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="task options, e.g. {num_classes = 10}"
    )
    codecs: list[str] = Field(
        default_factory=list, description="NAME[:k=v,...]; empty = every available codec"
    )
    bpp: list[float] | None = Field(
        default=None, description="bit-rate targets: sorted, each once (given otherwise, noted)"
    )
    quality: list[float] | None = None
    policy: Literal["floor", "nearest"] = "floor"
    rate_tolerance: float = Field(
        default=DEFAULT_RATE_TOLERANCE,
        ge=0,
        le=MAX_TOLERANCE,
        description="relative rate tolerance: floor accepts bpp in [(1 - tol)·target, "
        "target], nearest |bpp - target| <= tol·target; 0 = exact",
    )
    batch_size: int = Field(default=16, ge=1, le=4096)
    device: str = Field(default=AUTO, description="auto: cuda when available, else cpu")
    workers: int | None = Field(
        default=None,
        ge=0,
        le=256,
        description="codec worker processes; 0 = in-process; None = one per available core, "
        "less one when a GPU infers",
    )
    limit: int | None = Field(default=None, ge=1)
    seed: int = 0
    out: str = "results"
    cache: str | None = Field(
        default="default",
        description="bitstream cache directory; 'default' = user cache; None = off",
    )
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    _notes: list[str] = PrivateAttr(default_factory=list)

    @field_validator("bpp")
    @classmethod
    def _targets(cls, v: list[float] | None) -> list[float] | None:
        if v is not None:
            if not v:
                raise ValueError("bpp list is empty")
            return normalize_targets(v)
        return v

    @property
    def notes(self) -> list[str]:
        """What validation changed in the given data (targets sorted, repeats dropped)."""
        return list(self._notes)

    def points(self) -> tuple[str, list[float]]:
        if self.bpp is not None and self.quality is not None:
            raise LossybenchError("give bpp targets or quality settings, not both")
        if self.quality is not None:
            return "quality", list(self.quality)
        return "bpp", list(self.bpp if self.bpp is not None else DEFAULT_BPP)

    def identity(self) -> dict[str, Any]:
        """What determines the results (not where they go or how fast they are made).

        An exact search (``rate_tolerance`` 0) is left out, so runs made before the
        tolerance existed keep their digest and name (and resume)."""
        exclude = {"out", "workers", "batch_size", "device", "name", "cache"}
        if self.rate_tolerance == 0:
            exclude.add("rate_tolerance")
        return self.model_dump(exclude=exclude)

    def cache_root(self) -> str | None:
        if self.cache is None:
            return None
        if self.cache == "default":
            from lossybench.engine.cache import default_root

            return str(default_root())
        return self.cache

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()

    def run_name(self) -> str:
        if self.name:
            return self.name
        safe = "".join(
            c if c.isalnum() or c in "._-" else "-"
            for c in f"{self.task}-{self.model}-{self.dataset.split(':')[0]}"
        )
        return f"{safe}-{self.digest()[:8]}"


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read a TOML (or a result JSON's ``config``) and apply command-line overrides."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise LossybenchError(f"cannot read config {p}: {exc}") from exc
    try:
        data = json.loads(text).get("config", {}) if p.suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, AttributeError) as exc:
        raise LossybenchError(f"{p}: not valid TOML/JSON: {exc}") from exc
    if p.suffix == ".json" and isinstance(data, dict):
        data = result_config_data(data)
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return make_config(data, str(p))


def result_config_data(config: dict[str, Any]) -> dict[str, Any]:
    """A result's recorded ``config`` as the run that made it saw it.

    Results made before ``rate_tolerance`` existed searched exactly: read them so (their
    digest, name and replay stay what they were), not with today's default.
    """
    data = dict(config)
    data.setdefault("rate_tolerance", 0.0)
    return data


def make_config(data: dict[str, Any], where: str = "options") -> RunConfig:
    try:
        cfg = RunConfig(**data)
        note = targets_note(data.get("bpp"), "bpp")
        cfg._notes = [note] if note else []
        return cfg
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise LossybenchError(f"invalid run configuration in {where}: {problems}") from None


def to_toml(cfg: RunConfig) -> str:
    """A TOML file that replays ``cfg`` (``bench run --config FILE``)."""
    lines = []
    for key, value in cfg.model_dump().items():
        if value is None:
            continue
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"
