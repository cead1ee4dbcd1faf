"""A user's ``torch.nn.Module`` (or any callable) behind :class:`lossybench.model.LoadedModel`.

Why an adapter instead of a model family: a researcher's network exists only as an
object in their process, never under a registered name. The adapter gives it the
preprocessing and output conversion a family would, checks every output against what
the task scores (so a wrong shape, type or class count fails with what was expected and
what came, not deep inside a metric), and names it for provenance by its class and a
sha256 of its state dict.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossybench.errors import ModelError
from lossybench.model import LoadedModel

#: What the model gets and must return, per task (quoted by the errors).
EXPECTED = {
    "classification": "class scores of shape (N, K): a tensor or array",
    "detection": 'a list of N dicts with "boxes" (n, 4) xyxy, "scores" (n,) and "labels" (n,) '
                 "(torchvision's detection output)",
    "segmentation": 'per-pixel class scores of shape (N, K, H, W) (or a dict with "out", as '
                    "torchvision's segmentation models return)",
}
_NAME_CHARS = re.compile(r"[^A-Za-z0-9._:+=,/@-]")


class ModelOutputError(ModelError):
    """The model's output does not fit the task: shape, type or class count."""


def class_path(obj: Any) -> str:
    """``module.QualName`` of a module's class (of a function itself), as a result name."""
    target = obj if callable(obj) and not hasattr(obj, "state_dict") and hasattr(
        obj, "__qualname__") else type(obj)
    module = "" if target.__module__ in ("__main__", "builtins") else f"{target.__module__}."
    text = _NAME_CHARS.sub("_", f"{module}{target.__qualname__}").lstrip("._-")
    return (text or "model")[:200]


