"""Resume after kill -9, and torchrun sharding that reproduces a single-process run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ARGS = [
    "run",
    "--task",
    "classification",
    "--limit",
    "4",
    "-c",
    "jpeg",
    "-c",
    "webp",
    "--bpp",
    "0.3,1",
    "--workers",
    "0",
    "--no-plot",
    "--no-cache",
]
BIN = Path(sys.executable).parent


def run(out: Path, *extra: str, prefix: list[str] | None = None) -> None:
    cmd = (prefix or [sys.executable, "-m", "lossybench"]) + ARGS + ["--out", str(out), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def result_and_records(out: Path) -> tuple[dict, bytes]:
    (result,) = [p for p in out.glob("*.json")]
    (records,) = [p for p in out.glob("*.jsonl") if ".rank" not in p.name]
    return json.loads(result.read_text()), records.read_bytes()


def comparable(result: dict) -> dict:
    return {
        k: v
        for k, v in result.items()
        if k not in ("created", "environment", "config", "wall_seconds")
    }


def test_kill_9_then_resume_equals_an_uninterrupted_run(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run(whole)
    cmd = [sys.executable, "-m", "lossybench", *ARGS, "--out", str(killed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:  # kill as soon as one image is on disk
        files = list(killed.glob("*.jsonl"))
        if files and len(files[0].read_text().splitlines()) > 1:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    lines = next(killed.glob("*.jsonl")).read_text().splitlines()
    assert 1 < len(lines) < 1 + 4 * 5, "the run should have been killed part-way"
    run(killed)
    a, ra = result_and_records(whole)
    b, rb = result_and_records(killed)
    assert comparable(a) == comparable(b)
    assert ra == rb


def test_torchrun_two_processes_equal_one(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    run(one)
    run(
        two,
        prefix=[
            str(BIN / "torchrun"),
            "--nproc_per_node",
            "2",
            "--master_port",
            "29517",
            "-m",
            "lossybench",
        ],
    )
    a, ra = result_and_records(one)
    b, rb = result_and_records(two)
    assert comparable(a) == comparable(b)
    assert ra == rb
    assert len(list(two.glob("*.rank*-of-2.jsonl"))) == 2
