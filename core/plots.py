"""Rate–distortion plots (PNG or SVG by file suffix) with matplotlib's Agg backend."""

from __future__ import annotations

import math
from pathlib import Path

from lossybench.sweep import SweepResult


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
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
