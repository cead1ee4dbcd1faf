"""`bench schema` and `bench report`: the result format and saved results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lossybench.cli.console import console, stdout
from lossybench.cli.paths import out_file


def schema_cmd() -> None:
    """Print the JSON Schema (draft 2020-12) of result files.

    Example: bench schema > result.schema.json
    """
    from lossybench.engine.results import shipped_schema

    stdout.print_json(json.dumps(shipped_schema()))


def report_cmd(
    results: Annotated[list[Path], typer.Argument(help="Result JSON files written by bench run.")],
    plot: Annotated[
        Path | None, typer.Option(help="Write an overlay plot here (PNG and SVG from the stem).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the results' summaries as JSON.")
    ] = False,
) -> None:
    """Re-render tables and plots from saved results; several runs overlay in one plot.

    Several results also get the combined per-codec summary (as `bench run` prints after
    the default suite).

    Examples:

      bench report results/*.json --plot results/overlay.png
    """
    from lossybench.cli.tables import combined_table, notes, summary_table
    from lossybench.engine.plots import plot_results
    from lossybench.engine.results import load_result

    if plot is not None:
        for path in (plot.with_suffix(".png"), plot.with_suffix(".svg")):
            out_file(path, "--plot")
    loaded = [load_result(p) for p in results]
    if as_json:
        stdout.print_json(
            json.dumps(
                [
                    {
                        "file": str(p),
                        "task": r.task.name,
                        "model": f"{r.model.family}:{r.model.name}",
                        "clean": r.clean.metrics,
                        "codecs": [
                            json.loads(c.summary.model_dump_json()) | {"label": c.label}
                            for c in r.codecs
                        ],
                    }
                    for p, r in zip(results, loaded, strict=True)
                ]
            )
        )
    else:
        for r in loaded:
            stdout.print(summary_table(r))
            for line in notes(r):
                console.print(f"[dim]{line}[/dim]")
        if len(loaded) > 1:
            stdout.print(combined_table(loaded))
    if plot is not None:
        for w in plot_results(loaded, plot.with_suffix("")):
            console.print(f"wrote {w}")
