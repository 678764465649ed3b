"""Trials of several store entries as one torch ``Dataset``, read on demand.

The networks of the benchmark (NeuroRVQ fine-tuning, the braindecode
baselines) train from a :class:`TrialDataset`: each item is read from the
entries' memory-maps when a batch asks for it, so a unit holds one batch of
trials in memory (and the labels of all), not a copy of its training set.
"""

from __future__ import annotations

import numpy as np
import torch

from .store import StoreEntry


class TrialDataset(torch.utils.data.Dataset):
    """The trials of store entries, concatenated, read from disk per item.

    Parameters
    ----------
    entries : list of StoreEntry
        The subjects (e.g. the training subjects of a fold).
    picks : array of int | None
        Channels to read, in this order (None: all).
    scale : float
        Factor applied to the stored volts (``1e6``: microvolts, what
        braindecode's models and NeuroRVQ read).
    n_times : int | None
        Keep the first ``n_times`` samples (None: all).

    Examples
    --------
    >>> entries = TrialStore("cache").fill("eyes", [1, 2])  # doctest: +SKIP
    >>> dataset = TrialDataset(entries, scale=1e6)  # doctest: +SKIP
    >>> x, y = dataset[0]  # doctest: +SKIP
    >>> x.shape, x.dtype, y  # doctest: +SKIP
    (torch.Size([64, 800]), torch.float32, 1)
    """

    def __init__(self, entries, picks=None, scale: float = 1.0, n_times=None):
        self.entries = [
            e if isinstance(e, StoreEntry) else StoreEntry(e) for e in entries
        ]
        if not self.entries:
            raise ValueError("TrialDataset needs at least one store entry")
        self.picks = None if picks is None else np.asarray(picks, dtype=np.int64)
        self.scale = float(scale)
        self.n_times = n_times
        lengths = [len(e) for e in self.entries]
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])
        self.labels = np.concatenate([e.codes for e in self.entries])
        first = self.entries[0].manifest
        self.ch_names = list(first["ch_names"])
        self._maps = None

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getstate__(self):  # memory-maps are reopened in each process
        return {**self.__dict__, "_maps": None}

    def _map(self, k: int) -> np.ndarray:
        if self._maps is None:
            self._maps = [None] * len(self.entries)
        if self._maps[k] is None:
            self._maps[k] = self.entries[k].data
        return self._maps[k]

    def __getitem__(self, index):
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} trials")
        k = int(np.searchsorted(self.offsets, index, side="right") - 1)
        trial = self._map(k)[index - self.offsets[k]]
        if self.picks is not None:
            trial = trial[self.picks]
        trial = trial[:, : self.n_times] * np.float32(self.scale)
        return torch.from_numpy(np.ascontiguousarray(trial, np.float32)), int(
            self.labels[index]
        )

    @property
    def shape(self) -> tuple:
        """``(n_trials, n_channels, n_times)`` of the items."""
        manifest = self.entries[0].manifest
        n_channels = manifest["n_channels"] if self.picks is None else len(self.picks)
        n_times = manifest["n_times"]
        n_times = n_times if self.n_times is None else min(n_times, self.n_times)
        return (len(self), n_channels, n_times)

    def chunks(self, size: int = 256):
        """The trials in consecutive arrays of at most ``size`` (float32, scaled)."""
        for k in range(len(self.entries)):
            data = self._map(k)
            for start in range(0, len(data), size):
                part = data[start : start + size]
                if self.picks is not None:
                    part = part[:, self.picks]
                yield np.asarray(part[..., : self.n_times], np.float32) * np.float32(
                    self.scale
                )

    def to_array(self) -> np.ndarray:
        """All trials in memory (float32): only for the in-fold training stages."""
        return np.concatenate(list(self.chunks()))
