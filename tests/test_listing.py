"""`bench list` stays light: listing plugins loads no deep-learning framework.

Why: ``bench list`` asks every codec whether it is available and what backs it; when a
plugin imported torch for that (CompressAI's zoo URL table, torch hub's cache path) a
listing took seconds and a gigabyte. Plugins may import torch only to build or run a
codec. Also here: the two helpers that made that possible — reading a literal from a
package's source (:mod:`lossybench.kits.source_literals`) and torch hub's directory
without torch (:mod:`lossybench.kits.torch_hub`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lossybench.kits import torch_hub
from lossybench.kits.source_literals import module_literal, package_file

HEAVY = ("torch", "compressai", "timm", "torchvision")
BUILTIN_CODECS = {
    "jpeg", "webp", "jpeg2000", "avif", "heic", "jpegxl", "lossybench-hyperprior",
    "bmshj2018-factorized-mse", "bmshj2018-hyperprior-mse", "mbt2018-mean-mse", "mbt2018-mse",
    "cheng2020-anchor-mse", "cheng2020-attn-mse",
}

#: ``python -m lossybench list --json``, then which heavy modules it left loaded.
LIST_SCRIPT = f"""
import runpy, sys
sys.argv = ["bench", "list", "--json"]
try:
    runpy.run_module("lossybench", run_name="__main__", alter_sys=True)
    code = 0
