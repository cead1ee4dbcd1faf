"""Run import-linter's contracts (pyproject.toml) over the whole ``lossybench`` package.

Why a wrapper: the package is assembled from three folders (``core/`` → ``lossybench``,
``plugins/`` → ``lossybench.plugins``, ``leaderboard/`` → ``lossybench.leaderboard``)
and grimp, import-linter's graph builder, walks only the folder of the top package. This
copies the Python files into one temporary tree laid out as Python sees the package and
runs ``lint-imports`` on it. ``make test`` and ``make lint`` call it; it exits as
lint-imports does (non-zero when a contract is broken).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"core": "", "plugins": "plugins", "leaderboard": "leaderboard"}


def lay_out(dest: Path, extra: dict[str, str] | None = None) -> Path:
    """Copy every ``.py`` file into ``dest/lossybench/...``; ``extra`` adds files (tests)."""
    pkg = dest / "lossybench"
    for folder, sub in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            target = pkg / sub / path.relative_to(ROOT / folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    for rel, text in (extra or {}).items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    return pkg


def lint(tree: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    lint_imports = Path(sys.executable).with_name("lint-imports")
    cmd = [str(lint_imports), str(ROOT / "pyproject.toml"), "--no-cache", *args]
    return subprocess.run(cmd, cwd=tree, env=env, text=True, capture_output=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="lossybench-imports-") as tmp:
        lay_out(Path(tmp))
        done = lint(Path(tmp), sys.argv[1:])
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        return done.returncode


if __name__ == "__main__":
    sys.exit(main())
