"""The `bench` command line, run as a user would (subprocess through the installed script)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from lossybench.plugins.datasets.package_photos import photo_path

BUILTIN_CODECS = {"jpeg", "webp", "jpeg2000", "avif", "heic", "jpegxl"}


def bench(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "lossybench", *args], capture_output=True, text=True, timeout=300
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_list_json_has_every_kind_and_the_six_codecs():
    data = json.loads(bench("list", "--json").stdout)
    assert set(data) >= {"codecs", "models", "tasks", "datasets", "errors"}
    names = {c["name"] for c in data["codecs"]}
    assert names >= BUILTIN_CODECS
    for c in data["codecs"]:
        assert c["plugin"] and c["distribution"] and c["version"]
        if c["name"] in BUILTIN_CODECS:
            assert c["available"] and c["backend"]["library"] and c["backend"]["version"]
    assert "package-photos" in {d["name"] for d in data["datasets"]}
    assert data["errors"] == []


def test_list_table_shows_codecs():
    out = bench("list").stdout
    for name in BUILTIN_CODECS:
        assert name in out


def test_disable_plugin_removes_its_codec():
    data = json.loads(bench("--disable-plugin", "heic", "list", "--json").stdout)
    assert "heic" not in {c["name"] for c in data["codecs"]}
    assert "heic" in data["disabled"]


def test_sweep_json_on_a_directory(tmp_path):
    shutil.copy(photo_path("chelsea"), tmp_path / "chelsea.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "r.json"
    plot = tmp_path / "rd.svg"
    proc = bench("codecs", "sweep", str(tmp_path), "-c", "jpeg", "-c", "jpeg:subsampling=4:4:4",
                 "--bpp", "0.3,1", "--json", "--out", str(out), "--plot", str(plot))
    data = json.loads(proc.stdout)
    assert data == json.loads(out.read_text())
    assert plot.read_text().startswith("<?xml")
    assert data["images"] == 1 and len(data["errors"]) == 1
    assert "broken.jpg" in data["errors"][0]["image"]
    labels = {s["codec"] for s in data["summary"]}
    assert labels == {"jpeg", "jpeg:subsampling=4:4:4"}
    for s in data["summary"]:
        assert s["bpp"] <= s["point"] and s["images"] == 1
    assert "sweeping" in proc.stderr  # the progress bar


def test_sweep_default_runs_on_the_builtin_photos():
    data = json.loads(bench("codecs", "sweep", "-c", "webp", "--limit", "2", "--quality", "50",
                            "--json").stdout)
    assert data["images"] == 2 and data["summary"][0]["psnr"] > 25


@pytest.mark.parametrize(
    "args, message",
    [
        (["codecs", "sweep", "-c", "nosuchcodec"], "unknown codec 'nosuchcodec'; available: avif"),
        (["codecs", "sweep", "-c", "jpeg", "--bpp", "0,1"], "outside"),
        (["codecs", "sweep", "-c", "jpeg", "--bpp", "abc"], "comma-separated"),
        (["codecs", "sweep", "-c", "jpeg", "--quality", "500"], "outside [1, 95]"),
        (["codecs", "sweep", "-c", "jpeg:nosuch=1"], "has no option nosuch"),
        (["codecs", "sweep", "/nonexistent/dir"], "no such file"),
    ],
)
def test_bad_arguments_give_a_clear_error(args, message):
    proc = bench(*args, check=False)
    assert proc.returncode == 2
    assert message in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr


def test_help_explains_options_with_examples():
    out = bench("codecs", "sweep", "--help").stdout
    for word in ("--codec", "--bpp", "--quality", "--policy", "--json", "--plot", "Example"):
        assert word in out
    assert "--rate-tolerance" in out


def test_rate_tolerance_option_reaches_the_run_config(tmp_path):
    from typer.testing import CliRunner

    from lossybench.cli.app import app

    runner = CliRunner()
    toml = tmp_path / "run.toml"
    for args, expected in (([], 0.0), (["--rate-tolerance", "0.1"], 0.1)):
        res = runner.invoke(
            app, ["run", "--task", "classification", *args, "--save-config", str(toml)]
        )
        assert res.exit_code == 0, res.output
        assert f"rate_tolerance = {expected}" in toml.read_text()
    res = runner.invoke(app, ["run", "--rate-tolerance", "0.9", "--save-config", str(toml)])
    assert res.exit_code == 2


@pytest.mark.parametrize(
    "command",
    ["list", "run", "schema", "report", "cache info", "cache prune", "codecs sweep",
     "leaderboard validate", "leaderboard submit", "leaderboard show", "leaderboard render"],
)
def test_every_command_has_help_with_an_example(command):
    from typer.testing import CliRunner

    from lossybench.cli.app import app, mount_plugin_commands

    mount_plugin_commands([])
    result = CliRunner().invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
