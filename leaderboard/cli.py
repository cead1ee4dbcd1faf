"""``bench leaderboard ...``: validate, submit, show and render boards.

This is a typer app of its own, so the core never imports the leaderboard; the
``bench`` command mounts it, and ``python -m lossybench.leaderboard`` runs it alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lossybench.errors import LossybenchError
from lossybench.leaderboard.bootstrap import DEFAULT_BUDGET_S, DEFAULT_RESAMPLES, DEFAULT_SEED
from lossybench.leaderboard.safejson import (
    MAX_DEPTH,
    MAX_LINE_BYTES,
    MAX_RECORDS_BYTES,
    MAX_RESULT_BYTES,
    Limits,
    clean_text,
)
from lossybench.registry import invocation_registry as registry

app = typer.Typer(
    name="leaderboard",
    help="Validate submitted results, recompute and rank them, publish a static page.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
datasets_app = typer.Typer(help="Datasets (name and sha256) a board accepts.",
                           no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")

BoardOpt = Annotated[Path, typer.Option("--board", help="The board folder.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
RecordsOpt = Annotated[
    Path | None,
    typer.Option("--records", help="Per-image JSONL of the (single) result; default: the "
                 "result's file name with .jsonl, next to it."),
]
NoRecordsOpt = Annotated[
    bool, typer.Option("--no-records", help="Ignore per-image records even when present.")
]
MaxBytes = Annotated[int, typer.Option("--max-bytes", min=1, help="Cap on a result file.")]
MaxRecBytes = Annotated[
    int, typer.Option("--max-records-bytes", min=1, help="Cap on a JSONL file.")
]
MaxDepth = Annotated[int, typer.Option("--max-depth", min=1, help="Cap on JSON nesting.")]


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _records(records: Path | None, no_records: bool) -> Path | bool | None:
    return False if no_records else records


def _fail(exc: LossybenchError) -> typer.Exit:
    _err(f"error: {clean_text(exc, 1000)}")
    return typer.Exit(2)


def _print_reports(reports: list[Any]) -> None:
    for rep in reports:
        for p in rep.problems:
            _out(p.line())
        for n in rep.notes:
            _err(f"note: {clean_text(rep.file, 200)}: {clean_text(n, 400)}")


@app.command("validate")
def validate_cmd(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Result JSON files.")],
    records: RecordsOpt = None,
    no_records: NoRecordsOpt = False,
    as_json: JsonOpt = False,
    max_bytes: MaxBytes = MAX_RESULT_BYTES,
    max_records_bytes: MaxRecBytes = MAX_RECORDS_BYTES,
    max_depth: MaxDepth = MAX_DEPTH,
) -> None:
    """Check result files against the schema and every semantic rule; exit 1 if any fails.

    One line per problem: FILE: JSON-PATH: what is wrong.

    Example: bench leaderboard validate results/*.json
    """
    from lossybench.leaderboard.validate import dump_problems, validate_files

    limits = Limits(max_bytes, max_records_bytes, MAX_LINE_BYTES, max_depth)
    try:
        reports = validate_files(files, registry(ctx), _records(records, no_records), limits)
    except LossybenchError as exc:
        raise _fail(exc) from None
    if as_json:
        _out(dump_problems(reports))
    else:
        _print_reports(reports)
        bad = sum(1 for r in reports if not r.ok)
        _err(f"{len(reports) - bad} of {len(reports)} files valid")
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


@app.command("submit")
def submit_cmd(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Result JSON files (one transaction).")],
    board: BoardOpt,
    records: RecordsOpt = None,
    no_records: NoRecordsOpt = False,
    replace: Annotated[bool, typer.Option(help="Replace entries already on the board.")] = False,
    trust_dataset: Annotated[
        bool, typer.Option(help="Register the results' datasets (admin: you checked the data).")
    ] = False,
    require_records: Annotated[
        bool, typer.Option(help="Refuse results without their per-image JSONL.")
    ] = False,
    finetuned_from: Annotated[
        str | None,
        typer.Option(help="sha256 of the weights these models were finetuned from; links "
                     "each entry to its base entry for the recovered fraction."),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples (0: none).")
    ] = DEFAULT_RESAMPLES,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = DEFAULT_SEED,
    as_json: JsonOpt = False,
    max_bytes: MaxBytes = MAX_RESULT_BYTES,
    max_records_bytes: MaxRecBytes = MAX_RECORDS_BYTES,
    max_depth: MaxDepth = MAX_DEPTH,
) -> None:
    """Validate, recompute and add results to a board; all files or none.

    Example: bench leaderboard submit results/run.json --board board/
    """
    from lossybench.leaderboard.board import Board
    from lossybench.leaderboard.validate import dump_problems

    limits = Limits(max_bytes, max_records_bytes, MAX_LINE_BYTES, max_depth)
    try:
        outcome = Board(board).submit(
            files, registry(ctx), records=_records(records, no_records), limits=limits,
            replace=replace, trust_dataset=trust_dataset, require_records=require_records,
            finetuned_from=finetuned_from, resamples=bootstrap, seed=seed,
            budget_s=DEFAULT_BUDGET_S,
        )
    except LossybenchError as exc:
        raise _fail(exc) from None
    if as_json:
        payload = json.loads(dump_problems(outcome.reports))
        payload["accepted"] = [{"id": e.id, "model": e.model, "codec": e.codec_label,
                                "task": e.task, "dataset": e.dataset} for e in outcome.accepted]
        payload["replaced"] = outcome.replaced
        _out(json.dumps(payload, indent=2))
    else:
        _print_reports(outcome.reports)
        if outcome.ok:
            _err(f"accepted {len(outcome.accepted)} entries"
                 + (f" ({len(outcome.replaced)} replaced)" if outcome.replaced else "")
                 + f" into {board}")
        else:
            _err("rejected: the board is unchanged")
    if not outcome.ok:
        raise typer.Exit(1)


def _views(board: Path) -> list[Any]:
    from lossybench.leaderboard.board import Board
    from lossybench.leaderboard.ranking import board_views

    b = Board(board)
    return board_views(b.entries(b.index()))


@app.command("show")
def show_cmd(board: BoardOpt, as_json: JsonOpt = False) -> None:
    """Print the ranked boards (one per task and dataset) and the codec view.

    Example: bench leaderboard show --board board/ --json
    """
    try:
        views = _views(board)
    except LossybenchError as exc:
        raise _fail(exc) from None
    if as_json:
        _out(json.dumps({"boards": [v.as_dict() for v in views]}, indent=2))
        return
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: do not squeeze columns to 80
        console = Console(highlight=False, width=200)
    if not views:
        console.print("the board has no entries yet", markup=False)
    for table in _tables(views):
        console.print(table)


def _tables(views: list[Any]) -> list[Any]:
    from rich.table import Table
    from rich.text import Text

    from lossybench.leaderboard.ranking import CHECKPOINTS

    def num(v: float | None, spec: str = ".3f") -> Text:
        return Text("—", style="dim") if v is None else Text(format(v, spec))

    tables = []
    for v in views:
        t = Table(title=Text(f"{clean_text(v.task, 80)} · {clean_text(v.dataset, 80)} · "
                             f"{v.headline} · {v.images} images"), title_justify="left")
        for name in ["rank", "model", "codec", "clean", *[f"@{b:g}" for b in CHECKPOINTS],
                     f"drop@{CHECKPOINTS[0]:g}", "robustness [95% CI]", "BD vs JPEG",
                     "recovered", "note"]:
            t.add_column(name, justify="left" if name in ("model", "codec", "note") else "right")
        for r in v.rows:
            rob = num(r.robustness)
            if r.ci_low is not None and r.ci_high is not None:
                rob.append(f" [{r.ci_low:.3f}, {r.ci_high:.3f}]", style="dim")
            bd = Text("ref", style="dim") if r.bd_reason == "reference" else num(r.bd, "+.3f")
            t.add_row(
                Text(str(r.rank) if r.rank else "—"),
                Text(clean_text(r.model, 80) + (" (ft)" if r.finetuned_from else "")),
                Text(clean_text(r.codec_label, 60)), num(r.clean),
                *[num(r.at[f"{b:g}"]) for b in CHECKPOINTS], num(r.drop, ".1%"), rob, bd,
                num(r.recovered, ".0%") if r.finetuned_from else Text(""),
                Text(clean_text(r.unranked_reason, 120), style="dim"),
            )
        tables.append(t)
        c = Table(title=Text(f"codecs on {clean_text(v.dataset, 80)}: robustness averaged over "
                             "models"), title_justify="left")
        for name in ("rank", "codec", "mean", "std", "models", "note"):
            c.add_column(name, justify="left" if name in ("codec", "note") else "right")
        for row in v.codecs:
            c.add_row(Text(str(row.rank) if row.rank else "—"), Text(clean_text(row.codec, 60)),
                      num(row.mean), num(row.std), Text(str(row.models)),
                      Text(clean_text(row.reason, 120), style="dim"))
        tables.append(c)
    return tables


@app.command("render")
def render_cmd(
    board: BoardOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for index.html and leaderboard.md.")],
    title: Annotated[str, typer.Option(help="Page title.")] = "lossybench leaderboard",
) -> None:
    """Write a self-contained HTML page (sortable tables, plots) and a Markdown table.

    Example: bench leaderboard render --board board/ --out site/
    """
    import hashlib

    from lossybench.leaderboard.board import Board
    from lossybench.leaderboard.ranking import board_views
    from lossybench.leaderboard.render import write_site

    try:
        b = Board(board)
        views = board_views(b.entries(b.index()))
        digest = hashlib.sha256(b.index_path.read_bytes()).hexdigest()
        written = write_site(views, out, title, f"board index sha256 {digest[:16]}")
    except LossybenchError as exc:
        raise _fail(exc) from None
    for p in written:
        _err(f"wrote {p}")


@app.command("init")
def init_cmd(board: BoardOpt) -> None:
    """Create an empty board folder."""
    from lossybench.leaderboard.board import Board

    try:
        Board(board).init()
    except LossybenchError as exc:
        raise _fail(exc) from None
    _err(f"board ready at {board}; register datasets with `bench leaderboard datasets add`")


@app.command("remove")
def remove_cmd(
    board: BoardOpt, entry: Annotated[str, typer.Argument(help="Entry id (64 hex digits).")]
) -> None:
    """Remove one entry from a board."""
    from lossybench.leaderboard.board import Board

    try:
        Board(board).remove(entry)
    except LossybenchError as exc:
        raise _fail(exc) from None
    _err(f"removed {entry}")


@datasets_app.command("add")
def datasets_add(
    board: BoardOpt,
    name: Annotated[str, typer.Argument(help="Dataset name as results state it.")],
    sha256: Annotated[str, typer.Argument(help="The dataset fingerprint results state.")],
    images: Annotated[int | None, typer.Option(help="Number of images, if known.", min=0)] = None,
) -> None:
    """Register a dataset (name and sha256) the board accepts results for.

    Example: bench leaderboard datasets add --board board/ imagenet-samples 3f2a...
    """
    from lossybench.leaderboard.board import Board

    try:
        Board(board).add_dataset(name, sha256, images)
    except LossybenchError as exc:
        raise _fail(exc) from None
    _err(f"registered {name} {sha256}")


@datasets_app.command("list")
def datasets_list(board: BoardOpt, as_json: JsonOpt = False) -> None:
    """List the datasets a board accepts."""
    from lossybench.leaderboard.board import Board

    try:
        index = Board(board).index()
    except LossybenchError as exc:
        raise _fail(exc) from None
    if as_json:
        _out(json.dumps([d.model_dump() for d in index.datasets], indent=2))
        return
    for d in index.datasets:
        _out(f"{clean_text(d.name, 200)}  {d.sha256}  "
             f"{d.images if d.images is not None else '?'} images")


def main() -> None:
    app()
