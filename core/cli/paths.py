"""Checking output paths before any work: one line and exit 2, never a traceback later.

Every command that writes (run, finetune, sweep, report) asks here first, so a typo in
``--out`` costs a second, not a finished run that cannot be saved.
"""

from __future__ import annotations

import os
from pathlib import Path

from lossybench.errors import LossybenchError
from lossybench.image import file_problem


def _blocker(path: Path, include_self: bool) -> Path | None:
    """The nearest existing path at or above ``path`` (what decides whether it can be made)."""
    chain = (path, *path.parents) if include_self else path.parents
    return next((p for p in chain if os.path.lexists(p)), None)


def out_folder(out: str, option: str = "--out", what: str = "results go in a folder") -> Path:
    """Create the folder ``out`` now, or fail in one line (exit 2) before any work."""
    path = Path(out).expanduser()
    blocker = _blocker(path, include_self=True)
    if blocker is not None and not blocker.is_dir():
        where = "exists and is not a folder" if blocker == path else f"{blocker} is not a folder"
        raise LossybenchError(f"{option} {out}: {where}; {what}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LossybenchError(
            f"{option} {out}: cannot create this folder ({exc.strerror or exc})"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise LossybenchError(f"{option} {out}: this folder is not writable")
    return path


def out_file(path: Path, option: str) -> None:
    """Fail in one line (exit 2) before any work when the file ``path`` cannot be written."""
    if os.path.exists(path) and (problem := file_problem(path)) is not None:
        raise LossybenchError(f"{option} {path}: exists and is {problem}; give a file name")
    blocker = _blocker(path, include_self=False)
    if blocker is not None and not blocker.is_dir():
        raise LossybenchError(f"{option} {path}: {blocker} is not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LossybenchError(
            f"{option} {path}: cannot create its folder ({exc.strerror or exc})"
        ) from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise LossybenchError(f"{option} {path}: its folder is not writable")
