"""sha256 of a file, streamed: the one file digest of the contract and its users."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from lossybench.errors import LossybenchError

#: Bytes read at a time: memory stays at one chunk whatever the file's size.
CHUNK = 1 << 20


def sha256_file(path: str | Path, max_bytes: int | None = None) -> str:
    """Hex sha256 of a regular file, read in chunks of :data:`CHUNK` bytes.

    Only a regular file is opened (``os.stat`` first, following symlinks; a FIFO, a
    device such as ``/dev/zero`` or a directory raises :class:`LossybenchError` at once
    instead of blocking or reading forever). With ``max_bytes``, a larger file is
    refused before it is read, and one that grows past it while being read is refused
    too. Callers that hash user images pass :data:`lossybench.image.MAX_IMAGE_BYTES`.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise LossybenchError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = stat.filemode(st.st_mode)[0]
        name = {"d": "directory", "p": "FIFO", "s": "socket", "c": "character device",
                "b": "block device"}.get(kind, "special file")
        raise LossybenchError(f"{path}: not a regular file ({name}); refusing to read it")
    if max_bytes is not None and st.st_size > max_bytes:
        raise LossybenchError(
            f"{path}: {st.st_size:,} bytes, over the limit of {max_bytes:,} bytes"
        )
    h = hashlib.sha256()
    read = 0
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise LossybenchError(f"{path}: not a regular file (it changed while being opened)")
        for chunk in iter(lambda: f.read(CHUNK), b""):
            read += len(chunk)
            if max_bytes is not None and read > max_bytes:
                raise LossybenchError(
                    f"{path}: grew past the limit of {max_bytes:,} bytes while being read"
                )
            h.update(chunk)
    return h.hexdigest()
