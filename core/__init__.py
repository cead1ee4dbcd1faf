"""lossybench: how much accuracy do vision models lose on lossy-compressed images?

The public plugin contract lives in :mod:`lossybench.hookspecs`; plugins mark their
implementations with :data:`hookimpl`. The Python API, :func:`evaluate` and
:func:`compress` (from :mod:`lossybench.api`), is loaded on first use, so that
``import lossybench`` stays light (no engine, no torch).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from lossybench.markers import hookimpl, hookspec

try:
    __version__ = version("lossybench")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__", "compress", "evaluate", "hookimpl", "hookspec"]

#: names served by a module loaded on first access
_LAZY = {"evaluate": "lossybench.api", "compress": "lossybench.api"}


def __getattr__(name: str) -> Any:
    """``lossybench.evaluate`` / ``lossybench.compress``: import the API on first access."""
    if name not in _LAZY:
        raise AttributeError(f"module 'lossybench' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
