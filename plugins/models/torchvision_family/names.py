"""Model names checked against torchvision's own registry: a name of another task, a
video model or a typo gets an error that says what to use instead."""

from __future__ import annotations

import difflib

from lossybench.errors import ModelError

TASKS = ("classification", "detection", "segmentation")


def task_models() -> dict[str, list[str]]:
    """Builder names per task, from torchvision's own registry."""
    import torchvision.models as tvm

    modules = {
        "classification": tvm,
        "detection": tvm.detection,
        "segmentation": tvm.segmentation,
    }
    return {task: sorted(tvm.list_models(module=mod)) for task, mod in modules.items()}


def check_name(model: str, task: str) -> str:
    """The builder name for ``model`` or a ModelError with close matches / the right task."""
    if task not in TASKS:
        raise ModelError(f"torchvision models serve {', '.join(TASKS)}, not {task!r}")
    names = task_models()
    key = model.lower()
    if key in names[task]:
        return key
    for other, listed in names.items():
        if key in listed:
            raise ModelError(
                f"torchvision:{model} is a {other} model, not a {task} model; "
                f"use --task {other} or pick a {task} model"
            )
    import torchvision.models as tvm

    if key in tvm.list_models():
        raise ModelError(
            f"torchvision:{model} is not a {task} model (it is a video, optical-flow or "
            "quantized model, which lossybench does not run)"
        )
    close = difflib.get_close_matches(key, names[task], n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ModelError(
        f"torchvision has no {task} model {model!r}{hint} "
        f'(`python -c "import torchvision; print(torchvision.models.list_models())"` lists them)'
    )
