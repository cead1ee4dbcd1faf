"""Where a result was made: the provenance models of a result file (and of a sweep's JSON).

Enough to reproduce a number: the lossybench version and, from a git checkout, its commit
and whether it had uncommitted changes; every plugin of the ``lossybench`` entry-point
group with its distribution, version and status (a plugin that failed to load is listed
as failed, with its errors, never as if it had loaded); which plugin registered each
codec, model family, task and dataset format; the machine (CPU model, cores, torch
threads, CUDA, cuDNN and GPU when used). Fields that older results lack are optional, so
those files stay valid. Filled in by :mod:`lossybench.engine.provenance`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from lossybench.engine.result_strings import (
    Device,
    Distribution,
    GitCommit,
    PluginName,
    Stage,
    Strict,
    Text,
    Version,
    VersionOrUnknown,
)


class PluginOrigin(Strict):
    """The plugin (entry point) that registered a codec, model family, task or dataset."""

    name: PluginName
    distribution: Distribution
    version: VersionOrUnknown


class PluginError(Strict):
    stage: Stage = Field(description="import, register, lossybench_codecs, conflict, ...")
    error: Annotated[Text, Field(min_length=1, max_length=2000)]


class PluginInfo(Strict):
    name: PluginName
    distribution: Distribution
    version: VersionOrUnknown
    status: Literal["loaded", "failed", "disabled"] | None = Field(
        default=None,
        description="loaded; failed (see errors: it registered nothing, or not all it "
        "offers); disabled (--disable-plugin). null: a result made before the field existed")
    errors: list[PluginError] | None = Field(default=None, max_length=100)


class ToolInfo(Strict):
    version: Version
    commit: GitCommit | None = Field(
        default=None, description="git commit of the lossybench checkout that ran "
        "(null: an installed lossybench, not a checkout)")
    dirty: bool | None = Field(
        default=None, description="whether that checkout had uncommitted changes")
    plugins: list[PluginInfo] = Field(max_length=1000)


class Environment(Strict):
    python: Version
    platform: Annotated[Text, Field(min_length=1, max_length=300)]
    torch: Version
    torchvision: Version
    numpy: Version
    pillow: Version
    cpu: Annotated[Text, Field(min_length=1, max_length=300)] | None = Field(
        default=None, description="CPU model (/proc/cpuinfo 'model name')")
    cores: int | None = Field(default=None, ge=1, description="CPUs this process may use")
    threads: int | None = Field(default=None, ge=1, description="torch intra-op threads")
    cuda: Version | None = Field(default=None, description="CUDA version, when a GPU was used")
    cudnn: Version | None = Field(default=None, description="cuDNN version, when a GPU was used")
    gpu: Annotated[Text, Field(min_length=1, max_length=300)] | None = Field(
        default=None, description="GPU name, when a GPU was used")
    device: Device
    seed: int
    command: list[Annotated[Text, Field(max_length=4096)]] = Field(
        max_length=1000, description="the command line (argv) that made the result")
