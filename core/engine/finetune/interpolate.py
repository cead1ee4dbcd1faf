"""Weight interpolation (WiSE-FT): keep the clean metric within a budget."""

from __future__ import annotations

from typing import Any

from lossybench.engine.finetune.callbacks import Callbacks
from lossybench.engine.finetune.evaluate import eval_line, evaluate, headline_view
from lossybench.engine.finetune.resolve import Resolved

#: bisection steps on alpha once alpha = 1 misses the clean budget: resolution 1/32
INTERPOLATION_STEPS = 5


def interpolate(base: dict[str, Any], tuned: dict[str, Any], alpha: float) -> dict[str, Any]:
    """base + alpha·(tuned − base) for every floating-point tensor (others: tuned's)."""
    return {
        k: (b + alpha * (tuned[k] - b)).to(b.dtype) if b.is_floating_point() else tuned[k]
        for k, b in base.items()
    }


def selection_name(res: Resolved) -> str:
    cfg = res.config
    if cfg.select_dataset is not None:
        return f"images of {cfg.select_dataset}"
    return "held-out training images"


def choose_interpolation(
    res: Resolved, module: Any, base: dict[str, Any], tuned: dict[str, Any],
    base_eval: dict[str, Any], cb: Callbacks,
) -> dict[str, Any]:
    """The largest alpha whose clean metric on the selection images keeps the budget.

    Why interpolate: finetuning on compressed images trades clean accuracy for
    robustness, and moving part of the way from the base weights to the finetuned ones
    keeps most of the robustness for a fraction of the clean loss (WiSE-FT, Wortsman
    et al., CVPR 2022). The choice is made on held-out training images or on a
    selection dataset, never on the validation set the report scores. alpha = 1 is
    tried first, then a bisection on [0, 1] (clean loss grows with alpha); alpha = 0 is
    the base model itself. Leaves the chosen weights in ``module``.
    """
    cfg = res.config
    assert cfg.max_clean_drop is not None
    head = res.val_task.headline
    base_view = headline_view(res, base_eval)
    floor = (base_view["clean"] or 0.0) - cfg.max_clean_drop
    tried: list[dict[str, Any]] = []

    def within(alpha: float) -> bool:
        module.load_state_dict(interpolate(base, tuned, alpha))
        cb.on_phase(f"selection images, alpha {alpha:.3g}", len(res.select_samples))
        view = headline_view(res, evaluate(res, cb.on_eval_image, select=True))
        ok = view["clean"] is not None and view["clean"] >= floor - 1e-12
        tried.append({"alpha": alpha, **view, "within_budget": ok})
        cb.on_message(eval_line(f"alpha {alpha:.3g}", head, view)
                      + ("" if ok else " (over the clean budget)"))
        return ok

    if within(1.0):
        alpha = 1.0
    else:
        lo, hi = 0.0, 1.0
        for _ in range(INTERPOLATION_STEPS):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if within(mid) else (lo, mid)
        alpha = lo
    module.load_state_dict(interpolate(base, tuned, alpha))
    return {
        "alpha": alpha,
        "max_clean_drop": cfg.max_clean_drop,
        "selection": selection_name(res),
        "selection_images": len(res.select_samples),
        "base": base_view,
        "tried": tried,
        "method": "weights = base + alpha * (finetuned - base); the largest alpha whose "
        "clean headline metric on the selection images is >= base - max_clean_drop",
    }
