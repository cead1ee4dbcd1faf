"""The Python API: a model object and data in hand, the numbers `bench run` gives.

``evaluate(model, data, task=...)`` runs a user's ``torch.nn.Module`` on their data (or a
registered dataset) through the engine's run; ``compress(image, codec, bpp=...)``
compresses one image with rate control. Both are also ``lossybench.evaluate`` and
``lossybench.compress``; docs/python-api.md has runnable examples.
"""

from __future__ import annotations

from lossybench.api.adapters import ModelOutputError
from lossybench.api.compression import CompressedImage, compress
from lossybench.api.evaluation import evaluate
from lossybench.api.result import Evaluation

__all__ = ["CompressedImage", "Evaluation", "ModelOutputError", "compress", "evaluate"]
