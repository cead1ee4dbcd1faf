"""One device resolution for every model family, the engine and torchrun ranks.

Why one: a device string is a promise about where tensors live, and three families
each checking it their own way let ``cuda`` mean different things. Under ``torchrun``
each rank must use its own GPU from the start: the model is built on
``cuda:LOCAL_RANK``, never moved there after (or left on ``cuda:0``).
"""

from __future__ import annotations

import os
from typing import Any

from lossybench.errors import ModelError

#: what ``--device`` defaults to: :func:`choose_device` makes it ``cuda`` or ``cpu``
AUTO = "auto"


def choose_device(device: str = AUTO) -> str:
    """``auto`` resolved: ``cuda`` when torch sees a CUDA device, else ``cpu``; any other
    name is kept as given (checked later by :func:`resolve_device`). Imports torch only
    for ``auto``."""
    if device != AUTO:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def rank_device(device: str, environ: dict[str, str] | None = None) -> str:
    """``device`` as this process must use it: ``auto`` chosen (:func:`choose_device`),
    then bare ``cuda`` is ``cuda:LOCAL_RANK`` under torchrun (``WORLD_SIZE`` > 1); anything
    else, and every single-process run, is kept."""
    device = choose_device(device)
    env = os.environ if environ is None else environ
    if device == "cuda" and int(env.get("WORLD_SIZE", "1")) > 1:
        return f"cuda:{int(env.get('LOCAL_RANK', '0'))}"
    return device


def resolve_device(device: str) -> Any:
    """The ``torch.device`` for ``device`` (cpu, cuda, cuda:N, mps), checked to exist here,
    or a :class:`ModelError` that says what is missing and what to use instead."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ModelError(
            f"unknown device {device!r}: {exc}; use cpu, cuda, cuda:N or mps"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelError(
                f"device {device!r} requested but CUDA is not available here "
                f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}); "
                "use --device cpu"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ModelError(
                f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) present"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ModelError(f"device {device!r} requested but MPS is not available here")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ModelError(f"unknown device {device!r}; use cpu, cuda, cuda:N or mps")
    return dev
