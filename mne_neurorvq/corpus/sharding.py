"""Which process tokenizes which recordings, under ``torchrun`` or alone.

The processes agree through torch.distributed (gloo, also next to CUDA):
rank 0 reads the store's index and decides what is left to do, the plan is
broadcast, every rank works on its own share and writes only its own
recordings' files, and rank 0 gathers the counts and merges the index at
the end. Nothing else is shared, so no locks are needed.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from ..training.distributed import DistributedContext, init_distributed

__all__ = [
    "assign_shares",
    "broadcast_object",
    "gather_objects",
    "join_processes",
    "rank_device",
]


def assign_shares(sizes, world_size: int) -> list[list[int]]:
    """Split items into ``world_size`` disjoint shares of similar total size.

    Largest first, each to the share with the least total so far (ties: the
    lowest rank; equal sizes: the lowest item index), so the split depends
    only on the sizes. Each share lists its item indices in increasing order.

    Parameters
    ----------
    sizes : sequence of int
        Cost of every item (e.g. bytes of the recording).
    world_size : int
        Number of processes.

    Returns
    -------
    list of list of int

    Examples
    --------
    >>> assign_shares([10, 50, 20, 30, 40], 2)
    [[0, 1, 2], [3, 4]]
    """
    if world_size < 1:
        raise ValueError(f"world_size must be at least 1, got {world_size}")
    order = sorted(range(len(sizes)), key=lambda i: (-sizes[i], i))
    loads = [0] * world_size
    shares: list[list[int]] = [[] for _ in range(world_size)]
    for item in order:
        rank = min(range(world_size), key=lambda r: (loads[r], r))
        shares[rank].append(item)
        loads[rank] += sizes[item]
    return [sorted(share) for share in shares]


def join_processes() -> DistributedContext:
    """The process context: torchrun's group over gloo, or a single process.

    The group only coordinates (on the CPU); see :func:`rank_device` for
    where each process tokenizes.
    """
    return init_distributed("cpu", backend="gloo")


def rank_device(device, ctx: DistributedContext) -> str:
    """Where a process tokenizes: ``"auto"`` is its own GPU, else the CPU.

    With more processes than GPUs on a node, processes share the GPUs
    round-robin (``LOCAL_RANK`` modulo the number of GPUs).

    Examples
    --------
    >>> rank_device("cpu", DistributedContext())
    'cpu'
    """
    if device not in (None, "auto"):
        return str(device)
    if torch.cuda.is_available():
        return f"cuda:{ctx.local_rank % torch.cuda.device_count()}"
    return "cpu"


def broadcast_object(ctx: DistributedContext, value=None):
    """Rank 0's ``value`` on every rank."""
    if not ctx.enabled:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(ctx: DistributedContext, value) -> list:
    """Every rank's ``value``, in rank order, on every rank."""
    if not ctx.enabled:
        return [value]
    values = [None] * ctx.world_size
    dist.all_gather_object(values, value)
    return values
