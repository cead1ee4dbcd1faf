"""Moved to :mod:`lossybench.kits.neural_codec`; this alias keeps plugins written against
lossybench 0.1 importing. New code imports the kit."""

from __future__ import annotations

import warnings

from lossybench.kits.neural_codec import *  # noqa: F403

warnings.warn(
    "lossybench.neural_codec moved to lossybench.kits.neural_codec; import it from there",
    DeprecationWarning,
    stacklevel=2,
)
