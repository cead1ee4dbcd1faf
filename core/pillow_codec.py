"""Moved to :mod:`lossybench.kits.pillow_codec`; this alias keeps plugins written against
lossybench 0.1 importing. New code imports the kit."""

from __future__ import annotations

import warnings

from lossybench.kits.pillow_codec import *  # noqa: F403

warnings.warn(
    "lossybench.pillow_codec moved to lossybench.kits.pillow_codec; import it from there",
    DeprecationWarning,
    stacklevel=2,
)
