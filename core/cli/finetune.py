"""`bench finetune`: train on compressed images, report what is won back."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from lossybench.cli.options import CacheDir, NoCache, RatePolicy, RateTolerance
from lossybench.cli.parse import parse_range, split_codecs
from lossybench.cli.paths import out_folder
from lossybench.errors import LossybenchError, OutOfRangeError
from lossybench.registry import invocation_registry as registry


def _load_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
        data = json.loads(text).get("config", {}) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, json.JSONDecodeError, tomllib.TOMLDecodeError, AttributeError) as exc:
        raise LossybenchError(f"cannot read the finetune configuration {path}: {exc}") from None
    if not isinstance(data, dict):
        raise LossybenchError(f"{path} holds no finetune configuration")
    return data


def finetune_cmd(
    ctx: typer.Context,
    task: Annotated[
        str | None, typer.Option(help="Task: classification, detection, segmentation.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="FAMILY:NAME, e.g. reference:scenes-segmenter.")
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(help="Base weights: checkpoint path, 'random', 'package:DIST/PATH', or "
                          "omit for the family's default."),
    ] = None,
    train_dataset: Annotated[
        str | None, typer.Option(help="Training images, FORMAT[:LOCATION].")
    ] = None,
    val_dataset: Annotated[
        str | None, typer.Option(help="Evaluation images, FORMAT[:LOCATION].")
    ] = None,
    codec: Annotated[
        list[str] | None,
        typer.Option("--codec", "-c",
                     help="Codec(s) to train on and score: NAME[:k=v,...]; repeatable or "
                          "comma-separated (jpeg,webp)."),
    ] = None,
    bpp: Annotated[
        str | None,
        typer.Option(help="Training bit rates: a list, one drawn per image, e.g. 0.1,0.2,0.3."),
    ] = None,
    bpp_range: Annotated[
        str | None,
        typer.Option(help="Training bit rates drawn log-uniformly from LO:HI, e.g. 0.1:0.3."),
    ] = None,
    eval_bpp: Annotated[
        str | None,
        typer.Option(help="Evaluation targets [default: the --bpp list, or LO, √(LO·HI), HI]."),
    ] = None,
    clean_fraction: Annotated[
        float | None,
        typer.Option(help="Share of training images left uncompressed, in [0, 1] "
                          "[default: 0.25]."),
    ] = None,
    augment: Annotated[
        str | None,
        typer.Option(help="Geometric augmentation of training images, targets following: "
                          "none (default), flip (left-right mirror), dihedral (mirror and "
                          "quarter turns; for rotation-free content)."),
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Optimizer steps (or --epochs).")] = None,
    epochs: Annotated[
        float | None, typer.Option(help="Passes over the training set (or --steps).")
    ] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate [default: 1e-4].")] = None,
    weight_decay: Annotated[
        float | None, typer.Option(help="AdamW weight decay [default: 1e-4].")
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(help="LR schedule after warm-up: cosine (default), step (×0.1 at ⅔), "
                          "constant."),
    ] = None,
    warmup: Annotated[
        int | None, typer.Option(help="Linear warm-up steps [default: 5% of steps, ≤ 100].")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Images per forward pass [default: 8].")
    ] = None,
    accumulate: Annotated[
        int | None,
        typer.Option(help="Forward passes per optimizer step (gradient accumulation) "
                          "[default: 1]."),
    ] = None,
    max_grad_norm: Annotated[
        float | None, typer.Option(help="Gradient-norm clip; 0 = off [default: 10].")
    ] = None,
    freeze_bn: Annotated[
        bool | None,
        typer.Option("--freeze-bn/--train-bn",
                     help="Keep the base model's BatchNorm statistics, or update them from "
                          "the training batches: better for runs of a few hundred steps "
                          "(docs/finetune.md) [default: freeze]. Example: --train-bn"),
    ] = None,
    bf16: Annotated[
        bool | None,
        typer.Option("--bf16/--fp32",
                     help="bfloat16 autocast for forward passes [default: fp32]."),
    ] = None,
    policy: RatePolicy = None,
    rate_tolerance: RateTolerance = None,
    train_limit: Annotated[
        int | None, typer.Option(help="Train on the first N images only.", min=1)
    ] = None,
    eval_limit: Annotated[
        int | None, typer.Option(help="Evaluate on the first N images only.", min=1)
    ] = None,
    holdout: Annotated[
        int | None,
        typer.Option(help="Hold the last N training images out of training; they choose "
                          "the --max-clean-drop interpolation. Example: --holdout 100", min=0),
    ] = None,
    select_dataset: Annotated[
        str | None,
        typer.Option(help="Images that choose the --max-clean-drop interpolation instead of "
                          "a --holdout: like the validation images, not them, FORMAT[:LOCATION]."
                          " Example: --select-dataset scenes-segmentation:dev"),
    ] = None,
    max_clean_drop: Annotated[
        float | None,
        typer.Option(help="Largest clean-metric loss you accept, in the headline metric's "
                          "units (0.02 = 2 mIoU points): the saved weights are base + "
                          "alpha × (finetuned − base) with the largest alpha that keeps it "
                          "on the --select-dataset or --holdout images (WiSE-FT). "
                          "Example: --max-clean-drop 0.02",
                     min=0.0, max=1.0),
    ] = None,
    distill: Annotated[
        float | None,
        typer.Option(help="Weight W of a distillation term: the model's outputs on each "
                          "training image, compressed or clean, are pulled towards the base "
                          "model's outputs on the clean image (per-pixel / per-image KL), so "
                          "it learns the artefacts without forgetting what it knew; 0 = off "
                          "[default: 0]. Every task but torchvision detection. "
                          "Example: --distill 1",
                     min=0.0, max=100.0),
    ] = None,
    train_only: Annotated[
        str | None,
        typer.Option(help="Train only the parameters whose names match these comma-separated "
                          "globs; the rest keep the base weights (surgical finetuning: "
                          "compression is an input-level shift, which the first layers can "
                          "absorb). A pattern matching nothing is refused with the model's "
                          "parameter names. Example: --train-only "
                          "'backbone.conv1.*,backbone.bn1.*,backbone.layer1.*'"),
    ] = None,
    eval_every: Annotated[
        int | None, typer.Option(help="Evaluate every N steps; 0 = before and after only.")
    ] = None,
    checkpoint_every: Annotated[
        int | None, typer.Option(help="Save last.pt every N steps [default: 50].")
    ] = None,
    stop_after: Annotated[
        int | None,
        typer.Option(help="Stop once N steps are done in total (saving last.pt); run again "
                          "without it to continue. For time-sliced machines."),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(help="auto (default): cuda when available, else cpu; or cpu, cuda[:N]."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Codec worker processes; 0 = in-process [default: 1].")
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(help="torch threads [default: the cores the codec workers leave]; on a "
                          "shared machine give what is really free.", min=1),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed [default: 0].")] = None,
    seeds: Annotated[
        int, typer.Option(min=1, help="Train this many seeds (SEED, SEED+1, …, each in "
                          "OUT/seed-S) and report every figure as mean ± std in "
                          "OUT/seeds.json. Example: --seeds 3")
    ] = 1,
    out: Annotated[
        str | None, typer.Option(help="Output directory [default: finetune].")
    ] = None,
    cache: CacheDir = None,
    no_cache: NoCache = False,
    train_dataset_option: Annotated[
        list[str] | None,
        typer.Option("--train-dataset-option", help="KEY=VALUE for the training dataset."),
    ] = None,
    val_dataset_option: Annotated[
        list[str] | None,
        typer.Option("--val-dataset-option", help="KEY=VALUE for the validation dataset."),
    ] = None,
    select_dataset_option: Annotated[
        list[str] | None,
        typer.Option("--select-dataset-option", help="KEY=VALUE for the selection dataset."),
    ] = None,
    task_option: Annotated[
        list[str] | None, typer.Option("--task-option", help="KEY=VALUE for the task.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="A TOML with these settings, or a finetune.json to replay; "
                          "options given here override it."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report JSON on stdout.")
    ] = False,
) -> None:
    """Finetune a model on compressed training images; report what it wins back.

    Trains on training images compressed on the fly (bitstreams cached) with the given
    codecs at bit rates drawn per image, mixing in clean images; evaluates before and
    after on the validation set (clean and every codec × target, as `bench run` scores)
    and writes OUT/model.pt (for `bench run --weights`), OUT/finetune.json and a table
    with the recovered fraction of the drop, (after − before) / (clean − before). An
    interrupted run started again with the same command resumes from OUT/last.pt.

    Examples:

      bench finetune --task segmentation --model reference:scenes-segmenter
      --train-dataset scenes-segmentation:train --val-dataset scenes-segmentation
      --codec jpeg --bpp-range 0.1:0.3 --clean-fraction 0.5 --augment dihedral
      --steps 300 --lr 3e-4 --out ft/seg-jpeg

      # keep the clean mIoU within 2 points: interpolate, choosing on validation-like scenes
      bench finetune ... --select-dataset scenes-segmentation:dev --max-clean-drop 0.02

      bench finetune --task classification --model timm:resnet50 --weights ckpt.pth
      --train-dataset imagefolder:/data/train --val-dataset imagefolder:/data/val
      -c jpeg,webp --bpp 0.1,0.2,0.3 --epochs 1 --batch-size 16 --accumulate 4
      --device cuda --eval-every 500

      bench finetune --config ft/seg-jpeg/finetune.json   # replay a finetune
    """
    from lossybench.cli.parse import parse_floats, parse_options
    from lossybench.engine.finetune.config import make_config
    from lossybench.engine.finetune.resolve import resolve

    given: dict[str, Any] = {
        "task": task, "model": model, "weights": weights,
        "train_dataset": train_dataset, "val_dataset": val_dataset,
        "codecs": split_codecs(codec) if codec else None,
        "bpp": parse_floats(bpp, "--bpp") if bpp else None,
        "bpp_range": parse_range(bpp_range) if bpp_range else None,
        "eval_bpp": parse_floats(eval_bpp, "--eval-bpp") if eval_bpp else None,
        "clean_fraction": clean_fraction, "augment": augment, "steps": steps, "epochs": epochs,
        "lr": lr,
        "weight_decay": weight_decay, "schedule": schedule, "warmup": warmup,
        "batch_size": batch_size, "accumulate": accumulate,
        "max_grad_norm": max_grad_norm, "freeze_bn": freeze_bn, "bf16": bf16,
        "policy": policy, "rate_tolerance": rate_tolerance,
        "train_limit": train_limit, "eval_limit": eval_limit,
        "holdout": holdout, "max_clean_drop": max_clean_drop,
        "select_dataset": select_dataset, "distill": distill,
        "train_only": [p.strip() for p in train_only.split(",") if p.strip()]
        if train_only else None,
        "eval_every": eval_every, "checkpoint_every": checkpoint_every,
        "stop_after": stop_after, "device": device, "workers": workers, "threads": threads,
        "seed": seed,
        "out": out, "cache": cache,
        "train_dataset_options": parse_options(train_dataset_option, "--train-dataset-option"),
        "val_dataset_options": parse_options(val_dataset_option, "--val-dataset-option"),
        "select_dataset_options": parse_options(select_dataset_option,
                                                "--select-dataset-option"),
        "task_options": parse_options(task_option, "--task-option"),
    }
    data = _load_config(config) if config is not None else {}
    data.pop("stop_after", None)  # a replay runs to the end unless told otherwise
    # an option given here replaces its alternative from the file (--bpp vs --bpp-range)
    for a, b in (("bpp", "bpp_range"), ("steps", "epochs")):
        if given[a] is not None or given[b] is not None:
            data.pop(a, None)
            data.pop(b, None)
    data.update({k: v for k, v in given.items() if v is not None})
    if max_grad_norm == 0:
        data["max_grad_norm"] = None
    if no_cache:
        data["cache"] = None
    missing = [f"--{k.replace('_', '-')}" for k in ("task", "model", "train_dataset",
                                                   "val_dataset", "codecs") if not data.get(k)]
    if missing:
        raise OutOfRangeError(f"bench finetune needs {', '.join(missing)} (see --help)")
    cfg = make_config(data, str(config) if config else "options")
    out_folder(cfg.out, what="a finetune writes a folder")
    from lossybench.cli.console import console

    for line in cfg.notes:  # targets sorted, a repeated one dropped
        console.print(f"[dim]{line}[/dim]")

    def train(one: Any) -> dict[str, Any] | None:
        with console.status(f"preparing {one.task}: {one.model} on {one.train_dataset}"
                            + (f", seed {one.seed}" if seeds > 1 else "")):
            res = resolve(one, registry(ctx))
        return run_with_progress(res, as_json and seeds == 1)

    if seeds == 1:
        train(cfg)
        return
    from lossybench.cli.console import stdout
    from lossybench.cli.finetune_table import seeds_table
    from lossybench.engine.finetune.seeds import SEEDS_FILE, run_seeds

    data = run_seeds(cfg, seeds, train)
    if data is None:
        return
    if as_json:
        stdout.print_json(json.dumps(data))
        return
    stdout.print(seeds_table(data))
    console.print(f"wrote {Path(cfg.out) / SEEDS_FILE}")


def run_with_progress(res: Any, as_json: bool = False) -> dict[str, Any] | None:
    """Run :func:`lossybench.finetune.finetune` under rich progress bars; print the table."""
    from lossybench.cli.console import console, progress, stdout
    from lossybench.cli.finetune_table import report_table
    from lossybench.engine.finetune.execute import Callbacks, finetune
    from lossybench.engine.finetune.state import REPORT_FILE

    bar = progress(info=True)
    ids: dict[str, Any] = {"train": None, "eval": None}
    smooth: dict[str, float] = {}

    def on_phase(name: str, total: int) -> None:
        if ids["eval"] is not None:
            bar.update(ids["eval"], visible=False)
            ids["eval"] = None
        if name == "training":
            if ids["train"] is None:
                ids["train"] = bar.add_task("training", total=total, info="")
        else:
            ids["eval"] = bar.add_task(name, total=total, info="")

    def on_step(info: dict[str, Any]) -> None:
        loss = smooth["loss"] = 0.9 * smooth.get("loss", info["loss"]) + 0.1 * info["loss"]
        text = f"loss {loss:.4f}  lr {info['lr']:.2e}  {info['images_per_second']:.1f} img/s"
        bar.update(ids["train"], completed=info["step"], info=text)

    def on_eval_image() -> None:
        if ids["eval"] is not None:
            bar.advance(ids["eval"])

    cb = Callbacks(on_phase=on_phase, on_eval_image=on_eval_image, on_step=on_step,
                   on_message=lambda text: bar.console.print(f"[dim]{text}[/dim]"))
    with bar:
        outcome = finetune(res, cb)
    if outcome.report is None:
        console.print(
            f"stopped at step {outcome.stopped_at}/{res.total_steps} (--stop-after); the "
            f"state is in {outcome.out / 'last.pt'}: run the same command without "
            "--stop-after to continue"
        )
        return None
    report = outcome.report
    if as_json:
        stdout.print_json(json.dumps(report))
        return report
    stdout.print(report_table(report))
    train = report["train"]
    console.print(
        f"trained {train['steps']} steps ({train['images_seen']} images, "
        f"{train['compressed_seen']} compressed) in {train['seconds'] / 60:.1f} min; "
        f"evaluation {report['eval_seconds'] / 60:.1f} min; wrote "
        f"{outcome.out / 'model.pt'} and {outcome.out / REPORT_FILE}"
    )
    if train["failures"]:
        console.print(f"[yellow]{train['failures']} training image(s) failed, e.g. "
                      f"{train['failure_examples'][0]}[/yellow]")
    return report
