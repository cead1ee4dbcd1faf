"""lossybench: how much accuracy do vision models lose on lossy-compressed images?

The public plugin contract lives in :mod:`lossybench.hookspecs`; plugins mark their
implementations with :data:`hookimpl`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from lossybench.markers import hookimpl, hookspec

try:
    __version__ = version("lossybench")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__", "hookimpl", "hookspec"]
