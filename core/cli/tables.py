"""Rich tables of run results: one run, and several runs side by side."""

from __future__ import annotations

from rich.table import Table

from lossybench.engine.results import RunResult


def _cell(value: float | None, bpp: float | None, flagged: int) -> str:
    if value is None:
        return "-"
    mark = "[yellow]*[/yellow]" if flagged else ""
    rate = f" [dim]@{bpp:.2f}[/dim]" if bpp is not None else ""
    return f"{value:.3f}{mark}{rate}"


def summary_table(result: RunResult) -> Table:
    head = result.task.headline
    clean = result.clean.metrics.get(head)
    clean_txt = f"{clean:.3f}" if clean is not None else "-"
    unit = "bpp" if result.settings.mode == "bpp" else "quality"
    t = Table(
        title=(
            f"{result.task.name} · {result.model.family}:{result.model.name} · "
            f"{result.dataset.name} ({result.dataset.images} images) · clean {head} {clean_txt}"
        ),
        title_justify="left",
        caption=f"{head} at each target {unit} [dim]@ real mean bpp[/dim]; "
        "[yellow]*[/yellow] = some images could not reach the target; "
        "robustness = area under the curve on 0.1–2 bpp / clean",
        caption_justify="left",
    )
    t.add_column("codec")
    for p in result.settings.points:
        t.add_column(f"{p:g}", justify="right")
    t.add_column(f"drop @{result.settings.points[0]:g}", justify="right")
    t.add_column("robustness", justify="right")
    for c in result.codecs:
        cells = [_cell(p.metrics.get(head), p.bpp_mean, p.flagged) for p in c.points]
        first = c.summary.at[0].relative_drop if c.summary.at else None
        drop = f"{100 * first:.1f}%" if first is not None else "-"
        rob = (
            f"{c.summary.robustness:.3f}" if c.summary.robustness is not None else "[dim]n/a[/dim]"
        )
        t.add_row(c.label, *cells, drop, rob)
    return t


def combined_table(results: list[RunResult]) -> Table:
    """One row per codec across several runs (the default suite: one run per task).

    Why: the per-run tables answer "how does this model degrade"; this one answers "which
    codec costs the least across tasks" at the lowest target and over the whole 0.1–2 bpp
    range, which is what people compare codecs by.
    """
    t = Table(
        title="summary · " + " · ".join(
            f"{r.task.name}: {r.model.name} on {r.dataset.name} ({r.dataset.images})"
            for r in results
        ),
        title_justify="left",
        caption="metric at the lowest target [dim]@ real mean bpp[/dim], its relative drop "
        "from clean, and robustness (area under the 0.1–2 bpp curve / clean); "
        "[yellow]*[/yellow] = some images could not reach the target",
        caption_justify="left",
    )
    t.add_column("codec")
    for r in results:
        low = r.settings.points[0]
        t.add_column(f"{r.task.name}\n{r.task.headline} @{low:g}", justify="right")
        t.add_column("drop", justify="right")
        t.add_column("robust.", justify="right")
    clean_row = []
    for r in results:
        clean = r.clean.metrics.get(r.task.headline)
        clean_row += [f"{clean:.3f}" if clean is not None else "-", "", ""]
    t.add_row("[bold]clean[/bold]", *clean_row, end_section=True)
    labels = list(dict.fromkeys(c.label for r in results for c in r.codecs))
    for label in labels:
        row = []
        for r in results:
            c = next((c for c in r.codecs if c.label == label), None)
            if c is None or not c.points:
                row += ["-", "-", "-"]
                continue
            p = c.points[0]
            first = c.summary.at[0].relative_drop if c.summary.at else None
            row.append(_cell(p.metrics.get(r.task.headline), p.bpp_mean, p.flagged))
            row.append(f"{100 * first:.1f}%" if first is not None else "-")
            row.append(f"{c.summary.robustness:.3f}" if c.summary.robustness is not None
                       else "[dim]n/a[/dim]")
        t.add_row(label, *row)
    return t


def notes(result: RunResult) -> list[str]:
    out = []
    for c in result.codecs:
        if c.summary.reason:
            out.append(f"{c.label}: robustness undefined: {c.summary.reason}")
        fails = sum(p.failures for p in c.points)
        if fails:
            out.append(f"{c.label}: {fails} failed (image, point) pairs; see the JSONL records")
    if result.clean.failures:
        out.append(f"{result.clean.failures} images failed to load; see the JSONL records")
    return out
