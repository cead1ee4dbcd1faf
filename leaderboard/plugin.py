"""The leaderboard as a lossybench plugin: it adds ``bench leaderboard ...``.

The core never imports the leaderboard; it mounts the sub-commands that plugins return
from the ``lossybench_commands`` hook. Register this module under the ``lossybench``
entry-point group (``leaderboard = "lossybench.leaderboard.plugin"``).
"""

from __future__ import annotations

from typing import Any

from lossybench.markers import hookimpl


@hookimpl
def lossybench_commands() -> list[tuple[str, Any]]:
    from lossybench.leaderboard.cli import app

    return [("leaderboard", app)]
