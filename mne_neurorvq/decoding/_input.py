"""The input contract of every NeuroRVQ estimator.

:func:`read_input` turns what a user passes as ``X`` into an :class:`Input`:
channel names and types, sampling rate, unit, number and length of the epochs,
bad channels, MNE info, targets when the container has them, and a reader of
the data of any channel subset. It accepts

- an :class:`mne.Epochs` (any :class:`mne.BaseEpochs`) or a list of them
  sharing channels and rate (what scikit-learn's cross-validation hands over
  when it indexes Epochs);
- a braindecode windows dataset: a ``BaseConcatDataset`` of
  ``WindowsDataset`` (``create_from_mne_epochs``, ``to_epochs_dataset``) or
  ``EEGWindowsDataset`` (``create_windows_from_events``,
  ``create_fixed_length_windows``), one such dataset, or a
  :class:`torch.utils.data.Subset` of one, or skorch's
  ``SliceDataset(dataset, idx=0)`` of one (braindecode's way through
  scikit-learn's cross-validation: indexing it gives a smaller
  ``SliceDataset``). Channels, rate and bad channels
  come from their MNE info, the data are read in order from their MNE objects
  (through ``__getitem__``, hence their ``transform``, when they have one),
  in SI units as MNE stores them, and the targets from their metadata;
- an array with the ``ch_names``, ``sfreq`` and ``units`` parameters.

braindecode is never imported here: its datasets are recognised by their
classes' names and module, which exist only once braindecode is imported.
Any other :class:`torch.utils.data.Dataset` gets a :class:`TypeError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from mne import BaseEpochs, Info
from mne.utils import _validate_type, logger
from scipy import sparse

from ..channels import match_modality_channels

#: What ``X`` may be, for error messages.
ACCEPTED = (
    "an mne.Epochs, a list of mne.Epochs, a braindecode windows dataset "
    "(BaseConcatDataset of WindowsDataset or EEGWindowsDataset, e.g. from "
    "create_from_mne_epochs or create_windows_from_events, or a "
    "skorch.helper.SliceDataset of one) or an array of shape "
    "(n_epochs, n_channels, n_times) with ch_names and sfreq"
)
#: SI values (MNE's storage) per unit a reader may be asked for.
_PER_SI = {"V": 1.0, "mV": 1e3, "uV": 1e6, "µV": 1e6, "μV": 1e6, None: 1.0}
#: Classes by which braindecode datasets are recognised.
_BRAINDECODE_DATASETS = (
    "BaseConcatDataset",
    "RecordDataset",
    "WindowsDataset",
    "EEGWindowsDataset",
    "RawDataset",
    "BaseDataset",
)


@dataclass
class Input:
    """What was read from ``X``; the data are read lazily, channel subsets only.

    ``reader(picks, n_epochs, units)`` returns the data of channels ``picks``
    of the first ``n_epochs`` epochs (all when None) in ``units``, float64.
    """

    ch_names: list
    ch_types: list
    sfreq: float
    units: str | None
    n_epochs: int | None
    n_times: int
    bads: list
    info: Info | None
    reader: Callable
    targets: np.ndarray | None = None
    kind: str = "array"

    @property
    def from_mne(self) -> bool:
        """Whether ``X`` carried its MNE info (Epochs, braindecode datasets)."""
        return self.info is not None

    def get_data(self, picks, n_epochs: int | None = None) -> np.ndarray:
        """Data of channels ``picks`` in ``self.units``, float64."""
        picks = np.asarray(picks, dtype=np.int64)
        data = self.reader(picks, n_epochs, self.units)
        if not len(data):
            raise ValueError("X holds 0 epochs (all dropped?); at least 1 is required.")
        return data


def read_input(X, ch_names=None, sfreq=None, units="V") -> Input:
    """Read channel information from ``X`` (see the module's docstring)."""
    if isinstance(X, BaseEpochs):
        return _read_epochs([X])
    if isinstance(X, list | tuple) and X and all(isinstance(e, BaseEpochs) for e in X):
        return _read_epochs(list(X))
    if isinstance(X, list | tuple) and any(isinstance(e, BaseEpochs) for e in X):
        kinds = sorted({type(e).__name__ for e in X})
        raise TypeError(f"X must be {ACCEPTED}; got a list mixing {', '.join(kinds)}.")
    windows = _braindecode_windows(X)
    if windows is not None:
        return _read_windows(windows)
    _refuse_indexed_windows(X)
    if _is_torch_dataset(X):
        raise TypeError(
            f"X is a {type(X).__module__}.{type(X).__name__}, a torch Dataset "
            "without channel names, sampling rate or units, so NeuroRVQ cannot "
            f"know what it holds. X must be {ACCEPTED}."
        )
    return _read_array(X, ch_names, sfreq, units)


# ------------------------------------------------------------------- Epochs


def _read_epochs(epochs_list: list) -> Input:
    first = epochs_list[0]
    names, sfreq = first.ch_names, first.info["sfreq"]
    for index, epochs in enumerate(epochs_list[1:], start=1):
        if epochs.ch_names != names or epochs.info["sfreq"] != sfreq:
            raise ValueError(
                "All Epochs of a list must have the same channels and sampling rate: "
                f"X[0] has {len(names)} channels at {sfreq:g} Hz ({names}), but "
                f"X[{index}] has {len(epochs.ch_names)} channels at "
                f"{epochs.info['sfreq']:g} Hz ({epochs.ch_names})."
            )
    try:
        n_epochs = sum(len(epochs) for epochs in epochs_list)
    except RuntimeError:  # bad epochs not dropped yet: known once read
        n_epochs = None
    if n_epochs == 0:
        raise ValueError("X holds 0 epochs; at least 1 is required.")

    def reader(picks, n_epochs, units):
        data, count = [], 0
        for epochs in epochs_list:
            if n_epochs is not None and count >= n_epochs:
                break
            data.append(epochs.get_data(picks=picks, units=units))
            count += len(data[-1])
        data = data[0] if len(data) == 1 else np.concatenate(data, axis=0)
        return data[:n_epochs]

    return Input(
        ch_names=list(names),
        ch_types=first.get_channel_types(),
        sfreq=float(sfreq),
        units="uV",
        n_epochs=n_epochs,
        n_times=len(first.times),
        bads=list(first.info["bads"]),
        info=first.info,
        reader=reader,
        kind="Epochs",
    )


# ------------------------------------------------------- braindecode datasets


def is_braindecode_dataset(X) -> bool:
    """Whether ``X`` is one of braindecode's datasets (braindecode not imported)."""
    return any(
        cls.__module__.split(".")[0] == "braindecode"
        and cls.__name__ in _BRAINDECODE_DATASETS
        for cls in type(X).__mro__
    )


def _is_torch_dataset(X) -> bool:
    import sys

    data = sys.modules.get("torch.utils.data")
    return data is not None and isinstance(X, data.Dataset)


def _is_torch_subset(X) -> bool:
    import sys

    data = sys.modules.get("torch.utils.data")
    return data is not None and isinstance(X, data.Subset)


def _slice_dataset_class():
    """The ``SliceDataset`` class of skorch, when skorch is imported."""
    import sys

    helper = sys.modules.get("skorch.helper")
    return getattr(helper, "SliceDataset", None)


def _subset_windows(dataset, indices) -> list | None:
    """The windows ``indices`` of ``dataset``, when it is a braindecode one."""
    inner = _braindecode_windows(dataset)
    if inner is None:
        return None
    return [inner[int(i)] for i in indices]


def _check_slice_dataset(X, slice_dataset) -> None:
    """A ``SliceDataset`` must return the windows, untransformed."""
    if X.idx != 0:
        raise TypeError(
            f"X is a SliceDataset with idx={X.idx!r}: it returns item {X.idx!r} "
            "of every window (the targets for idx=1), not the windows. Pass "
            "SliceDataset(dataset, idx=0) as X and the targets as y."
        )
    if type(X).transform is not slice_dataset.transform:
        raise TypeError(
            f"X is a {type(X).__name__} with its own transform, which NeuroRVQ "
            "would not apply (it reads the windows from their MNE objects): set "
            "the transform on the braindecode dataset instead (its .transform "
            "attribute), or pass a plain skorch.helper.SliceDataset."
        )


def _braindecode_windows(X) -> list | None:
    """Every window of ``X`` as ``[(dataset, index), ...]``, in order.

    None when ``X`` is not a braindecode dataset (or a ``Subset`` or skorch
    ``SliceDataset`` of one).
    """
    slice_dataset = _slice_dataset_class()
    if slice_dataset is not None and isinstance(X, slice_dataset):
        windows = _subset_windows(X.dataset, X.indices_)
        if windows is not None:
            _check_slice_dataset(X, slice_dataset)
        return windows
    if _is_torch_subset(X):
        return _subset_windows(X.dataset, X.indices)
    if not is_braindecode_dataset(X):
        return None
    if hasattr(X, "datasets"):  # BaseConcatDataset (possibly nested)
        windows = []
        for dataset in X.datasets:
            inner = _braindecode_windows(dataset)
            if inner is None:
                raise TypeError(
                    f"X holds a {type(dataset).__name__}, which is not a "
                    f"braindecode dataset; X must be {ACCEPTED}."
                )
            windows += inner
        return windows
    if not hasattr(X, "crop_inds"):
        raise TypeError(
            f"X is a braindecode {type(X).__name__} of continuous data, not of "
            "windows: cut it into windows first, e.g. with "
            "braindecode.preprocessing.create_windows_from_events or "
            "create_fixed_length_windows."
        )
    return [(X, index) for index in range(len(X))]


def _refuse_indexed_windows(X) -> None:
    """A clear error for a braindecode dataset that scikit-learn indexed.

    scikit-learn's cross-validation indexes an object without ``shape`` into
    a list of its items: for a braindecode dataset, ``(x, y, window)``
    tuples without channel names or sampling rate.
    """
    if not isinstance(X, list | tuple) or not X:
        return
    first = X[0]
    if (
        isinstance(first, tuple)
        and len(first) == 3
        and np.ndim(first[0]) == 2
        and isinstance(first[2], list | tuple | np.ndarray)
    ):
        raise TypeError(
            "X is a list of (x, y, window) tuples: a braindecode dataset indexed "
            "by scikit-learn (cross-validation, train_test_split), which loses its "
            "channel names and sampling rate. Wrap the dataset as braindecode "
            "does for scikit-learn: X = skorch.helper.SliceDataset(dataset, "
            "idx=0), y = the targets (e.g. dataset.get_metadata()['target'])."
        )


def _mne_object(dataset):
    """The Epochs (``WindowsDataset``) or Raw (``EEGWindowsDataset``) of windows."""
    windows = getattr(dataset, "windows", None)
    return windows if windows is not None else dataset.raw


def _channels(dataset) -> tuple[list, list, list]:
    """Names, types and bad channels of the data a window dataset returns."""
    info = _mne_object(dataset).info
    names, types = list(info["ch_names"]), info.get_channel_types()
    if getattr(dataset, "targets_from", "metadata") == "channels":
        keep = [i for i, kind in enumerate(types) if kind != "misc"]
        names, types = [names[i] for i in keep], [types[i] for i in keep]
    return names, types, [name for name in info["bads"] if name in names]


def _window_length(dataset, index: int) -> int:
    _, start, stop = dataset.crop_inds[index]
    return int(stop - start)


def _read_windows(windows: list) -> Input:
    if not windows:
        raise ValueError("X holds 0 windows; at least 1 is required.")
    datasets = list({id(d): d for d, _ in windows}.values())
    first = datasets[0]
    names, types, bads = _channels(first)
    sfreq = float(_mne_object(first).info["sfreq"])
    for dataset in datasets[1:]:
        other, _, other_bads = _channels(dataset)
        other_sfreq = _mne_object(dataset).info["sfreq"]
        if other != names or other_sfreq != sfreq:
            raise ValueError(
                "All datasets of a braindecode BaseConcatDataset must have the same "
                f"channels and sampling rate: the first has {len(names)} channels at "
                f"{sfreq:g} Hz ({names}), another {len(other)} channels at "
                f"{other_sfreq:g} Hz ({other}). Pick and resample them alike "
                "(braindecode.preprocessing.preprocess)."
            )
        bads += [name for name in other_bads if name not in bads]
    lengths = sorted({_window_length(d, i) for d, i in windows})
    if len(lengths) > 1:
        raise ValueError(
            f"The windows of X have different lengths ({lengths[0]} to "
            f"{lengths[-1]} samples); NeuroRVQ needs windows of one length: use "
            "the same window_size_samples for all, or drop_last_window=True."
        )

    def reader(picks, n_epochs, units):
        return _read_window_data(windows[:n_epochs], picks, units)

    return Input(
        ch_names=names,
        ch_types=types,
        sfreq=sfreq,
        units="uV",
        n_epochs=len(windows),
        n_times=lengths[0],
        bads=bads,
        info=_mne_object(first).info,
        reader=reader,
        targets=_targets(windows),
        kind=type(first).__name__,
    )


def _read_window_data(windows: list, picks: np.ndarray, units) -> np.ndarray:
    """Data of ``windows`` (``[(dataset, index), ...]``), channels ``picks``."""
    out = []
    for dataset, index in windows:
        direct = (
            getattr(dataset, "transform", None) is None
            and getattr(dataset, "targets_from", "metadata") == "metadata"
        )
        if direct and getattr(dataset, "windows", None) is not None:
            data = dataset.windows.get_data(
                picks=picks, item=[index], units=units, verbose=False
            )[0]
        elif direct:
            _, start, stop = dataset.crop_inds[index]
            data = dataset.raw.get_data(
                picks, int(start), int(stop), units=units, verbose=False
            )
        else:  # through __getitem__, hence the dataset's transform
            data = np.asarray(dataset[index][0], dtype=np.float64)[picks]
            data = data * _PER_SI[units]
        out.append(data)
    return np.stack(out) if out else np.empty((0, len(picks), 0))


def _targets(windows: list) -> np.ndarray | None:
    """The window targets from their metadata; None when they have none."""
    targets = []
    for dataset, index in windows:
        labels = getattr(dataset, "y", None)
        if labels is None:
            return None
        targets.append(labels[index])
    return np.asarray(targets)


def dataset_targets(X) -> np.ndarray | None:
    """Targets of a braindecode dataset ``X``; None for other input."""
    windows = _braindecode_windows(X)
    return None if windows is None else _targets(windows)


# ------------------------------------------------------------------- arrays


def _read_array(X, ch_names, sfreq, units) -> Input:
    if sparse.issparse(X):
        raise TypeError(
            "Sparse input is not supported: X is a scipy sparse "
            f"{type(X).__name__}; pass a dense array of shape (n_epochs, "
            "n_channels, n_times)."
        )
    if X is None or isinstance(X, str | bytes | Mapping):
        raise TypeError(f"X must be {ACCEPTED}; got {type(X).__name__}.")
    array = np.asarray(X)
    if array.dtype == object:
        array = array.astype(np.float64)  # TypeError names the offending value
    if array.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: X has dtype {array.dtype}; NeuroRVQ "
            "expects real-valued EEG."
        )
    if array.dtype.kind in "iub":
        raise ValueError(
            f"X has dtype {array.dtype}; NeuroRVQ expects floating-point EEG in "
            f"units={units!r}. Integer data are usually raw ADC counts: convert "
            "them to physical units first (e.g. X * calibration_factor), or pass "
            "X.astype(float) if they already are."
        )
    if array.dtype.kind != "f":
        raise ValueError(
            f"X must hold real floating-point numbers, got dtype {array.dtype}."
        )
    if array.ndim not in (2, 3):
        hint = (
            " Reshape your data: X.reshape(1, -1) for a single epoch of one "
            "channel, X.reshape(-1, 1) is not valid (epochs of one sample)."
            if array.ndim == 1
            else ""
        )
        raise ValueError(
            "X must be an array of shape (n_epochs, n_channels, n_times), or "
            f"(n_epochs, n_times) for one channel; got an array of shape "
            f"{array.shape} ({array.ndim}-D).{hint}"
        )
    if array.shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={array.shape}) while a minimum of "
            "1 is required: X holds no epochs."
        )
    if 0 in array.shape[1:]:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={array.shape}) while a minimum "
            "of 1 is required: X needs at least one channel and one sample."
        )
    original_shape = array.shape
    if array.ndim == 2:
        array = array[:, np.newaxis, :]
    n_epochs, n_channels, n_times = array.shape
    if ch_names is None or sfreq is None:
        missing = [
            n for n, v in (("ch_names", ch_names), ("sfreq", sfreq)) if v is None
        ]
        raise ValueError(
            "Array input needs its channel names and sampling rate: pass "
            f"{' and '.join(missing)} to the estimator (e.g. "
            "ch_names=epochs.ch_names, sfreq=epochs.info['sfreq']), or pass an "
            "mne.Epochs, which carries them."
        )
    if isinstance(ch_names, np.ndarray):
        ch_names = ch_names.tolist()
    _validate_type(ch_names, (list, tuple), "ch_names", "list of str or None")
    if len(ch_names) != n_channels:
        shape_note = (
            " (a 2-D array (n_epochs, n_times) is read as one channel)"
            if len(original_shape) == 2
            else ""
        )
        raise ValueError(
            f"ch_names has {len(ch_names)} names but X has {n_channels} channel(s) "
            f"(axis 1 of shape {array.shape}){shape_note}."
        )
    _validate_type(sfreq, "numeric", "sfreq", "float or None")
    if not (np.isfinite(sfreq) and sfreq > 0):
        raise ValueError(f"sfreq must be a positive number of Hz, got {sfreq}.")

    def reader(picks, n_epochs, units):
        return array[:n_epochs, picks]

    return Input(
        ch_names=list(ch_names),
        ch_types=["eeg"] * n_channels,
        sfreq=float(sfreq),
        units=units,
        n_epochs=n_epochs,
        n_times=n_times,
        bads=[],
        info=None,
        reader=reader,
    )


