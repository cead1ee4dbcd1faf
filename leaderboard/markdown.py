"""The board as Markdown tables (``leaderboard.md``), for READMEs.

Every cell escapes Markdown's special characters and HTML, so a submitted name renders
literally: no links, emphasis, pipes or tags.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from lossybench.engine.aggregate import AREA_RANGE
from lossybench.leaderboard.ranking import CHECKPOINTS, BoardView
from lossybench.leaderboard.texts import (
    UNVERIFIED,
    UNVERIFIED_WHY,
    bd_rate_text,
    keep_head,
    range_text,
)
from lossybench.leaderboard.thresholds import FRACTIONS, Threshold

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~])")


def md_escape(text: object) -> str:
    """A Markdown table cell that renders literally (no HTML, links, emphasis or pipes)."""
    s = " ".join(str(text).split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def _md(v: float | None, spec: str = ".3f") -> str:
    return "—" if v is None else format(v, spec)


def _ci(lo: float | None, hi: float | None) -> str:
    return "—" if lo is None or hi is None else f"{lo:.3f}–{hi:.3f}"


def _md_keep(t: Threshold) -> str:
    return md_escape(t.text())


def render_markdown(views: Sequence[BoardView], unverified: Collection[str] = ()) -> str:
    out = []
    for v in views:
        out.append(f"### {md_escape(v.task)} · {md_escape(v.dataset)} "
                   f"({md_escape(v.headline)}, {v.images} images)\n")
        out.append(f"Ranked on the common range {md_escape(range_text(v))}: the rates every "
                   "ranked entry was measured at." if v.common_range else
                   "No rate range to rank on.")
        if v.common_note:
            out.append(f"{md_escape(v.common_note)}.")
        out.append("")
        full = f"{AREA_RANGE[0]:g}–{AREA_RANGE[1]:g} bpp"
        head = ["rank", "model", "codec", "clean", f"robustness {range_text(v)}", "95% CI",
                *[keep_head(f) for f in FRACTIONS], "BD-rate vs JPEG",
                f"robustness {full}", "95% CI", *[f"@{b:g} bpp" for b in CHECKPOINTS],
                f"drop @{CHECKPOINTS[0]:g}", "BD-metric vs JPEG", "recovered"]
        out.append("| " + " | ".join(md_escape(h) for h in head) + " |")
        out.append("|" + "|".join(["---:", ":---", ":---"] + ["---:"] * (len(head) - 3)) + "|")
        rows = v.ranked()
        for r in rows:
            bd = "ref" if r.bd_reason == "reference" else _md(r.bd, "+.3f")
            cells = [str(r.common_rank) if r.common_rank else "—",
                     md_escape(r.model) + (" (finetuned)" if r.finetuned_from else "")
                     + (f" ({UNVERIFIED})" if r.id in unverified else ""),
                     md_escape(r.codec_label), _md(r.clean),
                     _md(r.common), md_escape(_ci(r.common_low, r.common_high)),
                     *[_md_keep(r.keep[f"{f:g}"]) for f in FRACTIONS],
                     md_escape(bd_rate_text(r.bd_rate, r.bd_rate_reason)),
                     _md(r.robustness), md_escape(_ci(r.ci_low, r.ci_high)),
                     *[_md(r.at[f"{b:g}"]) for b in CHECKPOINTS], _md(r.drop, ".1%"), bd,
                     _md(r.recovered, ".0%") if r.finetuned_from else ""]
            out.append("| " + " | ".join(cells) + " |")
        if any(r.id in unverified for r in rows):
            out.append("")
            out.append(f"{UNVERIFIED.capitalize()}: {md_escape(UNVERIFIED_WHY)}.")
        unranked = [r for r in rows if r.common_rank is None]
        if unranked:
            out.append("")
            out.append("Not ranked (listed last):")
            out += [f"- {md_escape(r.model)} · {md_escape(r.codec_label)}: "
                    f"{md_escape(r.common_reason)}" for r in unranked]
        no_bd = [r for r in rows if r.bd_rate is None and r.bd_rate_reason]
        if no_bd:
            out.append("")
            out.append("BD-rate vs JPEG undefined (never extrapolated):")
            out += [f"- {md_escape(r.model)} · {md_escape(r.codec_label)}: "
                    f"{md_escape(r.bd_rate_reason)}" for r in no_bd]
        out.append("")
        out.append(f"Codecs (averaged over models; BD-rate against each model's JPEG entry, "
                   f"at equal {md_escape(v.headline)}):\n")
        out.append("| codec | mean robustness " + md_escape(range_text(v))
                   + " | mean BD-rate vs JPEG | BD-rate per model |")
        out.append("|:---|---:|---:|:---|")
        for c in sorted(v.codecs, key=lambda c: (c.common_rank is None, c.common_rank or 0,
                                                   c.codec)):
            per = "; ".join(f"{m}: {bd_rate_text(x, c.bd_rate_reason)}"
                            for m, x in c.bd_rate_models.items())
            out.append(f"| {md_escape(c.codec)} | {_md(c.common_mean)} | "
                       f"{md_escape(bd_rate_text(c.bd_rate_mean, c.bd_rate_reason))} | "
                       f"{md_escape(per)} |")
        out.append("")
    if not views:
        out.append("The board has no entries yet.\n")
    return "\n".join(out)
