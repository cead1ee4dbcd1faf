"""The dataset contract: a location turned into a lazy stream of samples."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
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

    def fingerprint(self) -> str:
        """sha256 over sorted (id, image bytes, target): identifies the exact data."""
        h = hashlib.sha256()
        for s in sorted(self.samples(), key=lambda s: s.id):
            h.update(s.id.encode())
            if isinstance(s.source, str):
                with open(s.source, "rb") as f:
                    h.update(hashlib.sha256(f.read()).digest())
            elif isinstance(s.source, bytes):
                h.update(hashlib.sha256(s.source).digest())
            else:
                h.update(hashlib.sha256(s.image().tobytes()).digest())
            h.update(json.dumps(s.target, sort_keys=True, default=str).encode())
            for path in s.meta.get("target_files", ()):
                with open(path, "rb") as f:
                    h.update(hashlib.sha256(f.read()).digest())
        return h.hexdigest()

    def info(self) -> dict[str, Any]:
        """What results record about the data."""
        return {
            "name": self.name,
            "location": self.location,
            "images": len(self),
            "sha256": self.fingerprint(),
        }
