"""Fixed-length EEG windows for training, from arrays or from recordings.

A training sample is one window of ``N`` channels x ``A`` seconds of EEG in
microvolts at 200 Hz (``A`` patches of 200 samples per channel, ``N * A <=
256`` tokens), together with the vocabulary index of each of its channels
(``chan_idx``, shape ``(N,)``). Windows of different recordings may use
different channel sets; a batch must not mix them, so the dataset groups its
windows by montage (:meth:`WindowDataset.montage_groups`) and the batch order
(:mod:`mne_neurorvq.training.sampler`) draws every batch from one group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import torch
from mne.utils import _check_option, logger, verbose

from ..channels import match_info
from ..preprocessing import MAX_TOKENS, MODEL_SFREQ, PATCH_SIZE, prepare_array

__all__ = [
    "RAW_EXTENSIONS",
    "WindowBatch",
    "WindowDataset",
    "collate_windows",
    "find_recordings",
]

#: File name endings that :func:`find_recordings` picks up in a folder (raw
#: formats :func:`mne.io.read_raw` opens).
RAW_EXTENSIONS = (
    ".edf",
    ".bdf",
    ".gdf",
    ".fif",
    ".fif.gz",
    ".set",
    ".vhdr",
    ".cnt",
    ".nxe",
    ".lay",
    ".nedf",
    ".cdt",
)


@dataclass
class WindowBatch:
    """A batch of windows that share one channel set.

    Attributes
    ----------
    x : Tensor of float32, shape (B, N, A * 200)
        EEG in microvolts at 200 Hz.
    chan_idx : Tensor of int64, shape (N,)
        Vocabulary index of each channel.
    index : Tensor of int64, shape (B,)
        Position of each window in its dataset.

    Examples
    --------
    >>> import torch
    >>> batch = WindowBatch(
    ...     x=torch.zeros(2, 3, 400),  # 2 windows, 3 channels x 2 s at 200 Hz
    ...     chan_idx=torch.tensor([36, 9, 10]),
    ...     index=torch.tensor([4, 7]),
    ... )
    >>> batch.to("cpu").x.shape, batch.index.tolist()
    (torch.Size([2, 3, 400]), [4, 7])
    """

    x: torch.Tensor
    chan_idx: torch.Tensor
    index: torch.Tensor

    def to(self, device) -> WindowBatch:
        """Return the batch on ``device``."""
        return WindowBatch(
            self.x.to(device), self.chan_idx.to(device), self.index.to(device)
        )


def collate_windows(items: Sequence[tuple]) -> WindowBatch:
    """Stack ``(x, chan_idx, index)`` items of one montage into a batch."""
    xs, chans, indices = zip(*items, strict=True)
    first = chans[0]
    if any(not torch.equal(first, other) for other in chans[1:]):
        raise ValueError(
            "A batch mixes windows of different channel sets; draw batches from "
            "WindowDataset.montage_groups() (see WindowBatchOrder)."
        )
    return WindowBatch(torch.stack(xs), first, torch.as_tensor(indices))


class WindowDataset(torch.utils.data.Dataset):
    """Windows of EEG (uV, 200 Hz) with the vocabulary index of their channels.

    The windows are kept in memory as float32 blocks, one block per channel
    set (recording or array) they came from. Item ``i`` is a tuple
    ``(x, chan_idx, i)`` with ``x`` of shape ``(N, A * 200)``.

    Parameters
    ----------
    blocks : sequence of (ndarray, array-like of int)
        ``(windows, chan_idx)`` pairs: ``windows`` of shape
        ``(n_windows, N, A * 200)`` in uV at 200 Hz and ``chan_idx`` of shape
        ``(N,)``. Every window must have the same number of patches ``A``.
    sources : sequence of str | None
        A name per block (e.g. the file it came from), for reports.
    patch_size : int
        Samples per patch (EEG: 200; another modality's, e.g. ECG 40).
    max_tokens : int
        Most tokens (channels x patches) per window (EEG: 256; ECG 600).

    See Also
    --------
    WindowDataset.from_arrays, WindowDataset.from_recordings

    Examples
    --------
    >>> import numpy as np
    >>> data = np.random.default_rng(0).standard_normal((3, 2, 800))
    >>> ds = WindowDataset([(data.astype("float32"), [36, 9])])
    >>> len(ds), ds.n_patches, ds[0][0].shape
    (3, 4, torch.Size([2, 800]))
    """

    def __init__(
        self, blocks, sources=None, *, patch_size=PATCH_SIZE, max_tokens=MAX_TOKENS
    ):
        self._blocks = []
        n_patches = None
        for windows, chan_idx in blocks:
            windows = np.require(windows, np.float32, ["C_CONTIGUOUS", "WRITEABLE"])
            chan_idx = np.array(chan_idx, dtype=np.int64)  # writable copy
            if windows.ndim != 3 or windows.shape[1] != len(chan_idx):
                raise ValueError(
                    "Each block needs windows of shape (n_windows, N, A * 200) and "
                    f"N channel indices, got {windows.shape} and {len(chan_idx)} "
                    "indices."
                )
            if windows.shape[-1] % patch_size or not windows.shape[-1]:
                raise ValueError(
                    f"Windows must hold whole {patch_size}-sample patches, got "
                    f"{windows.shape[-1]} samples."
                )
            this = windows.shape[-1] // patch_size
            if n_patches is not None and this != n_patches:
                raise ValueError(
                    f"All windows must have the same length, got {n_patches} and "
                    f"{this} patches."
                )
            n_patches = this
            _check_tokens(len(chan_idx), this, max_tokens)
            if not np.isfinite(windows).all():
                raise ValueError("Windows hold non-finite values (NaN or inf).")
            if len(windows):
                self._blocks.append((windows, chan_idx))
        if not self._blocks:
            raise ValueError("No windows: every block is empty.")
        self.n_patches = n_patches
        sizes = [len(windows) for windows, _ in self._blocks]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.sources = (
            tuple(sources)
            if sources is not None
            else tuple(map(str, range(len(sizes))))
        )

    # ------------------------------------------------------------ constructors
    @classmethod
    @verbose
    def from_arrays(
        cls,
        data,
        chan_idx,
        sfreq: float = MODEL_SFREQ,
        seconds: int | None = None,
        *,
        units: str = "uV",
        recipe: str | None = None,
        verbose=None,
    ) -> WindowDataset:
        """Cut arrays of EEG into windows.

        Parameters
        ----------
        data : array-like, shape (n_epochs, N, n_times), or a list of them
            The EEG in ``units``; a list gives one block per array (each with
            its own entry of ``chan_idx``).
        chan_idx : array-like of int, shape (N,), or a list of them
            Vocabulary index of each channel; one list per array, or one list
            shared by all arrays.
        sfreq : float
            Sampling rate of ``data``; resampled to 200 Hz when different.
        seconds : int | None
            Window length in seconds (patches). None keeps each epoch whole
            (cropped to whole seconds).
        units : str
            Unit of ``data`` (``'V'``, ``'mV'`` or ``'uV'``).
        recipe : None | ``'authors'`` | ``'benchmark'``
            Filtering recipe of :func:`mne_neurorvq.preprocessing.prepare_array`,
            applied to each epoch.
        verbose : bool | str | int | None
            Control verbosity of the logging output (MNE's convention).

        Returns
        -------
        WindowDataset
        """
        if isinstance(data, np.ndarray) or not isinstance(data, list | tuple):
            data, chan_idx = [data], [chan_idx]
        elif len(chan_idx) and np.ndim(chan_idx[0]) == 0:
            chan_idx = [chan_idx] * len(data)  # one channel set for every array
        if len(data) != len(chan_idx):
            raise ValueError(
                f"Got {len(data)} arrays but {len(chan_idx)} channel index lists."
            )
        blocks = []
        for array, chans in zip(data, chan_idx, strict=True):
            array = np.asarray(array)
            needs_prep = recipe is not None or sfreq != MODEL_SFREQ or units != "uV"
            if needs_prep:
                array, _ = prepare_array(
                    array, sfreq, units=units, recipe=recipe, verbose="warning"
                )
            blocks.append((_cut_windows(array, seconds), chans))
        return cls(blocks)

    @classmethod
    @verbose
    def from_recordings(
        cls,
        paths: Iterable[str | PathLike],
        seconds: int = 4,
        *,
        recipe: str | None = "benchmark",
        on_unknown: str = "ignore",
        max_windows: int | None = None,
        verbose=None,
    ) -> WindowDataset:
        """Read recordings and cut them into non-overlapping windows.

        Each file is opened with :func:`mne.io.read_raw`; its EEG channels
        whose names are in the NeuroRVQ vocabulary are kept
        (:func:`mne_neurorvq.channels.match_info`; other channels, e.g.
        ``EEG A2-A1`` or ``ECG``, are left out); the continuous signal is
        prepared with :func:`mne_neurorvq.preprocessing.prepare_array`
        (``recipe``, resampling to 200 Hz, microvolts) and cut into
        consecutive windows of ``seconds`` (the tail is dropped).

        Parameters
        ----------
        paths : iterable of path-like
            Recording files (see :func:`find_recordings` for folders).
        seconds : int
            Window length in seconds; ``N * seconds`` must not exceed 256.
        recipe : None | ``'authors'`` | ``'benchmark'``
            Filtering recipe.
        on_unknown : ``'ignore'`` | ``'warn'`` | ``'raise'``
            What to do with EEG channels outside the vocabulary.
        max_windows : int | None
            Keep at most this many windows per recording (the first ones).
        verbose : bool | str | int | None
            Control verbosity of the logging output (MNE's convention).

        Returns
        -------
        WindowDataset
        """
        import mne

        _check_option("recipe", recipe, (None, "authors", "benchmark"))
        blocks, sources = [], []
        for path in paths:
            raw = mne.io.read_raw(path, preload=True, verbose=False)
            match = match_info(raw.info, on_unknown=on_unknown, verbose=False)
            data = raw.get_data(picks=match.picks.tolist(), units="uV")
            _check_tokens(match.n_channels, int(seconds))
            prepared, _ = prepare_array(
                data[np.newaxis],
                raw.info["sfreq"],
                units="uV",
                recipe=recipe,
                verbose="warning",
            )
            windows = _cut_windows(prepared, seconds)
            if max_windows is not None:
                windows = windows[:max_windows]
            logger.info(
                f"{Path(path).name}: {len(windows)} windows of {match.n_channels} "
                f"channels x {seconds} s"
            )
            blocks.append((windows, match.vocab_idx))
            sources.append(str(path))
        return cls(blocks, sources=sources)

    # ------------------------------------------------------------ access
    def __len__(self) -> int:
        return int(self._offsets[-1])

    def _locate(self, index: int) -> tuple[int, int]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"Window {index} out of range ({len(self)} windows)")
        index = int(index) % len(self)
        block = int(np.searchsorted(self._offsets, index, side="right") - 1)
        return block, index - int(self._offsets[block])

    def __getitem__(self, index):
        block, row = self._locate(index)
        windows, chan_idx = self._blocks[block]
        return (
            torch.from_numpy(windows[row]),
            torch.from_numpy(chan_idx),
            int(index) % len(self),
        )

    @property
    def blocks(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The ``(windows, chan_idx)`` blocks (not copies)."""
        return list(self._blocks)

    @property
    def n_blocks(self) -> int:
        """Number of blocks (recordings or arrays)."""
        return len(self._blocks)

    def block_of(self, index: int) -> int:
        """Block (recording) that window ``index`` comes from."""
        return self._locate(index)[0]

    def montage_groups(self) -> list[np.ndarray]:
        """Indices of the windows of each channel set.

        Groups are ordered by their channel-index tuple, and the indices in
        each group increase, so the result depends only on the data.

        Returns
        -------
        list of ndarray of int64
        """
        by_montage: dict[tuple, list] = {}
        for block, (_, chan_idx) in enumerate(self._blocks):
            start, stop = self._offsets[block], self._offsets[block + 1]
            by_montage.setdefault(tuple(chan_idx.tolist()), []).append(
                np.arange(start, stop)
            )
        return [
            np.concatenate(by_montage[key]).astype(np.int64)
            for key in sorted(by_montage)
        ]

    def subset_blocks(self, blocks: Sequence[int]) -> WindowDataset:
        """A dataset with only some of the blocks (e.g. a subject split)."""
        return WindowDataset(
            [self._blocks[b] for b in blocks], sources=[self.sources[b] for b in blocks]
        )

    def __repr__(self) -> str:
        n_montages = len(self.montage_groups())
        return (
            f"<WindowDataset: {len(self)} windows of {self.n_patches} s, "
            f"{self.n_blocks} blocks, {n_montages} channel set(s)>"
        )


def find_recordings(inputs: Iterable[str | PathLike]) -> list[Path]:
    """Expand files and folders into a sorted list of recording files.

    Folders are searched recursively for names ending in one of
    :data:`RAW_EXTENSIONS`; files are kept as given.

    Parameters
    ----------
    inputs : iterable of path-like

    Returns
    -------
    list of Path

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for name in ("s2.edf", "sub/s1.fif", "notes.txt"):
    ...         Path(folder, name).parent.mkdir(exist_ok=True)
    ...         Path(folder, name).touch()
    ...     found = find_recordings([folder])
    ...     print([path.relative_to(folder).as_posix() for path in found])
    ['s2.edf', 'sub/s1.fif']
    """
    found = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.name.lower().endswith(RAW_EXTENSIONS)
                )
            )
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"No recording or folder at {path}")
    if not found:
        raise FileNotFoundError(
            f"No recordings found in {list(map(str, inputs))} (looked for "
            f"{', '.join(RAW_EXTENSIONS)})"
        )
    return found


