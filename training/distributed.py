"""torchrun / DistributedDataParallel plumbing (the shape of torchvision references/detection/utils).

A process started by ``torchrun`` (``python -m torch.distributed.run``) finds RANK, WORLD_SIZE and
LOCAL_RANK in its environment; a plain ``python -m training.train`` has none and runs alone.
NCCL joins the GPUs; gloo joins CPU processes (tests, CPU-only machines).
"""
from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ros2_openpose.device import resolve_device


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 logs, evaluates and writes checkpoints; the other ranks only train."""
        return self.rank == 0


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the process group when launched by torchrun; otherwise a single-process DistInfo."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistInfo(device=resolve_device(device, local_rank=0))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    dev = resolve_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if not dist.is_initialized():
        kwargs = {"device_id": dev} if dev.type == "cuda" else {}
        dist.init_process_group(backend=backend, init_method="env://", **kwargs)
    return DistInfo(rank, world, local_rank, dev)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean of a tensor over all ranks (for logging losses that every rank computed)."""
    if not info.enabled:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / info.world_size


def broadcast_object(obj: object, info: DistInfo) -> object:
    """Rank 0's ``obj`` on every rank (e.g. the metrics that decide best.pt)."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def cleanup(info: DistInfo, synchronize: bool = True) -> None:
    """Leave the process group while the interpreter is fully alive.

    A DistributedDataParallel wrapper sits in a reference cycle, so dropping the last name for it does
    not free it: its reducer keeps the gloo/NCCL group (and that group's worker threads) alive until
    the garbage collector runs. If that happens only at interpreter shutdown, the group's C++
    destructor can abort the process ("terminate called without an active exception", seen once in
    CI on a two-process gloo run). Collecting first frees those wrappers here; the barrier makes sure
    no rank tears its side down while another still has a collective in flight. ``synchronize=False``
    on the way out of an error: the other ranks may never reach that barrier.
    """
    if info.enabled and dist.is_initialized():
        gc.collect()
        if synchronize:
            dist.barrier()
        dist.destroy_process_group()
