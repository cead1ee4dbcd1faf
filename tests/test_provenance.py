"""Provenance complete enough to reproduce a number (issue 17 §3).

A run result and a sweep JSON carry the same blocks: lossybench's version, git commit and
dirty flag (from a checkout), every plugin with its status (a broken one as failed, with
its error), each codec / model / task / dataset entry's plugin, the machine (CPU model,
cores, torch threads). Plots are byte-stable. The oracles are independent: git itself,
/proc/cpuinfo, hashlib over the image file, matplotlib's own output twice.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from lossybench import hookimpl
from lossybench.engine import provenance
from lossybench.engine.results import RunResult, load_result, shipped_schema
from lossybench.model import LoadedModel, WeightsInfo
from lossybench.registry import Registry, load_registry

ROOT = Path(__file__).resolve().parents[1]
LOSSYBENCH = {"distribution": "lossybench", "version": version("lossybench")}
BROKEN_ERROR = "libbroken.so.3: cannot open shared object file"


class BrokenPlugin:
    """A plugin whose hook raises (its message spans two lines, as tracebacks do)."""

    @hookimpl
    def lossybench_codecs(self) -> list[Any]:
        raise RuntimeError(f"{BROKEN_ERROR}\n  (install libbroken)")


def git(*args: str) -> str | None:
    if shutil.which("git") is None:
        return None
    proc = subprocess.run(["git", "-C", str(ROOT / "core"), *args], capture_output=True,
                          text=True, timeout=30)
    return proc.stdout.strip() if proc.returncode == 0 else None


def expected_commit() -> str | None:
    """HEAD of the checkout lossybench runs from, asked of git directly (None: not one)."""
    if git("ls-files", "--error-unmatch", "--", "__init__.py") is None:
        return None
    return git("rev-parse", "HEAD")


def expected_cpu() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or None


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(extra_plugins=[("broken-codecs", BrokenPlugin())])


@pytest.fixture(scope="module")
def run(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    from lossybench.engine.run.config import RunConfig
    from lossybench.engine.run.execute import execute
    from lossybench.engine.run.resolve import resolve

    out = tmp_path_factory.mktemp("run")
    cfg = RunConfig(task="detection", model="reference:scenes-detector",
                    dataset="scenes-detection", limit=2, codecs=["jpeg"], bpp=[0.5, 1.0],
                    workers=0, out=str(out))
    result, path = execute(resolve(cfg, registry), command=["bench", "run", "--limit", "2"])
    assert result is not None
    return result, path


@pytest.fixture(scope="module")
def sweep(registry: Registry) -> Any:
    from lossybench.engine.sweep import run_sweep

    codec = registry.codec("jpeg")()
    sample = next(iter(registry.get("datasets", "package-photos").obj().samples()))
    result = run_sweep([codec], [sample], bpp=[0.5, 1.0], with_ms_ssim=False,
                       registry=registry, command=["bench", "codecs", "sweep"])
    return result, sample


def check_tool_and_environment(tool: dict[str, Any], env: dict[str, Any]) -> None:
    """What a run result and a sweep JSON share, checked the same way for both."""
    assert tool["version"] == version("lossybench")
    commit = expected_commit()
    assert tool["commit"] == commit
    assert (tool["dirty"] is None) == (commit is None)
    if commit is not None:
        assert isinstance(tool["dirty"], bool)
    plugins = {p["name"]: p for p in tool["plugins"]}
    broken = plugins["broken-codecs"]
    assert broken["status"] == "failed"
    assert broken["errors"] == [{
        "stage": "lossybench_codecs",
        "error": f"RuntimeError: {BROKEN_ERROR} (install libbroken)",  # one line
    }]
    jpeg = plugins["jpeg"]
    assert (jpeg["distribution"], jpeg["version"], jpeg["status"]) == (
        LOSSYBENCH["distribution"], LOSSYBENCH["version"], "loaded")
    assert not jpeg.get("errors")
    assert all(p["status"] in ("loaded", "failed", "disabled") for p in tool["plugins"])
    assert env["cpu"] == expected_cpu()
    assert env["cores"] >= 1
    import torch

    assert env["threads"] == torch.get_num_threads()
    assert env["cuda"] is None and env["gpu"] is None  # the CPU was used
    assert env["torch"] == torch.__version__


def test_run_result_records_where_it_was_made(run: tuple[RunResult, Path]) -> None:
    result, path = run
    data = json.loads(path.read_text())
    Draft202012Validator(shipped_schema()).validate(data)
    assert load_result(path) == result
    check_tool_and_environment(data["lossybench"], data["environment"])
    assert data["environment"]["seed"] == 0
    assert data["environment"]["command"] == ["bench", "run", "--limit", "2"]
    # each entry names the plugin (entry point, distribution, version) that registered it
    assert data["codecs"][0]["plugin"] == {"name": "jpeg", **LOSSYBENCH}
    assert data["task"]["plugin"] == {"name": "detection", **LOSSYBENCH}
    assert data["model"]["plugin"] == {"name": "reference", **LOSSYBENCH}
    assert data["dataset"]["plugin"] == {"name": "scenes", **LOSSYBENCH}
    assert data["model"]["libraries"] == {"torchvision": version("torchvision")}


def test_sweep_json_has_a_runs_provenance(sweep: Any) -> None:
    result, sample = sweep
    data = json.loads(json.dumps(result.as_json()))
    assert data["kind"] == "sweep" and data["created"].endswith("Z")
    check_tool_and_environment(data["lossybench"], data["environment"])
    assert "seed" not in data["environment"] and data["environment"]["device"] == "cpu"
    assert data["environment"]["command"] == ["bench", "codecs", "sweep"]
    assert data["policy"] == "floor" and data["rate_tolerance"] == result.rate_tolerance
    assert data["codecs"]["jpeg"]["plugin"] == {"name": "jpeg", **LOSSYBENCH}
    digest = hashlib.sha256(Path(sample.source).read_bytes()).hexdigest()
    assert data["inputs"] == [{"image": sample.id, "sha256": digest}]
    assert len(data["inputs_sha256"]) == 64


def test_sweep_summary_names_encodes_per_target(sweep: Any) -> None:
    from lossybench.engine.sweep import encodes_per_target

    result, _ = sweep
    rows = result.as_json()["summary"]
    assert all("encodes_per_image" not in r for r in rows)
    assert [r["encodes_per_target"] for r in rows] == [result.encodes_per_target("jpeg")] * 2
    assert rows[0]["encodes_per_target"] > 0
    assert encodes_per_target(rows[0]) == rows[0]["encodes_per_target"]
    assert encodes_per_target({"encodes_per_image": 2.5}) == 2.5  # older sweep JSON


def test_bench_codecs_sweep_writes_the_provenance(tmp_path: Path) -> None:
    from lossybench.plugins.datasets.package_photos import photo_path

    out = tmp_path / "sweep.json"
    cmd = [sys.executable, "-m", "lossybench", "codecs", "sweep", str(photo_path("astronaut")),
           "-c", "jpeg", "--bpp", "0.5", "--no-ms-ssim", "--workers", "0", "--no-cache",
           "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["lossybench"]["commit"] == expected_commit()
    assert data["environment"]["cpu"] == expected_cpu()
    assert data["environment"]["command"][-2:] == ["--out", str(out)]
    assert data["codecs"]["jpeg"]["plugin"] == {"name": "jpeg", **LOSSYBENCH}
    assert data["summary"][0]["encodes_per_target"] > 0


# -- plots ----------------------------------------------------------------------------------
def test_identical_plots_are_identical_files(run: tuple[RunResult, Path], sweep: Any,
                                             tmp_path: Path) -> None:
    from lossybench.engine.plots import plot_results, plot_sweep

    result, _ = run
    a = plot_results([result], tmp_path / "a" / "run")
    b = plot_results([result], tmp_path / "b" / "run")
    assert [p.suffix for p in a] == [".png", ".svg"]
    for x, y in zip(a, b, strict=True):
        assert x.read_bytes() == y.read_bytes(), x.name
    for suffix in (".svg", ".png"):
        x = plot_sweep(sweep[0], tmp_path / f"s1{suffix}")
        y = plot_sweep(sweep[0], tmp_path / f"s2{suffix}")
        assert x.read_bytes() == y.read_bytes(), suffix
    svg = a[1].read_text()
    assert "<dc:date>" not in svg and 'clip-path="url(#' in svg


# -- the parts ------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_state_of_a_checkout(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    pkg = repo / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("x = 1\n")

    def g(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C",
                               str(repo), *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()

    g("init", "-q")
    assert provenance.git_state(pkg) == {}  # no commit yet, nothing tracked
    g("add", ".")
    g("commit", "-q", "-m", "one")
    assert provenance.git_state(pkg) == {"commit": g("rev-parse", "HEAD"), "dirty": False}
    (pkg / "__init__.py").write_text("x = 2\n")
    assert provenance.git_state(pkg)["dirty"] is True
    # a package inside someone else's repository but not tracked there: not a checkout
    venv_pkg = repo / "venv" / "lossybench"
    venv_pkg.mkdir(parents=True)
    (venv_pkg / "__init__.py").write_text("")
    assert provenance.git_state(venv_pkg) == {}
    assert provenance.git_state(tmp_path) == {}  # not a repository at all


def test_git_missing_leaves_the_commit_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert provenance.git_state() == {}
    assert provenance.tool_info(load_registry(use_entry_points=False))["commit"] is None


def test_disabled_plugins_are_listed_as_disabled() -> None:
    plugins = {p["name"]: p for p in provenance.plugin_list(load_registry(disable=["webp"]))}
    assert plugins["webp"]["status"] == "disabled"
    assert plugins["jpeg"]["status"] == "loaded"


def test_entry_origin_is_only_for_the_registered_class(registry: Registry) -> None:
    jpeg = registry.codec("jpeg")
    sub = type("MyJpeg", (jpeg,), {})
    assert provenance.entry_origin(registry, "codecs", "jpeg", jpeg()) == {
        "name": "jpeg", **LOSSYBENCH}
    assert provenance.entry_origin(registry, "codecs", "jpeg", sub()) is None
    assert provenance.entry_origin(registry, "models", "python") is None
    assert provenance.entry_origin(None, "codecs", "jpeg") is None


@dataclass
class PartsModel(LoadedModel):
    net: Any = None
    transform: Any = None

    def preprocess(self, image: np.ndarray) -> Any:
        return image

    def forward(self, inputs: Any, sizes: Any) -> list[Any]:
        return []


def test_model_libraries_name_timm_and_torchvision() -> None:
    import timm.layers
    import torchvision.transforms

    m = PartsModel(family="timm", name="mlp", task="classification",
                   weights=WeightsInfo("random"), net=timm.layers.Mlp(4),
                   transform=torchvision.transforms.ToTensor())
    assert provenance.model_libraries(m) == {
        "timm": version("timm"), "torchvision": version("torchvision")}
    mine = PartsModel(family="python", name="x", task="classification",
                      weights=WeightsInfo("random"), net=object())
    assert provenance.model_libraries(mine) == {}


def test_gpu_fields_when_a_gpu_is_used() -> None:
    fake = SimpleNamespace(
        cuda=SimpleNamespace(is_available=lambda: True,
                             get_device_name=lambda d: "NVIDIA H200\x1b[0m"),
        version=SimpleNamespace(cuda="12.4"),
        backends=SimpleNamespace(cudnn=SimpleNamespace(version=lambda: 90100)),
        device=lambda d: d,
    )
    assert provenance._gpu(fake, "cuda:0") == {"cuda": "12.4", "cudnn": "9.1.0",
                                               "gpu": "NVIDIA H200 [0m"}
    assert provenance._gpu(fake, "cpu") == {"cuda": None, "cudnn": None, "gpu": None}
    fake.backends.cudnn.version = lambda: 8902
    assert provenance._gpu(fake, "cuda")["cudnn"] == "8.9.2"


def test_clean_text_keeps_one_safe_line() -> None:
    assert provenance.clean_text("a\nb\t c\u202e d\x00", 100) == "a b c d"
    assert provenance.clean_text("x" * 50, 10) == "x" * 10
    assert provenance.clean_text(None, 10) == ""
