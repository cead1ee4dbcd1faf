"""Every CompressAI image-zoo model as a codec, with real entropy-coded bitstreams.

One codec per (architecture, metric), e.g. ``bmshj2018-hyperprior-mse`` or
``mbt2018-ms-ssim``; the knob is the zoo's quality level (1..8, cheng2020: 1..6).
The classes are generated from :data:`ZOO` at import time and bound to module-level
names, so that worker processes can unpickle them.

Weights, per quality level, first found wins:

1. ``checkpoint=PATH`` (codec option): a CompressAI state dict or training checkpoint
   (``{"state_dict": ...}``); ``PATH`` may contain ``{quality}`` (and ``{name}``, the
   codec name), or be a directory holding the zoo's file names (or
   ``<codec name>-<quality>.pth.tar``); a plain file serves every level.
   ``$LOSSYBENCH_COMPRESSAI_CHECKPOINTS`` (a directory or a template with ``{name}``)
   is the default for every zoo codec.
2. torch hub's cache, where ``compressai.zoo`` puts downloads:
   ``torch.hub.get_dir()/checkpoints/<file name of the zoo URL>``.
3. A download into that cache (``download=true``, the default; never when
   ``$LOSSYBENCH_OFFLINE`` is set). Offline, the error names the file and the URL.

``check_available`` never touches the network: a zoo codec counts as available when
weights for at least one level are on disk, so ``bench list`` shows which are usable
and a default run skips the rest.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from lossybench import hookimpl
from lossybench.codec import CodecOption, QualityRange
from lossybench.errors import CodecError
from lossybench.kits import torch_hub
from lossybench.kits.neural_codec import NeuralCodec
from lossybench.kits.source_literals import module_literal, package_file

CHECKPOINTS_ENV = "LOSSYBENCH_COMPRESSAI_CHECKPOINTS"
OFFLINE_ENV = "LOSSYBENCH_OFFLINE"
DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True)
class ZooArch:
    """One zoo architecture: its key in ``compressai.zoo.image`` tables and its shape facts."""

    name: str  # our name and the key of ``model_urls``/``cfgs``
    model_class: str  # attribute of ``compressai.models``
    levels: int
    pad_multiple: int
    latent_stride: int
    string_groups: int
    metrics: tuple[str, ...]  # codecs registered: "<name>-<metric>" (or "<name>" if empty)
    paper: str


ZOO: tuple[ZooArch, ...] = (
    ZooArch("bmshj2018-factorized", "FactorizedPrior", 8, 16, 16, 1, ("mse", "ms-ssim"),
            "Ballé et al. 2018, factorized prior"),
    ZooArch("bmshj2018-factorized-relu", "FactorizedPriorReLU", 8, 16, 16, 1, (),
            "Ballé et al. 2018, factorized prior with ReLU (no zoo weights: use checkpoint=)"),
    ZooArch("bmshj2018-hyperprior", "ScaleHyperprior", 8, 64, 64, 2, ("mse", "ms-ssim"),
            "Ballé et al. 2018, scale hyperprior"),
    ZooArch("mbt2018-mean", "MeanScaleHyperprior", 8, 64, 64, 2, ("mse", "ms-ssim"),
            "Minnen et al. 2018, mean-scale hyperprior"),
    ZooArch("mbt2018", "JointAutoregressiveHierarchicalPriors", 8, 64, 64, 2, ("mse", "ms-ssim"),
            "Minnen et al. 2018, joint autoregressive + hyperprior"),
    ZooArch("cheng2020-anchor", "Cheng2020Anchor", 6, 64, 64, 2, ("mse", "ms-ssim"),
            "Cheng et al. 2020, anchor"),
    ZooArch("cheng2020-attn", "Cheng2020Attention", 6, 64, 64, 2, ("mse", "ms-ssim"),
            "Cheng et al. 2020, with attention"),
)


def zoo_urls() -> dict[str, Any]:
    """``compressai.zoo.image.model_urls``: {arch: {metric: {quality: URL}}}.

    Read from compressai's source while compressai is not loaded, because importing it
    imports torch (seconds, a gigabyte) and ``bench list`` asks every zoo codec for its
    weights' file names. Why parse rather than copy the table here: a copy goes stale
    when compressai publishes weights, while the parsed table is compressai's own. The
    parser (:func:`~lossybench.kits.source_literals.module_literal`) accepts only plain
    literals (the table is a dict of f-strings over ``root_url``) that no later module
    code touches; on anything else, or without the source file, this imports
    compressai as before. Once ``compressai.zoo.image`` is loaded, its live table wins.
    """
    if "compressai.zoo.image" not in sys.modules:
        try:
            return _parsed_zoo_urls()
        except (OSError, SyntaxError, ValueError, RecursionError):
            pass  # not a plain literal here: import it
    from compressai.zoo.image import model_urls

    return model_urls


@cache
def _parsed_zoo_urls() -> dict[str, Any]:
    path = package_file("compressai", "zoo", "image.py")
    if path is None:
        raise ValueError("compressai/zoo/image.py not found")
    table = module_literal(path, "model_urls")
    if not isinstance(table, dict):
        raise ValueError(f"{path}: model_urls is a {type(table).__name__}, not a dict")
    return table


def zoo_url(arch: str, metric: str, quality: int) -> str | None:
    """The zoo's download URL for a level, or None when the zoo has no such weights."""
    return zoo_urls().get(arch, {}).get(metric, {}).get(quality)


