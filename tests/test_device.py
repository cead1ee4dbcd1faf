"""One device resolution: torchrun ranks build on their own GPU; every family checks alike."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from lossybench import hookimpl
from lossybench.engine.finetune.config import make_config as make_finetune_config
from lossybench.engine.finetune.resolve import resolve as resolve_finetune
from lossybench.engine.run.config import make_config
from lossybench.engine.run.resolve import resolve
from lossybench.errors import ModelError
from lossybench.kits.device import rank_device, resolve_device
from lossybench.model import LoadedModel, ModelFamily
from lossybench.registry import load_registry

TORCHRUN_RANK_1_OF_2 = {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}


class Asked(Exception):
    """Raised by the spy family once it has seen the device it is asked for."""


class SpyFamily(ModelFamily):
    name: ClassVar[str] = "spy"
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    description: ClassVar[str] = "records the device it is asked to build on"
    asked: ClassVar[list[str]] = []

    def build(self, model: str, task: str, weights: str | None = None, device: str = "cpu",
              num_classes: int | None = None) -> LoadedModel:
        SpyFamily.asked.append(device)
        raise Asked(device)


class SpyPlugin:
    @hookimpl
    def lossybench_models(self) -> list[Any]:
        return [SpyFamily]


@pytest.fixture
def spy_registry():
    SpyFamily.asked.clear()
    return load_registry(extra_plugins=[("spy", SpyPlugin())])


@pytest.mark.parametrize(
    ("device", "env", "expected"),
    [
        ("cuda", TORCHRUN_RANK_1_OF_2, "cuda:1"),
        ("cuda", {"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "3"}, "cuda:3"),
        ("cuda", {}, "cuda"),  # one process: torch's current device, as before
        ("cuda:0", TORCHRUN_RANK_1_OF_2, "cuda:0"),  # an explicit index is the user's choice
        ("cpu", TORCHRUN_RANK_1_OF_2, "cpu"),
    ],
)
def test_rank_device(device: str, env: dict[str, str], expected: str) -> None:
    assert rank_device(device, env) == expected


def test_torchrun_rank_1_of_2_asks_the_family_for_cuda_1(monkeypatch, spy_registry) -> None:
    """The bug this guards: the model was built on cuda:0 and only later did the process
    group call ``torch.cuda.set_device(LOCAL_RANK)``, so rank 1's inputs went to cuda:1."""
    for key, value in TORCHRUN_RANK_1_OF_2.items():
        monkeypatch.setenv(key, value)
    cfg = make_config({"task": "classification", "model": "spy:net",
                       "dataset": "imagenet-samples", "codecs": ["jpeg"], "device": "cuda"})
    with pytest.raises(Asked):
        resolve(cfg, spy_registry)
    assert SpyFamily.asked == ["cuda:1"]


def test_finetune_resolves_its_device_the_same_way(monkeypatch, spy_registry) -> None:
    for key, value in TORCHRUN_RANK_1_OF_2.items():
        monkeypatch.setenv(key, value)
    cfg = make_finetune_config({
        "task": "classification", "model": "spy:net", "train_dataset": "imagenet-samples",
        "val_dataset": "imagenet-samples", "codecs": ["jpeg"], "bpp": [0.5], "steps": 1,
        "device": "cuda",
    })
    with pytest.raises(Asked):
        resolve_finetune(cfg, spy_registry)
    assert SpyFamily.asked == ["cuda:1"]


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "tpu"])
def test_unknown_device_is_refused_with_the_choices(device: str) -> None:
    with pytest.raises(ModelError, match="use cpu, cuda, cuda:N or mps"):
        resolve_device(device)


def test_missing_cuda_says_so_and_what_to_use() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ModelError, match=r"CUDA is not available here.*--device cpu"):
        resolve_device("cuda:1")


@pytest.mark.parametrize(
    ("family", "model"),
    [("timm", "resnet18"), ("torchvision", "resnet18"), ("reference", "scenes-segmenter")],
)
def test_every_family_checks_the_device_alike(registry, family: str, model: str) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    task = "segmentation" if family == "reference" else "classification"
    with pytest.raises(ModelError, match=r"CUDA is not available here.*--device cpu"):
        registry.get("models", family).obj().build(model, task, "random", "cuda")
