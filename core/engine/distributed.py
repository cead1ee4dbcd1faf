"""torch.distributed plumbing for `torchrun -m lossybench run ...`.

Nothing home-made: ranks, world size and the rendezvous come from torchrun's
environment; records are gathered with ``gather_object`` (gloo on CPU, nccl on GPU).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass
class World:
    rank: int = 0
    size: int = 1
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: str = "cpu") -> World:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls()
        import torch.distributed as dist

        here = False
        if not dist.is_initialized():
            backend = "nccl" if device.startswith("cuda") else "gloo"
            if backend == "nccl":  # the model is already on this rank's GPU (rank_device)
                import torch

                torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            dist.init_process_group(backend=backend)
            here = True
        return cls(dist.get_rank(), dist.get_world_size(), here)

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` on rank 0 (others get an empty list)."""
        import torch.distributed as dist

        out: list[Any] | None = [None] * self.size if self.is_main else None
        dist.gather_object(obj, out, dst=0)
        return out or []

    def close(self) -> None:
        if self.size > 1 and self.initialized_here:
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()
            self.initialized_here = False
