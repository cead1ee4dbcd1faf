"""The model-family contract: build a recognition model and own its preprocessing.

The codec always sees the full-resolution original; the model's resize, crop and
normalisation happen *after* decoding, inside :meth:`LoadedModel.predict`, as in the
study behind lossybench.

Finetuning (``bench finetune``, :mod:`lossybench.finetune`) needs three more things from
a model, and only the family can supply them because only it knows the architecture:
the :meth:`LoadedModel.trainable` module, the training :meth:`LoadedModel.loss`, and
:meth:`LoadedModel.training_input` (the input plus the geometry targets must match).
All three are optional: the defaults raise :class:`~lossybench.errors.ModelError`, so a
family that does not support finetuning is refused before any training starts.

Checkpoint format (what ``bench finetune`` writes as ``model.pt`` and what every
built-in family's ``build(weights=PATH)`` reads)::

    torch.save({"model": state_dict_for_checkpoint(),      # fp32 tensors by name
                "preprocessing": LoadedModel.preprocessing,  # what the model saw
                "finetune": {...}}, path)                     # provenance, JSON-like

Only tensors, strings, numbers, lists and dicts, so ``torch.load(weights_only=True)``
reads it; a raw state dict or one under ``"state_dict"`` loads too.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lossybench.digest import sha256_file
from lossybench.errors import ModelError


@dataclass
class WeightsInfo:
    """Where the weights came from, for provenance and leaderboard duplicate checks."""

    source: str  # "pretrained:<tag>", a file path, "package:<dist>/<path>", or "random"
    sha256: str | None = None
    path: str | None = None

    @classmethod
    def from_file(cls, source: str, path: str | Path) -> WeightsInfo:
        return cls(source=source, sha256=sha256_file(path), path=str(path))


@dataclass
class LoadedModel(ABC):
    """A built model ready for inference on decoded uint8 RGB images.

    Inference is split in two so that preprocessing (resize, crop, normalise: CPU
    work) can run in worker processes while the main process runs :meth:`forward`
    on batches. :meth:`preprocess` must therefore be picklable-friendly and free of
    model state.
    """

    family: str
    name: str
    task: str
    weights: WeightsInfo
    preprocessing: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"

    @abstractmethod
    def preprocess(self, image: np.ndarray) -> Any:
        """One decoded (H, W, 3) uint8 image → the model's input (e.g. a CHW tensor)."""

    @abstractmethod
    def forward(self, inputs: Sequence[Any], sizes: Sequence[tuple[int, int]]) -> list[Any]:
        """Predictions for preprocessed inputs; ``sizes`` are the original (H, W).

        classification: a 1-D float numpy array of class scores (logits) per image;
        detection: ``{"boxes": (N, 4) float xyxy in original pixels, "scores": (N,),
        "labels": (N,) int dataset category ids}``; segmentation: an (H, W) integer
        numpy class map at the original resolution.
        """

    def predict(self, images: Sequence[np.ndarray]) -> list[Any]:
        return self.forward([self.preprocess(im) for im in images],
                            [im.shape[:2] for im in images])

    # -- optional training API (bench finetune) -------------------------------------
    def trainable(self) -> Any:
        """The ``torch.nn.Module`` whose parameters finetuning updates.

        The finetune loop switches it between ``train()`` and ``eval()`` itself, and
        :meth:`forward` must use it (so evaluation during training sees the new weights).
        """
        raise ModelError(
            f"model family {self.family!r} does not support finetuning "
            f"({self.family}:{self.name} has no training API)"
        )

    def training_input(self, image: np.ndarray) -> tuple[Any, tuple[int, int]]:
        """One decoded image → (model input, (H, W) that training targets must match).

        Why a separate hook: dense targets (boxes, masks) have to follow any resize the
        preprocessing does. The default uses :meth:`preprocess` and reports the input
        tensor's last two dimensions, which is right when preprocessing resizes without
        cropping (torchvision segmentation) or not at all (torchvision detection, whose
        models resize inside and rescale the targets themselves). A family whose
        preprocessing crops dense inputs must override this.
        """
        x = self.preprocess(image)
        shape = getattr(x, "shape", None)
        size = tuple(int(v) for v in shape[-2:]) if shape is not None and len(shape) >= 2 \
            else tuple(image.shape[:2])
        return x, (size[0], size[1])

    def loss(self, inputs: Sequence[Any], targets: Sequence[Any]) -> Any:
        """The scalar training loss (a ``torch.Tensor`` with grad) of one batch.

        ``inputs`` come from :meth:`training_input`; ``targets`` from
        :meth:`lossybench.task.Task.training_target` in the format that task documents
        (a class-index tensor; ``{"boxes", "labels"}``; a mask with ignore index 255).
        The module is in train mode; the loss is a mean over the batch, so gradient
        accumulation can divide it by the number of micro-batches.
        """
        raise ModelError(
            f"model family {self.family!r} does not support finetuning "
            f"({self.family}:{self.name} defines no training loss)"
        )

    def distills(self) -> bool:
        """Whether :meth:`distillation_loss` is implemented (``bench finetune --distill``)."""
        return False

    def distillation_loss(
        self, inputs: Sequence[Any], targets: Sequence[Any], references: Sequence[Any],
        teacher: Any, weight: float,
    ) -> Any:
        """:meth:`loss` plus ``weight`` × how far the outputs stray from a frozen teacher's.

        Why: finetuning on compressed images costs clean accuracy mostly by forgetting what
        the base model knew about images unlike the training set. Asking the model's
        outputs on each training input (compressed or clean) to match the base model's
        (``teacher``, a frozen copy of :meth:`trainable`) outputs on the *clean* version
        of the same image (``references``, from :meth:`training_input`, augmented alike)
        keeps that knowledge while teaching invariance to the artefacts. Families that
        implement it override :meth:`distills`; one forward pass of the student serves both
        terms. For logits, :func:`soft_target_divergence` is the usual divergence.
        """
        raise ModelError(
            f"model family {self.family!r} does not support distillation "
            f"({self.family}:{self.name} for {self.task}); finetune without --distill"
        )

    def state_dict_for_checkpoint(self) -> dict[str, Any]:
        """The fp32 tensors by name that this family's ``build(weights=PATH)`` loads back."""
        return {k: v.detach().float().cpu() if v.is_floating_point() else v.detach().cpu()
                for k, v in self.trainable().state_dict().items()}

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

        ``weights`` is a checkpoint path, ``"random"``, ``"package:DIST[/PATH]"`` or
        None for the pretrained default (from the family's cache: torch hub or Hugging
        Face hub; downloaded when online). Offline without weights, raise
        :class:`lossybench.errors.ModelError` naming the missing file and where to put
        it. Unknown model names raise with close matches.

        ``num_classes`` is the number of classes the dataset has: the classifier size
        for random weights; for trained weights a check (a model with fewer outputs
        than the dataset has classes is an error).
        """


#: helpers that lived here in lossybench 0.1, now in the kits (lossybench.kits.*)
_MOVED = {
    "brief_error": "lossybench.kits.checkpoint",
    "read_state_dict": "lossybench.kits.checkpoint",
    "state_mismatches": "lossybench.kits.checkpoint",
    "detections_as_arrays": "lossybench.kits.tensors",
    "same_shape_groups": "lossybench.kits.tensors",
    "channels_last": "lossybench.kits.tensors",
    "image_batch": "lossybench.kits.tensors",
    "soft_target_divergence": "lossybench.kits.tensors",
}


def __getattr__(name: str) -> Any:
    """Keep ``from lossybench.model import read_state_dict`` (0.1) working, with a warning."""
    if name not in _MOVED:
        raise AttributeError(f"module 'lossybench.model' has no attribute {name!r}")
    import importlib
    import warnings

    warnings.warn(
        f"lossybench.model.{name} moved to {_MOVED[name]}; import it from there",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(_MOVED[name]), name)
