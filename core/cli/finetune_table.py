"""The rich table of a finetune report."""

from __future__ import annotations

from typing import Any


def report_table(report: dict[str, Any]) -> Any:
    """A rich table: clean and each codec × target, before → after, recovered share."""
    from rich.table import Table

    s = report["summary"]
    head = s["headline"]

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}"

    def delta(a: float | None, b: float | None) -> str:
        return "-" if a is None or b is None else f"{100 * (a - b):+.1f}"

    t = Table(
        title=f"Finetune of {report['base']['family']}:{report['base']['name']} — {head} (×100)"
        f" on {report['val']['name']} ({report['val']['images']} images)",
        title_justify="left",
    )
    for col in ("codec", "target bpp", "bpp", "before", "after", "change", "recovered"):
        t.add_column(col, justify="left" if col == "codec" else "right")
    t.add_row("clean", "-", "-", pct(s["clean_before"]), pct(s["clean_after"]),
              delta(s["clean_after"], s["clean_before"]), "-")
    for r in s["points"]:
        frac = r["recovered_fraction"]
        t.add_row(
            r["codec"], f"{r['target']:g}",
            "-" if r["bpp_mean"] is None else f"{r['bpp_mean']:.3f}",
            pct(r["before"]), pct(r["after"]), delta(r["after"], r["before"]),
            f"{100 * frac:.0f} %" if frac is not None else f"[dim]{r['note']}[/dim]",
        )
    ip = report.get("interpolation")
    if ip:
        t.caption = (
            f"weights = base + {ip['alpha']:.3g} × (finetuned − base): the largest share "
            f"keeping the clean loss ≤ {100 * ip['max_clean_drop']:.1f} points on "
            f"{ip['selection_images']} {ip['selection']}"
        )
        t.caption_justify = "left"
    return t


def seeds_table(data: dict[str, Any]) -> Any:
    """A rich table of ``bench finetune --seeds N``: every figure as mean ± std."""
    from rich.table import Table

    def pm(cell: dict[str, Any], scale: float = 100.0, sign: bool = False,
           digits: int = 1) -> str:
        if cell["mean"] is None:
            return "-"
        mean = f"{scale * cell['mean']:{'+' if sign else ''}.{digits}f}"
        return mean if cell["std"] is None else f"{mean} ± {scale * cell['std']:.{digits}f}"

    t = Table(
        title=f"Finetune over seeds {', '.join(map(str, data['seeds']))} — "
        f"{data['headline']} (×100), mean ± std",
        title_justify="left",
    )
    for col in ("codec", "target bpp", "before", "after", "change", "recovered %"):
        t.add_column(col, justify="left" if col == "codec" else "right")
    t.add_row("clean", "-", pm(data["clean_before"]), pm(data["clean_after"]),
              pm(data["clean_change"], sign=True), "-")
    alpha = data.get("alpha") or {"n": 0}
    if alpha["n"]:
        t.caption = f"weights interpolated towards the base: alpha {pm(alpha, scale=1.0, digits=2)}"
    for r in data["points"]:
        change = pm(r["change"], sign=True) if "change" in r else "-"
        t.add_row(r["codec"], f"{r['target']:g}", pm(r["before"]), pm(r["after"]),
                  change, pm(r["recovered_fraction"]))
    return t
