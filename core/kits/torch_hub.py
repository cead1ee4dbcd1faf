"""torch hub's cache directory, found without importing torch.

Why: weights a plugin looks for in torch hub's cache (``<hub dir>/checkpoints``) decide
whether it counts as available, and ``bench list`` asks every plugin that; importing
torch for one path costs seconds and a gigabyte. When torch.hub is already loaded, its
own ``get_dir()`` answers (it honours ``torch.hub.set_dir``); otherwise ``set_dir``
cannot have been called in this process, and the path is torch's default rule, copied.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path


def hub_dir() -> Path:
    """``torch.hub.get_dir()``, without importing torch when it is not loaded yet."""
    hub = sys.modules.get("torch.hub")
    if hub is not None:
        return Path(hub.get_dir())
    # Copied from torch/hub.py (torch 2.14.1), ``get_dir`` and ``_get_torch_home``:
    #   if os.getenv("TORCH_HUB"): warnings.warn("TORCH_HUB is deprecated, ...")
    #   if _hub_dir is not None: return _hub_dir       # only set by set_dir()
    #   return os.path.join(_get_torch_home(), "hub")
    #   _get_torch_home() = os.path.expanduser(os.getenv(
    #       "TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")))
    # tests/test_listing.py checks that both paths agree.
    if os.getenv("TORCH_HUB"):
        warnings.warn("TORCH_HUB is deprecated, please use env TORCH_HOME instead", stacklevel=2)
    torch_home = os.path.expanduser(
        os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch"))
    )
    return Path(os.path.join(torch_home, "hub"))


def hub_checkpoint_dir() -> Path:
    """Where ``torch.hub.load_state_dict_from_url`` (and so ``compressai.zoo``) caches files."""
    return hub_dir() / "checkpoints"
