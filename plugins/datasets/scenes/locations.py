"""Where a scenes dataset lives: the ``[val|train|DIR][,split=NAME][,images=N]`` location.

Why: the benchmark generates its data on first use, so a dataset name alone must map
to a stable folder in the user cache (``LOSSYBENCH_SCENES_DIR`` overrides it), while a
directory or another image count can still be asked for.
"""

from __future__ import annotations

import os
from pathlib import Path

from lossybench.errors import DatasetError
from lossybench.plugins.datasets.scenes.spec import SPLITS


def cache_root() -> Path:
    """Where splits are generated on first use (``LOSSYBENCH_SCENES_DIR`` overrides)."""
    env = os.environ.get("LOSSYBENCH_SCENES_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("lossybench")) / "scenes" / "v1"


def parse_location(location: str | None) -> tuple[Path, str, int | None]:
    """``[val|train|DIR][,split=NAME][,images=N]`` → (folder, split, image count)."""
    head, *opts = (location or "val").split(",")
    head = head.strip() or "val"
    split, images = "val", None
    for opt in opts:
        key, eq, value = (s.strip() for s in opt.partition("="))
        if not eq or key not in ("split", "images"):
            raise DatasetError(
                f"scenes: unknown option {opt!r}; use [val|train|DIR][,split=NAME][,images=N]"
            )
        if key == "split":
            split = value
        else:
            try:
                images = int(value)
            except ValueError:
                raise DatasetError(f"scenes: images={value!r} is not an integer") from None
            if images < 1:
                raise DatasetError("scenes: images must be at least 1")
    if head in SPLITS:
        split = head
        folder = cache_root() / split if images in (None, SPLITS[split].images) else (
            cache_root() / f"{split}-{images}"
        )
    else:
        folder = Path(head).expanduser()
    if split not in SPLITS:
        raise DatasetError(f"scenes: unknown split {split!r}; have {', '.join(SPLITS)}")
    return folder, split, images
