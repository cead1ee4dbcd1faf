"""What a result records about where it was made: versions, plugins, machine, command.

One provenance for runs, sweeps and finetune reports (:func:`provenance`): the lossybench
version and, run from a git checkout, its commit and a dirty flag; every plugin with its
distribution, version and status (failed ones with their errors, from the registry);
the machine (CPU model, cores, torch threads; CUDA, cuDNN and GPU when a GPU is used).
:func:`entry_origin` and :func:`model_libraries` say which plugin registered a codec,
model family, task or dataset format, and which libraries (timm, torchvision) a model is
made of. Nothing here imports torch: its version is read from its files, its threads and
GPU only when it is already loaded. Nothing here fails a run: what cannot be found is
left out (``None``).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable
from importlib.metadata import entry_points, packages_distributions
from pathlib import Path
from typing import Any

from lossybench.dataset import Sample, Subset
from lossybench.digest import sha256_file
from lossybench.engine.result_strings import (
    DISTRIBUTION,
    PLUGIN,
    STAGE,
    UNSAFE_CHARS,
    VERSION,
    VERSION_OR_UNKNOWN,
)
from lossybench.errors import LossybenchError
from lossybench.image import MAX_IMAGE_BYTES
from lossybench.kits.cores import available_cores
from lossybench.kits.versions import distribution_version, torch_version
from lossybench.markers import ENTRY_POINT_GROUP
from lossybench.model import LoadedModel
from lossybench.registry import Origin, PluginFailure, Registry, get_registry

#: seconds each git command may take; a slow or hung git leaves the commit out
GIT_TIMEOUT = 5.0
_UNSAFE_RE = re.compile(UNSAFE_CHARS)


def provenance(
    registry: Registry | None, device: str, seed: int | None, command: Iterable[str]
) -> dict[str, Any]:
    """The ``lossybench`` and ``environment`` blocks a run result and a sweep JSON share."""
    return {
        "lossybench": tool_info(registry),
        "environment": environment(device, seed, command),
    }


def tool_info(registry: Registry | None = None) -> dict[str, Any]:
    """lossybench's version, its git commit and dirty flag (a checkout), the plugins."""
    from lossybench import __version__

    git = git_state()
    return {
        "version": __version__,
        "commit": git.get("commit"),
        "dirty": git.get("dirty"),
        "plugins": plugin_list(registry),
    }


# -- the machine --------------------------------------------------------------------------
def environment(device: str, seed: int | None, command: Iterable[str]) -> dict[str, Any]:
    """Versions of what computed the numbers, the machine, device, seed and command line.

    ``seed`` None (a sweep has none) leaves the key out.
    """
    import numpy
    import PIL

    torch = sys.modules.get("torch")
    gpu = _gpu(torch, device)
    out: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch_version(),
        "torchvision": package_version("torchvision"),
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
        "cpu": cpu_model(),
        "cores": available_cores(),
        "threads": torch.get_num_threads() if torch is not None else None,
        **gpu,
        "device": device,
        "seed": seed,
        "command": [str(c) for c in command],
    }
    if seed is None:
        del out["seed"]
    return out


def cpu_model() -> str | None:
    """The CPU's model name (/proc/cpuinfo), else ``platform.processor()``; None if neither."""
    name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() == "model name":
                    name = value.strip()
                    break
    except OSError:
        pass
    return clean_text(name or platform.processor(), 300) or None


def _gpu(torch: Any, device: str) -> dict[str, str | None]:
    """CUDA and cuDNN versions and the GPU's name when ``device`` is a CUDA device."""
    out: dict[str, str | None] = {"cuda": None, "cudnn": None, "gpu": None}
    if torch is None or not str(device).startswith("cuda"):
        return out
    try:
        if not torch.cuda.is_available():
            return out
        out["cuda"] = _version_or_none(torch.version.cuda)
        v = torch.backends.cudnn.version()
        if v:  # 90100 is 9.1.0, 8902 is 8.9.2
            out["cudnn"] = (f"{v // 10000}.{v // 100 % 100}.{v % 100}" if v >= 90000
                            else f"{v // 1000}.{v // 100 % 10}.{v % 100}")
        out["gpu"] = clean_text(torch.cuda.get_device_name(torch.device(device)), 300) or None
    except Exception:  # a broken driver must not fail a finished run
        pass
    return out


