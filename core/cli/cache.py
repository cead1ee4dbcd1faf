"""`bench cache`: where the bitstream cache is, what it holds, pruning."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from lossybench.cli.console import console, stdout
from lossybench.cli.options import CacheDir
from lossybench.cli.parse import parse_size
from lossybench.errors import OutOfRangeError

cache_app = typer.Typer(
    help="The on-disk bitstream cache: what it holds, pruning.", no_args_is_help=True
)


@cache_app.command("info")
def cache_info_cmd(
    cache: CacheDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Where the cache is and how much it holds.

    Example: bench cache info
    """
    from lossybench.engine.cache import CodecCache

    info = CodecCache(cache).info()
    if as_json:
        stdout.print_json(json.dumps(info))
        return
    t = Table(title="Bitstream cache", title_justify="left", show_header=False)
    for k, v in info.items():
        t.add_row(k, f"{v / 1e6:.1f} MB" if k == "bytes" else str(v))
    stdout.print(t)


@cache_app.command("prune")
def cache_prune_cmd(
    cache: CacheDir = None,
    max_size: Annotated[
        str | None,
        typer.Option(help="Keep the most recently used files within this size, e.g. 5GB or 500MB."),
    ] = None,
    older_than: Annotated[
        float | None, typer.Option(help="Delete files not used for this many days.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Delete everything.")] = False,
) -> None:
    """Free space: by size (least recently used first), by age, or everything.

    Examples:

      bench cache prune --max-size 5GB

      bench cache prune --older-than 30
    """
    from lossybench.engine.cache import CodecCache

    if max_size is None and older_than is None and not all_:
        raise OutOfRangeError("say what to prune: --max-size SIZE, --older-than DAYS or --all")
    out = CodecCache(cache).prune(
        max_bytes=parse_size(max_size) if max_size else None,
        older_than_days=older_than,
        everything=all_,
    )
    console.print(f"removed {out['removed_files']} files, freed {out['freed_bytes'] / 1e6:.1f} MB")
