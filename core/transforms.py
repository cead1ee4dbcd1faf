"""``Compress``: a training transform that compresses each image at a random bit rate.

Why: most of what a model loses on low-rate images it wins back when it trains on such
images (``bench finetune`` does this for registered models). This is the same
augmentation for a researcher's own training loop: a codec drawn uniformly and a bit
rate drawn log-uniformly per call, as ``bench finetune`` draws them, and the setting for
that rate found by the same rate control, so "0.3 bpp" means what the benchmark means.

It is a plain picklable callable (torchvision v2 pipelines accept any callable) that
keeps only codec names and its seed when pickled: codecs are built on first use in each
process, and importing this module imports neither torch nor a codec library.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from lossybench.codec import Codec
from lossybench.engine.ratecontrol import DEFAULT_RATE_TOLERANCE, RateSearch, validate_targets
from lossybench.errors import OutOfRangeError

__all__ = ["Compress"]


def _is_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") or (
        "torch" in sys.modules and isinstance(x, sys.modules["torch"].Tensor))


def _is_image(x: Any) -> bool:
    """PIL images, uint8 (H, W[, C]) arrays and torchvision ``tv_tensors.Image``."""
    from PIL import Image

    if isinstance(x, Image.Image):
        return True
    if isinstance(x, np.ndarray):
        return x.dtype == np.uint8 and (x.ndim == 2 or (x.ndim == 3 and x.shape[2] in (1, 3)))
    return _is_tensor(x) and type(x).__name__ == "Image"


class Compress:
    """Compress each image with a codec drawn from ``codecs`` at a bpp drawn from
    ``bpp_range`` (log-uniform), with probability ``p``; return it decoded, same type.

    Takes PIL images (RGB or L), uint8 (H, W, 3) or (H, W) arrays, uint8 (C, H, W) tensors
    and ``tv_tensors.Image``. Called with several inputs (as in a v2 pipeline with
    targets), it compresses the images among them and passes the rest through (a plain
    tensor counts as the image when nothing else is one). Draws come from its own
    generator: ``seed`` fixes them; in ``DataLoader`` workers the worker's seed (which
    ``torch.manual_seed`` fixes) is mixed in, so workers never repeat each other.
    """

    def __init__(
        self,
        codecs: str | Codec | Sequence[str | Codec],
        bpp_range: tuple[float, float] = (0.1, 1.0),
        p: float = 1.0,
        seed: int | None = None,
        policy: str = "floor",
        rate_tolerance: float = DEFAULT_RATE_TOLERANCE,
    ) -> None:
        given = [codecs] if isinstance(codecs, str | Codec) else list(codecs)
        if not given:
            raise OutOfRangeError("Compress needs at least one codec, e.g. Compress('jpeg')")
        lo, hi = (float(v) for v in bpp_range)
        validate_targets([lo, hi])
        if lo > hi:
            raise OutOfRangeError(f"bpp_range {bpp_range} is inverted: give (low, high)")
        if not 0.0 <= p <= 1.0:
            raise OutOfRangeError(f"p={p} is not a probability in [0, 1]")
        if policy not in ("floor", "nearest"):
            raise OutOfRangeError(f"policy must be 'floor' or 'nearest', not {policy!r}")
        self.codecs = [c if isinstance(c, Codec) else str(c) for c in given]
        self.bpp_range = (lo, hi)
        self.p = float(p)
        self.seed = seed
        self.policy = policy
        self.rate_tolerance = rate_tolerance
        self._built: list[Codec] | None = None
        self._rng: np.random.Generator | None = None
        self._pid: int | None = None
        self._build()  # unknown names fail here, not inside a DataLoader worker

    def __repr__(self) -> str:
        names = [c.label if isinstance(c, Codec) else c for c in self.codecs]
        return (f"Compress(codecs={names}, bpp_range={self.bpp_range}, p={self.p}, "
                f"seed={self.seed})")

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_built": None, "_rng": None, "_pid": None}

    def _build(self) -> list[Codec]:
        if self._built is None:
            from lossybench.engine.run.resolve import build_codecs
            from lossybench.registry import get_registry

            reg = get_registry()
            self._built = [c if isinstance(c, Codec) else build_codecs([c], reg)[0]
                           for c in self.codecs]
        return self._built

    def _generator(self) -> np.random.Generator:
        """This process's generator: a forked or spawned worker starts its own."""
        if self._rng is None or self._pid != os.getpid():
            data = sys.modules.get("torch.utils.data")
            info = data.get_worker_info() if data is not None else None
            entropy = [] if self.seed is None else [int(self.seed)]
            if info is not None:
                entropy.append(int(info.seed) % 2**63)
            self._rng = np.random.default_rng(entropy or None)
            self._pid = os.getpid()
        return self._rng

    def draw(self) -> tuple[Codec, float] | None:
        """The next (codec, bpp target), or None when this call leaves the image clean."""
        u_apply, u_codec, u_rate = self._generator().random(3)
        if u_apply >= self.p:
            return None
        codecs = self._build()
        codec = codecs[min(int(u_codec * len(codecs)), len(codecs) - 1)]
        lo, hi = self.bpp_range
        if lo == hi:
            return codec, lo
        return codec, float(math.exp(math.log(lo) + u_rate * (math.log(hi) - math.log(lo))))

    def __call__(self, *inputs: Any) -> Any:
        if not inputs:
            raise TypeError("Compress() needs an image")
        chosen = self.draw()
        if chosen is None:
            return inputs[0] if len(inputs) == 1 else inputs
        where = [i for i, x in enumerate(inputs) if _is_image(x)]
        if not where:
            where = [next((i for i, x in enumerate(inputs) if _is_tensor(x)), 0)]
        out = list(inputs)
        for i in where:
            out[i] = self.compress(out[i], *chosen)
        return out[0] if len(inputs) == 1 else tuple(out)

    def compress(self, image: Any, codec: Codec, bpp: float) -> Any:
        """``image`` through ``codec`` at target ``bpp``, decoded, in the type it came in."""
        pixels, back = _pixels(image)
        point = RateSearch(codec, pixels, policy=self.policy,  # type: ignore[arg-type]
                           tolerance=self.rate_tolerance).solve([bpp])[0]
        return back(codec.safe_decode(point.bitstream))


