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
datasets_app = typer.Typer(help="Datasets (name, sha256 and ground truth) a board accepts.",
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
    bool, typer.Option("--no-records", help="Ignore per-image records even when present "
                       "(the result is then unverified: refused unless --allow-unverified).")
]
MaxBytes = Annotated[int, typer.Option("--max-bytes", min=1, help="Cap on a result file.")]
MaxRecBytes = Annotated[
    int, typer.Option("--max-records-bytes", min=1, help="Cap on a JSONL file.")
]
MaxDepth = Annotated[int, typer.Option("--max-depth", min=1, help="Cap on JSON nesting.")]
UnverifiedOpt = Annotated[
    bool, typer.Option("--allow-unverified",
                       help="Accept a result without its per-image JSONL (only its stated "
                       "numbers' consistency is checked); on submit, only for a board made "
                       "with `init --allow-unverified`, whose page marks such entries.")
]


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
    allow_unverified: UnverifiedOpt = False,
    as_json: JsonOpt = False,
    max_bytes: MaxBytes = MAX_RESULT_BYTES,
    max_records_bytes: MaxRecBytes = MAX_RECORDS_BYTES,
    max_depth: MaxDepth = MAX_DEPTH,
) -> None:
    """Check result files against the schema and every semantic rule; exit 1 if any fails.

    One line per problem: FILE: JSON-PATH: what is wrong. A result needs its per-image
    JSONL (next to it, or --records) unless --allow-unverified.

    Example: bench leaderboard validate results/*.json
    """
    from lossybench.leaderboard.validate import dump_problems, validate_files

    limits = Limits(max_bytes, max_records_bytes, MAX_LINE_BYTES, max_depth)
    try:
        reports = validate_files(files, registry(ctx), _records(records, no_records), limits,
                                 require_records=not allow_unverified)
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
    allow_unverified: UnverifiedOpt = False,
    require_records: Annotated[
        bool, typer.Option(hidden=True, help="The default now; kept for old scripts.")
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
            replace=replace, trust_dataset=trust_dataset,
            allow_unverified=allow_unverified and not require_records,
            finetuned_from=finetuned_from, resamples=bootstrap, seed=seed,
            budget_s=DEFAULT_BUDGET_S,
        )
    except LossybenchError as exc:
        raise _fail(exc) from None
    if as_json:
        payload = json.loads(dump_problems(outcome.reports))
        payload["accepted"] = [{"id": e.id, "model": e.model, "codec": e.codec_label,
                                "task": e.task, "dataset": e.dataset, "verified": e.verified}
                               for e in outcome.accepted]
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


def _views(board: Path) -> tuple[list[Any], set[str]]:
    """The board's views, and the ids of its unverified entries (entered without records)."""
    from lossybench.leaderboard.board import Board
    from lossybench.leaderboard.ranking import board_views

    b = Board(board)
    entries = b.entries(b.index())
    return board_views(entries), {e.id for e in entries if not e.verified}


@app.command("show")
def show_cmd(board: BoardOpt, as_json: JsonOpt = False) -> None:
    """Print the ranked boards (one per task and dataset) and the codec view.

    Example: bench leaderboard show --board board/ --json
    """
    try:
        views, unverified = _views(board)
    except LossybenchError as exc:
        raise _fail(exc) from None
    if as_json:
        boards = [v.as_dict() for v in views]
        for bv in boards:
            for row in bv["rows"]:
                row["verified"] = row["id"] not in unverified
        _out(json.dumps({"boards": boards}, indent=2))
        return
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: do not squeeze columns to 80
        console = Console(highlight=False, width=200)
    if not views:
        console.print("the board has no entries yet", markup=False)
    for table in _tables(views, unverified):
        console.print(table)
    if unverified:
        console.print(f"(unverified): {len(unverified)} entries were entered without their "
                      "per-image records; their numbers were checked for consistency only",
                      markup=False)


