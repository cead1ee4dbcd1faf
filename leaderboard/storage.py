"""Writing the board so that a failed or killed write leaves it as it was.

Files are content-addressed and the index is replaced last with ``os.replace``: until
then the index, and so the board, is unchanged. Files the index does not reference are
ignored and removed by the next write. Writers are serialised with a lock on the folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lossybench.errors import LossybenchError
from lossybench.leaderboard.formats import Index
from lossybench.leaderboard.safejson import UnsafeInput, clean_text, loads, read_capped

#: A board is read by everyone who renders it; cap what a hand-edited file may hold.
MAX_BOARD_FILE = 50 * 1024 * 1024
INDEX_FILE = "index.json"


class BoardError(LossybenchError):
    """The board cannot be read or written; the message says what to do."""


def dump_json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=True,
                       allow_nan=False) + "\n").encode()


def read_json(path: Path) -> Any:
    """A board file, parsed under the board's caps; a ``BoardError`` when it is not JSON."""
    try:
        return loads(read_capped(path, MAX_BOARD_FILE, path.name))
    except UnsafeInput as exc:
        raise BoardError(f"{path}: {exc.path}: {exc.message}") from None
    except ExceptionGroup as group:
        first = group.exceptions[0]
        raise BoardError(f"{path}: {getattr(first, 'message', first)}") from None


def read_indexed(root: Path, rel: str, sha256: str) -> bytes:
    """The bytes of a board file the index names, refused unless they are the index's."""
    path = root / rel
    try:
        data = read_capped(path, MAX_BOARD_FILE, rel)
    except UnsafeInput as exc:
        raise BoardError(f"{path}: {exc.message}; restore the board from git") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise BoardError(f"{path} does not match the index (edited by hand?); "
                         "restore the board from git")
    return data


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Serialise writers with a lock on the folder itself (creates no file)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def commit(root: Path, index: Index, files: dict[str, bytes]) -> None:
    """Write ``files`` (content-addressed), then the index; undo everything on failure."""
    created: list[Path] = []
    made_dirs: list[Path] = []
    tmps: list[Path] = []

    def put(path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        tmps.append(tmp)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmps.remove(tmp)

    try:
        for sub in ("entries", "results"):
            d = root / sub
            if files and not d.exists():
                d.mkdir()
                made_dirs.append(d)
        for rel, data in sorted(files.items()):
            path = root / rel
            if path.exists() and path.read_bytes() == data:
                continue
            existed = path.exists()
            put(path, data)
            if not existed:
                created.append(path)
        put(root / INDEX_FILE, dump_json(index.model_dump(mode="json")))
    except BaseException as exc:
        for p in tmps + created:
            with contextlib.suppress(OSError):
                p.unlink()
        for d in reversed(made_dirs):
            with contextlib.suppress(OSError):
                d.rmdir()
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise BoardError(f"could not write the board ({type(exc).__name__}: "
                         f"{clean_text(exc, 200)}); it is unchanged") from exc
    _fsync_dir(root)
    _collect(root, index)


def _fsync_dir(root: Path) -> None:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _collect(root: Path, index: Index) -> None:
    """Remove files the committed index no longer references (and crash leftovers)."""
    keep = {line.file for line in index.entries} | {line.result for line in index.entries}
    for p in root.glob(f".{INDEX_FILE}.????????.tmp"):
        with contextlib.suppress(OSError):
            p.unlink()
    # only names this module writes: a board made in a folder that already holds
    # other files (say, bench run's results/) never loses them
    ours = re.compile(r"^(?:[0-9a-f]{64}(?:\.[0-9a-f]{16})?\.json|\..+\.[0-9a-f]{8}\.tmp)$")
    for sub in ("entries", "results"):
        d = root / sub
        if not d.is_dir():
            continue
        for p in d.iterdir():
            if f"{sub}/{p.name}" not in keep and ours.match(p.name) and p.is_file():
                with contextlib.suppress(OSError):
                    p.unlink()
