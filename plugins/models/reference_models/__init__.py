"""Reference models trained on the procedural scenes (``--model reference:NAME``).

No detection or segmentation weights can be downloaded offline, so lossybench ships two
small torchvision networks trained from scratch on the scenes train split
(``scripts/train_reference_models.py``, CPU, seeded; see docs/scenes.md):

* ``scenes-detector`` — torchvision FCOS on a ResNet-18 trunk (conv1…layer3) with an FPN
  (P3–P5, 96 channels) and a 2-conv head; boxes in original pixels, labels = scenes
  category ids 1..6;
* ``scenes-segmenter`` — torchvision LR-ASPP on the same ResNet-18 trunk (low = layer1,
  stride 4; high = layer3, stride 16); an (H, W) class map, 0 = background.

Weights (``--weights``): omitted → the files shipped in ``weights/`` next to this package,
checked against the sha256 recorded in ``MODELS`` (a missing or altered file is a ModelError,
never a silently different model); ``random`` → untrained; ``PATH`` → a state dict of the
same architecture (e.g. from a finetune), raw or under ``"model"``/``"state_dict"``.
Shipped files are fp16 to stay small; they are loaded as fp32 and run in fp32.

A package of small modules whose torch and torchvision imports happen inside functions,
so that loading the plugin (``bench list`` loads them all) stays fast.
"""

from __future__ import annotations

from lossybench import hookimpl
from lossybench.model import ModelFamily, WeightsInfo
from lossybench.plugins.models.reference_models.architecture import (
    BUILDERS,
    DETECTOR_SIZE,
    MEAN,
    NUM_CLASSES,
    STD,
    build_detector,
    build_segmenter,
)
from lossybench.plugins.models.reference_models.distillation import fcos_divergence
from lossybench.plugins.models.reference_models.family import ReferenceFamily
from lossybench.plugins.models.reference_models.model import ReferenceModel
from lossybench.plugins.models.reference_models.weights import (
    MODELS,
    WEIGHTS_DIR,
    Spec,
    load_state,
    read_state,
    shipped_path,
    training_config,
)

__all__ = [
    "BUILDERS",
    "DETECTOR_SIZE",
    "MEAN",
    "MODELS",
    "NUM_CLASSES",
    "STD",
    "WEIGHTS_DIR",
    "ReferenceFamily",
    "ReferenceModel",
    "Spec",
    "WeightsInfo",
    "build_detector",
    "build_segmenter",
    "fcos_divergence",
    "load_state",
    "lossybench_models",
    "read_state",
    "shipped_path",
    "training_config",
]


@hookimpl
def lossybench_models() -> list[type[ModelFamily]]:
    return [ReferenceFamily]
