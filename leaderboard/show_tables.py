"""The rich tables `bench leaderboard show` prints: entries by rank, then the codecs.

Every string from the board goes through :func:`clean_text` (control and bidi
characters escaped, length capped), and into ``Text`` objects, never rich markup.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from lossybench.engine.aggregate import AREA_RANGE
from lossybench.leaderboard.ranking import CHECKPOINTS, BoardView, Row
from lossybench.leaderboard.safejson import clean_text
from lossybench.leaderboard.texts import bd_rate_text, keep_head, range_text
from lossybench.leaderboard.thresholds import FRACTIONS


def _note(r: Row) -> str:
    """Why a number is missing: not ranked, no interval, no BD-rate."""
    parts = [r.common_reason or r.common_ci_reason]
    if r.bd_rate is None and r.bd_rate_reason:
        parts.append(f"BD-rate: {r.bd_rate_reason}")
    return "; ".join(p for p in parts if p)


def show_tables(views: Sequence[BoardView], unverified: Collection[str] = ()) -> list[Any]:
    """Two tables per board: its entries (by rank on the common range) and its codecs."""
    from rich.table import Table
    from rich.text import Text

    def num(v: float | None, spec: str = ".3f") -> Text:
        return Text("—", style="dim") if v is None else Text(format(v, spec))

    def score(v: float | None, lo: float | None, hi: float | None) -> Text:
        t = num(v)
        if v is not None and lo is not None and hi is not None:
            t.append(f" [{lo:.3f}, {hi:.3f}]", style="dim")
        return t

    full = f"{AREA_RANGE[0]:g}–{AREA_RANGE[1]:g}"
    tables = []
    for v in views:
        title = Text(f"{clean_text(v.task, 80)} · {clean_text(v.dataset, 80)} · {v.headline} · "
                     f"{v.images} images · ranked on the common range {range_text(v)}")
        if v.common_note:
            title.append(f" ({v.common_note})", style="dim")
        t = Table(title=title, title_justify="left")
        for name in ["rank", "model", "codec", "clean", "robustness [95% CI]",
                     *[keep_head(f).replace(" kept at bpp", " at bpp") for f in FRACTIONS],
                     "BD-rate vs JPEG", f"robustness {full} [95% CI]",
                     f"@{CHECKPOINTS[0]:g}", "BD-metric", "recovered", "note"]:
            t.add_column(name, justify="left" if name in ("model", "codec", "note") else "right")
        for r in v.ranked():
            keep = [Text(r.keep[f"{f:g}"].text()) for f in FRACTIONS]
            bd = Text("ref", style="dim") if r.bd_reason == "reference" else num(r.bd, "+.3f")
            t.add_row(
                Text(str(r.common_rank) if r.common_rank else "—"),
                Text(clean_text(r.model, 80) + (" (ft)" if r.finetuned_from else "")
                     + (" (unverified)" if r.id in unverified else "")),
                Text(clean_text(r.codec_label, 60)), num(r.clean),
                score(r.common, r.common_low, r.common_high), *keep,
                Text(bd_rate_text(r.bd_rate, r.bd_rate_reason)),
                score(r.robustness, r.ci_low, r.ci_high),
                num(r.at[f"{CHECKPOINTS[0]:g}"]), bd,
                num(r.recovered, ".0%") if r.finetuned_from else Text(""),
                Text(clean_text(_note(r), 200), style="dim"),
            )
        tables.append(t)
        c = Table(title=Text(f"codecs on {clean_text(v.dataset, 80)}, averaged over models "
                             f"(BD-rate against each model's JPEG entry at equal {v.headline})"),
                  title_justify="left")
        for name in ("rank", "codec", f"robustness {range_text(v)}", "BD-rate vs JPEG",
                     "BD-rate per model", f"robustness {full}", "std", "models", "note"):
            c.add_column(name, justify="left" if name in ("codec", "note", "BD-rate per model")
                         else "right")
        for row in sorted(v.codecs, key=lambda c: (c.common_rank is None, c.common_rank or 0,
                                                   c.codec)):
            per = "; ".join(f"{clean_text(m, 60)}: {bd_rate_text(x, row.bd_rate_reason)}"
                            for m, x in row.bd_rate_models.items())
            c.add_row(Text(str(row.common_rank) if row.common_rank else "—"),
                      Text(clean_text(row.codec, 60)),
                      num(row.common_mean),
                      Text(bd_rate_text(row.bd_rate_mean, row.bd_rate_reason)), Text(per),
                      num(row.mean), num(row.std), Text(str(row.models)),
                      Text(clean_text(row.reason, 120), style="dim"))
        tables.append(c)
    return tables
