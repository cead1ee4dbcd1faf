"""The ``bench`` application: global options, every command mounted, plugin commands.

Commands live one per module beside this one; this module only assembles them, so
no command module imports another and none imports this one.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Annotated

import typer

from lossybench import __version__
from lossybench.cli.cache import cache_app
from lossybench.cli.console import console, stdout
from lossybench.cli.finetune import finetune_cmd
from lossybench.cli.listing import list_cmd
from lossybench.cli.results import report_cmd, schema_cmd
from lossybench.cli.run import run_cmd
from lossybench.cli.sweep import sweep_cmd
from lossybench.errors import LossybenchError
from lossybench.registry import get_registry

app = typer.Typer(
    name="bench",
    help="lossybench: how much accuracy do vision models lose on lossy-compressed images?",
    rich_markup_mode=None,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

codecs_app = typer.Typer(
    help="Work with codecs alone: sweeps of bpp, PSNR and MS-SSIM.", no_args_is_help=True
)
codecs_app.command("sweep")(sweep_cmd)
app.add_typer(codecs_app, name="codecs")
app.command("list")(list_cmd)
app.command("run")(run_cmd)
app.add_typer(cache_app, name="cache")
app.command("schema")(schema_cmd)
app.command("report")(report_cmd)
app.command("finetune")(finetune_cmd)


def _version(value: bool) -> None:
    if value:
        stdout.print(f"lossybench {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    disable_plugin: Annotated[
        list[str] | None,
        typer.Option(
            "--disable-plugin",
            help="Do not load this plugin (entry-point or distribution name); repeatable. "
            "Also: LOSSYBENCH_DISABLE_PLUGINS=a,b. Example: --disable-plugin heic",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Measure what lossy compression costs visual recognition models.

    Examples:

      bench list

      bench codecs sweep --codec jpeg --codec webp --bpp 0.1,0.5,1
    """
    # the one registry of this invocation, for every command and plugin command:
    # they read it from the click context (lossybench.cli.context.registry)
    ctx.obj = get_registry(disable_plugin or [])


BUILTIN_COMMANDS = {"list", "codecs", "run", "schema", "report", "cache", "finetune"}


def _argv_disables(argv: list[str]) -> list[str]:
    """``--disable-plugin`` values, read before typer parses, to mount plugin commands."""
    out = []
    for i, arg in enumerate(argv):
        if arg == "--disable-plugin" and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif arg.startswith("--disable-plugin="):
            out.append(arg.split("=", 1)[1])
    return out


def mount_plugin_commands(argv: list[str]) -> None:
    """Add sub-commands that plugins provide (``bench leaderboard`` among them)."""
    reg = get_registry(_argv_disables(argv))
    for name, (sub_app, origin) in sorted(reg.commands.items()):
        if name in BUILTIN_COMMANDS:
            console.print(
                f"[yellow]{origin} may not replace the built-in command {name!r}[/yellow]"
            )
            continue
        app.add_typer(sub_app, name=name)


def main() -> None:
    # before torch loads: idle OpenMP threads sleep rather than spin, so inference can
    # use every core without slowing the codec worker processes (engine.run.execute.set_threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # third-party import-time deprecation noise is not the user's business
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*")
    try:
        mount_plugin_commands(sys.argv[1:])
        app()
    except LossybenchError as exc:
        console.print(f"[bold red]error:[/bold red] {exc}")
        sys.exit(2)
