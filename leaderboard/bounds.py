"""The limits a stated number or name must keep, shared by every layer of checks.

The result's own fields and the per-image records are checked in different modules;
keeping the bounds and the tolerance here makes both accept and reject the same values.
"""

from __future__ import annotations

import math

#: Stated and recomputed aggregates must agree this closely (relative).
REL_TOL = 1e-9
ABS_TOL = 1e-12
#: Bit rates: above 24 bpp a "lossy" image is bigger than raw 8-bit RGB.
MAX_BPP = 24.0
#: PSNR of 8-bit images is finite and far below this.
MAX_PSNR = 200.0


def same(a: float | None, b: float | None) -> bool:
    """Equal within the recomputation tolerance; None only equals None."""
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def is_traversal(value: str) -> bool:
    """Whether a name holds ``..``, ``.`` or a leading ``/`` (it could name a path)."""
    if "." not in value and not value.startswith("/"):
        return False
    parts = value.replace("\\", "/").split("/")
    return value.startswith("/") or any(p in ("..", ".") for p in parts)
