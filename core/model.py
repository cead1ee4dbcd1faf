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

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

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


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


# -- checkpoint helpers every family needs (plugins never import each other) ----------------
def brief_error(exc: BaseException, limit: int = 300) -> str:
    """First line of an exception, shortened: state-dict errors list every key."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_state_dict(path: Path) -> dict[str, Any]:
    """A state dict from a file: raw, or under "model"/"state_dict"; "module." stripped.

    ``weights_only`` loading: a checkpoint can never run code. What ``bench finetune``
    writes (tensors under "model") and what ``torch.save(model.state_dict())`` writes
    both load.
    """
    import torch

    if not path.is_file():
        raise ModelError(f"weights file {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(
            f"cannot read {path} as a state dict ({brief_error(exc)}); "
            "save it with torch.save(model.state_dict(), path)"
        ) from None
    if isinstance(obj, dict):
        for key in ("model", "state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if (
        not isinstance(obj, dict)
        or not obj
        or not all(isinstance(v, torch.Tensor) for v in obj.values())
    ):
        raise ModelError(
            f"{path} holds no state dict (tensors by parameter name); "
            "save it with torch.save(model.state_dict(), path)"
        )
    if all(k.startswith("module.") for k in obj):  # saved from DataParallel / DDP
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def state_mismatches(own: dict[str, Any], state: dict[str, Any]) -> tuple[list[str], ...]:
    """(missing, unexpected, different-shape) keys of a checkpoint against a model."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and state[k].shape != own[k].shape]
    return missing, unexpected, shapes


def detections_as_arrays(outputs: Sequence[Any]) -> list[dict[str, np.ndarray]]:
    """torchvision detection outputs (``{"boxes", "scores", "labels"}`` tensors) as the
    numpy predictions the detection task scores: xyxy float boxes, scores, int64 labels."""
    return [
        {
            "boxes": o["boxes"].float().cpu().numpy().reshape(-1, 4),
            "scores": o["scores"].float().cpu().numpy(),
            "labels": o["labels"].cpu().numpy().astype(np.int64),
        }
        for o in outputs
    ]


def same_shape_groups(inputs: Sequence[Any]) -> list[list[int]]:
    """Indices of ``inputs`` grouped by tensor shape, in first-seen order: one batch each."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, x in enumerate(inputs):
        groups.setdefault(tuple(x.shape), []).append(i)
    return list(groups.values())


def channels_last(module: Any) -> Any:
    """Put a CNN's weights in channels-last layout, in place; returns the module.

    Why: on CPU, oneDNN's convolutions (depthwise ones above all) are markedly faster
    on NHWC tensors — tf_efficientnet_lite0, the default classifier, runs 1.46x
    faster per image on one thread — with outputs equal to float rounding. Inputs
    should then be NHWC too (:func:`image_batch`).
    """
    import torch

    return module.to(memory_format=torch.channels_last)


def image_batch(inputs: Sequence[Any], device: Any) -> Any:
    """Stack same-sized CHW tensors into one NHWC-strided batch on ``device``."""
    import torch

    return torch.stack(list(inputs)).to(device).contiguous(memory_format=torch.channels_last)


def soft_target_divergence(student: Any, teacher: Any) -> Any:
    """KL(teacher ‖ student) of class logits on dim 1, averaged over every other position.

    Shapes (N, K) for classification or (N, K, H, W) for dense outputs; the teacher's
    logits are targets (no gradient). Computed in fp32 so bf16 autocast stays stable.
    """
    import torch.nn.functional as F

    s = F.log_softmax(student.float(), dim=1)
    t = F.log_softmax(teacher.detach().float(), dim=1)
    per_position = (t.exp() * (t - s)).sum(dim=1)
    return per_position.mean()
