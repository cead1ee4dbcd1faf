"""Reading weights files: the one checkpoint reader every model family uses.

Plugins never import each other, so what every family needs to load a state
dict (and to say clearly why one does not fit) lives here, in the kits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lossybench.errors import ModelError


def brief_error(exc: BaseException, limit: int = 300) -> str:
    """First line of an exception, shortened: state-dict errors list every key."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_state_dict(path: Path) -> dict[str, Any]:
    """A state dict from a file: raw, or under "model"/"state_dict"; "module." stripped.

    ``weights_only`` loading: a checkpoint can never run code. What ``bench finetune``
    writes (tensors under "model") and what ``torch.save(model.state_dict())`` writes
    both load.
    """
    import torch

    if not path.is_file():
        raise ModelError(f"weights file {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(
            f"cannot read {path} as a state dict ({brief_error(exc)}); "
            "save it with torch.save(model.state_dict(), path)"
        ) from None
    if isinstance(obj, dict):
        for key in ("model", "state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if (
        not isinstance(obj, dict)
        or not obj
        or not all(isinstance(v, torch.Tensor) for v in obj.values())
    ):
        raise ModelError(
            f"{path} holds no state dict (tensors by parameter name); "
            "save it with torch.save(model.state_dict(), path)"
        )
    if all(k.startswith("module.") for k in obj):  # saved from DataParallel / DDP
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def state_mismatches(own: dict[str, Any], state: dict[str, Any]) -> tuple[list[str], ...]:
    """(missing, unexpected, different-shape) keys of a checkpoint against a model."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and state[k].shape != own[k].shape]
    return missing, unexpected, shapes
