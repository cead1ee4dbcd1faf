"""`bench run` end to end on the built-in default (real model, real photos), resume, replay."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from lossybench.engine.results import RunResult, shipped_schema

ARGS = ["--limit", "2", "-c", "jpeg", "-c", "webp", "--bpp", "0.3,1", "--workers", "0"]


def bench(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "lossybench", *args], capture_output=True, text=True, timeout=600
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def outputs(out: Path, task: str = "classification") -> tuple[Path, Path]:
    (result,) = out.glob(f"{task}-*.json")
    return result, result.with_suffix(".jsonl")


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    proc = bench("run", *ARGS, "--out", str(out))
    return out, proc


def test_default_run_writes_a_valid_result(default_run):
    out, proc = default_run
    result_path, jsonl = outputs(out)
    data = json.loads(result_path.read_text())
    Draft202012Validator(shipped_schema()).validate(data)
    r = RunResult.model_validate(data)
    assert r.task.name == "classification" and r.model.name == "tf_efficientnet_lite0"
    assert r.model.weights.sha256 and r.dataset.images == 2 and len(r.dataset.sha256) == 64
    assert r.clean.images == 2 and r.clean.metrics["top1"] in (0.0, 0.5, 1.0)
    assert [c.label for c in r.codecs] == ["jpeg", "webp"]
    for c in r.codecs:
        assert c.backend.library and c.backend.version
        assert [p.target for p in c.points] == [0.3, 1.0]
        for p in c.points:
            assert p.images == 2 and p.bpp_mean <= p.target and 0 <= p.metrics["top1"] <= 1
    lines = jsonl.read_text().splitlines()
    assert json.loads(lines[0])["config_sha256"]
    records = [json.loads(x) for x in lines[1:]]
    assert len(records) == 2 * (1 + 2 * 2) == r.records.count
    for rec in records:
        if rec["codec"]:
            assert rec["bpp"] == pytest.approx(8 * rec["bytes"] / (512 * 512), rel=0.5)
            assert rec["outcome"]["label"] >= 0 and rec["psnr"] > 20
    assert result_path.with_suffix(".png").stat().st_size > 10_000
    assert result_path.with_suffix(".svg").read_text().startswith("<?xml")
    assert "top1" in proc.stdout and "jpeg" in proc.stdout


def test_default_suite_runs_every_task_and_summarises(default_run):
    """No --task: classification, detection and segmentation, one result each + summary."""
    out, proc = default_run
    expected = {
        "classification": ("tf_efficientnet_lite0", "top1"),
        "detection": ("scenes-detector", "map"),
        "segmentation": ("scenes-segmenter", "miou"),
    }
    for task, (model, head) in expected.items():
        r = RunResult.model_validate_json(outputs(out, task)[0].read_text())
        assert r.task.name == task and r.model.name == model and r.task.headline == head
        assert r.dataset.images == 2 and [c.label for c in r.codecs] == ["jpeg", "webp"]
        assert 0 <= r.clean.metrics[head] <= 1
        if task != "classification":
            # the scenes validation split: its subset hash, not the whole split's
            from lossybench.plugins.datasets.scenes import VAL_SHA256

            assert r.dataset.name == f"scenes-{task}" and r.dataset.sha256 != VAL_SHA256
    summary = proc.stdout[proc.stdout.index("summary ·"):]
    for word in ("classification", "detection", "segmentation", "clean", "jpeg", "webp"):
        assert word in summary
    assert (out / "summary.png").stat().st_size > 10_000
    assert "3 runs in" in " ".join(proc.stderr.split())


def test_report_reproduces_the_table(default_run):
    out, proc = default_run
    paths = [str(outputs(out, t)[0]) for t in ("classification", "detection", "segmentation")]
    report = bench("report", *paths).stdout
    table_rows = [line for line in proc.stdout.splitlines() if line.startswith("│ jpeg")]
    assert table_rows and all(row in report for row in table_rows)


def test_rerun_resumes_without_redoing_work(default_run, tmp_path):
    out, _ = default_run
    result_path, jsonl = outputs(out)
    copy = tmp_path / "resume"
    shutil.copytree(out, copy)
    _, jsonl_copy = outputs(copy)
    lines = jsonl_copy.read_text().splitlines(keepends=True)
    # a run killed during the second image: first image complete, a torn last line
    jsonl_copy.write_text("".join(lines[:6]) + lines[6][: len(lines[6]) // 2])
    bench("run", *ARGS, "--out", str(copy))
    again = RunResult.model_validate_json(outputs(copy)[0].read_text())
    first = RunResult.model_validate_json(result_path.read_text())
    assert again.clean == first.clean
    assert [c.points for c in again.codecs] == [c.points for c in first.codecs]
    assert jsonl_copy.read_text() == jsonl.read_text()


def test_config_replays_the_run(default_run, tmp_path):
    out, _ = default_run
    result_path, _ = outputs(out)
    bench("run", "--config", str(result_path), "--out", str(tmp_path))
    replay = RunResult.model_validate_json(outputs(tmp_path)[0].read_text())
    first = RunResult.model_validate_json(result_path.read_text())
    assert replay.dataset == first.dataset and replay.config == first.config | {
        "out": str(tmp_path)
    }
    assert [c.points for c in replay.codecs] == [c.points for c in first.codecs]


def test_a_corrupt_image_fails_its_points_not_the_run(tmp_path):
    from lossybench.plugins.datasets.package_photos import photo_path

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(photo_path("chelsea"), data / "cat.png")
    (data / "bad.jpg").write_bytes(b"\xff\xd8\xffnot really a jpeg")
    (data / "list.csv").write_text("image,label\ncat.png,281\nbad.jpg,1\n")
    proc = bench(
        "run",
        "--dataset",
        f"labels:{data / 'list.csv'}",
        "--task-option",
        "num_classes=1000",
        "-c",
        "jpeg",
        "--bpp",
        "0.5",
        "--workers",
        "0",
        "--out",
        str(tmp_path / "out"),
        "--no-plot",
    )
    r = RunResult.model_validate_json(outputs(tmp_path / "out")[0].read_text())
    assert r.clean.images == 1 and r.clean.failures == 1
    assert r.codecs[0].points[0].images == 1
    assert "failed" in proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "timm:resnet_nonexistent"], "has no model 'resnet_nonexistent'"),
        (["--model", "nofamily:x"], "unknown model 'nofamily'"),
        (["--dataset", "imagefolder:/nonexistent/path"], "/nonexistent/path"),
        (["--task", "keypoints"], "give --model and --dataset"),
        (["--bpp", "0,1"], "outside"),
        (["-c", "nosuch"], "unknown codec"),
        (["--quality", "10"], "needs explicit --codec"),
    ],
)
def test_bad_input_is_refused_before_heavy_work(args, message, tmp_path):
    proc = bench("run", *args, "--out", str(tmp_path), check=False)
    assert proc.returncode == 2, proc.stderr
    assert message in " ".join(proc.stderr.split()), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("*.jsonl"))
