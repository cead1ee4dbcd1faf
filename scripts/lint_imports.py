"""Run import-linter's contracts (pyproject.toml) over the whole ``lossybench`` package.

Why a wrapper: the package is assembled from three folders (``core/`` → ``lossybench``,
``plugins/`` → ``lossybench.plugins``, ``leaderboard/`` → ``lossybench.leaderboard``)
and grimp, import-linter's graph builder, walks only the folder of the top package. This
lays the package out as Python sees it — a temporary tree of symbolic links — and runs
``lint-imports`` on it. ``make test`` and ``make lint`` call it; it exits as lint-imports
does (non-zero when a contract is broken).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="lossybench-imports-") as tmp:
        pkg = Path(tmp) / "lossybench"
        pkg.mkdir()
        for entry in (ROOT / "core").iterdir():
            if entry.name != "__pycache__":
                (pkg / entry.name).symlink_to(entry)
        (pkg / "plugins").symlink_to(ROOT / "plugins")
        (pkg / "leaderboard").symlink_to(ROOT / "leaderboard")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([tmp, os.environ.get("PYTHONPATH", "")])}
        lint = Path(sys.executable).with_name("lint-imports")
        cmd = [str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache", *sys.argv[1:]]
        return subprocess.run(cmd, cwd=tmp, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
