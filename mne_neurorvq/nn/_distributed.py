"""torch.distributed primitives that are no-ops in a single process.

The quantiser needs them for its codebook statistics, and
:mod:`mne_neurorvq.training.distributed` exposes them for the trainer.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """Whether a torch.distributed process group is running."""
    return dist.is_available() and dist.is_initialized()


def _several_processes() -> bool:
    return is_distributed() and dist.get_world_size() > 1


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over processes in place (no-op without a process group)."""
    if _several_processes():
        dist.all_reduce(tensor)
    return tensor


def broadcast_tensors(tensors, src: int = 0):
    """Broadcast each tensor from process ``src`` in place (no-op alone)."""
    if _several_processes():
        for tensor in tensors:
            dist.broadcast(tensor, src)
