"""What a result records about where it was made: versions, plugins, command."""

from __future__ import annotations

import platform
from typing import Any


def environment(device: str, seed: int, command: list[str]) -> dict[str, Any]:
    """Versions of what computed the numbers, the device and seed, and the command line."""
    import numpy
    import PIL
    import torch
    import torchvision

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
        "device": device,
        "seed": seed,
        "command": [str(c) for c in command],
    }


def plugin_list() -> list[dict[str, str]]:
    """Every installed plugin of the ``lossybench`` entry-point group, with its version."""
    from importlib.metadata import entry_points

    from lossybench.markers import ENTRY_POINT_GROUP

    out = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        out.append(
            {
                "name": ep.name,
                "distribution": dist.metadata["Name"] if dist else "?",
                "version": dist.version if dist else "?",
            }
        )
    return out
