"""torchvision's pretrained weights through the torch hub cache, downloaded here rather
than inside the builder so that any failure names the exact file, URL and folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lossybench.errors import ModelError
from lossybench.kits.checkpoint import brief_error
from lossybench.kits.torch_hub import hub_checkpoint_dir


def default_weights(name: str) -> Any:
    import torchvision.models as tvm

    try:
        return tvm.get_model_weights(name).DEFAULT
    except (ValueError, AttributeError) as exc:
        raise ModelError(f"torchvision:{name} has no pretrained weights: {exc}") from None


def cache_path(weights: Any) -> Path:
    """Where torch.hub keeps (and torchvision reads) the file of a weights enum."""
    return hub_checkpoint_dir() / os.path.basename(urlparse(weights.url).path)


def ensure_cached(weights: Any) -> Path:
    """The cached weights file, downloaded first if missing; never a silent failure.

    Downloading here (not inside torchvision's builder) lets us turn any failure —
    no network, a proxy, a hash mismatch — into an error that says which file to put
    where. torch.hub writes through a temporary file, so no partial file remains.
    """
    import torch.hub

    path = cache_path(weights)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    match = torch.hub.HASH_REGEX.search(path.name)
    try:
        torch.hub.download_url_to_file(
            weights.url,
            str(path),
            match.group(1) if match else None,
            progress=sys.stderr.isatty(),
        )
    except Exception as exc:
        raise ModelError(
            f"pretrained weights {weights} are not in the torch hub cache and could not be "
            f"downloaded ({brief_error(exc)}). Fetch {weights.url} on a machine "
            f"with internet access and copy it to {path} (set TORCH_HOME to use another "
            "cache folder), or use --weights PATH / --weights random"
        ) from None
    return path
