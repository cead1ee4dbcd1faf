"""The task contract: targets, per-image outcomes and metrics.

Why outcomes: every aggregate metric is a pure function of per-image outcome records
(JSON objects). The run writes them to a JSONL sidecar, so results can be re-aggregated,
bootstrapped, resumed after a crash and gathered across torch.distributed ranks
without keeping any evaluator state in memory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from lossybench.dataset import Dataset, Sample


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
