"""The model-family contract: build a recognition model and own its preprocessing.

The codec always sees the full-resolution original; the model's resize, crop and
normalisation happen *after* decoding, inside :meth:`LoadedModel.predict`, as in the
study behind lossybench.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np


@dataclass
class WeightsInfo:
    """Where the weights came from, for provenance and leaderboard duplicate checks."""

    source: str  # "pretrained:<tag>", a file path, "package:<dist>/<path>", or "random"
    sha256: str | None = None
    path: str | None = None

    @classmethod
    def from_file(cls, source: str, path: str | Path) -> WeightsInfo:
        return cls(source=source, sha256=sha256_file(path), path=str(path))


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class LoadedModel(ABC):
    """A built model ready for inference on decoded uint8 RGB images."""

    family: str
    name: str
    task: str
    weights: WeightsInfo
    preprocessing: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"

    @abstractmethod
    def predict(self, images: Sequence[np.ndarray]) -> list[Any]:
        """Predictions for a batch of (H, W, 3) uint8 images, in the task's format.

        classification: a 1-D float array of class scores (logits) per image;
        detection: ``{"boxes": (N, 4) xyxy in original pixels, "scores": (N,),
        "labels": (N,) dataset category ids}``; segmentation: an (H, W) integer
        class map at the original resolution.
        """

    def info(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "name": self.name,
            "task": self.task,
            "weights": {"source": self.weights.source, "sha256": self.weights.sha256},
            "preprocessing": self.preprocessing,
        }


class ModelFamily(ABC):
    """A family of recognition models (``timm``, ``torchvision``, ...)."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    tasks: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def build(
        self,
        model: str,
        task: str,
        weights: str | None = None,
        device: str = "cpu",
        num_classes: int | None = None,
    ) -> LoadedModel:
        """Build ``model`` for ``task``.

        ``weights`` is a checkpoint path, ``"random"``, or None for the pretrained
        default (from the torch hub cache; downloaded when online). Offline without
        weights, raise :class:`lossybench.errors.ModelError` naming the missing file
        and where to put it. Unknown model names raise with close matches.
        """
