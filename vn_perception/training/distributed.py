"""Multi-process training with torch.distributed: set up from the environment `torchrun` provides.

`torchrun --nproc_per_node=2 -m vn_perception.cli train ...` sets WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and
MASTER_PORT; with WORLD_SIZE > 1 the training joins a process group: NCCL when it runs on CUDA (one GPU per
local rank), gloo on the CPU (the CPU threads are shared out among the local processes).
"""
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from vn_perception.utils.device import resolve_device

#: how long a rank waits for the others (rank 0 renders the view sets while the others wait)
PROCESS_GROUP_TIMEOUT = timedelta(hours=2)


@dataclass
class DistributedContext:
    """`rank`, `world_size`, `local_rank`, this process's `device`; `is_main` for rank 0."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self):
        return self.rank == 0

    @property
    def distributed(self):
        return self.world_size > 1

    def barrier(self):
        if self.distributed:
            dist.barrier()

    def all_reduce_sum(self, tensor):
        """Sum of `tensor` over the ranks (in place, returned); itself when not distributed."""
        if self.distributed:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def close(self):
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def setup_distributed(device="auto"):
    """A `DistributedContext` from the environment (WORLD_SIZE <= 1 or unset: a single process)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    chosen = resolve_device(device)
    if world_size <= 1:
        return DistributedContext(device=chosen)
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size)))
    if chosen.type == "cuda":
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
        backend = "nccl"
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
        backend = "gloo"
    dist.init_process_group(backend, timeout=PROCESS_GROUP_TIMEOUT)
    return DistributedContext(rank, world_size, local_rank, chosen)
