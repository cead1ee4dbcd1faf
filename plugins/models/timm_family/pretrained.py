"""timm's pretrained weights, looked up in the Hugging Face and torch hub caches before
any download: offline machines get an error naming the file to copy and where, instead
of minutes of network retries and a traceback."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lossybench.errors import ModelError
from lossybench.kits.torch_hub import hub_checkpoint_dir
from lossybench.model import WeightsInfo


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
        return hub_checkpoint_dir() / os.path.basename(urlparse(self.url).path)

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
