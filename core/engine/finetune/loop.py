"""The training loop: steps, accumulation, periodic evaluation and checkpoints."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from lossybench.engine.finetune.callbacks import Callbacks
from lossybench.engine.finetune.evaluate import eval_line, evaluate, headline_view
from lossybench.engine.finetune.resolve import Resolved
from lossybench.engine.finetune.sampler import Item
from lossybench.engine.finetune.train import lr_at, reference_input, training_pair
from lossybench.errors import LossybenchError


def train_loop(
    res: Resolved, stream_: Iterator[Item], opt: Any, step: int, total: int, warmup: int,
    progress: dict[str, Any], save: Callable[[int], None], cb: Callbacks, dev_type: str,
    teacher: Any = None,
) -> int:
    import torch

    cfg, model, task = res.config, res.model, res.task
    params = [p for g in opt.param_groups for p in g["params"]]
    if cfg.distill and teacher is None:
        raise LossybenchError("internal error: --distill needs the base model as teacher")
    while step < total and (cfg.stop_after is None or step < cfg.stop_after):
        t0 = time.perf_counter()
        lr = lr_at(step, total, cfg.lr, warmup, cfg.schedule)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss_sum, seen = 0.0, 0
        for _ in range(cfg.accumulate):
            inputs, targets, references = [], [], []
            for _ in range(cfg.batch_size):
                item = next(stream_)
                sample = res.train_samples[item.draw.index]
                if item.image is None:
                    progress["failures"] += 1
                    if len(progress["failure_examples"]) < 5:
                        progress["failure_examples"].append(f"{sample.id}: {item.error}")
                    continue
                x, target = training_pair(model, task, sample, item)
                inputs.append(x)
                targets.append(target)
                if teacher is not None:
                    references.append(reference_input(model, item))
                progress["compressed"] += item.draw.codec is not None
            if not inputs:
                continue
            with torch.autocast(dev_type, dtype=torch.bfloat16, enabled=cfg.bf16):
                if teacher is None:
                    loss = model.loss(inputs, targets)
                else:
                    loss = model.distillation_loss(inputs, targets, references, teacher,
                                                   cfg.distill)
            if not torch.isfinite(loss):
                save(step)
                raise LossybenchError(
                    f"training loss became {loss.item()} at step {step + 1}; lower --lr "
                    f"(now {cfg.lr:g}) or check the data (state saved at step {step})"
                )
            (loss / cfg.accumulate).backward()
            loss_sum += float(loss.detach()) * len(inputs)
            seen += len(inputs)
        if cfg.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        opt.step()
        step += 1
        seconds = time.perf_counter() - t0
        progress["train_seconds"] += seconds
        progress["images"] += seen
        entry = {"step": step, "loss": loss_sum / max(seen, 1), "lr": lr, "images": seen}
        progress["history"].append(entry)
        cb.on_step({**entry, "images_per_second": seen / max(seconds, 1e-9)})
        if cfg.eval_every and step % cfg.eval_every == 0 and step < total:
            cb.on_phase(f"evaluating at step {step}", len(res.val_samples))
            t1 = time.perf_counter()
            ev = evaluate(res, cb.on_eval_image)
            progress["eval_seconds"] += time.perf_counter() - t1
            view = headline_view(res, ev)
            progress["evals"].append({"step": step, **view})
            cb.on_message(eval_line(f"step {step}", res.val_task.headline, view))
            cb.on_phase("training", total)
        if (cfg.checkpoint_every and step % cfg.checkpoint_every == 0) or step == total or (
            cfg.stop_after is not None and step >= cfg.stop_after
        ):
            save(step)
    return step
