"""The shipped weights, pinned by sha256: a missing or altered file must be an error,
never a silently different model behind the same name."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lossybench.errors import ModelError
from lossybench.kits.checkpoint import read_state_dict, state_mismatches

#: The shipped files stay in ``plugins/models/weights/``, next to this package.
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


@dataclass(frozen=True)
class Spec:
    task: str
    file: str
    sha256: str
    architecture: str


MODELS: dict[str, Spec] = {
    "scenes-detector": Spec(
        "detection",
        "scenes-detector.pt",
        "bf666f7cdecd79b99911ddcc0689b8862c7630d673718326c43bb8712e342ed9",
        "torchvision FCOS, ResNet-18 trunk (to layer3) + FPN P3-P5 (96 ch), 2-conv head",
    ),
    "scenes-segmenter": Spec(
        "segmentation",
        "scenes-segmenter.pt",
        "89078d480304dec4b0f2a3b2bc08df1c71ec1c49cce315c0477a241ce8f83cb9",
        "torchvision LR-ASPP, ResNet-18 trunk (low: layer1, high: layer3), 128 ch",
    ),
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def shipped_path(name: str) -> Path:
    """The verified shipped weights file of ``name`` (ModelError if missing or altered)."""
    spec = MODELS[name]
    path = WEIGHTS_DIR / spec.file
    if not path.is_file():
        raise ModelError(
            f"reference:{name}: the shipped weights {path} are missing; reinstall lossybench "
            f"or recreate them with `python scripts/train_reference_models.py --task {spec.task}`"
        )
    digest = _sha256(path)
    if spec.sha256 and digest != spec.sha256:
        raise ModelError(
            f"reference:{name}: {path} has sha256 {digest}, expected {spec.sha256}; the file is "
            "corrupt or was replaced: reinstall lossybench, or pass it as --weights PATH"
        )
    return path


def training_config(name: str) -> dict[str, Any] | None:
    """The training record shipped next to the weights (config, time, clean metrics)."""
    path = WEIGHTS_DIR / Path(MODELS[name].file).with_suffix(".json")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def read_state(path: Path) -> dict[str, Any]:
    """A fp32 state dict from ``path`` (see :func:`lossybench.model.read_state_dict`)."""
    obj = read_state_dict(path)
    return {k: v.float() if v.is_floating_point() else v for k, v in obj.items()}


def load_state(net: Any, state: dict[str, Any], path: Path, name: str) -> None:
    """Strict load with a message that says what does not fit."""
    missing, unexpected, shapes = state_mismatches(net.state_dict(), state)
    if missing or unexpected or shapes:
        parts = [
            f"{len(items)} {label} (e.g. {items[0]})"
            for label, items in (("missing", missing), ("unexpected", unexpected),
                                 ("wrong-shape", shapes))
            if items
        ]
        raise ModelError(
            f"{path} is not a reference:{name} checkpoint: {'; '.join(parts)} "
            f"({MODELS[name].architecture})"
        )
    net.load_state_dict(state)
