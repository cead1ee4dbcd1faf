"""The pluggy markers, kept apart so plugins can import them without loading the core."""

from __future__ import annotations

import pluggy

PROJECT = "lossybench"
ENTRY_POINT_GROUP = "lossybench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
