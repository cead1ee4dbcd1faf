"""A self-contained static page and a Markdown table from a board.

The page loads nothing from the network: CSS and JS are inline, plots are PNG data
URIs, and a Content-Security-Policy allows only the page's own script (by hash), so
even a string that escaped escaping could not run. Every string from the board goes
through :func:`html.escape`; Markdown cells escape its special characters.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Collection, Sequence
from pathlib import Path

from lossybench.engine.aggregate import AREA_RANGE, COVER_TOLERANCE
from lossybench.leaderboard.markdown import md_escape, render_markdown
from lossybench.leaderboard.page_assets import CSS, JS, csp
from lossybench.leaderboard.ranking import CHECKPOINTS, BoardView, CodecRow, Row
from lossybench.leaderboard.texts import (
    UNVERIFIED,
    UNVERIFIED_WHY,
    bd_rate_text,
    common_head,
    keep_head,
    keep_sort,
    range_text,
)
from lossybench.leaderboard.thresholds import FRACTIONS, Threshold

__all__ = ["UNVERIFIED", "UNVERIFIED_WHY", "esc", "md_escape", "plot_png", "render_html",
           "render_markdown", "write_site"]

def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _mpl_label(text: str) -> str:
    """A legend label matplotlib draws literally (no mathtext, not hidden by a leading _)."""
    return text.replace("\\", "\\\\").replace("$", r"\$").lstrip("_")[:60]


def plot_png(view: BoardView) -> bytes:
    """Rate–accuracy curves of one board (headline metric vs mean bpp, log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.6), dpi=100)
    try:
        if view.common_range is not None:
            ax.axvspan(*view.common_range, color="#eef2fb", zorder=0,
                       label=f"ranked range {range_text(view)}")
        for x in AREA_RANGE:
            ax.axvline(x, color="#9aa3b5", lw=0.8, ls=":", zorder=0)
        markers = "os^DvP*Xh<>"
        shown = [r for r in view.ranked() if r.points][:24]
        for k, r in enumerate(shown):
            xs = [b for b, _ in r.points]
            ys = [m for _, m in r.points]
            label = f"{r.model} · {r.codec_label}" + (" (finetuned)" if r.finetuned_from else "")
            ax.plot(xs, ys, marker=markers[k % len(markers)], ms=4, lw=1.4,
                    ls="--" if r.finetuned_from else "-", label=_mpl_label(label))
        ax.set_xscale("log", base=2)
        ax.set_xlabel("bits per pixel (mean of real bitstreams)")
        ax.set_ylabel(_mpl_label(view.headline))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right", ncols=2 if len(shown) > 8 else 1)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
        return buf.getvalue()
    finally:
        plt.close(fig)


def _td(text: str, sort: str | float | None = None, cls: str = "", title: str = "") -> str:
    attrs = []
    if sort is not None:
        attrs.append(f'data-sort="{esc(sort)}"')
    if cls:
        attrs.append(f'class="{cls}"')
    if title:
        attrs.append(f'title="{esc(title)}"')
    return f"<td {' '.join(attrs)}>{text}</td>" if attrs else f"<td>{text}</td>"


def _val(v: float | None, reason: str, spec: str = ".3f") -> str:
    if v is None:
        return _td("—", "", "na", reason)
    return _td(esc(format(v, spec)), repr(v))


def entry_columns(view: BoardView) -> list[tuple[str, str, str]]:
    return [
        ("rank", "number", "asc"), ("model", "text", ""), ("codec", "text", ""),
        ("clean", "number", "desc"), (f"{common_head(view)} [95% CI]", "number", "desc"),
        *[(keep_head(f), "number", "asc") for f in FRACTIONS],
        ("BD-rate vs JPEG", "number", "asc"),
        (f"robustness {AREA_RANGE[0]:g}–{AREA_RANGE[1]:g} bpp [95% CI]", "number", "desc"),
        *[(f"@{b:g} bpp", "number", "desc") for b in CHECKPOINTS],
        (f"drop @{CHECKPOINTS[0]:g}", "number", "asc"), ("BD-metric vs JPEG", "number", "desc"),
        ("recovered", "number", "desc"), ("backend", "text", ""), ("note", "text", ""),
    ]


def _score(v: float | None, lo: float | None, hi: float | None, why: str, ci_why: str) -> str:
    if v is None:
        return _td("—", "", "na", why)
    ci = (f' <span class="ci">[{lo:.3f}, {hi:.3f}]</span>'
          if lo is not None and hi is not None else "")
    return _td(esc(f"{v:.3f}") + ci, repr(v), "", ci_why or "95% bootstrap interval over images")


