"""torchrun support: the same CLI under `torchrun --nproc_per_node N`, gloo on CPU (NCCL when on CUDA).

Each rank draws its own sample stream; gradients are averaged with one all-reduce per step over a flat buffer, so any
training step (not only `module(x)` calls that DistributedDataParallel can hook) stays in sync.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

import torch
import torch.distributed as dist
from torch import nn


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def init_distributed() -> tuple[int, int]:
    """(rank, world_size); initialises the process group on first use when launched by torchrun."""
    if launched_by_torchrun() and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and os.environ.get("GANSTEER_BACKEND") != "gloo" else "gloo"
        dist.init_process_group(backend)
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def finish_distributed() -> None:
    """End of a successful run under torchrun: wait for every rank, destroy the process group, then pause briefly.

    Gloo's worker threads drop their last references to a collective's tensors after the call has returned, and
    need the GIL to do so; if the interpreter is already shutting down, the process aborts ("terminate called without
    an active exception", pytorch/pytorch#179291) -- here about 1 run in 6 did. A 0.2 s GIL-free sleep lets them
    finish (0 aborts in 30 runs). Not for a failed run: other ranks may be stuck in a collective and never arrive."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
        time.sleep(0.2)


def broadcast_parameters(modules: Iterable[nn.Module]) -> None:
    """Start every rank from rank 0's weights and buffers."""
    if dist.is_initialized():
        for module in modules:
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t.data, src=0)


def average_gradients(parameters: Iterable[nn.Parameter]) -> None:
    """Mean of each gradient over ranks, in one collective."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """In-place sum over ranks (a no-op in a single process); returns the tensor."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(tensor)
    return tensor
