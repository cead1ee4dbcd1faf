"""Progress hooks a front end passes to a finetune (the CLI draws rich progress bars)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Callbacks:
    """Progress hooks for a front end (the CLI draws rich progress bars with them)."""

    on_phase: Callable[[str, int], None] = lambda name, total: None
    on_eval_image: Callable[[], None] = lambda: None
    on_step: Callable[[dict[str, Any]], None] = lambda info: None
    on_message: Callable[[str], None] = lambda text: None
