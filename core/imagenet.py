"""Moved to :mod:`lossybench.kits.imagenet`; this alias keeps plugins written against
lossybench 0.1 importing. New code imports the kit."""

from __future__ import annotations

import warnings

from lossybench.kits.imagenet import *  # noqa: F403

warnings.warn(
    "lossybench.imagenet moved to lossybench.kits.imagenet; import it from there",
    DeprecationWarning,
    stacklevel=2,
)
