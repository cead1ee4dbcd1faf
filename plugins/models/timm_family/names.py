"""Name checks for ``timm:NAME``: a typo or a missing pretrained tag gets close
matches and the command that lists the zoo, not timm's bare error deep inside a run."""

from __future__ import annotations

import difflib

from lossybench.errors import ModelError


def check_name(model: str) -> None:
    """Raise ModelError with close matches when timm has no model ``model``."""
    import timm

    if model.startswith(("hf-hub:", "hf_hub:", "local-dir:")):
        return
    arch, _, tag = model.partition(".")
    if timm.is_model(arch):
        if tag:
            tags = timm.list_pretrained(f"{arch}.*")
            if model not in tags:
                raise ModelError(
                    f"timm model {arch!r} has no pretrained tag {tag!r}; available: "
                    f"{', '.join(tags) or 'none'}"
                )
        return
    names = timm.list_models(pretrained=bool(tag)) if tag else timm.list_models()
    close = difflib.get_close_matches(model, names, n=6, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ModelError(
        f"timm has no model {model!r}{hint} "
        f"(`python -c \"import timm; print(timm.list_models('*{arch[:6]}*'))\"` lists them)"
    )
