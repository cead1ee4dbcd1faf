"""`bench codecs sweep`: codecs alone — bpp, PSNR and MS-SSIM per operating point."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from lossybench.cli.console import console, progress, stdout
from lossybench.cli.options import CacheDir, NoCache
from lossybench.cli.parse import parse_floats
from lossybench.cli.paths import out_file
from lossybench.dataset import Sample
from lossybench.engine.ratecontrol import DEFAULT_RATE_TOLERANCE, targets_note
from lossybench.engine.run.config import DEFAULT_BPP
from lossybench.errors import OutOfRangeError
from lossybench.image import find_images
from lossybench.registry import Registry
from lossybench.registry import invocation_registry as registry


def _report_skipped(skipped: list[tuple[str, str]]) -> None:
    if skipped:
        shown = "; ".join(f"{e} ({why})" for e, why in skipped[:5])
        more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        console.print(f"[yellow]skipped {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'}"
                      f": {shown}{more}[/yellow]")


def _samples(paths: list[Path] | None, dataset: str | None, reg: Registry) -> list[Sample]:
    if paths:
        skipped: list[tuple[Path, str]] = []
        found = find_images([str(p) for p in paths], skipped)
        _report_skipped([(str(p), why) for p, why in skipped])
        return [Sample(id=str(p), source=str(p)) for p in found]
    name, _, location = (dataset or "package-photos").partition(":")
    cls = reg.get("datasets", name).obj
    if cls.requires_location and not location:
        raise OutOfRangeError(f"dataset {name!r} needs a location: --dataset {name}:PATH")
    data = cls(location or None)
    _report_skipped(data.skipped())
    return list(data.samples())


def sweep_cmd(
    ctx: typer.Context,
    images: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Image files or directories (searched recursively). "
            "Default: the built-in package-photos dataset.",
            show_default=False,
        ),
    ] = None,
    codec: Annotated[
        list[str] | None,
        typer.Option(
            "--codec",
            "-c",
            help="Codec NAME[:key=value,...]; repeatable. Default: every "
            "available codec. Example: -c jpeg -c jpeg:subsampling=4:4:4 -c webp",
        ),
    ] = None,
    bpp: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated bit-rate targets in bits per pixel [default: "
            f"{','.join(f'{b:g}' for b in DEFAULT_BPP)}]. "
            "Rate control picks the setting per image.",
            show_default=False,
        ),
    ] = None,
    quality: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated codec settings instead of --bpp, e.g. 10,50,90 "
            "(as compressai.utils.bench -q)."
        ),
    ] = None,
    policy: Annotated[
        str,
        typer.Option(
            help="Rate control: 'floor' = largest setting not above the target; "
            "'nearest' = closest bpp."
        ),
    ] = "floor",
    rate_tolerance: Annotated[
        float,
        typer.Option(
            help="Relative rate tolerance: floor accepts bpp in [(1 - tol)·target, target] "
            "without bracketing it (fewer encodes); 0 = exact search. Example: "
            "--rate-tolerance 0.05",
            min=0.0,
            max=0.5,
        ),
    ] = DEFAULT_RATE_TOLERANCE,
    dataset: Annotated[
        str | None,
        typer.Option(
            help="Dataset NAME[:LOCATION] when no IMAGES are given. Example: package-photos"
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Use at most N images.", min=1)] = None,
    ms_ssim: Annotated[
        bool, typer.Option("--ms-ssim/--no-ms-ssim", help="Compute MS-SSIM.")
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the full result as JSON on stdout.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Also write the JSON result to this file.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write a rate–distortion plot (.png or .svg).")
    ] = None,
    cache: CacheDir = None,
    no_cache: NoCache = False,
    workers: Annotated[
        int, typer.Option(help="Codec worker processes; 0 = in-process.", min=0)
    ] = 2,
) -> None:
    """Compress images with codecs at bit-rate targets or settings; report bpp, PSNR, MS-SSIM.

    bpp is 8 × bitstream bytes / pixels of the original; PSNR (8-bit RGB) and MS-SSIM are
    computed per image and averaged, exactly as compressai.utils.bench does.

    Examples:

      bench codecs sweep                                   # every codec, built-in photos

      bench codecs sweep photos/ -c jpeg -c avif --bpp 0.1,0.5,1 --plot rd.png

      bench codecs sweep photos/ -c jpeg --quality 10,50,90 --json > jpeg.json
    """
    from lossybench.engine.cache import CodecCache
    from lossybench.engine.sweep import run_sweep

    if bpp is not None and quality is not None:
        raise OutOfRangeError("give --bpp or --quality, not both")
    for path, option in ((out, "--out"), (plot, "--plot")):
        if path is not None:
            out_file(path, option)
    reg = registry(ctx)
    from lossybench.engine.run.resolve import build_codecs

    codecs = build_codecs(codec, reg)
    if not codecs:
        raise OutOfRangeError("no codec available; see `bench list`")
    samples = _samples(images, dataset, reg)[: limit or None]
    if not samples:
        raise OutOfRangeError("no images found; give image files or directories")
    targets = None
    if quality is None:
        targets = parse_floats(bpp, "--bpp") if bpp else list(DEFAULT_BPP)
        if note := targets_note(targets, "--bpp"):
            console.print(f"[dim]{note}[/dim]")
    qualities = parse_floats(quality, "--quality") if quality is not None else None
    if policy not in ("floor", "nearest"):
        raise OutOfRangeError(f"--policy must be floor or nearest, not {policy!r}")
    with progress() as bar:
        task = bar.add_task("sweeping", total=len(samples) * len(codecs))
        result = run_sweep(
            codecs,
            samples,
            bpp=targets,
            quality=qualities,
            policy=policy,  # type: ignore[arg-type]
            rate_tolerance=rate_tolerance,
            with_ms_ssim=ms_ssim,
            on_step=lambda: bar.advance(task),
            cache_root=None if no_cache else str(CodecCache(cache).root),
            workers=workers,
            registry=reg,
            command=sys.argv,
        )
    data = result.as_json()
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=2))
    if plot:
        from lossybench.engine.plots import plot_sweep

        plot_sweep(result, plot)
    if as_json:
        stdout.print_json(json.dumps(data))
    else:
        _print_sweep(result)
        if out:
            console.print(f"wrote {out}")
        if plot:
            console.print(f"wrote {plot}")
    if result.errors and not as_json:
        te = Table(title=f"{len(result.errors)} image(s) failed", title_justify="left", style="red")
        te.add_column("image")
        te.add_column("codec")
        te.add_column("error")
        for e in result.errors:
            te.add_row(e.image, e.codec or "-", e.error)
        console.print(te)


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None or not math.isfinite(v) else format(v, spec)


def _print_sweep(result: Any) -> None:
    label = "target bpp" if result.mode == "bpp" else "quality"
    t = Table(
        title=f"Codec sweep: {result.images} images, mean of per-image values", title_justify="left"
    )
    for col in ("codec", label, "bpp", "PSNR (dB)", "MS-SSIM", "setting", "images", "flagged"):
        t.add_column(col, justify="right" if col not in ("codec",) else "left")
    for s in result.summaries():
        if not math.isfinite(s.quality_min):
            setting = "-"
        elif s.quality_min == s.quality_max:
            setting = f"{s.quality_min:g}"
        else:
            setting = f"{s.quality_min:g}–{s.quality_max:g}"
        t.add_row(
            s.codec,
            f"{s.point:g}",
            _fmt(s.bpp, ".4f"),
            _fmt(s.psnr, ".2f"),
            _fmt(s.ms_ssim, ".4f"),
            setting,
            str(s.images),
            f"[yellow]{s.flagged}[/yellow]" if s.flagged else "0",
        )
    stdout.print(t)
    if result.mode == "bpp":
        enc = ", ".join(f"{c} {result.encodes_per_target(c):.2f}" for c in result.codecs)
        console.print(f"encodes per (image, target): {enc}")
        console.print(
            "[dim]flagged = images whose target was out of the codec's reach: they count "
            "at the codec's extreme setting and real bpp[/dim]"
        )