def _tables(views: list[Any], unverified: set[str] | frozenset[str] = frozenset()) -> list[Any]:
    from lossybench.leaderboard.show_tables import show_tables

    return show_tables(views, unverified)


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
    from lossybench.leaderboard.render import write_site

    try:
        views, unverified = _views(board)
        digest = hashlib.sha256(Board(board).index_path.read_bytes()).hexdigest()
        written = write_site(views, out, title, f"board index sha256 {digest[:16]}",
                             unverified)
    except LossybenchError as exc:
        raise _fail(exc) from None
    for p in written:
        _err(f"wrote {p}")


@app.command("init")
def init_cmd(
    board: BoardOpt,
    allow_unverified: Annotated[
        bool | None,
        typer.Option("--allow-unverified/--require-records",
                     help="Whether the board takes results without their per-image JSONL "
                     "(submitted with --allow-unverified, shown as unverified). A new board "
                     "requires records; on an existing board, omitted keeps its setting."),
    ] = None,
) -> None:
    """Create an empty board folder (or change an existing board's setting).

    Example: bench leaderboard init --board board/
    """
    from lossybench.leaderboard.board import Board

    try:
        index = Board(board).init(allow_unverified)
    except LossybenchError as exc:
        raise _fail(exc) from None
    mode = ("takes unverified results (--allow-unverified)" if index.allow_unverified
            else "requires the per-image records of every result")
    _err(f"board ready at {board}; it {mode}; register datasets with "
         "`bench leaderboard datasets add`")


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
    ctx: typer.Context,
    board: BoardOpt,
    name: Annotated[str, typer.Argument(
        help="The dataset as `bench run --dataset` takes it, NAME[:LOCATION]: it is opened, "
        "fingerprinted, and its ground truth stored (detection, segmentation). With SHA256: "
        "only that name and fingerprint are registered.")],
    sha256: Annotated[str | None, typer.Argument(
        help="Register by name and fingerprint only (the sha256 results state).")] = None,
    images: Annotated[int | None, typer.Option(
        help="With SHA256: the number of images, if known.", min=0)] = None,
    limit: Annotated[list[int] | None, typer.Option(
        "--limit", min=1, help="Register the first N images, the dataset a `bench run "
        "--limit N` result states (repeat for several N); default: all of it.")] = None,
) -> None:
    """Register a dataset the board accepts results for, from its data or by its sha256.

    From its data, the board stores the dataset's fingerprint and, for detection and
    segmentation, the ground truth their results' metrics are recomputed against.

    Example: bench leaderboard datasets add --board board/ scenes-detection --limit 20
    """
    from lossybench.leaderboard.board import Board

    if sha256 is not None:
        if limit:
            raise _fail(LossybenchError("--limit opens the dataset to fingerprint it; give "
                                        "NAME[:LOCATION] without a SHA256"))
        try:
            Board(board).add_dataset(name, sha256, images)
        except LossybenchError as exc:
            raise _fail(exc) from None
        _err(f"registered {clean_text(name, 200)} {sha256} (name and sha256 only)")
        return
    if images is not None:
        raise _fail(LossybenchError("--images goes with a SHA256; a dataset opened from its "
                                    "data is counted"))
    from lossybench.leaderboard.groundtruth_build import collect

    try:
        found = collect(name, registry(ctx), limit or ())
        added = Board(board).register(found)
    except LossybenchError as exc:
        raise _fail(exc) from None
    for d in added:
        gt = (f" with its {clean_text(found.task or '', 40)} ground truth ({d.ground_truth.file})"
              if d.ground_truth is not None else " (its task needs no ground truth)")
        _err(f"registered {clean_text(d.name, 200)} {d.sha256} ({d.images} images){gt}")


@datasets_app.command("list")
def datasets_list(board: BoardOpt, as_json: JsonOpt = False) -> None:
    """List the datasets a board accepts."""
    from lossybench.leaderboard.board import Board

    try:
        index = Board(board).index()
    except LossybenchError as exc:
        raise _fail(exc) from None
    if as_json:
        _out(json.dumps([d.model_dump(mode="json") for d in index.datasets], indent=2))
        return
    for d in index.datasets:
        gt = (f"  {clean_text(d.ground_truth.task, 40)} ground truth"
              if d.ground_truth is not None else "")
        _out(f"{clean_text(d.name, 200)}  {d.sha256}  "
             f"{d.images if d.images is not None else '?'} images{gt}")


def main() -> None:
    app()
