"""The ``bench`` command line (also installed as ``lossybench``)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from lossybench import __version__
from lossybench.codec import Codec, CodecSpec
from lossybench.console import console, progress, stdout
from lossybench.dataset import Sample
from lossybench.errors import LossybenchError, OutOfRangeError
from lossybench.image import find_images
from lossybench.registry import Registry, get_registry

app = typer.Typer(
    name="bench",
    help="lossybench: how much accuracy do vision models lose on lossy-compressed images?",
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
codecs_app = typer.Typer(
    help="Work with codecs alone: sweeps of bpp, PSNR and MS-SSIM.", no_args_is_help=True
)
app.add_typer(codecs_app, name="codecs")

DEFAULT_BPP = "0.1,0.25,0.5,1,2"
_state: dict[str, Any] = {"disable": []}


def registry() -> Registry:
    return get_registry(_state["disable"])


def _version(value: bool) -> None:
    if value:
        stdout.print(f"lossybench {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    disable_plugin: Annotated[
        list[str] | None,
        typer.Option(
            "--disable-plugin",
            help="Do not load this plugin (entry-point or distribution name); repeatable. "
            "Also: LOSSYBENCH_DISABLE_PLUGINS=a,b. Example: --disable-plugin heic",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Measure what lossy compression costs visual recognition models.

    Examples:

      bench list

      bench codecs sweep --codec jpeg --codec webp --bpp 0.1,0.5,1
    """
    _state["disable"] = list(disable_plugin or [])


# -- bench list ------------------------------------------------------------------------
def _codec_row(name: str, reg: Registry) -> dict[str, Any]:
    entry = reg.get("codecs", name)
    cls: type[Codec] = entry.obj
    row: dict[str, Any] = {
        "name": name,
        "plugin": entry.origin.plugin,
        "distribution": entry.origin.distribution,
        "version": entry.origin.version,
        "description": entry.description,
        "quality": cls.quality.describe(),
        "options": {o.name: o.default for o in cls.options},
    }
    try:
        cls.check_available()
        row["backend"] = cls.backend().as_dict()
        row["available"] = True
    except Exception as exc:
        row["backend"] = None
        row["available"] = False
        row["unavailable_reason"] = str(exc)
    return row


def _plain_row(kind: str, name: str, reg: Registry) -> dict[str, Any]:
    entry = reg.get(kind, name)
    return {
        "name": name,
        "plugin": entry.origin.plugin,
        "distribution": entry.origin.distribution,
        "version": entry.origin.version,
        "description": entry.description,
    }


