"""A model must see the input its weights were trained with: timm's pretrained config by
default, unless the weights themselves (by sha256, or a finetune's saved record) say
they were trained with another pipeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Weights whose own preprocessing differs from timm's config for the architecture.
#: The EfficientNet-Lite0 ImageNet file was trained on a plain 224×224 bicubic resize
#: scaled to [-1, 1] (no crop). On the 20 foolbox ImageNet photos it scores 17/20 top-1
#: with it, 16/20 with ImageNet mean/std; timm's tf_efficientnet_lite0 eval transform
#: (resize 256 + centre crop 224, mean/std 0.5) happens to score 18/20 there, but that
#: is not the pipeline these weights were published with, so it is not used.
WEIGHTS_PREPROCESSING: dict[str, dict[str, Any]] = {
    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db": {
        "input_size": (3, 224, 224),
        "interpolation": "bicubic",
        "crop_pct": 1.0,
        "crop_mode": "squash",
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
        "source": "EfficientNet-Lite0 reference: 224x224 bicubic resize, [-1, 1]",
    },
}


#: Keys of a saved ``preprocessing`` record that rebuild timm's eval transform.
TRANSFORM_KEYS = ("input_size", "interpolation", "crop_pct", "crop_mode", "mean", "std")


def saved_preprocessing(extras: dict[str, Any]) -> dict[str, Any] | None:
    """The transform a checkpoint says its weights were trained and evaluated with.

    ``bench finetune`` writes ``{"model": ..., "preprocessing": ...}``: a model finetuned
    from weights with their own pipeline (the EfficientNet-Lite0 file) must be evaluated
    with that pipeline too, although its sha256 is no longer in WEIGHTS_PREPROCESSING.
    """
    pre = extras.get("preprocessing")
    if not isinstance(pre, dict) or not all(k in pre for k in TRANSFORM_KEYS):
        return None
    out = {k: pre[k] for k in TRANSFORM_KEYS}
    out["input_size"] = tuple(out["input_size"])
    out["mean"], out["std"] = tuple(out["mean"]), tuple(out["std"])
    out["source"] = f"saved with the checkpoint ({pre.get('source', 'unknown')})"
    return out


def make_transform(net: Any, override: dict[str, Any] | None) -> tuple[Callable[..., Any],
                                                                      dict[str, Any]]:
    """(transform PIL → CHW tensor, description for results)."""
    from timm.data import create_transform, resolve_data_config

    if override is None:
        # test size / crop when the config has them, as timm's validate.py evaluates
        cfg = resolve_data_config({}, model=net, use_test_size=True)
        source = "timm pretrained_cfg of the model (test size)"
    else:
        cfg = {k: v for k, v in override.items() if k != "source"}
        source = override["source"]
    transform = create_transform(**cfg, is_training=False)
    desc: dict[str, Any] = {
        "input_size": list(cfg["input_size"]),
        "interpolation": cfg["interpolation"],
        "crop_pct": cfg["crop_pct"],
        "crop_mode": cfg.get("crop_mode", "center"),
        "mean": [float(x) for x in cfg["mean"]],
        "std": [float(x) for x in cfg["std"]],
        "steps": [repr(t).replace("\n", " ") for t in getattr(transform, "transforms", [])],
        "source": source,
    }
    return transform, desc
