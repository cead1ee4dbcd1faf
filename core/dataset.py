"""The dataset contract: a location turned into a lazy stream of samples."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from lossybench.image import load_image


@dataclass
class Sample:
    """One image of a dataset; pixels are read only when :meth:`image` is called.

    ``target`` is JSON-serialisable (a class index, COCO annotations, a mask path);
    files it refers to are listed in ``meta["target_files"]`` so they are hashed.
    """

    id: str
    source: str | bytes | Callable[[], np.ndarray]
    target: Any = None
    meta: dict[str, Any] = field(default_factory=dict)

    def image(self) -> np.ndarray:
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

    def fingerprint(self, samples: Iterable[Sample] | None = None) -> str:
        """sha256 over sorted (id, image bytes, target, target files' bytes).

        Paths inside targets are replaced by their files' hashes, so the same data
        gives the same fingerprint wherever it lives.
        """
        h = hashlib.sha256()
        for s in sorted(self.samples() if samples is None else samples, key=lambda s: s.id):
            h.update(s.id.encode())
            if isinstance(s.source, str):
                with open(s.source, "rb") as f:
                    h.update(hashlib.sha256(f.read()).digest())
            elif isinstance(s.source, bytes):
                h.update(hashlib.sha256(s.source).digest())
            else:
                h.update(hashlib.sha256(s.image().tobytes()).digest())
            files = {}
            for path in s.meta.get("target_files", ()):
                with open(path, "rb") as f:
                    files[str(path)] = "sha256:" + hashlib.sha256(f.read()).hexdigest()
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

    def fingerprint(self, samples: Iterable[Sample] | None = None) -> str:
        return self.base.fingerprint(list(self.samples()) if samples is None else samples)

    def __getattr__(self, item: str) -> Any:  # format-specific extras, e.g. ground_truth()
        if item == "base":
            raise AttributeError(item)
        return getattr(self.base, item)


def _replace_paths(value: Any, files: dict[str, str]) -> Any:
    if isinstance(value, str):
        return files.get(value, value)
    if isinstance(value, dict):
        return {k: _replace_paths(v, files) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_paths(v, files) for v in value]
    return value