def _keep(t: Threshold) -> str:
    v = t.value
    if v.bpp is None:
        return _td("—", "", "na", v.reason)
    ci = ""
    if t.low is not None and t.high is not None:
        ci = f' <span class="ci">[{esc(t.low.text())}, {esc(t.high.text())}]</span>'
    title = {"below": "keeps the level at every measured rate",
             "above": "below the level even at its highest measured rate"}.get(v.bound, "")
    title = "; ".join(x for x in (title, t.ci_reason or "95% bootstrap interval") if x)
    return _td(esc(v.text()) + ci, keep_sort(v), "", title)


def _bd_rate(v: float | None, reason: str) -> str:
    if reason == "reference":
        return _td("ref", "0.0", "na", "this is the JPEG reference of the model")
    return _td(esc(bd_rate_text(v, reason)), "" if v is None else repr(v),
               "na" if v is None else "", reason)


def _entry_row(r: Row, unverified: Collection[str] = ()) -> str:
    rank = r.common_rank
    marks = (' <span class="ci">finetuned</span>' if r.finetuned_from else "") + (
        f' <span class="ci">{UNVERIFIED}</span>' if r.id in unverified else "")
    cells = [
        _td(str(rank) if rank else "—", rank if rank else "", "" if rank else "na",
            r.common_reason),
        _td(esc(r.model) + marks, r.model.lower(), "t",
            f"weights sha256 {r.weights_sha256 or 'none (random)'}"),
        _td(esc(r.codec_label), r.codec_label.lower(), "t"),
        _val(r.clean, "no clean metric"),
        _score(r.common, r.common_low, r.common_high, r.common_reason, r.common_ci_reason),
        *[_keep(r.keep[f"{f:g}"]) for f in FRACTIONS],
        _bd_rate(r.bd_rate, r.bd_rate_reason),
        _score(r.robustness, r.ci_low, r.ci_high, r.unranked_reason, r.ci_reason),
    ]
    cells += [_val(r.at[f"{b:g}"], r.at_reason[f"{b:g}"]) for b in CHECKPOINTS]
    cells.append(_val(r.drop, r.drop_reason, ".1%"))
    if r.bd_reason == "reference":
        cells.append(_td("ref", "0.0", "na", "this is the JPEG reference of the model"))
    else:
        cells.append(_val(r.bd, r.bd_reason, "+.3f"))
    if r.finetuned_from:
        cells.append(_val(r.recovered, r.recovered_reason, ".0%"))
    else:
        cells.append(_td("", "", "na"))
    cells.append(_td(esc(r.backend), r.backend.lower(), "t wrap-text"))
    note = r.common_reason or r.common_ci_reason
    cells.append(_td(esc(note), note.lower(), "t wrap-text"))
    cls = ' class="unranked"' if rank is None else ""
    return f"<tr{cls} data-id=\"{esc(r.id)}\">" + "".join(cells) + "</tr>"


def _codec_row(c: CodecRow) -> str:
    per_model = "; ".join(f"{m}: {bd_rate_text(v, c.bd_rate_reason)}"
                          for m, v in c.bd_rate_models.items())
    return ("<tr>"
            + _td(str(c.common_rank) if c.common_rank else "—", c.common_rank or "",
                  "" if c.common_rank else "na", "" if c.common_rank else "not scored")
            + _td(esc(c.codec), c.codec.lower(), "t")
            + _val(c.common_mean, "no entry with this codec is scored on the common range")
            + _bd_rate(c.bd_rate_mean, c.bd_rate_reason)
            + _td(esc(per_model), per_model.lower(), "t wrap-text")
            + _val(c.mean, c.reason) + _val(c.std, c.reason) + _td(str(c.models), c.models)
            + "</tr>")


def _head(cols: Sequence[tuple[str, str, str]]) -> str:
    ths = []
    for name, kind, first in cols:
        cls = ' class="t"' if kind == "text" else ""
        extra = f' data-first="{first}"' if first else ""
        ths.append(f'<th scope="col" data-type="{kind}"{extra}{cls} aria-sort="none">'
                   f"{esc(name)}</th>")
    return "<thead><tr>" + "".join(ths) + "</tr></thead>"


