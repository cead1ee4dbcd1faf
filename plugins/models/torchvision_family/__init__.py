"""torchvision's model zoo (``--model torchvision:NAME``) for classification, detection
and segmentation.

Weights (``--weights``):

* none given → the model's ``DEFAULT`` pretrained weights, read from the torch hub cache
  (``$TORCH_HOME/hub/checkpoints/<file>``). A missing file is downloaded once; when
  that fails (offline machines) the error names the exact file and URL, so the file
  can be copied there by hand;
* ``random`` → random initialisation, backbone included (nothing is downloaded);
* ``PATH`` → a state dict saved with ``torch.save`` (raw, or under ``"model"`` /
  ``"state_dict"``, as training scripts write it).

Preprocessing is always the ``DEFAULT`` weights' own transforms (they need no
download), so random and finetuned models see the same input as the pretrained one.
Predictions follow :class:`lossybench.model.LoadedModel`: classification logits,
detection boxes in original pixels with category-id labels (torchvision's COCO models
use COCO's ids, 91 outputs), and segmentation class maps at the original size.

A package of small modules whose torch and torchvision imports happen inside functions,
so that loading the plugin (``bench list`` loads them all) stays fast.
"""

from __future__ import annotations

from lossybench import hookimpl
from lossybench.model import ModelFamily
from lossybench.plugins.models.torchvision_family.checkpoint import (
    describe_mismatch,
    infer_num_classes,
)
from lossybench.plugins.models.torchvision_family.family import (
    TorchvisionFamily,
    describe_transforms,
)
from lossybench.plugins.models.torchvision_family.model import TorchvisionModel, pixel_cross_entropy
from lossybench.plugins.models.torchvision_family.names import TASKS, check_name, task_models
from lossybench.plugins.models.torchvision_family.pretrained import (
    cache_path,
    default_weights,
    ensure_cached,
)

__all__ = [
    "TASKS",
    "TorchvisionFamily",
    "TorchvisionModel",
    "cache_path",
    "check_name",
    "default_weights",
    "describe_mismatch",
    "describe_transforms",
    "ensure_cached",
    "infer_num_classes",
    "lossybench_models",
    "pixel_cross_entropy",
    "task_models",
]


@hookimpl
def lossybench_models() -> list[type[ModelFamily]]:
    return [TorchvisionFamily]
