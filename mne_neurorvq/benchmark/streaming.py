"""Trials of several store entries as one torch ``Dataset``, read on demand.

The networks of the benchmark (NeuroRVQ fine-tuning, the braindecode
baselines) train from a :class:`TrialDataset`: each item is read from the
entries' ``.npy`` files when a batch asks for it, so a unit holds one batch of
trials in memory (and the labels of all), not a copy of its training set.

Items are read with positional reads (``os.pread``) at the trial's offset in
the ``.npy`` file rather than through a memory-map kept open: the same random
access and no decoding, but the file's pages stay in the operating system's
page cache (shared between the workers of a node, dropped under memory
pressure) instead of counting in the unit's resident memory as mapped pages
do once touched, so a unit's RSS does not grow with the epochs it trains.
"""

from __future__ import annotations

import os

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
        self.trial_shape = (first["n_channels"], first["n_times"])
        self._files = None

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getstate__(self):  # files are reopened in each process
        return {**self.__dict__, "_files": None}

    def __del__(self):
        for opened in getattr(self, "_files", None) or ():
            if opened is not None:
                os.close(opened[0])

    def _file(self, k: int):
        """File descriptor and data offset of entry ``k``'s ``data.npy``."""
        if self._files is None:
            self._files = [None] * len(self.entries)
        if self._files[k] is None:
            path = self.entries[k].path / "data.npy"
            mapped = np.load(path, mmap_mode="r")  # header only: offset, layout
            layout = (mapped.dtype, mapped.flags.c_contiguous, mapped.shape[1:])
            offset = mapped.offset
            del mapped
            if layout != (np.float32, True, self.trial_shape):
                raise ValueError(f"{path} is not a C-ordered float32 trial array")
            self._files[k] = (os.open(path, os.O_RDONLY), offset)
        return self._files[k]

    def _read(self, k: int, start: int, stop: int) -> np.ndarray:
        """Trials ``start:stop`` of entry ``k``, float32, all channels."""
        fd, offset = self._file(k)
        size = int(np.prod(self.trial_shape)) * 4
        buffer = bytearray((stop - start) * size)
        view, position = memoryview(buffer), offset + start * size
        while view:  # pread may return less than asked
            n = os.preadv(fd, [view], position)
            if n == 0:
                raise OSError(f"{self.entries[k].path} ended early")
            view, position = view[n:], position + n
        return np.frombuffer(buffer, np.float32).reshape(-1, *self.trial_shape)

    def _select(self, trials: np.ndarray) -> np.ndarray:
        if self.picks is not None:
            trials = trials[:, self.picks]
        trials = trials[..., : self.n_times] * np.float32(self.scale)
        return np.ascontiguousarray(trials, np.float32)

    def __getitem__(self, index):
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} trials")
        k = int(np.searchsorted(self.offsets, index, side="right") - 1)
        start = index - int(self.offsets[k])
        trial = self._select(self._read(k, start, start + 1))[0]
        return torch.from_numpy(trial), int(self.labels[index])

    @property
    def shape(self) -> tuple:
        """``(n_trials, n_channels, n_times)`` of the items."""
        n_channels, n_times = self.trial_shape
        n_channels = n_channels if self.picks is None else len(self.picks)
        n_times = n_times if self.n_times is None else min(n_times, self.n_times)
        return (len(self), n_channels, n_times)

    def chunks(self, size: int = 256):
        """The trials in consecutive arrays of at most ``size`` (float32, scaled)."""
        for k in range(len(self.entries)):
            n_trials = int(self.offsets[k + 1] - self.offsets[k])
            for start in range(0, n_trials, size):
                stop = min(start + size, n_trials)
                yield self._select(self._read(k, start, stop))

    def to_array(self) -> np.ndarray:
        """All trials in memory (float32): only for the in-fold training stages."""
        return np.concatenate(list(self.chunks()))