except SystemExit as exc:
    code = exc.code or 0
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print("HEAVY:" + ",".join(loaded), file=sys.stderr)
sys.exit(code)
"""


def _bench_list(env: dict[str, str]) -> tuple[dict, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", LIST_SCRIPT], capture_output=True, text=True, env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    heavy = [line for line in proc.stderr.splitlines() if line.startswith("HEAVY:")]
    assert heavy, proc.stderr[-3000:]
    return json.loads(proc.stdout), [m for m in heavy[-1][len("HEAVY:"):].split(",") if m]


def test_list_loads_no_deep_learning_framework(tmp_path: Path) -> None:
    # One zoo level "downloaded" into a private torch hub cache: that codec is listed as
    # available, so its backend() runs too, still without torch.
    from lossybench.plugins.codecs import compressai_zoo as zoo

    url = zoo.zoo_url("bmshj2018-factorized", "mse", 1)
    assert url is not None
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / Path(url).name).write_bytes(b"")
    env = {k: v for k, v in os.environ.items() if k != zoo.CHECKPOINTS_ENV}
    env["TORCH_HOME"] = str(tmp_path / "torch")

    data, heavy = _bench_list(env)

    assert heavy == [], f"bench list imported {heavy}"
    rows = {row["name"]: row for row in data["codecs"]}
    assert set(rows) >= BUILTIN_CODECS
    assert rows["bmshj2018-factorized-mse"]["available"] is True
    assert rows["bmshj2018-factorized-mse"]["backend"]["library"] == "compressai"
    assert rows["bmshj2018-hyperprior-mse"]["available"] is False
    assert str(hub) in rows["bmshj2018-hyperprior-mse"]["unavailable_reason"]
    assert data["errors"] == []


def test_zoo_urls_parsed_from_source_equal_compressai(monkeypatch) -> None:
    """The table read from compressai's source (listing, no torch) is compressai's own."""
    pytest.importorskip("compressai")
    import compressai.zoo
    from compressai.zoo import image as zi

    from lossybench.plugins.codecs import compressai_zoo as zoo

    zoo._parsed_zoo_urls.cache_clear()
    assert zoo._parsed_zoo_urls() == zi.model_urls
    assert zoo.zoo_urls() is zi.model_urls  # loaded: the live table
    # Not loaded and the source unreadable: imported, as before.
    monkeypatch.setattr(compressai.zoo, "image", zi)  # restored after the re-import
    monkeypatch.delitem(sys.modules, "compressai.zoo.image")
    monkeypatch.setattr(zoo, "package_file", lambda *a: None)
    zoo._parsed_zoo_urls.cache_clear()
    try:
        assert zoo.zoo_urls() == zi.model_urls
        assert "compressai.zoo.image" in sys.modules
    finally:
        zoo._parsed_zoo_urls.cache_clear()


# -- torch hub's directory without torch -------------------------------------------------
@pytest.mark.parametrize(
    "env",
    [
        {"TORCH_HOME": "/tmp/th", "XDG_CACHE_HOME": "/tmp/xdg"},
        {"TORCH_HOME": "~/th"},
        {"XDG_CACHE_HOME": "/tmp/xdg"},
        {},
    ],
    ids=["torch-home", "torch-home-user", "xdg", "default"],
)
def test_hub_dir_follows_torch(env: dict[str, str], monkeypatch) -> None:
    torch_hub_module = pytest.importorskip("torch.hub")
    for key in ("TORCH_HOME", "XDG_CACHE_HOME", "TORCH_HUB"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    expected = Path(torch_hub_module.get_dir())
    monkeypatch.delitem(sys.modules, "torch.hub")  # as in a process without torch
    assert torch_hub.hub_dir() == expected
    assert torch_hub.hub_checkpoint_dir() == expected / "checkpoints"


def test_hub_dir_honours_set_dir_once_torch_is_loaded(tmp_path: Path, monkeypatch) -> None:
    torch_hub_module = pytest.importorskip("torch.hub")
    monkeypatch.setattr(torch_hub_module, "_hub_dir", str(tmp_path))  # what set_dir does
    assert torch_hub.hub_dir() == tmp_path


# -- literals from source ----------------------------------------------------------------
def _module(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "mod.py"
    path.write_text(source)
    return path


def test_module_literal_reads_fstring_tables(tmp_path: Path) -> None:
    path = _module(tmp_path, (
        "import os\n"
        "root = 'https://x/v1'\n"
        "n = 3\n"
        "TABLE = {'a': {'mse': {1: f'{root}/a-{n}.pth', 2: None}}, 'b': [1, (2, 'c')]}\n"
        "def use():\n"
        "    TABLE['a'] = {}  # runs only when called\n"
        "OTHER = os.getcwd()\n"
    ))
    assert module_literal(path, "TABLE") == {
        "a": {"mse": {1: "https://x/v1/a-3.pth", 2: None}}, "b": [1, (2, "c")],
    }
    with pytest.raises(ValueError):
        module_literal(path, "OTHER")
    with pytest.raises(ValueError):
        module_literal(path, "MISSING")


@pytest.mark.parametrize(
    "source",
    [
        "T = {'a': 1}\nT['b'] = 2\n",
        "T = {'a': 1}\nT.update(b=2)\n",
        "T = {'a': 1}\nT = {}\n",
        "T = {'a': 1}\nfrom os.path import *\n",
        "T = {'a': 1}\nglobals()['T'] = {}\n",
        "T = {'a': 1}\n@register(T)\ndef f(): pass\n",
        "r = 'x'\nif True:\n    r = 'y'\nT = {'a': f'{r}'}\n",
        "import r\nT = {'a': f'{r}'}\n",
        "r = 'x'\nT = {'a': f'{r!r}'}\n",
        "T = {**{'a': 1}}\n",
        "T = [f(1)]\n",
    ],
    ids=["setitem", "method", "rebound", "star-import", "globals", "decorator",
         "rebound-in-if", "imported-name", "conversion", "unpacking", "call"],
)
def test_module_literal_refuses_what_may_differ_after_import(tmp_path: Path, source: str) -> None:
    with pytest.raises(ValueError):
        module_literal(_module(tmp_path, source), "T")


def test_package_file() -> None:
    found = package_file("lossybench", "kits", "source_literals.py")
    assert found is not None and found.name == "source_literals.py"
    assert package_file("lossybench", "no-such-file.py") is None
    assert package_file("no_such_package_xyz", "a.py") is None
    with pytest.raises(ValueError):
        package_file("lossybench.kits", "torch_hub.py")