def _board_section(k: int, v: BoardView, unverified: Collection[str] = ()) -> str:
    png = base64.b64encode(plot_png(v)).decode()
    alt = f"{v.headline} against bits per pixel for {len(v.rows)} entries"
    rows = v.ranked()
    ranked = sum(1 for r in rows if r.common_rank is not None)
    body = "".join(_entry_row(r, unverified) for r in rows)
    marked = sum(1 for r in rows if r.id in unverified)
    note = (f'<p class="note">{marked} {UNVERIFIED} entries: {esc(UNVERIFIED_WHY)}.</p>'
            if marked else "")
    codec_rows = "".join(_codec_row(c) for c in sorted(
        v.codecs, key=lambda c: (c.common_rank is None, c.common_rank or 0, c.codec)))
    codec_cols = [("rank", "number", "asc"), ("codec", "text", ""),
                  (f"mean robustness {range_text(v)}", "number", "desc"),
                  ("mean BD-rate vs JPEG", "number", "asc"), ("BD-rate per model", "text", ""),
                  (f"mean robustness {AREA_RANGE[0]:g}–{AREA_RANGE[1]:g} bpp", "number", "desc"),
                  ("std over models", "number", "asc"), ("models", "number", "desc")]
    common = (f"ranked on <b>{esc(range_text(v))}</b>, the rates all its entries were measured at"
              if v.common_range else "no rate range to rank on")
    cnote = f'<p class="note">{esc(v.common_note)}.</p>' if v.common_note else ""
    return f"""
<section id="board-{k}">
<h2>{esc(v.task)} · {esc(v.dataset)}</h2>
<p class="meta">headline metric <b>{esc(v.headline)}</b> · {v.images} images · dataset sha256
<code>{esc(v.dataset_sha256)}</code> · {common} · {ranked} of {len(rows)} entries ranked</p>
{cnote}<figure><img class="plot" src="data:image/png;base64,{png}" alt="{esc(alt)}" width="800"
height="460"><figcaption>{esc(v.headline)} vs bpp (log scale); the shaded band is the ranked
range {esc(range_text(v))}, the dotted lines {AREA_RANGE[0]:g} and {AREA_RANGE[1]:g} bpp.
</figcaption></figure>
<div class="wrap"><table class="sortable entries" id="entries-{k}">{_head(entry_columns(v))}
<tbody>{body}</tbody></table></div>{note}
<h3>Codecs (averaged over models; BD-rate against each model's JPEG entry)</h3>
<div class="wrap"><table class="sortable codecs" id="codecs-{k}">{_head(codec_cols)}
<tbody>{codec_rows}</tbody></table></div>
</section>"""


def render_html(views: Sequence[BoardView], title: str = "lossybench leaderboard",
                generated: str = "", unverified: Collection[str] = ()) -> str:
    """The page; entries whose ids are in ``unverified`` are marked as such."""
    sections = "".join(_board_section(k, v, unverified) for k, v in enumerate(views))
    empty = "" if views else '<p class="note">The board has no entries yet.</p>'
    keep = " / ".join(f"{f:.0%}" for f in FRACTIONS)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{esc(csp())}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{esc(title)}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{esc(title)}</h1>
<p class="note">Entries (model × codec) are ranked by <b>robustness on the common range</b>: the
rates every entry of the board was measured at (from the highest of their lowest mean bpp to the
lowest of their highest), so that no entry is extrapolated. Robustness is the area under the
headline metric against log2(bpp) (monotone PCHIP interpolation) divided by the clean metric
times the range's width; 1.0 means no loss. The same on {AREA_RANGE[0]:g}–{AREA_RANGE[1]:g} bpp
stands beside it where an entry covers that range (ends held flat within
{COVER_TOLERANCE:.0%}). An entry's rank is 1 + the number of entries whose 95% bootstrap
interval lies wholly above its own: entries with overlapping intervals are not told apart.
“{keep} kept at bpp” is the lowest rate from which the metric stays at or above that share of
the clean metric (the curve followed down from its highest point; “≤” when it never falls
below it, “&gt;” when even the highest point is below). BD-rate vs JPEG is the Bjøntegaard rate
difference at equal metric against the same model's JPEG entry (negative: fewer bits); BD-metric
the metric difference at equal rate. “@ x bpp” is the metric interpolated at that rate;
recovered is the share of the drop at {CHECKPOINTS[0]:g} bpp won back by finetuning. Click a
column header to sort.</p>
</header>
<main>{sections}{empty}</main>
<footer>Generated by lossybench{(" · " + esc(generated)) if generated else ""}.</footer>
<script>{JS}</script>
</body>
</html>
"""


def write_site(views: Sequence[BoardView], out: Path, title: str, generated: str = "",
               unverified: Collection[str] = ()) -> list[Path]:
    """``out/index.html`` and ``out/leaderboard.md``, each written atomically."""
    import os

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("index.html", render_html(views, title, generated, unverified)),
                       ("leaderboard.md", render_markdown(views, unverified))):
        path = out / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    return written
