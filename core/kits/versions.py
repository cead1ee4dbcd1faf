"""Versions of installed libraries, read without importing them.

Why: provenance and ``bench list`` must name torch's version without paying for
``import torch`` (seconds, and a gigabyte). torch's own ``__version__`` carries the
build's local tag (``2.14.1+cu130``) that its distribution metadata leaves out, so it is
read from ``torch/version.py`` — the same string ``torch.__version__`` gives.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def distribution_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def torch_version() -> str | None:
    """``torch.__version__``, from the module when loaded, else from its version file."""
    if "torch" in sys.modules:
        return str(sys.modules["torch"].__version__)
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError):
        return distribution_version("torch")
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(getattr(t, "id", None) == "__version__" for t in targets):
                value = node.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    return value.value
    return distribution_version("torch")