def package_version(name: str) -> str | None:
    """``name.__version__``: from the module when loaded, else from its ``version.py``
    (torchvision's carries the build's local tag, ``0.19.1+cu121``, as torch's does),
    else from the distribution's metadata. The package is not imported."""
    if name in sys.modules:
        return str(getattr(sys.modules[name], "__version__", None) or distribution_version(name))
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "version.py"
        try:
            for node in ast.parse(path.read_text()).body:
                if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                        and any(getattr(t, "id", None) == "__version__" for t in node.targets)):
                    return str(node.value.value)
        except (OSError, SyntaxError, ValueError):
            pass
    return distribution_version(name)


# -- the checkout ---------------------------------------------------------------------------
def git_state(where: str | Path | None = None) -> dict[str, Any]:
    """``{"commit": SHA, "dirty": bool}`` of the git checkout lossybench's files are in.

    Empty when they are not in one (an installed wheel; a virtual environment inside some
    other repository: the package's own files must be tracked there), when git is
    missing, or when it takes longer than :data:`GIT_TIMEOUT`. ``dirty`` is None when
    ``git status`` did not answer.
    """
    if where is None:
        import lossybench

        where = Path(lossybench.__file__).resolve().parent
    tracked = _git(where, "ls-files", "--error-unmatch", "--", "__init__.py")
    commit = _git(where, "rev-parse", "--verify", "HEAD") if tracked is not None else None
    if commit is None or not re.fullmatch(r"[0-9a-f]{40}(?:[0-9a-f]{24})?", commit):
        return {}
    status = _git(where, "status", "--porcelain")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def _git(where: str | Path, *args: str) -> str | None:
    """git's stdout, stripped; None when git is missing, fails or times out."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}  # never take index.lock
    try:
        proc = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT, env=env, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


# -- plugins --------------------------------------------------------------------------------
def plugin_list(registry: Registry | None = None) -> list[dict[str, Any]]:
    """Every plugin of ``registry`` (default: the process-wide one) and its status.

    ``loaded``; ``failed`` with its errors (it failed to import or register, a hook
    raised or returned something malformed, a name conflict withdrew what it registered);
    ``disabled``. A plugin whose only messages are diagnostics is loaded, messages listed.
    """
    reg = registry if registry is not None else get_registry()
    rows: list[Origin] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        rows.append(Origin(ep.name, dist.metadata.get("Name", "?"), dist.version) if dist
                    else Origin(ep.name))
    for origin in reg.plugins.values():  # registered directly (tests, embedding)
        if origin not in rows:
            rows.append(origin)
    failures = [(name, dist, e) for e in reg.errors for name, dist in _failed(e)]
    for name, dist, _ in failures:
        if not any(r.plugin == name for r in rows):
            d, _, v = dist.rpartition(" ")
            rows.append(Origin(name, d or dist, v if d else "?"))
    blocked = {_dist_key(b) for b in reg.disabled}
    out = []
    for r in rows:
        errors = [e for name, dist, e in failures
                  if name == r.plugin and dist in (f"{r.distribution} {r.version}", "?")]
        if any(e.stage != "diagnostics" for e in errors):
            status = "failed"
        elif reg.plugins.get(r.plugin) == r:
            status = "loaded"
        elif r.plugin in reg.disabled or _dist_key(r.distribution) in blocked:
            status = "disabled"
        else:  # an installed plugin this registry never looked at (use_entry_points=False)
            continue
        row: dict[str, Any] = {**origin_dict(r), "status": status}
        if errors:
            row["errors"] = [{"stage": _stage(e.stage), "error": clean_text(e.error, 2000) or "?"}
                             for e in errors[:100]]
        out.append(row)
    return out


def _failed(e: PluginFailure) -> list[tuple[str, str]]:
    """(plugin, "distribution version") of each plugin a failure names (a conflict: two)."""
    names = e.plugin.split(", ")
    dists = e.distribution.split(", ") if e.stage == "conflict" else [e.distribution]
    if len(dists) != len(names):
        dists = ["?"] * len(names)
    return list(zip(names, dists, strict=True))


def _dist_key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _stage(stage: str) -> str:
    s = re.sub(r"[^a-z0-9_]", "_", stage.lower())[:64]
    return s if re.fullmatch(STAGE, s) else "other"


def origin_dict(origin: Origin) -> dict[str, str]:
    """``{"name", "distribution", "version"}`` that a result accepts: a value its pattern
    refuses (a plugin registered directly says ``<direct> -``) is ``?``."""
    name = re.sub(r"[^A-Za-z0-9._+-]", "_", origin.plugin)[:100] or "_"
    if not re.fullmatch(PLUGIN, name):
        name = f"_{name}"[:100]
    dist = origin.distribution if re.fullmatch(DISTRIBUTION, origin.distribution) else "?"
    ver = origin.version if re.fullmatch(VERSION_OR_UNKNOWN, origin.version) else "?"
    return {"name": name, "distribution": dist, "version": ver}


def entry_origin(
    registry: Registry | None, kind: str, name: str, obj: Any = None
) -> dict[str, str] | None:
    """The plugin that registered ``name`` as a ``kind``, when ``obj`` (a class or an
    instance, optional) is of exactly the registered class; None otherwise (a codec
    object or a model handed to the Python API that no plugin registered, a subclass)."""
    if registry is None:
        return None
    entry = registry.entries.get(kind, {}).get(name)
    if entry is None:
        return None
    if obj is not None:
        while isinstance(obj, Subset):
            obj = obj.base
        if (obj if isinstance(obj, type) else type(obj)) is not entry.obj:
            return None
    return origin_dict(entry.origin)


def model_libraries(model: LoadedModel) -> dict[str, str]:
    """Versions of the distributions a model is made of: those whose modules define its
    network, transforms and other parts (timm, torchvision, ...), and the distribution
    named like its family. lossybench itself and the standard library are left out."""
    tops = {type(model).__module__.partition(".")[0]}
    tops |= {type(v).__module__.partition(".")[0]
             for v in getattr(model, "__dict__", {}).values()}
    tops.add(model.family)
    out = {}
    for top in sorted(tops - {"builtins", "lossybench", "__main__"}):
        if top in sys.stdlib_module_names:
            continue
        dist, ver = top, distribution_version(top)
        if ver is None:
            found = _top_level_distributions().get(top) or []
            dist = found[0] if found else top
            ver = distribution_version(dist) if found else None
        if ver and re.fullmatch(VERSION, ver) and re.fullmatch(DISTRIBUTION, dist):
            out[dist] = ver
    out.pop("lossybench", None)
    return out


@functools.cache
def _top_level_distributions() -> dict[str, list[str]]:
    return dict(packages_distributions())


# -- text and inputs ------------------------------------------------------------------------
def clean_text(text: Any, limit: int) -> str:
    """``text`` with every character a result refuses (controls, newlines, bidi and other
    invisible ones) made a space, runs of spaces collapsed, cut to ``limit``."""
    return " ".join(_UNSAFE_RE.sub(" ", str(text or "")).split())[:limit]


def _version_or_none(v: Any) -> str | None:
    return str(v) if v and re.fullmatch(VERSION, str(v)) else None


def sample_sha256(sample: Sample) -> str | None:
    """sha256 of an image as given: the file's bytes, the bytes in memory, or (an image
    made by code) its pixels; None for a file that cannot be read."""
    try:
        if sample.problem is not None:
            return None
        if isinstance(sample.source, str):
            return sha256_file(sample.source, max_bytes=MAX_IMAGE_BYTES)
        if isinstance(sample.source, bytes):
            return hashlib.sha256(sample.source).hexdigest()
        return hashlib.sha256(sample.image().tobytes()).hexdigest()
    except (LossybenchError, OSError, ValueError):
        return None

