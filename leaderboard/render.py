"""A self-contained static page and a Markdown table from a board.

The page loads nothing from the network: CSS and JS are inline, plots are PNG data
URIs, and a Content-Security-Policy allows only the page's own script (by hash), so
even a string that escaped escaping could not run. Every string from the board goes
through :func:`html.escape`; Markdown cells escape its special characters.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
from collections.abc import Sequence
from pathlib import Path

from lossybench.engine.aggregate import AREA_RANGE, COVER_TOLERANCE
from lossybench.leaderboard.ranking import CHECKPOINTS, BoardView, Row

CSS = """
:root { --fg:#1d2330; --muted:#5b6475; --line:#d9dde5; --head:#f2f4f8; --accent:#2457c5; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0 auto; max-width: 1500px; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 4px; border-bottom: 2px solid var(--line);
     padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
p.meta, p.note, figcaption { color: var(--muted); margin: 4px 0; }
code { font-size: 12px; }
.wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 4px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 9px; text-align: right;
         white-space: nowrap; }
th { background: var(--head); position: sticky; top: 0; cursor: pointer; user-select: none; }
th:focus { outline: 2px solid var(--accent); }
th[aria-sort="ascending"]::after { content: " \\25B2"; color: var(--accent); }
th[aria-sort="descending"]::after { content: " \\25BC"; color: var(--accent); }
td.t, th.t { text-align: left; }
td.wrap-text { white-space: normal; min-width: 12em; max-width: 26em; }
td.na { color: var(--muted); }
tr.unranked td { color: var(--muted); }
tr:hover td { background: #f7f9fc; }
.ci { color: var(--muted); font-size: 12px; }
figure { margin: 12px 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""

JS = """
(function () {
  function sortTable(table, col, dir) {
    var th = table.tHead.rows[0].cells[col];
    if (!th) { return; }
    var numeric = th.getAttribute('data-type') === 'number';
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute('data-sort'), y = b.cells[col].getAttribute('data-sort');
      var xe = x === null || x === '', ye = y === null || y === '';
      if (xe || ye) { return xe === ye ? 0 : (xe ? 1 : -1); }
      var c = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return dir === 'asc' ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.setAttribute('aria-sort', 'none');
    });
    th.setAttribute('aria-sort', dir === 'asc' ? 'ascending' : 'descending');
    table.setAttribute('data-sorted', col + ':' + dir);
  }
  function toggle(table, col) {
    var th = table.tHead.rows[0].cells[col];
    var cur = th.getAttribute('aria-sort');
    var first = th.getAttribute('data-first') || 'asc';
    var dir = cur === 'ascending' ? 'desc' : cur === 'descending' ? 'asc' : first;
    sortTable(table, col, dir);
  }
  var tables = document.querySelectorAll('table.sortable');
  Array.prototype.forEach.call(tables, function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.tabIndex = 0;
      th.addEventListener('click', function () { toggle(table, i); });
      th.addEventListener('keydown', function (ev) {
        if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); toggle(table, i); }
      });
    });
  });
  // URL hooks, e.g. page.html#sort=entries-0.3:asc or #click=entries-0.3,entries-0.3
  var hash = decodeURIComponent(location.hash || '');
  var m = /sort=([A-Za-z0-9_-]+)\\.(\\d+):(asc|desc)/.exec(hash);
  if (m) {
    var t = document.getElementById(m[1]);
    if (t) { sortTable(t, parseInt(m[2], 10), m[3]); }
  }
  var c = /click=([A-Za-z0-9_.,-]+)/.exec(hash);
  if (c) {
    c[1].split(',').forEach(function (item) {
      var parts = item.split('.'), t = document.getElementById(parts[0]);
      var th = t && t.tHead.rows[0].cells[parseInt(parts[1], 10)];
      if (th) { th.click(); }
    });
  }
  function plots() {
    var imgs = document.querySelectorAll('img.plot'), ok = 0;
    Array.prototype.forEach.call(imgs, function (img) {
      if (img.complete && img.naturalWidth > 0) { ok += 1; img.setAttribute('data-ok', '1'); }
    });
    document.body.setAttribute('data-plots', ok + '/' + imgs.length);
  }
  plots();
  window.addEventListener('load', plots);
})();
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(v: float | None, spec: str = ".3f") -> str:
    return "" if v is None else format(v, spec)


def _csp() -> str:
    def h(s: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"

    return (f"default-src 'none'; img-src data:; style-src {h(CSS)}; script-src {h(JS)}; "
            "base-uri 'none'; form-action 'none'")


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
        ax.axvspan(*AREA_RANGE, color="#eef2fb", zorder=0, label="ranked range")
        markers = "os^DvP*Xh<>"
        shown = [r for r in view.rows if r.points][:24]
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


ENTRY_COLUMNS: list[tuple[str, str, str]] = [
    ("rank", "number", "asc"), ("model", "text", ""), ("codec", "text", ""),
    ("clean", "number", "desc"),
    *[(f"@{b:g} bpp", "number", "desc") for b in CHECKPOINTS],
    (f"drop @{CHECKPOINTS[0]:g}", "number", "asc"),
    ("robustness [95% CI]", "number", "desc"), ("BD vs JPEG", "number", "desc"),
    ("recovered", "number", "desc"), ("backend", "text", ""), ("note", "text", ""),
]


def _entry_row(r: Row) -> str:
    cells = [
        _td(str(r.rank) if r.rank else "—", r.rank if r.rank else "", "" if r.rank else "na",
            r.unranked_reason),
        _td(esc(r.model) + (' <span class="ci">finetuned</span>' if r.finetuned_from else ""),
            r.model.lower(), "t", f"weights sha256 {r.weights_sha256 or 'none (random)'}"),
        _td(esc(r.codec_label), r.codec_label.lower(), "t"),
        _val(r.clean, "no clean metric"),
    ]
    cells += [_val(r.at[f"{b:g}"], r.at_reason[f"{b:g}"]) for b in CHECKPOINTS]
    cells.append(_val(r.drop, r.drop_reason, ".1%"))
    if r.robustness is None:
        cells.append(_td("—", "", "na", r.unranked_reason))
    else:
        ci = (f' <span class="ci">[{r.ci_low:.3f}, {r.ci_high:.3f}]</span>'
              if r.ci_low is not None and r.ci_high is not None else "")
        cells.append(_td(esc(f"{r.robustness:.3f}") + ci, repr(r.robustness), "",
                         r.ci_reason or "95% bootstrap interval over images"))
    if r.bd_reason == "reference":
        cells.append(_td("ref", "0.0", "na", "this is the JPEG reference of the model"))
    else:
        cells.append(_val(r.bd, r.bd_reason, "+.3f"))
    if r.finetuned_from:
        cells.append(_val(r.recovered, r.recovered_reason, ".0%"))
    else:
        cells.append(_td("", "", "na"))
    cells.append(_td(esc(r.backend), r.backend.lower(), "t wrap-text"))
    note = r.unranked_reason or (r.ci_reason if r.robustness is not None else "")
    cells.append(_td(esc(note), note.lower(), "t wrap-text"))
    cls = ' class="unranked"' if r.rank is None else ""
    return f"<tr{cls} data-id=\"{esc(r.id)}\">" + "".join(cells) + "</tr>"


def _head(cols: Sequence[tuple[str, str, str]]) -> str:
    ths = []
    for name, kind, first in cols:
        cls = ' class="t"' if kind == "text" else ""
        extra = f' data-first="{first}"' if first else ""
        ths.append(f'<th scope="col" data-type="{kind}"{extra}{cls} aria-sort="none">'
                   f"{esc(name)}</th>")
    return "<thead><tr>" + "".join(ths) + "</tr></thead>"


def _board_section(k: int, v: BoardView) -> str:
    png = base64.b64encode(plot_png(v)).decode()
    alt = f"{v.headline} against bits per pixel for {len(v.rows)} entries"
    ranked = sum(1 for r in v.rows if r.rank is not None)
    rows = "".join(_entry_row(r) for r in v.rows)
    codec_rows = "".join(
        "<tr>"
        + _td(str(c.rank) if c.rank else "—", c.rank or "", "" if c.rank else "na", c.reason)
        + _td(esc(c.codec), c.codec.lower(), "t")
        + _val(c.mean, c.reason)
        + _val(c.std, c.reason)
        + _td(str(c.models), c.models)
        + "</tr>"
        for c in v.codecs
    )
    codec_cols = [("rank", "number", "asc"), ("codec", "text", ""),
                  ("mean robustness", "number", "desc"), ("std over models", "number", "asc"),
                  ("models", "number", "desc")]
    return f"""
<section id="board-{k}">
<h2>{esc(v.task)} · {esc(v.dataset)}</h2>
<p class="meta">headline metric <b>{esc(v.headline)}</b> · {v.images} images · dataset sha256
<code>{esc(v.dataset_sha256)}</code> · {ranked} of {len(v.rows)} entries ranked</p>
<figure><img class="plot" src="data:image/png;base64,{png}" alt="{esc(alt)}" width="800"
height="460"><figcaption>{esc(v.headline)} vs bpp (log scale); the shaded band is the ranked
range {AREA_RANGE[0]:g}–{AREA_RANGE[1]:g} bpp.</figcaption></figure>
<div class="wrap"><table class="sortable entries" id="entries-{k}">{_head(ENTRY_COLUMNS)}
<tbody>{rows}</tbody></table></div>
<h3>Codecs (robustness averaged over models)</h3>
<div class="wrap"><table class="sortable codecs" id="codecs-{k}">{_head(codec_cols)}
<tbody>{codec_rows}</tbody></table></div>
</section>"""


def render_html(views: Sequence[BoardView], title: str = "lossybench leaderboard",
                generated: str = "") -> str:
    sections = "".join(_board_section(k, v) for k, v in enumerate(views))
    empty = "" if views else '<p class="note">The board has no entries yet.</p>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{esc(_csp())}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{esc(title)}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{esc(title)}</h1>
<p class="note">Entries (model × codec) are ranked by <b>robustness</b>: the area under the
headline metric against log2(bpp) on {AREA_RANGE[0]:g}–{AREA_RANGE[1]:g} bpp (monotone PCHIP
interpolation; not extrapolated, only held flat within {COVER_TOLERANCE:.0%} of the range's ends),
divided by the clean metric times the range's width; 1.0 means no loss. An entry's rank is
1 + the number of entries whose 95% bootstrap interval lies wholly above its own: entries with
overlapping intervals are not told apart. “@ x bpp” is the
metric interpolated at that rate; BD vs JPEG is the Bjøntegaard delta of the metric against the
same model's JPEG entry; recovered is the share of the drop at {CHECKPOINTS[0]:g} bpp won back by
finetuning. Click a column header to sort.</p>
</header>
<main>{sections}{empty}</main>
<footer>Generated by lossybench{(" · " + esc(generated)) if generated else ""}.</footer>
<script>{JS}</script>
</body>
</html>
"""


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~])")


