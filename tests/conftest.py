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


@pytest.fixture(scope="module")
def one_torch_thread():
    """For a module's duration, one torch thread: tests share 2 cores with other workers,
    and one thread avoids oversubscription (``pytestmark = usefixtures(...)``)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Keep the bitstream cache out of the user's home, shared by the session's runs."""
    import os

    old = os.environ.get("LOSSYBENCH_CACHE")
    os.environ["LOSSYBENCH_CACHE"] = str(tmp_path_factory.mktemp("bitstream-cache"))
    yield
    if old is None:
        os.environ.pop("LOSSYBENCH_CACHE", None)
    else:
        os.environ["LOSSYBENCH_CACHE"] = old


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run ``longest`` modules first (stable sort: the rest keep their order).

    ``pytest -n 2 --dist loadfile`` hands files to the workers in collection order; a
    module of several minutes collected last would run alone after everything else.
    """
    items.sort(key=lambda item: item.get_closest_marker("longest") is None)