def hub_checkpoint_dir() -> Path:
    """Where ``compressai.zoo`` (``load_state_dict_from_url``) caches downloads.

    Computed without importing torch (:mod:`lossybench.kits.torch_hub`)."""
    return torch_hub.hub_checkpoint_dir()


def _hash_prefix(url: str) -> str | None:
    """The sha256 prefix torch hub file names carry (``name-<8 hex>.pth.tar``)."""
    m = re.search(r"-([0-9a-f]{8,})\.", Path(url).name)
    return m.group(1) if m else None


def read_state_dict(path: Path) -> dict[str, Any]:
    """Load a CompressAI state dict or training checkpoint, with zoo key renames."""
    import torch
    from compressai.zoo.pretrained import load_pretrained

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CodecError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from exc
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise CodecError(f"{path} is not a CompressAI state dict (got {type(obj).__name__})")
    return load_pretrained(obj)


class ZooCodec(NeuralCodec):
    """Base of the generated zoo codecs; ``arch`` and ``metric`` are set per subclass."""

    arch: ClassVar[ZooArch]
    metric: ClassVar[str]
    options: ClassVar[tuple[CodecOption, ...]] = (
        *NeuralCodec.options,
        CodecOption("checkpoint", "", "state dict: a file, a directory, or a path with {quality}; "
                    f"default ${CHECKPOINTS_ENV}, then the torch hub cache"),
        CodecOption("download", True, "download zoo weights into the torch hub cache if missing "
                    f"(never when ${OFFLINE_ENV} is set)"),
    )

    # -- weights resolution --------------------------------------------------------------
    @classmethod
    def zoo_file(cls, quality: int) -> tuple[Path, str] | None:
        """(hub cache path, URL) of a level's zoo weights; None if the zoo has none."""
        url = zoo_url(cls.arch.name, cls.metric, quality)
        if url is None:
            return None
        return hub_checkpoint_dir() / Path(url).name, url

    @classmethod
    def user_file(cls, spec: str, quality: int) -> Path:
        """The file a ``checkpoint=`` value means for ``quality``."""
        if "{quality}" in spec or "{name}" in spec:
            filled = spec.replace("{quality}", str(quality)).replace("{name}", cls.name)
            return Path(filled).expanduser()
        path = Path(spec).expanduser()
        if path.is_dir():
            zoo = cls.zoo_file(quality)
            if zoo is not None and (path / zoo[0].name).is_file():
                return path / zoo[0].name
            return path / f"{cls.name}-{quality}.pth.tar"
        return path

    def checkpoint_spec(self) -> str:
        return str(self.settings.get("checkpoint") or os.environ.get(CHECKPOINTS_ENV, ""))

    def weights_path(self, quality: int) -> Path:
        """Resolve (and if allowed download) the weights of one level, or raise CodecError."""
        spec = self.checkpoint_spec()
        if spec:
            path = self.user_file(spec, quality)
            if not path.is_file():
                raise CodecError(
                    f"{self.name}: no checkpoint for quality {quality} at {path} "
                    f"(from checkpoint={spec!r}); save a CompressAI state dict there"
                )
            return path
        zoo = self.zoo_file(quality)
        if zoo is None:
            raise CodecError(
                f"{self.name}: the CompressAI zoo has no weights for quality {quality}; "
                f"give your own: --codec {self.name}:checkpoint=DIR/{self.name}-{{quality}}.pth.tar"
            )
        path, url = zoo
        if path.is_file():
            return path
        offline = bool(os.environ.get(OFFLINE_ENV))
        if self.settings.get("download", True) and not offline:
            try:
                download(url, path)
                return path
            except Exception as exc:
                reason = f"download failed ({type(exc).__name__}: {exc})"
        else:
            reason = f"downloads are off ({OFFLINE_ENV} is set)" if offline else "download=false"
        raise CodecError(
            f"{self.name}: weights for quality {quality} are missing: {reason}. "
            f"Fetch {url} and save it as {path} "
            f"(or give checkpoint=PATH, see docs/neural-codecs.md)"
        )

    @classmethod
    def local_levels(cls) -> list[int]:
        """Levels whose weights are on disk now (env checkpoint or hub cache): no network."""
        spec = os.environ.get(CHECKPOINTS_ENV, "")
        out = []
        for q in range(1, cls.arch.levels + 1):
            if spec and cls.user_file(spec, q).is_file():
                out.append(q)
                continue
            zoo = cls.zoo_file(q)
            if zoo is not None and zoo[0].is_file():
                out.append(q)
        return out

    @classmethod
    def check_available(cls) -> None:
        super().check_available()  # compressai itself
        if cls.local_levels():
            return
        first = cls.zoo_file(1)
        where = (
            f"no weights in {hub_checkpoint_dir()} (e.g. {first[0].name} from {first[1]}); "
            "download them there, or"
            if first else "the CompressAI zoo has no weights for it;"
        )
        raise CodecError(
            f"{cls.name}: {where} point ${CHECKPOINTS_ENV} or checkpoint=PATH at CompressAI "
            "state dicts (docs/neural-codecs.md)"
        )

    # -- NeuralCodec hooks -----------------------------------------------------------------
    def model_key(self, level: int) -> tuple[Any, ...]:
        path = self.weights_path(level)
        stat = path.stat()
        return (self.name, level, str(path.resolve()), stat.st_size, stat.st_mtime_ns)

    def load_model(self, level: int, device: str) -> Any:
        import compressai.models as models

        path = self.weights_path(level)
        state = read_state_dict(path)
        cls = getattr(models, self.arch.model_class)
        try:
            return cls.from_state_dict(state)
        except Exception as exc:
            raise CodecError(
                f"{self.name}: {path} does not fit {self.arch.model_class} "
                f"({type(exc).__name__}: {str(exc)[:300]})"
            ) from exc