def state_digest(model: Any) -> str | None:
    """sha256 over the state dict: sorted keys, each tensor's dtype, shape and bytes.

    None for a callable without ``state_dict()`` (a plain function has no weights).
    """
    get = getattr(model, "state_dict", None)
    if not callable(get):
        return None
    import torch

    h = hashlib.sha256(b"lossybench-state-dict/1\0")
    state = get()
    for key in sorted(state):
        value = state[key]
        h.update(str(key).encode() + b"\0")
        if isinstance(value, torch.Tensor):
            if torch.nn.parameter.is_lazy(value):
                raise ModelError(
                    f"{class_path(model)} has uninitialised lazy parameters ({key}): run it "
                    "once on a batch first, so its weights exist and can be hashed"
                )
            t = value.detach().cpu().contiguous()
            h.update(f"{t.dtype}|{tuple(t.shape)}\0".encode())
            try:
                h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
            except (RuntimeError, TypeError):  # layouts without a byte view (sparse, ...)
                h.update(repr(t.tolist()).encode())
        else:
            h.update(repr(value).encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Preprocess:
    """uint8 (H, W, 3) → float CHW in [0, 1], then resized and normalised when asked."""

    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    size: tuple[int, int] | None = None

    def __call__(self, image: np.ndarray) -> Any:
        import torch

        x = torch.from_numpy(np.require(image, np.uint8, ["C", "W"])).permute(2, 0, 1).float()
        x = x.div_(255.0)
        if self.size is not None and tuple(x.shape[-2:]) != self.size:
            x = torch.nn.functional.interpolate(
                x[None], size=self.size, mode="bilinear", align_corners=False, antialias=True
            )[0]
        if self.mean is not None:
            x = x - torch.tensor(self.mean, dtype=x.dtype).view(-1, 1, 1)
        if self.std is not None:
            x = x / torch.tensor(self.std, dtype=x.dtype).view(-1, 1, 1)
        return x

    def describe(self) -> dict[str, Any]:
        return {"input": "float CHW, pixels / 255", "mean": self.mean, "std": self.std,
                "size": list(self.size) if self.size else None}


def make_preprocess(
    preprocess: Callable[[np.ndarray], Any] | None,
    mean: Sequence[float] | None, std: Sequence[float] | None, size: int | Sequence[int] | None,
) -> tuple[Callable[[np.ndarray], Any], dict[str, Any]]:
    """The input pipeline and its description for provenance."""
    if preprocess is not None:
        if mean is not None or std is not None or size is not None:
            raise ModelError("give preprocess= or mean/std/size, not both")
        if not callable(preprocess):
            raise ModelError(f"preprocess must be a callable, not {type(preprocess).__name__}")
        return preprocess, {"callable": class_path(preprocess)}
    if isinstance(size, int):
        size_hw: tuple[int, int] | None = (size, size)
    elif size is not None:
        if len(size) != 2:
            raise ModelError(f"size must be an int or (height, width), not {size!r}")
        size_hw = (int(size[0]), int(size[1]))
    else:
        size_hw = None
    pre = Preprocess(
        tuple(float(v) for v in mean) if mean is not None else None,
        tuple(float(v) for v in std) if std is not None else None,
        size_hw,
    )
    return pre, pre.describe()


def preprocessing_digest(description: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()


def _describe(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        dtype = getattr(value, "dtype", "?")
        return f"{type(value).__name__} of shape {tuple(shape)}, dtype {dtype}"
    if isinstance(value, list | tuple):
        inner = f" of {type(value[0]).__name__}" if value else ""
        return f"{type(value).__name__} of {len(value)}{inner}"
    return type(value).__name__


@dataclass
class ModuleModel(LoadedModel):
    """A user's network in eval mode on ``device``; outputs checked against the task."""

    net: Any = field(default=None, repr=False)
    transform: Callable[[np.ndarray], Any] | None = field(default=None, repr=False)
    #: classes the dataset defines (the task's ``num_classes``): outputs must cover them
    num_classes: int | None = None

    def preprocess(self, image: np.ndarray) -> Any:
        assert self.transform is not None
        x = self.transform(image)
        import torch

        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x))
        if x.ndim != 3 or not x.is_floating_point():
            raise ModelOutputError(
                f"preprocess must turn an (H, W, 3) uint8 image into a float CHW tensor; "
                f"it returned {_describe(x)}"
            )
        return x

    def trainable(self) -> Any:
        return self.net

    def forward(self, inputs: Sequence[Any], sizes: Sequence[tuple[int, int]]) -> list[Any]:
        import torch

        from lossybench.kits.tensors import same_shape_groups

        out: list[Any] = [None] * len(inputs)
        with torch.inference_mode():
            for idx in same_shape_groups(inputs):
                batch = torch.stack([inputs[i] for i in idx]).to(self.device)
                try:
                    raw = self.net(batch)
                except Exception as exc:
                    raise ModelError(
                        f"{self.name} failed on a batch of shape {tuple(batch.shape)} "
                        f"({type(exc).__name__}: {exc}); check preprocess/size"
                    ) from exc
                preds = self._convert(raw, len(idx), [sizes[i] for i in idx],
                                      tuple(batch.shape[-2:]))
                for i, p in zip(idx, preds, strict=True):
                    out[i] = p
        return out

    def _fail(self, what: str, got: Any) -> ModelOutputError:
        return ModelOutputError(
            f"{self.name}: {what}; task {self.task!r} expects {EXPECTED[self.task]}, "
            f"got {_describe(got) if not isinstance(got, str) else got}"
        )

    def _convert(
        self, raw: Any, n: int, sizes: list[tuple[int, int]], input_hw: tuple[int, ...]
    ) -> list[Any]:
        if self.task == "classification":
            return list(self._scores(raw, n, 2))
        if self.task == "segmentation":
            return self._segmentation(raw, n, sizes)
        if self.task == "detection":
            return [self._detections(o, size, input_hw) for o, size in
                    zip(self._detection_list(raw, n), sizes, strict=True)]
        raise ModelOutputError(f"task {self.task!r} has no output adapter for Python models; "
                               "use classification, detection or segmentation")

    def _scores(self, raw: Any, n: int, ndim: int) -> Any:
        import torch

        if isinstance(raw, Mapping) and "out" in raw:
            raw = raw["out"]
        if isinstance(raw, np.ndarray):
            raw = torch.from_numpy(raw)
        if not isinstance(raw, torch.Tensor):
            raise self._fail("the output is not a tensor", raw)
        if raw.ndim != ndim or raw.shape[0] != n:
            raise self._fail(f"a batch of {n} image(s) needs an output with {ndim} "
                             f"dimensions and {n} rows", raw)
        k = int(raw.shape[1])
        if self.num_classes is not None and k < self.num_classes:
            raise self._fail(f"the output has {k} classes but the dataset has "
                             f"{self.num_classes} (class ids 0..{self.num_classes - 1})", raw)
        return raw.detach().float().cpu() if ndim == 4 else raw.detach().float().cpu().numpy()

    def _segmentation(self, raw: Any, n: int, sizes: list[tuple[int, int]]) -> list[Any]:
        import torch
        import torch.nn.functional as F

        scores = self._scores(raw, n, 4)
        out = []
        for logits, (h, w) in zip(scores, sizes, strict=True):
            if tuple(logits.shape[-2:]) != (h, w):
                logits = F.interpolate(logits[None], size=(h, w), mode="bilinear",
                                       align_corners=False)[0]
            out.append(torch.argmax(logits, 0).numpy().astype(np.int64))
        return out

    def _detection_list(self, raw: Any, n: int) -> list[Any]:
        if not isinstance(raw, list | tuple) or len(raw) != n:
            raise self._fail(f"a batch of {n} image(s) needs a list of {n} dicts", raw)
        return list(raw)

    def _detections(
        self, o: Any, size: tuple[int, int], input_hw: tuple[int, ...]
    ) -> dict[str, np.ndarray]:
        if not isinstance(o, Mapping) or not {"boxes", "scores", "labels"} <= set(o):
            keys = sorted(map(str, o)) if isinstance(o, Mapping) else None
            raise self._fail("each image's detections must be a dict with boxes, scores and "
                             "labels", f"dict with keys {keys}" if keys is not None else o)
        arrays = {}
        for key in ("boxes", "scores", "labels"):
            v = o[key]
            if hasattr(v, "detach"):  # a tensor, on any device, in any float type
                v = v.detach().cpu()
                v = (v if key == "labels" else v.float()).numpy()
            arrays[key] = np.asarray(v)
        boxes, scores, labels = arrays["boxes"], arrays["scores"], arrays["labels"]
        m = len(scores.reshape(-1))
        if m == 0 and boxes.size == 0 and labels.size == 0:  # nothing found, in any shape
            boxes, labels = boxes.reshape(0, 4), labels.reshape(0).astype(np.int64)
        if boxes.shape != (m, 4) or labels.shape != (m,):
            raise self._fail("boxes must be (n, 4) and labels (n,) for n scores",
                             f"boxes {boxes.shape}, scores {scores.shape}, labels {labels.shape}")
        if m and not np.issubdtype(labels.dtype, np.integer):
            raise self._fail("labels must be integer category ids", f"labels of {labels.dtype}")
        if m and self.num_classes is not None and (labels.min() < 0 or
                                                   labels.max() >= self.num_classes):
            raise self._fail(
                f"labels must be category ids of the dataset (0..{self.num_classes - 1})",
                f"labels {int(labels.min())}..{int(labels.max())}")
        boxes = boxes.astype(np.float64)
        if m and tuple(input_hw) != tuple(size):  # boxes in the input's frame → original pixels
            sy, sx = size[0] / input_hw[0], size[1] / input_hw[1]
            boxes = boxes * np.array([sx, sy, sx, sy])
        return {"boxes": boxes, "scores": scores.reshape(-1).astype(np.float64),
                "labels": labels.astype(np.int64)}
