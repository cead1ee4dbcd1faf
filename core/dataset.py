"""The dataset contract: a location turned into a lazy stream of samples."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from lossybench.digest import sha256_file
from lossybench.errors import ImageError, LossybenchError
from lossybench.image import MAX_IMAGE_BYTES, file_problem, load_image


@dataclass
class Sample:
    """One image of a dataset; pixels are read only when :meth:`image` is called.

    ``target`` is JSON-serialisable (a class index, COCO annotations, a mask path);
    files it refers to are listed in ``meta["target_files"]`` so they are hashed.
    ``problem``, set by a dataset format, says why this sample cannot be used (e.g.
    ``"mask masks/a.png: not a regular file (FIFO)"``, naming no absolute path): reading
    it then raises :class:`~lossybench.errors.ImageError`, so the sample fails with that
    reason in the per-image records, as a corrupt image does, instead of vanishing.
    """

    id: str
    source: str | bytes | Callable[[], np.ndarray]
    target: Any = None
    meta: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    def image(self) -> np.ndarray:
        if self.problem is not None:
            raise ImageError(f"{self.id}: {self.problem}")
        if callable(self.source):
            return self.source()
        return load_image(self.source)


class Dataset(ABC):
    """Base class of dataset formats (``--dataset NAME:LOCATION``).

    ``requires_location`` is False for built-in datasets that need no path.
    ``task`` names the task whose targets the samples carry (None: images only).
    Constructors check the location and raise
    :class:`lossybench.errors.DatasetError` with what is missing, before any heavy
    work starts.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    requires_location: ClassVar[bool] = True
    task: ClassVar[str | None] = None

    def __init__(self, location: str | None = None, **options: Any) -> None:
        self.location = location
        self.options = options

    @abstractmethod
    def samples(self) -> Iterator[Sample]:
        """Yield samples in a deterministic order."""

    def __len__(self) -> int:
        return sum(1 for _ in self.samples())

    def categories(self) -> list[dict[str, Any]] | None:
        """``[{"id": int, "name": str}, ...]`` where the format defines classes."""
        return None

    def skipped(self) -> list[tuple[str, str]]:
        """``(entry, reason)`` of what the format found but does not use, for the CLI to
        report: e.g. a directory named ``x.jpg``. An entry that *is* meant as an image
        but cannot be read (a FIFO, a device) is not skipped: its sample fails."""
        return list(self.__dict__.get("_skipped", ()))

    def note_skipped(self, entry: Any, reason: str) -> None:
        """Record an entry for :meth:`skipped` (formats call this while they list files)."""
        self.__dict__.setdefault("_skipped", []).append((str(entry), reason))

    def fingerprint(self, samples: Iterable[Sample] | None = None) -> str:
        """sha256 over sorted (id, image bytes, target, target files' bytes).

        Paths inside targets are replaced by their files' hashes, so the same data
        gives the same fingerprint wherever it lives. Files are hashed in chunks, and
        only regular files of at most :data:`lossybench.image.MAX_IMAGE_BYTES`: anything
        else (a FIFO, ``/dev/zero``, a huge file) contributes the reason it was refused,
        which is also the reason its sample failed.
        """
        h = hashlib.sha256()
        for s in sorted(self.samples() if samples is None else samples, key=lambda s: s.id):
            h.update(s.id.encode())
            if s.problem is not None:
                h.update(b"problem:" + s.problem.encode())
            elif isinstance(s.source, str):
                digest = _file_digest(s.source)  # the raw 32 bytes, as ever, for a file
                h.update(bytes.fromhex(digest[7:]) if digest[:7] == "sha256:" else digest.encode())
            elif isinstance(s.source, bytes):
                h.update(hashlib.sha256(s.source).digest())
            else:
                h.update(hashlib.sha256(s.image().tobytes()).digest())
            files = {str(p): _file_digest(p) for p in s.meta.get("target_files", ())}
            portable = _replace_paths(s.target, files)
            h.update(json.dumps(portable, sort_keys=True, default=str).encode())
        return h.hexdigest()

    def info(self, samples: list[Sample] | None = None) -> dict[str, Any]:
        """What results record about the data (the ``samples`` actually used, if given)."""
        used = list(self.samples()) if samples is None else samples
        return {
            "name": self.name,
            "location": self.location,
            "images": len(used),
            "sha256": self.fingerprint(used),
        }


class Subset(Dataset):
    """The first ``limit`` samples of another dataset (``--limit``), delegating the rest."""

    requires_location = False

    def __init__(self, base: Dataset, limit: int) -> None:
        super().__init__(base.location)
        self.base = base
        self.limit = limit
        self.name = base.name  # type: ignore[misc]
        self.task = base.task  # type: ignore[misc]

    def samples(self) -> Iterator[Sample]:
        for i, s in enumerate(self.base.samples()):
            if i >= self.limit:
                return
            yield s

    def categories(self) -> list[dict[str, Any]] | None:
        return self.base.categories()

    def skipped(self) -> list[tuple[str, str]]:
        return self.base.skipped()

    def fingerprint(self, samples: Iterable[Sample] | None = None) -> str:
        return self.base.fingerprint(list(self.samples()) if samples is None else samples)

    def __getattr__(self, item: str) -> Any:  # format-specific extras, e.g. ground_truth()
        if item == "base":
            raise AttributeError(item)
        return getattr(self.base, item)


def _file_digest(path: str) -> str:
    """``"sha256:HEX"`` of a regular file, or ``"refused: REASON"`` (no path: portable)."""
    problem = file_problem(path, MAX_IMAGE_BYTES)
    if problem is not None:
        return f"refused: {problem}"
    try:
        return "sha256:" + sha256_file(path, max_bytes=MAX_IMAGE_BYTES)
    except LossybenchError:  # it changed since it was looked at
        return "refused: " + (file_problem(path, MAX_IMAGE_BYTES) or "changed while read")
    except OSError as exc:
        return f"refused: {exc.strerror or exc}"


def _replace_paths(value: Any, files: dict[str, str]) -> Any:
    if isinstance(value, str):
        return files.get(value, value)
    if isinstance(value, dict):
        return {k: _replace_paths(v, files) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_paths(v, files) for v in value]
    return value
