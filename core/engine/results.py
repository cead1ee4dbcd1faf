"""The result file of a run: pydantic models, mirrored by a shipped JSON Schema.

The pydantic models are the single source of truth; ``schemas/result.schema.json``
(draft 2020-12) is generated from them by ``python -m lossybench.engine.results`` and a test
keeps the two identical. Third parties validate with either. Numbers are numbers
(never strings), NaN and infinities are refused, and unknown fields are errors.

Every string has a rule, so that nothing a result carries can hide or reorder what a
reader sees: no string holds a control, bidi, zero-width or other invisible formatting
character (:data:`UNSAFE_CHARS`), every string has a length cap, and what names
something (a task, model, dataset, codec, plugin, distribution, metric, version) is a
plain identifier matching a strict pattern (:data:`PATTERNS` says which, in words).
Free text (descriptions, paths, the command line) may hold anything else. The rules live
in :mod:`lossybench.engine.result_strings`, the provenance models (tool, plugins,
environment) in :mod:`lossybench.engine.result_provenance`; both are read from here too.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from lossybench.engine.result_provenance import (
    Environment,
    PluginError,
    PluginInfo,
    PluginOrigin,
    ToolInfo,
)
from lossybench.engine.result_strings import (
    CREATED,
    DEVICE,
    DISTRIBUTION,
    GIT_COMMIT,
    METRIC,
    NAME,
    PATTERNS,
    PLUGIN,
    RECORDS_FILE,
    SHA256,
    STAGE,
    TRAVERSAL,
    UNSAFE_CHARS,
    VERSION,
    VERSION_OR_UNKNOWN,
    Distribution,
    JsonObject,
    JsonValue,
    MetricName,
    Name,
    RecordsFile,
    Sha256,
    Strict,
    Text,
    Timestamp,
    Version,
    string_problem,
    unsafe_char,
)
from lossybench.errors import LossybenchError

__all__ = [
    "CONSTANT_KEYS",
    "CREATED",
    "DEVICE",
    "DISTRIBUTION",
    "GIT_COMMIT",
    "METRIC",
    "NAME",
    "PATTERNS",
    "PLUGIN",
    "RECORDS_FILE",
    "SCHEMA_ID",
    "SCHEMA_VERSION",
    "SHA256",
    "STAGE",
    "STATED",
    "TRAVERSAL",
    "UNSAFE_CHARS",
    "VERSION",
    "VERSION_OR_UNKNOWN",
    "Backend",
    "Clean",
    "CodecResult",
    "CodecSummary",
    "DatasetInfo",
    "Environment",
    "JsonObject",
    "JsonValue",
    "MetricAt",
    "ModelInfo",
    "PluginError",
    "PluginInfo",
    "PluginOrigin",
    "Point",
    "RecordsRef",
    "RunResult",
    "Settings",
    "Strict",
    "TaskInfo",
    "ToolInfo",
    "WeightsRef",
    "generated_schema",
    "load_result",
    "shipped_schema",
    "string_problem",
    "unsafe_char",
]

SCHEMA_VERSION = "1.0"
SCHEMA_ID = "https://lossybench.invalid/schemas/result-1.0.json"


# -- the models -----------------------------------------------------------------------------
def _origin(what: str) -> Any:
    return Field(default=None, description=f"the plugin that registered the {what} (null: "
                 "a result made before the field existed, or one not made by a plugin)")


class TaskInfo(Strict):
    name: Name
    headline: MetricName
    metrics: list[MetricName] = Field(min_length=1, max_length=100)
    details: JsonObject = Field(default_factory=dict, description="facts from Task.prepare()")
    plugin: PluginOrigin | None = _origin("task")


class WeightsRef(Strict):
    source: Annotated[Text, Field(min_length=1, max_length=1000)] = Field(
        description="pretrained:TAG, package:DIST/PATH, a file path, or random")
    sha256: Sha256 | None = None


class ModelInfo(Strict):
    family: Name
    name: Name
    task: Name
    weights: WeightsRef
    preprocessing: JsonObject = Field(default_factory=dict)
    plugin: PluginOrigin | None = _origin("model family")
    libraries: dict[Distribution, Version] | None = Field(
        default=None, max_length=50,
        description="versions of the libraries the model is made of, e.g. timm, torchvision")


class DatasetInfo(Strict):
    name: Name
    location: Annotated[Text, Field(max_length=4096)] | None = None
    images: int = Field(ge=0)
    sha256: Sha256
    plugin: PluginOrigin | None = _origin("dataset format")


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
    """What made the bits; ``version`` may be a program's own version line (free text)."""

    library: Annotated[Text, Field(min_length=1, max_length=200)]
    version: Annotated[Text, Field(min_length=1, max_length=200)]
    binding: Annotated[Text, Field(max_length=200)] = ""


