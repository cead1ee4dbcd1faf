"""The shape of the code: layers enforced, no oversized module, the module map up to date."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400
#: modules allowed past MAX_LINES, each named with its reason in docs/architecture.md
OVERSIZED = {"core/engine/ratecontrol.py"}


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_module_over_the_limit_but_the_named_ones() -> None:
    sizes = {
        str(p.relative_to(ROOT)): len(p.read_text().splitlines())
        for folder in ("core", "plugins", "leaderboard")
        for p in (ROOT / folder).rglob("*.py")
    }
    over = {p for p, n in sizes.items() if n > MAX_LINES}
    assert over <= OVERSIZED, f"over {MAX_LINES} lines: {sorted(over - OVERSIZED)}"
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for path in OVERSIZED:
        dotted = "lossybench." + path.removeprefix("core/").removesuffix(".py").replace("/", ".")
        assert dotted in doc.split("## Modules")[1].split("<!-- module-map -->")[0], dotted


def test_module_map_in_the_docs_matches_the_code() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "module_map.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("where", "source", "contract"),
    [
        ("kits/zz_up.py", "import lossybench.engine.cache\n",
         "Layers: cli above engine above kits above the contract"),
        ("engine/zz_up.py", "import lossybench.cli.console\n",
         "Layers: cli above engine above kits above the contract"),
        ("api/zz_cli.py", "import lossybench.cli.console\n",
         "Layers: cli above engine above kits above the contract"),
        ("api/zz_plugin.py", "import lossybench.plugins.codecs.jpeg\n",
         "The core never imports a plugin or the leaderboard (they register through entry "
         "points)"),
        ("plugins/codecs/zz_engine.py", "import lossybench.engine.ratecontrol\n",
         "Plugins import only the contract and the kits"),
        ("plugins/codecs/zz_other.py", "import lossybench.plugins.codecs.jpeg\n",
         "No plugin imports another plugin"),
        ("leaderboard/zz_cli.py", "import lossybench.cli.console\n",
         "The leaderboard never imports the command line or a plugin"),
        ("engine/zz_rich.py", "import rich.table\n",
         "The engine and the kits draw nothing: no typer, no rich"),
    ],
)
def test_import_contracts_catch_a_crossing(tmp_path: Path, where: str, source: str,
                                           contract: str) -> None:
    """The contracts as `make test` runs them, on the real tree plus one offending file."""
    lint = _script("lint_imports")
    lint.lay_out(tmp_path, {where: source})
    done = lint.lint(tmp_path, [])
    assert done.returncode != 0
    assert f"{contract} BROKEN" in " ".join(done.stdout.split()), done.stdout[-2000:]


def test_import_contracts_hold_on_the_tree(tmp_path: Path) -> None:
    lint = _script("lint_imports")
    lint.lay_out(tmp_path)
    done = lint.lint(tmp_path, [])
    assert done.returncode == 0, done.stdout[-3000:]
    assert "BROKEN" not in done.stdout


def test_every_package_is_listed_for_the_wheel() -> None:
    """pyproject's explicit ``packages`` list must name every folder with an __init__.py:
    an editable install finds an unlisted one, a wheel silently leaves it out."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = set()
    for folder, package in (("core", "lossybench"), ("plugins", "lossybench.plugins"),
                            ("leaderboard", "lossybench.leaderboard")):
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join([package, *rel]))
    assert found == listed, {"unlisted": sorted(found - listed), "stale": sorted(listed - found)}