def download(url: str, dest: Path) -> None:
    """Fetch ``url`` to ``dest`` atomically, checking torch hub's sha256 file-name prefix."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False, suffix=".part") as tmp:
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
                while chunk := resp.read(1 << 20):
                    digest.update(chunk)
                    tmp.write(chunk)
            tmp.close()
            prefix = _hash_prefix(url)
            if prefix and not digest.hexdigest().startswith(prefix):
                raise CodecError(f"{url}: sha256 {digest.hexdigest()[:12]} does not match {prefix}")
            shutil.move(tmp.name, dest)
        finally:
            if os.path.exists(tmp.name):
                os.unlink(tmp.name)


def _class_name(codec_name: str) -> str:
    return "Zoo_" + re.sub(r"[^0-9a-zA-Z]+", "_", codec_name)


def _make(arch: ZooArch, metric: str) -> type[ZooCodec]:
    name = f"{arch.name}-{metric}" if metric else arch.name
    label = f" ({metric.upper()}-optimised)" if metric else ""
    attrs = {
        "name": name,
        "description": f"CompressAI zoo {arch.name}{label}: {arch.paper}",
        "arch": arch,
        "metric": metric or "mse",
        "quality": QualityRange(1, arch.levels, kind="discrete", step=1, default=4),
        "pad_multiple": arch.pad_multiple,
        "latent_stride": arch.latent_stride,
        "string_groups": arch.string_groups,
        "__module__": __name__,
        "__qualname__": _class_name(name),
    }
    return type(_class_name(name), (ZooCodec,), attrs)


#: Every generated codec class, in registration order.
ZOO_CODECS: list[type[ZooCodec]] = []
for _arch in ZOO:
    for _metric in _arch.metrics or ("",):
        _cls = _make(_arch, _metric)
        globals()[_cls.__name__] = _cls  # module-level name: picklable
        ZOO_CODECS.append(_cls)


@hookimpl
def lossybench_codecs() -> list[type[ZooCodec]]:
    return list(ZOO_CODECS)
