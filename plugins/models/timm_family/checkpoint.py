"""``--weights PATH`` checkpoints: training scripts wrap state dicts in many ways, and
reading one must neither unpickle untrusted objects nor load a misfit without saying
which keys and shapes differ."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lossybench.errors import ModelError

CHECKPOINT_KEYS = ("state_dict", "model", "state_dict_ema", "model_ema")
TRUST_ENV = "LOSSYBENCH_TRUST_CHECKPOINTS"


def read_state_dict(path: Path) -> tuple[dict[str, Any], str | None]:
    """(tensor dict, key it was found under) from a checkpoint file."""
    state, key, _ = read_checkpoint(path)
    return state, key


def read_checkpoint(path: Path) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
    """(tensor dict, key it was found under, the checkpoint's other top-level entries)."""
    import pickle

    import torch

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path), device="cpu")), None, {}
    trust = os.environ.get(TRUST_ENV, "").strip().lower() in ("1", "true", "yes")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as exc:
        raise ModelError(
            f"{path} holds Python objects besides tensors, which lossybench does not unpickle "
            f"by default ({str(exc).splitlines()[0]}). Re-save only the weights "
            "(torch.save(ckpt['state_dict'], 'weights.pth')), or set "
            f"{TRUST_ENV}=1 if you trust the file."
        ) from None
    except Exception as exc:
        raise ModelError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from None
    key = None
    extras: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k in CHECKPOINT_KEYS:
            if isinstance(obj.get(k), dict):
                extras = {x: v for x, v in obj.items() if x != k}
                obj, key = obj[k], k
                break
    if hasattr(obj, "state_dict") and not isinstance(obj, dict):
        obj = obj.state_dict()  # a pickled nn.Module (only with trust)
    if not isinstance(obj, dict) or not obj or not all(
        isinstance(v, torch.Tensor) for v in obj.values()
    ):
        raise ModelError(
            f"{path} is not a state dict (a dict of tensors, possibly under "
            f"{' / '.join(repr(k) for k in CHECKPOINT_KEYS)})"
        )
    out = {}
    for k, v in obj.items():
        while k.startswith("module."):
            k = k[len("module."):]
        out[k] = v
    return out, key, extras


def classifier_outputs(model: str, state: dict[str, Any]) -> int | None:
    """Class count of a checkpoint, from the weight of the model's classifier."""
    from timm.models import get_pretrained_cfg

    try:
        cfg = get_pretrained_cfg(model)
    except RuntimeError:
        cfg = None
    names = cfg.classifier if cfg is not None and cfg.classifier else ("fc", "classifier",
                                                                        "head", "head.fc")
    if isinstance(names, str):
        names = (names,)
    for name in names:
        w = state.get(f"{name}.weight")
        if w is not None and w.ndim >= 2:
            return int(w.shape[0])
    if "_fc.weight" in state:
        return int(state["_fc.weight"].shape[0])
    return None


def load_into(net: Any, state: dict[str, Any], path: Path, model: str) -> None:
    """Load ``state`` strictly; a mismatch is a ModelError that lists what differs."""
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:

        def some(xs: list[str]) -> str:
            return ", ".join(xs[:6]) + (f" (+{len(xs) - 6} more)" if len(xs) > 6 else "")

        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s): {some(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {some(unexpected)}")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatch(es): {some(shapes)}")
        raise ModelError(
            f"checkpoint {path} does not fit timm:{model}: " + "; ".join(parts)
            + ". Is it a checkpoint of another architecture?"
        )
    net.load_state_dict(state, strict=True)
