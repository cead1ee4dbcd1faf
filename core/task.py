"""The task contract: targets, per-image outcomes and metrics.

Why outcomes: every aggregate metric is a pure function of per-image outcome records
(JSON objects). The run writes them to a JSONL sidecar, so results can be re-aggregated,
bootstrapped, resumed after a crash and gathered across torch.distributed ranks
without keeping any evaluator state in memory.

Finetuning (``bench finetune``) also needs *training targets*: the task owns the target
format of its datasets, so :meth:`Task.training_target` turns a sample's target into
the tensors a model family's ``LoadedModel.loss`` consumes. The loss itself lives in
the family (it knows its architecture); the task only promises the format below.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from lossybench.dataset import Dataset, Sample
from lossybench.errors import LossybenchError

#: Value of ignored pixels in segmentation training targets, whatever the dataset's own
#: ignore index is (the value torchvision's and mmsegmentation's recipes use).
TRAIN_IGNORE_INDEX = 255


class Task(ABC):
    """A recognition task (classification, detection, segmentation, ...).

    ``metrics`` lists every metric :meth:`aggregate` returns; ``headline`` is the one
    tables, plots and rankings use. All metrics are fractions in ``metric_range``
    (top-1 0.85, not 85 %), higher is better.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    metrics: ClassVar[tuple[str, ...]] = ()
    headline: ClassVar[str] = ""
    metric_range: ClassVar[tuple[float, float]] = (0.0, 1.0)

    def __init__(self, dataset: Dataset, **options: Any) -> None:
        self.dataset = dataset
        self.options = options

    def prepare(self) -> dict[str, Any]:
        """Check the dataset's targets before heavy work starts; return facts for results.

        Raise :class:`lossybench.errors.LossybenchError` (e.g. a label index out of
        range, a mask whose size differs from its image) with a message that says
        what to fix. The returned dict (e.g. ``{"num_classes": 1000}``) is recorded.
        """
        return {}

    @abstractmethod
    def outcome(self, sample: Sample, prediction: Any) -> dict[str, Any]:
        """Score one prediction against ``sample.target`` as a JSON-serialisable record."""

    @abstractmethod
    def aggregate(self, outcomes: Sequence[dict[str, Any]]) -> dict[str, float]:
        """Every metric in ``metrics`` from per-image outcomes (order-independent)."""

    def training_target(self, sample: Sample, size: tuple[int, int]) -> Any:
        """``sample``'s target for training, in the geometry of a model input of ``size``.

        ``size`` is the (H, W) the model's ``training_input`` reports; dense targets are
        rescaled to it (the image itself is rescaled by the model's preprocessing, so the
        two stay aligned). Formats, as the built-in families' losses expect them:

        * classification: a 0-d ``torch.int64`` tensor holding the class index;
        * detection: ``{"boxes": float32 (N, 4) xyxy in pixels of size, "labels":
          int64 (N,) category ids}`` — torchvision's detection target format;
        * segmentation: an int64 (H, W) tensor of class ids, nearest-resized, with
          ignored pixels set to :data:`TRAIN_IGNORE_INDEX`.

        The default raises: a task without training targets cannot be finetuned on.
        """
        raise LossybenchError(
            f"task {self.name!r} does not support finetuning (it defines no training targets)"
        )

    def transform_target(
        self, target: Any, size: tuple[int, int], flip: bool, turns: int
    ) -> Any:
        """``target`` (from :meth:`training_target` at ``size``) for an augmented image.

        The training image of (H, W) = ``size`` was mirrored left-right when ``flip``
        and then turned ``turns`` × 90° counter-clockwise, in that order — exactly
        ``np.rot90(image[:, ::-1] if flip else image, turns)`` — so the returned target
        must describe that image (after an odd ``turns`` its size is (W, H)). Only
        called for augmented images (``bench finetune --augment``); a task whose targets
        carry no geometry returns ``target`` unchanged. The default raises: a task
        without it can be finetuned, but not with geometric augmentation.
        """
        raise LossybenchError(
            f"task {self.name!r} does not support geometric augmentation "
            "(it defines no transform_target); use --augment none"
        )