def match_input(inp: Input, on_unknown: str, modality="eeg", mapping=None):
    """Match the good channels of ``inp`` to the vocabulary of ``modality``.

    Returns
    -------
    match : ChannelMatch
    picks : ndarray of int64
        Index of every used channel in ``inp.ch_names``.
    """
    names = [n for n in inp.ch_names if n not in inp.bads]
    types = [
        t for n, t in zip(inp.ch_names, inp.ch_types, strict=True) if n not in inp.bads
    ]
    if inp.bads:
        logger.info(f"NeuroRVQ: not using the bad channels {inp.bads}.")
    # arrays carry no types: every channel is of the modality's type
    match = match_modality_channels(
        names,
        types if inp.from_mne else None,
        modality,
        mapping=mapping,
        on_unknown=on_unknown,
    )
    position = {name: i for i, name in enumerate(inp.ch_names)}
    picks = np.array([position[name] for name in match.ch_names], dtype=np.int64)
    return match, picks


def check_finite(data: np.ndarray, ch_names) -> None:
    """Raise when ``data`` holds NaN or infinity, naming epochs and channels."""
    finite = np.isfinite(data)
    if finite.all():
        return
    bad_epochs = np.flatnonzero(~finite.all(axis=(1, 2)))
    bad_channels = [ch_names[i] for i in np.flatnonzero(~finite.all(axis=(0, 2)))]
    raise ValueError(
        f"X contains NaN or infinity ({(~finite).sum()} non-finite values in "
        f"{len(bad_epochs)} epoch(s), e.g. epochs {bad_epochs[:5].tolist()}, "
        f"channels {bad_channels[:5]}). NeuroRVQ needs finite EEG: drop or "
        "interpolate those epochs or channels."
    )


