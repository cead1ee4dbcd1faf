"""The files a finetune writes and resumes from: state, weights, report."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lossybench.errors import LossybenchError

#: Format tags of the files this module writes (bump on incompatible changes).
STATE_FORMAT = "lossybench-finetune-state/1"


REPORT_FORMAT = "lossybench-finetune/1"


CHECKPOINT_FORMAT = "lossybench-checkpoint/1"


STATE_FILE, MODEL_FILE, REPORT_FILE = "last.pt", "model.pt", "finetune.json"


def atomic_torch_save(obj: Any, path: Path) -> None:
    import torch

    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def rng_state() -> dict[str, Any]:
    import torch

    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"torch": torch.get_rng_state(), "cuda": cuda}


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_state(path: Path, digest: str) -> dict[str, Any]:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise LossybenchError(
            f"{path} cannot be read ({type(exc).__name__}: {exc}); delete it to start over"
        ) from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise LossybenchError(f"{path} is not a lossybench finetune state; delete it")
    if state.get("config_sha256") != digest:
        raise LossybenchError(
            f"{path} holds a finetune with a different configuration; use another --out, "
            "or delete it to start over"
        )
    return state


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
