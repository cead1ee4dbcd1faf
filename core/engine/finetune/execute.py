"""`bench finetune`: win back what compression costs by training on compressed images.

The study behind lossybench found that most of the accuracy lost at low bit rates is a
failure to generalise to compression artefacts, not lost information: finetuning on
compressed training images recovers most of it. This module is that experiment as one
reproducible, resumable procedure:

1. :func:`resolve` checks everything (names, rates, fractions, that the model family and
   the task support training) before any heavy work starts;
2. :func:`finetune` evaluates the model *before* (clean + every codec × target on the
   validation set, with the same code path as ``bench run``), trains on training
   images compressed on the fly at rates drawn per image, evaluates *after*, and writes
   ``model.pt`` (loadable by ``bench run --weights``) and ``finetune.json``.

Determinism: what each training step sees is a pure function of (seed, step). Image
order is a seeded permutation per epoch; clean-or-compressed, the codec, the target
and the mirror/quarter turns (``augment``) of sample *g* come from
``numpy.random.Generator(PCG64([seed, 1, g]))``; compression is deterministic (and
cached). So resuming needs only the step count plus the model,
optimizer and torch RNG state in ``last.pt``, and a resumed run ends with the same
weights as an uninterrupted one. Codec work runs in ``workers`` processes; it does not
change what is drawn.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lossybench.engine.finetune.callbacks import Callbacks
from lossybench.engine.finetune.evaluate import evaluate
from lossybench.engine.finetune.interpolate import choose_interpolation
from lossybench.engine.finetune.loop import train_loop
from lossybench.engine.finetune.report import build_report
from lossybench.engine.finetune.resolve import Resolved
from lossybench.engine.finetune.sampler import items
from lossybench.engine.finetune.state import (
    CHECKPOINT_FORMAT,
    MODEL_FILE,
    REPORT_FILE,
    STATE_FILE,
    STATE_FORMAT,
    atomic_torch_save,
    jsonable,
    load_state,
    rng_state,
    set_rng_state,
)
from lossybench.engine.finetune.train import (
    make_optimizer,
    make_teacher,
    set_train_mode,
    warmup_steps,
)
from lossybench.errors import LossybenchError


@dataclass
class Outcome:
    """What :func:`finetune` returns: the report, or that it stopped early (``stop_after``)."""

    report: dict[str, Any] | None
    out: Path
    stopped_at: int | None = None


def finetune(
    res: Resolved, callbacks: Callbacks | None = None, command: list[str] | None = None
) -> Outcome:
    """Evaluate, train (resuming from ``last.pt``), evaluate; write model.pt + finetune.json."""
    import torch

    from lossybench.engine.run.execute import set_threads

    cb = callbacks or Callbacks()
    cfg = res.config
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    digest = cfg.digest()
    report_path, state_path = out / REPORT_FILE, out / STATE_FILE
    if report_path.is_file():
        try:
            done = json.loads(report_path.read_text())
        except (OSError, json.JSONDecodeError):
            done = {}
        if done.get("config_sha256") != digest:
            raise LossybenchError(
                f"{out} already holds a finished finetune of a different configuration; "
                "use another --out"
            )
        if (out / MODEL_FILE).is_file():
            cb.on_message(f"{out} already holds this finetune; nothing to do")
            return Outcome(done, out)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    else:
        set_threads(cfg.workers)
    if torch.device(res.model.device).type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    model, module = res.model, res.model.trainable()
    total = res.total_steps
    warmup = warmup_steps(cfg, total)
    opt = make_optimizer(module, cfg)
    per_step = cfg.batch_size * cfg.accumulate
    progress: dict[str, Any]
    start = time.perf_counter()
    base_state = (
        {k: v.detach().clone() for k, v in module.state_dict().items()}
        if cfg.max_clean_drop is not None else None
    )
    teacher = make_teacher(module) if cfg.distill else None  # before any resumed weights
    if state_path.is_file():
        state = load_state(state_path, digest)
        module.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        step = int(state["step"])
        progress = state["progress"]
        cb.on_message(f"resuming from {state_path} at step {step}/{total}")
    else:
        cb.on_phase("evaluating before finetuning", len(res.val_samples))
        t0 = time.perf_counter()
        before = evaluate(res, cb.on_eval_image)
        step = 0
        progress = {"before": before, "history": [], "evals": [], "train_seconds": 0.0,
                    "eval_seconds": time.perf_counter() - t0, "images": 0, "compressed": 0,
                    "failures": 0, "failure_examples": []}
        if cfg.max_clean_drop is not None:
            cb.on_phase("evaluating the base model on the selection images",
                        len(res.select_samples))
            t0 = time.perf_counter()
            progress["select_before"] = evaluate(res, cb.on_eval_image, select=True)
            progress["eval_seconds"] += time.perf_counter() - t0

    def save(at: int) -> None:
        atomic_torch_save(
            {"format": STATE_FORMAT, "config_sha256": digest, "step": at,
             "model": module.state_dict(), "optimizer": opt.state_dict(),
             "rng": rng_state(), "progress": progress},
            state_path,
        )

    if step == 0:
        save(0)  # the before-evaluation is not redone after an interruption
    dev_type = torch.device(model.device).type
    if step < total and (cfg.stop_after is None or step < cfg.stop_after):
        cb.on_phase("training", total)
        set_train_mode(module, cfg.freeze_bn)
        stream_ = items(res, step * per_step, cfg.workers)
        try:
            step = train_loop(res, stream_, opt, step, total, warmup, progress, save, cb,
                               dev_type, teacher)
        finally:
            stream_.close()  # type: ignore[attr-defined]
    if step < total:
        return Outcome(None, out, stopped_at=step)
    interpolation = None
    if base_state is not None:
        t0 = time.perf_counter()
        tuned = {k: v.detach().clone() for k, v in module.state_dict().items()}
        interpolation = choose_interpolation(
            res, module, base_state, tuned, progress["select_before"], cb
        )
        progress["eval_seconds"] += time.perf_counter() - t0
    cb.on_phase("evaluating after finetuning", len(res.val_samples))
    t0 = time.perf_counter()
    after = evaluate(res, cb.on_eval_image)
    progress["eval_seconds"] += time.perf_counter() - t0
    report = build_report(res, progress["before"], after, progress, command or sys.argv,
                          time.perf_counter() - start)
    report["interpolation"] = interpolation
    ckpt = {
        "model": model.state_dict_for_checkpoint(),
        "preprocessing": jsonable(model.preprocessing),
        "finetune": {"format": CHECKPOINT_FORMAT, "config_sha256": digest,
                     "base": jsonable(model.info()["weights"]), "model": cfg.model,
                     "task": cfg.task, "steps": total, "codecs": cfg.codecs,
                     "alpha": None if interpolation is None else interpolation["alpha"]},
    }
    atomic_torch_save(ckpt, out / MODEL_FILE)
    from lossybench.digest import sha256_file

    report["finetuned"] = {"file": MODEL_FILE, "sha256": sha256_file(out / MODEL_FILE)}
    tmp = report_path.with_name(f".{REPORT_FILE}.tmp")
    tmp.write_text(json.dumps(report, indent=2, allow_nan=False))
    os.replace(tmp, report_path)
    state_path.unlink(missing_ok=True)
    return Outcome(report, out)