def _grey(rgb: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).convert("L"))


def _pixels(image: Any) -> tuple[np.ndarray, Any]:
    """(H, W, 3) uint8 pixels of ``image`` and a function giving decoded pixels its type."""
    from PIL import Image

    from lossybench.image import to_rgb8

    if isinstance(image, Image.Image):
        mode = image.mode
        return to_rgb8(image), (lambda d: Image.fromarray(d).convert("L") if mode == "L"
                                else Image.fromarray(d))
    if _is_tensor(image):
        import torch

        if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] not in (1, 3):
            raise OutOfRangeError(
                f"Compress takes uint8 (C, H, W) tensors with 1 or 3 channels; got "
                f"{image.dtype} {tuple(image.shape)} (put it before ToDtype/Normalize)")
        chw = image.detach().cpu()
        channels = chw.shape[0]
        hwc = chw.permute(1, 2, 0).numpy()
        pixels = np.ascontiguousarray(np.repeat(hwc, 3, 2) if channels == 1 else hwc)

        def back(d: np.ndarray) -> Any:
            arr = _grey(d)[..., None] if channels == 1 else d
            t = torch.from_numpy(np.require(arr, np.uint8, ["C", "W"])).permute(2, 0, 1)
            t = t.to(image.device)
            if type(image) is not torch.Tensor:  # tv_tensors.Image and friends
                from torchvision import tv_tensors

                return tv_tensors.wrap(t, like=image)
            return t

        return pixels, back
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3))):
        raise OutOfRangeError(
            f"Compress takes PIL images, uint8 (H, W, 3) arrays or uint8 (C, H, W) tensors; "
            f"got {type(image).__name__} {getattr(arr, 'dtype', '')} {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] == 3:
        return np.ascontiguousarray(arr), (lambda d: d)
    shape = arr.shape
    grey = np.repeat(arr.reshape(shape[:2])[..., None], 3, 2)
    return np.ascontiguousarray(grey), (lambda d: _grey(d).reshape(shape))
