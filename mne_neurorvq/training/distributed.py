"""torch.distributed helpers: process group set-up and codebook consistency.

Training runs data-parallel when started by ``torchrun`` (or any launcher that
sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``): every
process holds a full replica, reads its shard of the batch order, and
:class:`torch.nn.parallel.DistributedDataParallel` averages the gradients.
The backend is gloo on CPU and nccl on CUDA.

Codebooks are not trained by gradients and need their own care:

- the EMA update already sums the code counts and per-code sums over all
  processes inside :class:`mne_neurorvq.nn.quantizer.ResidualVQ`, so codebooks
  that start equal stay equal;
- the k-means initialisation at the first training step runs on each
  process's own batch and is *not* synchronised by the reference code, so the
  replicas would start from different codebooks (and then drift apart for
  good, because each process looks codes up in its own codebook).
  :meth:`mne_neurorvq.nn.quantizer.EMACodebook.kmeans_init_` therefore
  broadcasts process 0's codebook (codes, counts, ``initted`` flag) right
  after its k-means, before the first lookup, so every process quantises the
  first batch with the same codes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..nn._distributed import all_reduce_sum, broadcast_tensors, is_distributed

__all__ = [
    "DistributedContext",
    "all_reduce_sum",
    "broadcast_tensors",
    "init_distributed",
    "is_distributed",
]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in (possibly distributed) training.

    Attributes
    ----------
    rank, world_size, local_rank : int
    device : torch.device
    started : bool
        Whether :func:`init_distributed` created the process group (then
        :meth:`close` destroys it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    started: bool = False

    @property
    def is_main(self) -> bool:
        """Whether this is process 0 (the one that logs and writes files)."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """Whether there are several processes."""
        return self.world_size > 1

    def barrier(self):
        """Wait for every process (no-op alone)."""
        if self.enabled:
            dist.barrier()

    def close(self):
        """Destroy the process group if this context created it."""
        if self.started and is_distributed():
            dist.destroy_process_group()


def init_distributed(device=None, backend: str | None = None) -> DistributedContext:
    """Join the process group described by the environment, if any.

    Without ``WORLD_SIZE`` > 1 in the environment (and no group already
    running) this returns a single-process context. Otherwise it initialises
    torch.distributed (``env://``) with ``backend`` (default: nccl on CUDA,
    gloo on CPU); on CUDA each process uses GPU ``LOCAL_RANK``.

    Parameters
    ----------
    device : str | torch.device | None
        ``'cpu'``, ``'cuda'`` or a specific device; None picks CUDA when
        available.
    backend : str | None
        torch.distributed backend.

    Returns
    -------
    DistributedContext

    Examples
    --------
    Outside ``torchrun`` the context is a single process:

    >>> ctx = init_distributed("cpu")
    >>> ctx.rank, ctx.world_size, ctx.is_main, ctx.device
    (0, 1, True, device(type='cpu'))
    >>> ctx.close()  # nothing to close: no process group was started
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    started = False
    if is_distributed():
        rank, world_size = dist.get_rank(), dist.get_world_size()
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
    else:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if world_size > 1:
            if backend is None:
                backend = "nccl" if device.type == "cuda" else "gloo"
            if device.type == "cuda":
                torch.cuda.set_device(local_rank)
            dist.init_process_group(backend, rank=rank, world_size=world_size)
            started = True
    if device.type == "cuda" and device.index is None and world_size > 1:
        device = torch.device("cuda", local_rank)
    return DistributedContext(rank, world_size, local_rank, device, started)
