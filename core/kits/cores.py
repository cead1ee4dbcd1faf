"""How many CPUs this process may use: one answer for workers, threads and codecs."""

from __future__ import annotations

import os


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask on Linux), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
