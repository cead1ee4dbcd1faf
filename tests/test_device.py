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


def test_learned_codecs_follow_the_run_device_without_changing_identity(registry) -> None:
    """--device puts a learned codec on the model's device; its bits do not depend on it
    (float64 coding), so the label, identity and cache key stay those of the CPU."""
    from lossybench.engine.run.resolve import build_codecs

    cpu = build_codecs(["lossybench-hyperprior", "jpeg"], registry)
    gpu = build_codecs(["lossybench-hyperprior", "jpeg"], registry, device="cuda:1")
    assert gpu[0].settings["device"] == "cuda:1" and cpu[0].settings["device"] == "cpu"
    assert [c.label for c in gpu] == [c.label for c in cpu] == ["lossybench-hyperprior", "jpeg"]
    assert gpu[0].identity() == cpu[0].identity()
    told = build_codecs(["lossybench-hyperprior:device=cpu"], registry, device="cuda:1")
    assert told[0].settings["device"] == "cpu"  # the codec's own option wins
    assert "device" not in gpu[1].settings  # a codec without the option is left alone


# --device auto (the default): cuda when torch sees one, else cpu; chosen once, recorded


def test_auto_chooses_cuda_only_when_available(monkeypatch) -> None:
    import torch

    from lossybench.kits.device import choose_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_device("auto") == choose_device() == "cpu"
    assert rank_device("auto", TORCHRUN_RANK_1_OF_2) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_device("auto") == "cuda"
    assert rank_device("auto", TORCHRUN_RANK_1_OF_2) == "cuda:1"  # then as bare cuda
    for given in ("cpu", "cuda", "cuda:1", "mps", "gpu"):  # anything else is kept as given
        assert choose_device(given) == given


def test_auto_is_the_default_and_leaves_the_digest_alone() -> None:
    from lossybench.engine.finetune.config import FinetuneConfig

    base = {"task": "classification", "model": "timm:resnet18", "dataset": "imagenet-samples"}
    auto, cpu = make_config(base), make_config({**base, "device": "cpu"})
    assert auto.device == "auto" and FinetuneConfig.model_fields["device"].default == "auto"
    assert auto.digest() == cpu.digest() and auto.run_name() == cpu.run_name()


def test_auto_workers_use_every_core_less_one_feeding_a_gpu(monkeypatch) -> None:
    from lossybench.engine.run import config

    monkeypatch.setattr(config, "available_cores", lambda: 16)
    assert config.auto_workers("cpu") == config.auto_workers() == 16  # no cap of 8
    assert config.auto_workers("cuda") == config.auto_workers("cuda:1") == 15
    monkeypatch.setattr(config, "available_cores", lambda: 1)
    assert config.auto_workers("cuda") == config.auto_workers("cpu") == 1


def test_bench_run_device_auto_picks_and_records_cpu_here(tmp_path) -> None:
    import json
    import subprocess
    import sys

    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = subprocess.run(
        [sys.executable, "-m", "lossybench", "run", "--device", "auto", "--limit", "1",
         "-c", "jpeg", "--bpp", "1", "--workers", "0", "--no-cache", "--no-plot",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (result,) = tmp_path.glob("classification-*.json")
    data = json.loads(result.read_text())
    assert data["environment"]["device"] == "cpu" and data["config"]["device"] == "auto"
    assert data["settings"]["workers"] == 0
    assert "on cpu" in proc.stdout + proc.stderr


def test_stream_stats_split_the_time_between_the_stages() -> None:
    """In-process: the consumer waits for each image's codec work (model wait) and the
    codec stage waits for the consumer's turns; the two add up to the stream's wall."""
    import time

    from lossybench.dataset import Sample
    from lossybench.engine.workers import StreamStats, stream

    def stage(s: Sample) -> str:
        time.sleep(0.02)
        return s.id

    samples = [Sample(id=str(i), source=b"") for i in range(5)]
    stats = StreamStats()
    got = []
    for _s, work in stream(samples, stage, 0, stats):  # type: ignore[arg-type]
        time.sleep(0.01)
        got.append(work)
    assert got == ["0", "1", "2", "3", "4"] and stats.images == 5
    assert stats.model_wait_s >= 0.1 and stats.codec_wait_s >= 0.05
    assert stats.model_wait_s + stats.codec_wait_s == pytest.approx(stats.wall_s)


def test_stream_stats_count_idle_workers_during_the_consumers_turns() -> None:
    from lossybench.engine.workers import StreamStats

    stats = StreamStats(workers=2, wall_s=10.0)
    # two images submitted at 0; one done at 1, the other at 3; the consumer's turn 2..4:
    # half the pool idle 2..3, all of it 3..4 -> 1.5 pool-seconds
    stats.events = [(0.0, 1), (0.0, 1), (1.0, -1), (3.0, -1)]
    stats.turns = [(2.0, 4.0)]
    stats.settle()
    assert stats.codec_wait_s == pytest.approx(1.5)
    assert stats.model_wait_s == pytest.approx(8.0)
