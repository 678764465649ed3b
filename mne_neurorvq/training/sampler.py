"""Deterministic, resumable and shardable batch order.

The order of the batches of an epoch is a pure function of ``(seed, epoch)``:
no generator state is carried from one epoch to the next, so a run resumed
from a checkpoint rebuilds the interrupted epoch's order from two integers
and skips the batches it had already consumed (``start``). Every batch is
drawn from one channel set (montage group), so its windows can be stacked.

Distributed training shards the same global order: the list of batches is cut
to a multiple of the number of processes (every process must take the same
number of steps, or the gradient all-reduce would hang) and process ``r``
takes batches ``r, r + W, r + 2W, ...``. One optimizer step therefore
consumes ``W`` consecutive batches of the global order, one per process.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["WindowBatchOrder", "derive_seed"]


def derive_seed(*keys: int | str) -> int:
    """Derive a 63-bit seed from integers and strings, stably across runs.

    Strings are hashed with a fixed function (not Python's salted ``hash``).

    Examples
    --------
    >>> derive_seed(0, "mask", 3) == derive_seed(0, "mask", 3)
    True
    """
    entropy = []
    for key in keys:
        if isinstance(key, str):
            entropy.extend(key.encode())
            entropy.append(256)
        else:
            entropy.append(int(key))
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


class WindowBatchOrder:
    """Batches of window indices for each epoch, one channel set per batch.

    Parameters
    ----------
    groups : sequence of array-like of int
        Window indices of each channel set
        (``WindowDataset.montage_groups``).
    batch_size : int
        Windows per batch (per process).
    seed : int
        Seed of the order.
    shuffle : bool
        Shuffle windows within each group and batches across groups. When
        False, batches follow the groups and the index order.
    drop_last : bool
        Drop each group's last batch when it is incomplete.
    rank, world_size : int
        This process and the number of processes.

    Examples
    --------
    >>> order = WindowBatchOrder([range(10)], batch_size=4, seed=0)
    >>> sorted(len(batch) for batch in order.batches(epoch=0))
    [2, 4, 4]
    >>> all(
    ...     (a == b).all()
    ...     for a, b in zip(order.batches(1), order.batches(1))
    ... )
    True
    """

    def __init__(
        self,
        groups: Sequence,
        batch_size: int,
        seed: int = 0,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside 0..{world_size - 1}")
        self.groups = [np.asarray(group, dtype=np.int64) for group in groups]
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        if len(self) == 0:
            raise ValueError(
                f"No complete step: {sum(map(len, self.groups))} windows give fewer "
                f"than {world_size} batch(es) of {batch_size} (drop_last="
                f"{drop_last}); use a smaller batch size or more data."
            )

    def global_batches(self, epoch: int) -> list[np.ndarray]:
        """Every batch of ``epoch``, all processes together, in step order."""
        rng = np.random.default_rng([self.seed, int(epoch)])
        batches = []
        for group in self.groups:
            indices = rng.permutation(group) if self.shuffle else group
            for start in range(0, len(indices), self.batch_size):
                batch = indices[start : start + self.batch_size]
                if len(batch) == self.batch_size or not self.drop_last:
                    batches.append(batch)
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        n_keep = len(batches) - len(batches) % self.world_size
        return batches[:n_keep]

    def batches(self, epoch: int, start: int = 0) -> list[np.ndarray]:
        """Batches of ``epoch`` for this process, from its ``start``-th on."""
        return self.global_batches(epoch)[self.rank :: self.world_size][start:]

    def __len__(self) -> int:
        """Batches per epoch and process (steps per epoch)."""
        n_batches = 0
        for group in self.groups:
            full, rest = divmod(len(group), self.batch_size)
            n_batches += full + (rest > 0 and not self.drop_last)
        return n_batches // self.world_size