def _check_tokens(n_channels: int, n_patches: int, max_tokens: int = MAX_TOKENS):
    if n_channels * n_patches > max_tokens:
        unit = "s" if max_tokens == MAX_TOKENS else "patches"  # EEG: 1 s patches
        raise ValueError(
            f"{n_channels} channels x {n_patches} {unit} = "
            f"{n_channels * n_patches} tokens per window, more than the model's "
            f"{max_tokens}: use windows of at most {max_tokens // n_channels} "
            f"{unit}."
        )


def _cut_windows(data: np.ndarray, seconds) -> np.ndarray:
    """Cut (n_epochs, N, n_times) at 200 Hz into (n_windows, N, seconds * 200)."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim != 3:
        raise ValueError(f"Expected (n_epochs, N, n_times), got shape {data.shape}")
    if seconds is None:
        n_keep = data.shape[-1] // PATCH_SIZE * PATCH_SIZE
        if not n_keep:
            raise ValueError("Epochs are shorter than one 1 s patch.")
        return data[..., :n_keep]
    if int(seconds) != seconds or seconds < 1:
        raise ValueError(f"seconds must be a positive whole number, got {seconds}")
    length = int(seconds) * PATCH_SIZE
    n_windows = data.shape[-1] // length
    windows = data[..., : n_windows * length].reshape(
        data.shape[0], data.shape[1], n_windows, length
    )
    return np.ascontiguousarray(windows.transpose(0, 2, 1, 3)).reshape(
        -1, data.shape[1], length
    )
