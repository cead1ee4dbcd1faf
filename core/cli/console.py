"""One rich console and progress-bar style for every command."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

#: Human output goes to stderr so that stdout stays clean for --json.
console = Console(stderr=True)
stdout = Console()


def progress(disable: bool = False, info: bool = False) -> Progress:
    """The bar every command shows; ``info`` adds a column for each task's ``info`` field
    (e.g. the loss and learning rate while finetuning)."""
    columns = [
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *([TextColumn("{task.fields[info]}")] if info else []),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    ]
    return Progress(*columns, console=console, disable=disable, transient=False)