@app.command("list")
def list_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List codecs, models, tasks and datasets, and plugins that failed to load.

    Example: bench list --json | jq '.codecs[].name'
    """
    reg = registry()
    data: dict[str, Any] = {
        "codecs": [_codec_row(n, reg) for n in reg.names("codecs")],
        "models": [_plain_row("models", n, reg) for n in reg.names("models")],
        "tasks": [_plain_row("tasks", n, reg) for n in reg.names("tasks")],
        "datasets": [_plain_row("datasets", n, reg) for n in reg.names("datasets")],
        "errors": [e.as_dict() for e in reg.errors],
        "disabled": reg.disabled,
    }
    if as_json:
        stdout.print_json(json.dumps(data))
        return
    t = Table(title="Codecs", title_justify="left")
    for col in ("name", "rate knob", "backend", "plugin", "description"):
        t.add_column(col)
    for row in data["codecs"]:
        b = row["backend"]
        backend = (
            f"{b['library']} {b['version']}"
            if b
            else f"[red]unavailable[/red]: {row.get('unavailable_reason', '')}"
        )
        t.add_row(
            row["name"],
            row["quality"],
            backend,
            f"{row['plugin']} ({row['distribution']} {row['version']})",
            row["description"],
        )
    stdout.print(t)
    for kind in ("models", "tasks", "datasets"):
        tk = Table(title=kind.capitalize(), title_justify="left")
        for col in ("name", "plugin", "description"):
            tk.add_column(col)
        for row in data[kind]:
            tk.add_row(
                row["name"],
                f"{row['plugin']} ({row['distribution']} {row['version']})",
                row["description"],
            )
        if not data[kind]:
            tk.add_row("[dim]none registered[/dim]", "", "")
        stdout.print(tk)
    if data["errors"]:
        te = Table(title="Plugins that failed to load", title_justify="left", style="red")
        for col in ("plugin", "distribution", "stage", "error"):
            te.add_column(col)
        for e in data["errors"]:
            te.add_row(e["plugin"], e["distribution"], e["stage"], e["error"])
        stdout.print(te)
    if reg.disabled:
        stdout.print(f"[dim]disabled plugins: {', '.join(reg.disabled)}[/dim]")


# -- bench codecs sweep -----------------------------------------------------------------
def parse_floats(text: str, what: str) -> list[float]:
    try:
        values = [float(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise OutOfRangeError(
            f"{what} must be a comma-separated list of numbers, got {text!r}"
        ) from None
    if not values:
        raise OutOfRangeError(f"{what} is empty")
    if any(not math.isfinite(v) for v in values):
        raise OutOfRangeError(f"{what} must be finite numbers, got {text!r}")
    return values


def build_codecs(specs: list[str] | None, reg: Registry) -> list[Codec]:
    """Instantiate codecs from ``NAME[:k=v,...]`` arguments (all available ones when None)."""
    if not specs:
        out = []
        for name in reg.names("codecs"):
            cls = reg.codec(name)
            try:
                cls.check_available()
            except Exception as exc:
                console.print(f"[yellow]skipping codec {name}: {exc}[/yellow]")
                continue
            out.append(cls())
        return out
    codecs = []
    for text in specs:
        spec = CodecSpec.parse(text)
        cls = reg.codec(spec.name)
        cls.check_available()
        codecs.append(cls(**spec.settings))
    return codecs


def _samples(paths: list[Path] | None, dataset: str | None, reg: Registry) -> list[Sample]:
    if paths:
        return [Sample(id=str(p), source=str(p)) for p in find_images([str(p) for p in paths])]
    name, _, location = (dataset or "package-photos").partition(":")
    cls = reg.get("datasets", name).obj
    if cls.requires_location and not location:
        raise OutOfRangeError(f"dataset {name!r} needs a location: --dataset {name}:PATH")
    return list(cls(location or None).samples())


@codecs_app.command("sweep")
def sweep_cmd(
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
            help=f"Comma-separated bit-rate targets in bits per pixel [default: {DEFAULT_BPP}]. "
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
) -> None:
    """Compress images with codecs at bit-rate targets or settings; report bpp, PSNR, MS-SSIM.

    bpp is 8 × bitstream bytes / pixels of the original; PSNR (8-bit RGB) and MS-SSIM are
    computed per image and averaged, exactly as compressai.utils.bench does.

    Examples:

      bench codecs sweep                                   # every codec, built-in photos

      bench codecs sweep photos/ -c jpeg -c avif --bpp 0.1,0.5,1 --plot rd.png

      bench codecs sweep photos/ -c jpeg --quality 10,50,90 --json > jpeg.json
    """
    from lossybench.sweep import run_sweep

    if bpp is not None and quality is not None:
        raise OutOfRangeError("give --bpp or --quality, not both")
    reg = registry()
    codecs = build_codecs(codec, reg)
    if not codecs:
        raise OutOfRangeError("no codec available; see `bench list`")
    samples = _samples(images, dataset, reg)[: limit or None]
    if not samples:
        raise OutOfRangeError("no images found; give image files or directories")
    targets = parse_floats(bpp or DEFAULT_BPP, "--bpp") if quality is None else None
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
            with_ms_ssim=ms_ssim,
            on_step=lambda: bar.advance(task),
        )
    data = result.as_json()
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=2))
    if plot:
        from lossybench.plots import plot_sweep

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


def main() -> None:
    try:
        app()
    except LossybenchError as exc:
        console.print(f"[bold red]error:[/bold red] {exc}")
        sys.exit(2)