def md_escape(text: object) -> str:
    """A Markdown table cell that renders literally (no HTML, links, emphasis or pipes)."""
    s = " ".join(str(text).split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def _md(v: float | None, spec: str = ".3f") -> str:
    return "—" if v is None else format(v, spec)


def render_markdown(views: Sequence[BoardView]) -> str:
    out = []
    for v in views:
        out.append(f"### {md_escape(v.task)} · {md_escape(v.dataset)} "
                   f"({md_escape(v.headline)}, {v.images} images)\n")
        head = ["rank", "model", "codec", "clean", *[f"@{b:g} bpp" for b in CHECKPOINTS],
                f"drop @{CHECKPOINTS[0]:g}", "robustness", "95% CI", "BD vs JPEG", "recovered"]
        out.append("| " + " | ".join(md_escape(h) for h in head) + " |")
        out.append("|" + "|".join(["---:", ":---", ":---"] + ["---:"] * (len(head) - 3)) + "|")
        for r in v.rows:
            ci = (f"{r.ci_low:.3f}–{r.ci_high:.3f}" if r.ci_low is not None
                  and r.ci_high is not None else "—")
            bd = "ref" if r.bd_reason == "reference" else _md(r.bd, "+.3f")
            cells = [str(r.rank) if r.rank else "—",
                     md_escape(r.model) + (" (finetuned)" if r.finetuned_from else ""),
                     md_escape(r.codec_label), _md(r.clean),
                     *[_md(r.at[f"{b:g}"]) for b in CHECKPOINTS], _md(r.drop, ".1%"),
                     _md(r.robustness), md_escape(ci), bd,
                     _md(r.recovered, ".0%") if r.finetuned_from else ""]
            out.append("| " + " | ".join(cells) + " |")
        unranked = [r for r in v.rows if r.rank is None]
        if unranked:
            out.append("")
            out.append("Unranked:")
            out += [f"- {md_escape(r.model)} · {md_escape(r.codec_label)}: "
                    f"{md_escape(r.unranked_reason)}" for r in unranked]
        out.append("")
    if not views:
        out.append("The board has no entries yet.\n")
    return "\n".join(out)


def write_site(views: Sequence[BoardView], out: Path, title: str, generated: str = "") -> list[
    Path
]:
    """``out/index.html`` and ``out/leaderboard.md``, each written atomically."""
    import os

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("index.html", render_html(views, title, generated)),
                       ("leaderboard.md", render_markdown(views))):
        path = out / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    return written
