"""How the board's numbers, ranges and marks are written: one wording for the page,
the Markdown and `bench leaderboard show`.
"""

from __future__ import annotations

from lossybench.leaderboard.ranking import BoardView
from lossybench.leaderboard.thresholds import Keep

#: how the page, the Markdown and `show` mark an entry entered without its records
UNVERIFIED = "unverified"
UNVERIFIED_WHY = ("entered without their per-image records, or without the ground truth to "
                  "recompute their metrics; their numbers were checked for consistency only")


def range_text(view: BoardView) -> str:
    """The common range as the page, the Markdown and `show` state it."""
    if view.common_range is None:
        return "no common range"
    lo, hi = view.common_range
    return f"{lo:.3g}–{hi:.3g} bpp"


def bd_rate_text(v: float | None, reason: str) -> str:
    return "ref" if reason == "reference" else "—" if v is None else f"{v:+.1%}"


def keep_sort(k: Keep) -> float | str:
    """A sort key: a bound sorts just beyond the measured rate it names."""
    if k.bpp is None:
        return ""
    return k.bpp * {"below": 1 - 1e-6, "above": 1 + 1e-6}.get(k.bound, 1.0)


def keep_head(f: float) -> str:
    return f"{f:.0%} kept at bpp"


def common_head(view: BoardView) -> str:
    return f"robustness {range_text(view)}"