class Clean(Strict):
    metrics: dict[MetricName, float]
    images: int = Field(ge=0)
    failures: int = Field(ge=0)


class Point(Strict):
    """One operating point of one codec, aggregated over images."""

    target: float = Field(gt=0, description="bpp target, or the quality setting in quality mode")
    bpp_mean: float | None = Field(ge=0, description="mean of per-image bpp (real bytes)")
    bpp_std: float | None = Field(ge=0)
    psnr_mean: float | None = Field(description="mean of per-image PSNR-RGB in dB (finite values)")
    metrics: dict[MetricName, float] = Field(
        description="task metrics over the images of this point")
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
    headline: MetricName
    at: list[MetricAt] = Field(max_length=100)
    area: float | None = Field(description="area under headline vs log2(bpp) on [0.1, 2]")
    robustness: float | None = Field(
        description="area / (clean headline × (log2 2 − log2 0.1)): 1 = no loss over the range"
    )
    reason: Annotated[Text, Field(max_length=500)] | None = Field(
        default=None, description="why area is undefined, if it is")


class CodecResult(Strict):
    name: Name
    label: Name = Field(description="name plus the non-default settings")
    settings: JsonObject
    backend: Backend
    quality: Annotated[Text, Field(min_length=1, max_length=300)] = Field(
        description="the codec's rate knob")
    points: list[Point] = Field(max_length=100)
    summary: CodecSummary
    plugin: PluginOrigin | None = _origin("codec")


class RecordsRef(Strict):
    file: RecordsFile
    sha256: Sha256
    count: int = Field(ge=0)


#: Keys a stored result states although the models can fill them in for code that builds
#: a result: a file without them is refused (the schema lists them as required, and
#: :func:`load_result` and the leaderboard validate with ``context=STATED``).
CONSTANT_KEYS = ("schema_version", "kind")
STATED: dict[str, bool] = {"stated": True}


class RunResult(Strict):
    schema_version: Literal["1.0"] = SCHEMA_VERSION
    kind: Literal["run"] = "run"
    created: Timestamp = Field(description="ISO 8601 UTC time the run finished")
    lossybench: ToolInfo
    task: TaskInfo
    model: ModelInfo
    dataset: DatasetInfo
    environment: Environment
    settings: Settings
    clean: Clean
    codecs: list[CodecResult] = Field(max_length=200)
    records: RecordsRef | None = Field(
        description="the per-image JSONL written next to the result (null: none)")
    config: JsonObject = Field(
        description="the run configuration; `bench run --config` replays it"
    )
    wall_seconds: float = Field(ge=0)

    @model_validator(mode="before")
    @classmethod
    def _constants_stated(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and (info.context or {}).get("stated"):
            missing = [k for k in CONSTANT_KEYS if k not in data]
            if missing:
                raise PydanticCustomError(
                    "missing", "{keys} missing: a stored result states them",
                    {"keys": " and ".join(repr(k) for k in missing)})
        return data


def generated_schema() -> dict[str, Any]:
    schema = RunResult.model_json_schema(mode="validation")
    schema["required"] = [*CONSTANT_KEYS, *schema["required"]]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def shipped_schema() -> dict[str, Any]:
    return json.loads(files("lossybench.engine").joinpath("schemas/result.schema.json").read_text())


def load_result(path: str | Path) -> RunResult:
    p = Path(path)
    try:
        return RunResult.model_validate_json(p.read_bytes(), context=STATED)
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
