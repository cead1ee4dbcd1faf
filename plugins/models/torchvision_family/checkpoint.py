"""How a ``--weights PATH`` state dict differs from the built model: a checkpoint finetuned
on another label set differs only in its head, whose size tells the class count."""

from __future__ import annotations

from typing import Any

from lossybench.kits.checkpoint import state_mismatches


def infer_num_classes(own: dict[str, Any], state: dict[str, Any], built: int) -> int | None:
    """The class count of a checkpoint whose only difference is the size of its head.

    Head tensors have ``k × num_classes`` rows (k = 1 for a classifier, 4 for a box
    regressor, anchors per location for SSD/RetinaNet), so every differing tensor gives
    ``built × file_rows / model_rows``; they must all agree, else the answer is None.
    """
    _, _, shapes = state_mismatches(own, state)
    found = set()
    for k in shapes:
        a, b = tuple(state[k].shape), tuple(own[k].shape)
        if len(a) != len(b) or a[1:] != b[1:] or not b[0] or (built * a[0]) % b[0]:
            return None
        found.add(built * a[0] // b[0])
    return found.pop() if len(found) == 1 else None


def describe_mismatch(own: dict[str, Any], state: dict[str, Any]) -> str:
    missing, unexpected, shapes = state_mismatches(own, state)
    shown = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in shapes]
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape", shown)):
        if items:
            more = f" (+{len(items) - 3} more)" if len(items) > 3 else ""
            parts.append(f"{len(items)} {label}: {', '.join(items[:3])}{more}")
    return "; ".join(parts)
