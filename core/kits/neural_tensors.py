"""Images to padded float64 network batches and back: the pixel side of a neural codec.

Padding is centred, like CompressAI's ``eval_model``; float64 because the coding path is
float64 end to end (:func:`lossybench.kits.neural_codec.prepare_network` says why).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def padding_for(height: int, width: int, multiple: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) centred padding up to ``multiple`` (CompressAI's eval_model)."""
    new_h = (height + multiple - 1) // multiple * multiple
    new_w = (width + multiple - 1) // multiple * multiple
    left = (new_w - width) // 2
    top = (new_h - height) // 2
    return left, new_w - width - left, top, new_h - height - top


def to_tensor(images: Sequence[np.ndarray], multiple: int, mode: str, device: str) -> torch.Tensor:
    """Stack same-size (H, W, 3) uint8 images into a padded float64 (N, 3, H', W') batch."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.stack([np.ascontiguousarray(im) for im in images]))
    x = x.to(device).permute(0, 3, 1, 2).double().div_(255.0)
    h, w = x.shape[-2:]
    pad = padding_for(h, w, multiple)
    if any(pad):
        if mode == "replicate":
            x = F.pad(x, pad, mode="replicate")
        else:
            x = F.pad(x, pad, mode="constant", value=0.0)
    return x


def to_image(x_hat: torch.Tensor, height: int, width: int, multiple: int) -> np.ndarray:
    """Crop a (1, 3, H', W') reconstruction back to (height, width) and round to uint8."""
    left, _, top, _ = padding_for(height, width, multiple)
    x = x_hat[0, :, top : top + height, left : left + width]
    import torch

    x = x.clamp(0.0, 1.0).mul(255.0).round().to("cpu", dtype=torch.uint8)
    return np.ascontiguousarray(x.permute(1, 2, 0).numpy())