def check_fitted_channels(inp: Input, estimator) -> None:
    """Raise unless ``inp`` has the input channels ``estimator`` was fitted on."""
    name = type(estimator).__name__
    if len(inp.ch_names) != estimator.n_features_in_:
        raise ValueError(
            f"X has {len(inp.ch_names)} features, but {name} is "
            f"expecting {estimator.n_features_in_} features as input (features are "
            f"channels, axis 1). Fitted on channels {estimator.input_ch_names_}, got "
            f"{inp.ch_names}."
        )
    if inp.ch_names != estimator.input_ch_names_:
        missing = [n for n in estimator.input_ch_names_ if n not in inp.ch_names]
        extra = [n for n in inp.ch_names if n not in estimator.input_ch_names_]
        detail = (
            f"missing {missing}, unexpected {extra}"
            if missing or extra
            else "same names in another order"
        )
        raise ValueError(
            f"X has other channels than those {name} was fitted "
            f"on ({detail}). Expected {estimator.input_ch_names_}, got "
            f"{inp.ch_names}; reorder or pick the channels first (e.g. "
            "epochs.reorder_channels)."
        )
    bads = [n for n in inp.bads if n in estimator.ch_names_]
    if bads:
        raise ValueError(
            f"Channels {bads} are marked bad in X but were used in fit; the "
            "same channels must be used in fit and transform."
        )
