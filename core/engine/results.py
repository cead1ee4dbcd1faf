"""The result file of a run: pydantic models, mirrored by a shipped JSON Schema.

The pydantic models are the single source of truth; ``schemas/result.schema.json``
(draft 2020-12) is generated from them by ``python -m lossybench.engine.results`` and a test
keeps the two identical. Third parties validate with either. Numbers are numbers
(never strings), NaN and infinities are refused, and unknown fields are errors.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lossybench.errors import LossybenchError

SCHEMA_VERSION = "1.0"
SCHEMA_ID = "https://lossybench.invalid/schemas/result-1.0.json"
SHA256 = r"^[0-9a-f]{64}$"
NAME = r"^[A-Za-z0-9][A-Za-z0-9._:+=,/@-]{0,199}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=False)


class PluginInfo(Strict):
    name: str = Field(max_length=200)
    distribution: str = Field(max_length=200)
    version: str = Field(max_length=100)


class ToolInfo(Strict):
    version: str = Field(max_length=100)
    plugins: list[PluginInfo] = Field(max_length=1000)


class TaskInfo(Strict):
    name: str = Field(pattern=NAME)
    headline: str = Field(max_length=100)
    metrics: list[str] = Field(min_length=1, max_length=100)
    details: dict[str, Any] = Field(default_factory=dict, description="facts from Task.prepare()")


class WeightsRef(Strict):
    source: str = Field(max_length=1000)
    sha256: str | None = Field(default=None, pattern=SHA256)


class ModelInfo(Strict):
    family: str = Field(pattern=NAME)
    name: str = Field(pattern=NAME)
    task: str = Field(pattern=NAME)
    weights: WeightsRef
    preprocessing: dict[str, Any] = Field(default_factory=dict)


class DatasetInfo(Strict):
    name: str = Field(pattern=NAME)
    location: str | None = Field(default=None, max_length=4096)
    images: int = Field(ge=0)
    sha256: str = Field(pattern=SHA256)


class Environment(Strict):
    python: str = Field(max_length=100)
    platform: str = Field(max_length=300)
    torch: str = Field(max_length=100)
    torchvision: str = Field(max_length=100)
    numpy: str = Field(max_length=100)
    pillow: str = Field(max_length=100)
    device: str = Field(max_length=100)
    seed: int
    command: list[str] = Field(max_length=1000)


class Settings(Strict):
    mode: Literal["bpp", "quality"]
    points: list[float] = Field(min_length=1, max_length=100)
    policy: Literal["floor", "nearest"]
    rate_tolerance: float = Field(
        default=0.0,
        ge=0,
        le=0.5,
        description="rate control's relative tolerance: floor accepts bpp in "
        "[(1 - tol)·target, target], nearest |bpp - target| <= tol·target; 0 = exact "
        "(results made before the field existed)",
    )
    batch_size: int = Field(ge=1)
    workers: int = Field(ge=0)
    limit: int | None = Field(default=None, ge=1)


class Backend(Strict):
    library: str = Field(max_length=200)
    version: str = Field(max_length=200)
    binding: str = Field(default="", max_length=200)


class Clean(Strict):
    metrics: dict[str, float]
    images: int = Field(ge=0)
    failures: int = Field(ge=0)


class Point(Strict):
    """One operating point of one codec, aggregated over images."""

    target: float = Field(gt=0, description="bpp target, or the quality setting in quality mode")
    bpp_mean: float | None = Field(ge=0, description="mean of per-image bpp (real bytes)")
    bpp_std: float | None = Field(ge=0)
    psnr_mean: float | None = Field(description="mean of per-image PSNR-RGB in dB (finite values)")
    metrics: dict[str, float] = Field(description="task metrics over the images of this point")
    images: int = Field(ge=0, description="images that produced a prediction")
    failures: int = Field(ge=0, description="images that failed (unreadable, codec error)")
    flagged: int = Field(ge=0, description="images whose target was out of the codec's reach")
    quality_min: float | None = None
    quality_max: float | None = None


class MetricAt(Strict):
    target: float = Field(gt=0)
    value: float | None
    relative_drop: float | None = Field(description="(clean - value) / clean")


class CodecSummary(Strict):
    headline: str
    at: list[MetricAt]
    area: float | None = Field(description="area under headline vs log2(bpp) on [0.1, 2]")
    robustness: float | None = Field(
        description="area / (clean headline × (log2 2 − log2 0.1)): 1 = no loss over the range"
    )
    reason: str | None = Field(default=None, description="why area is undefined, if it is")


class CodecResult(Strict):
    name: str = Field(pattern=NAME)
    label: str = Field(pattern=NAME)
    settings: dict[str, Any]
    backend: Backend
    quality: str = Field(max_length=300, description="the codec's rate knob")
    points: list[Point] = Field(max_length=100)
    summary: CodecSummary


class RecordsRef(Strict):
    file: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.jsonl$")
    sha256: str = Field(pattern=SHA256)
    count: int = Field(ge=0)


class RunResult(Strict):
    schema_version: Literal["1.0"] = SCHEMA_VERSION
    kind: Literal["run"] = "run"
    created: str = Field(max_length=40, description="ISO 8601 UTC time the run finished")
    lossybench: ToolInfo
    task: TaskInfo
    model: ModelInfo
    dataset: DatasetInfo
    environment: Environment
    settings: Settings
    clean: Clean
    codecs: list[CodecResult] = Field(max_length=200)
    records: RecordsRef | None = None
    config: dict[str, Any] = Field(
        description="the run configuration; `bench run --config` replays it"
    )
    wall_seconds: float = Field(ge=0)


def generated_schema() -> dict[str, Any]:
    schema = RunResult.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def shipped_schema() -> dict[str, Any]:
    return json.loads(files("lossybench.engine").joinpath("schemas/result.schema.json").read_text())


def load_result(path: str | Path) -> RunResult:
    p = Path(path)
    try:
        return RunResult.model_validate_json(p.read_bytes())
    except OSError as exc:
        raise LossybenchError(f"cannot read {p}: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "(top)"
        raise LossybenchError(
            f"{p} is not a lossybench result ({exc.error_count()} problems; first at {where}: "
            f"{first['msg']}); `bench leaderboard validate` lists them all"
        ) from None


if __name__ == "__main__":  # regenerate the shipped schema
    out = Path(__file__).with_name("schemas") / "result.schema.json"
    out.write_text(json.dumps(generated_schema(), indent=2) + "\n")
    print(f"wrote {out}")
