"""Plots with matplotlib's Agg backend: codec sweeps (rate–distortion) and run results
(rate–accuracy), PNG or SVG.

Byte-stable: the same data gives the same file (no date, no software stamp, SVG ids
from a fixed salt instead of random ones), so plots can be compared and committed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from lossybench.engine.results import RunResult
from lossybench.engine.sweep import SweepResult


def plot_sweep(result: SweepResult, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    summaries = result.summaries()
    for codec in result.codecs:
        pts = sorted(
            (s for s in summaries if s.codec == codec and math.isfinite(s.bpp)), key=lambda s: s.bpp
        )
        if not pts:
            continue
        bpp = [s.bpp for s in pts]
        axes[0].plot(bpp, [s.psnr for s in pts], marker="o", label=codec)
        axes[1].plot(bpp, [s.ms_ssim for s in pts], marker="o", label=codec)
    for ax, ylabel in zip(axes, ("PSNR-RGB [dB]", "MS-SSIM-RGB"), strict=True):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("bits per pixel (real bitstream)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.suptitle(f"Codec sweep over {result.images} images (mean of per-image values)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    save(fig, path)
    plt.close(fig)
    return path


def plot_results(
    results: list[RunResult], path: str | Path, formats: tuple[str, ...] = ("png", "svg")
) -> list[Path]:
    """One panel per task/headline: a curve per (run, codec), clean as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    heads = sorted({(r.task.name, r.task.headline) for r in results})
    fig, axes = plt.subplots(1, len(heads), figsize=(6.5 * len(heads), 4.6), squeeze=False)
    many = len(results) > 1
    for ax, (task, head) in zip(axes[0], heads, strict=True):
        for r in (r for r in results if r.task.name == task):
            prefix = f"{r.model.name} · " if many else ""
            clean = r.clean.metrics.get(head)
            for c in r.codecs:
                pts = sorted(
                    (p.bpp_mean, p.metrics[head])
                    for p in c.points
                    if p.bpp_mean is not None and head in p.metrics
                )
                if pts:
                    ax.plot(
                        [b for b, _ in pts],
                        [m for _, m in pts],
                        marker="o",
                        label=f"{prefix}{c.label}",
                    )
            if clean is not None:
                ax.axhline(
                    clean,
                    color="black",
                    linestyle="--",
                    linewidth=1,
                    label=f"{prefix}clean ({clean:.3f})",
                )
        ax.set_xscale("log", base=2)
        ax.set_xlabel("bits per pixel (mean of real bitstreams)")
        ax.set_ylabel(head)
        ax.set_title(f"{task}: {head} vs bit rate")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        out = path.with_suffix(f".{fmt}")
        save(fig, out)
        written.append(out)
    plt.close(fig)
    return written


#: what would make two drawings of the same data differ, per format: dates and the
#: software version (left out), and SVG's element ids (random unless salted)
_METADATA: dict[str, dict[str, Any]] = {
    "svg": {"Date": None, "Creator": None},
    "png": {"Software": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


def save(fig: Any, path: Path, dpi: int = 120) -> None:
    """``fig.savefig`` that writes the same bytes for the same figure (format by suffix)."""
    import matplotlib

    fmt = path.suffix.lstrip(".").lower()
    with matplotlib.rc_context({"svg.hashsalt": "lossybench"}):
        fig.savefig(path, dpi=dpi, metadata=_METADATA.get(fmt))
