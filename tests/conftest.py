"""Shared fixtures: real photos that ship inside installed packages (no downloads)."""

from __future__ import annotations

import numpy as np
import pytest

from lossybench.image import load_image
from lossybench.plugins.datasets.package_photos import photo_path


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return load_image(photo_path("astronaut"))


@pytest.fixture(scope="session")
def chelsea() -> np.ndarray:
    return load_image(photo_path("chelsea"))


@pytest.fixture(scope="session")
def registry():
    from lossybench.registry import load_registry

    return load_registry()
