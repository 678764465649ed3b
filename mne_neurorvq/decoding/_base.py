"""Machinery shared by the NeuroRVQ scikit-learn transformers.

The input contract it implements is described in the docstring of
:mod:`mne_neurorvq.decoding`: ``_read_input`` reads Epochs, lists of Epochs
and arrays; ``_NeuroRVQTransformer`` matches channels, validates, prepares
(:func:`mne_neurorvq.preprocessing.prepare_array`), batches, splits long
epochs into windows and pickles the model as a CPU state dict.
"""

from __future__ import annotations

import contextlib
import math
import textwrap
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from os import PathLike

import numpy as np
import torch
from mne import BaseEpochs, Info, pick_info
from mne.utils import (
    _check_option,
    _validate_type,
    logger,
    use_log_level,
    warn,
)
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError

from .._progress import progress, quiet
from ..channels import match_channels, match_modality_channels
from ..nn.checkpoints import CheckpointError
from ..nn.config import MODALITIES
from ..preprocessing import (
    MODALITY_UNITS,
    MODEL_SFREQ,
    PATCH_SIZE,
    PLAUSIBLE_AMPLITUDE_UV,
    crop_to_patches,
    plan_windows,
    prepare_array,
    prepare_modality_array,
)
from ..weights import PUBLISHED_WEIGHTS, published_kind, published_modality
from ._training import check_train_params

_UNITS = ("V", "mV", "uV", "µV", "μV")
_RECIPES = (None, "authors", "benchmark")
_PRECISIONS = ("float32", "bf16")
_ON_UNKNOWN = ("ignore", "warn", "raise")
#: Warnings point at the caller's code, not at MNE, sklearn or this package.
_WARN_FROM = ("mne", "mne_neurorvq", "sklearn")

#: Parameter documentation shared by the transformers (``%(name)s``).
_DOCDICT = {
    "weights": """weights : str | path-like | dict of str to Tensor | None
        The model weights: the name of published weights (fetched with
        :func:`mne_neurorvq.fetch_weights`), the path of a checkpoint file
        (``torch.save(state_dict)``), or a state dict. The configuration is
        inferred from the tensors' shapes. Loaded in :meth:`fit`, never in
        the constructor. Prefer a name or a path in cross-validation: a state
        dict is deep-copied each time the estimator is cloned. None trains
        the model in :meth:`fit` on the epochs given, self-supervised (labels
        are ignored, so it is leakage-free inside cross-validation), with
        ``config``, ``train_params`` and ``random_state``.""",
    "train_params": """train_params : dict | None
        Training settings used when ``weights`` is None: fields of
        :class:`mne_neurorvq.training.TrainingConfig` (``epochs``,
        ``batch_size``, ``lr``, ``time_limit``, ``precision``...), overriding
        the CPU-sized defaults (10 epochs, batch 32, learning rate 1e-3).""",
    "random_state": """random_state : int | None
        Seed of the training when ``weights`` is None (None: 0); the
        transform itself is deterministic.""",
    "ch_names": """ch_names : list of str | None
        Channel names of array input, one per channel (axis 1). Required for
        arrays; ignored for Epochs (``epochs.ch_names`` is used).""",
    "sfreq": """sfreq : float | None
        Sampling rate of array input in Hz. Required for arrays; ignored for
        Epochs (``epochs.info["sfreq"]`` is used).""",
    "units": """units : ``"V"`` | ``"mV"`` | ``"uV"``
        Unit of array input (``"V"`` as MNE, i.e. as ``epochs.get_data()``).
        Ignored for Epochs, which are always read in microvolts. A warning
        names the unit that looks right when the amplitudes are implausible
        for EEG in the declared unit.""",
    "recipe": """recipe : None | ``"authors"`` | ``"benchmark"``
        Filtering before the model (see
        :func:`mne_neurorvq.preprocessing.prepare_array`): None resamples
        only; ``"authors"`` applies the authors' notch, band-pass and 500 uV
        clip at the original rate, then resamples; ``"benchmark"`` resamples,
        then band-passes 0.5-45 Hz and re-references to the average. The data
        are always resampled to 200 Hz.""",
    "clip": """clip : float | None
        Clip limit in uV; None means the recipe's default (500 uV for
        ``"authors"``, no clip otherwise).""",
    "on_unknown": """on_unknown : ``"ignore"`` | ``"warn"`` | ``"raise"``
        What to do with EEG channels whose name is not in the NeuroRVQ
        vocabulary (they are never used): leave them out (logged), leave them
        out with a warning, or raise.""",
    "device": """device : ``"auto"`` | str | torch.device
        Where the model runs: ``"auto"`` picks CUDA when available, else the
        CPU; or any torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``...).
        Resolved in :meth:`fit` into ``device_``. With a GPU, run
        cross-validation with ``n_jobs=1`` (batching happens inside).""",
    "batch_size": """batch_size : int
        Epochs per forward pass (an epoch longer than the model's 256 tokens
        counts once per window).""",
    "precision": """precision : ``"float32"`` | ``"bf16"``
        ``"bf16"`` runs the transformer under :func:`torch.autocast` with
        bfloat16 (about 2x faster embedding on CPUs with AMX and on recent
        GPUs, results differ slightly: on real EEG about 99.4 % identical
        tokens, embedding cosine above 0.9999). The temporal convolutions,
        the heads into code space and the nearest-code search stay float32;
        the output dtype does not change.""",
    "verbose": """verbose : bool | str | int | None
        Control verbosity of the logging output (MNE's convention). None:
        MNE's messages about each batch (resampling...) at warning level only,
        and a progress bar over the batches (when there is more than one) on
        a terminal at MNE's global info level; an explicit level applies to
        both, the bar then shown wherever standard error goes.""",
    "input": """X : mne.Epochs | list of mne.Epochs | array-like, shape (n_epochs, n_channels, n_times) or (n_epochs, n_times)
        The EEG epochs (see :mod:`mne_neurorvq.decoding` for the input
        contract). Arrays need the ``ch_names`` and ``sfreq`` parameters and
        are in ``units``; Epochs are read in microvolts.""",  # noqa: E501
    "fit_attributes": """ch_names_ : list of str
        Original names of the channels used (known EEG channels, not bad), in
        input order.
    input_chans_ : ndarray of int64, shape (n_channels_used,)
        Vocabulary index of each used channel (the tokens' spatial index).
    picks_ : ndarray of int64, shape (n_channels_used,)
        Indices of the used channels among the input channels.
    input_ch_names_ : list of str
        All input channel names seen in :meth:`fit`; :meth:`transform` needs
        the same ones, in the same order.
    n_features_in_ : int
        Number of input channels (MNE's convention: channels are features).
    sfreq_ : float
        Sampling rate of the input seen in :meth:`fit`, in Hz.
    preprocessing_ : mne_neurorvq.preprocessing.PreprocessingSteps
        What is done to the data before the model.
    n_patches_ : int
        Patches (seconds at 200 Hz) per channel of the epochs seen in
        :meth:`fit`.
    windows_ : list of (int, int)
        How such epochs are split to respect the model's 256-token limit
        (:func:`mne_neurorvq.preprocessing.plan_windows`).
    model_ : torch.nn.Module
        The loaded model, in eval mode, on ``device_``.
    device_ : torch.device
        The device the model runs on.""",
}


def _fill_doc(obj):
    """Fill ``%(name)s`` placeholders of a docstring from :data:`_DOCDICT`.

    Each entry is re-indented to the indentation of its placeholder, so the
    same entry serves class docstrings and method docstrings.
    """
    lines = []
    for line in obj.__doc__.splitlines():
        stripped = line.strip()
        if stripped.startswith("%(") and stripped.endswith(")s"):
            indent = line[: len(line) - len(line.lstrip())]
            entry = textwrap.dedent("    " + _DOCDICT[stripped[2:-2]])
            lines += [indent + text if text else text for text in entry.splitlines()]
        else:
            lines.append(line)
    obj.__doc__ = "\n".join(lines)
    return obj


# --------------------------------------------------------------------- input


@dataclass
class _Input:
    """What was read from ``X``; the data are read lazily, channel subsets only."""

    ch_names: list
    ch_types: list
    sfreq: float
    units: str
    n_epochs: int | None
    n_times: int
    bads: list
    info: Info | None
    epochs: list | None = None
    array: np.ndarray | None = None

    @property
    def from_epochs(self) -> bool:
        return self.epochs is not None

    def get_data(self, picks, n_epochs: int | None = None) -> np.ndarray:
        """Data of channels ``picks`` in ``self.units``, float64.

        ``n_epochs`` limits the read to the first epochs (all when None).
        """
        picks = np.asarray(picks, dtype=np.int64)
        if self.array is not None:
            return self.array[:n_epochs, picks]
        data, count = [], 0
        for epochs in self.epochs:
            if n_epochs is not None and count >= n_epochs:
                break
            data.append(epochs.get_data(picks=picks, units=self.units))
            count += len(data[-1])
        data = data[0] if len(data) == 1 else np.concatenate(data, axis=0)
        if not len(data):
            raise ValueError("X holds 0 epochs (all dropped?); at least 1 is required.")
        return data[:n_epochs]


def _read_input(X, ch_names, sfreq, units) -> _Input:
    """Read channel information from ``X`` (Epochs, list of Epochs or array)."""
    if isinstance(X, BaseEpochs):
        return _read_epochs([X])
    if isinstance(X, list | tuple) and X and all(isinstance(e, BaseEpochs) for e in X):
        return _read_epochs(list(X))
    if isinstance(X, list | tuple) and any(isinstance(e, BaseEpochs) for e in X):
        kinds = sorted({type(e).__name__ for e in X})
        raise TypeError(
            "X must be an mne.Epochs, a list of mne.Epochs or an array; got a list "
            f"mixing {', '.join(kinds)}."
        )
    return _read_array(X, ch_names, sfreq, units)


def _read_epochs(epochs_list: list) -> _Input:
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
    n_times = len(first.times)
    try:
        n_epochs = sum(len(epochs) for epochs in epochs_list)
    except RuntimeError:  # bad epochs not dropped yet: known once read
        n_epochs = None
    if n_epochs == 0:
        raise ValueError("X holds 0 epochs; at least 1 is required.")
    return _Input(
        ch_names=list(names),
        ch_types=first.get_channel_types(),
        sfreq=float(sfreq),
        units="uV",
        n_epochs=n_epochs,
        n_times=n_times,
        bads=list(first.info["bads"]),
        info=first.info,
        epochs=epochs_list,
    )


def _read_array(X, ch_names, sfreq, units) -> _Input:
    if sparse.issparse(X):
        raise TypeError(
            "Sparse input is not supported: X is a scipy sparse "
            f"{type(X).__name__}; pass a dense array of shape (n_epochs, "
            "n_channels, n_times)."
        )
    if X is None or isinstance(X, str | bytes | Mapping):
        raise TypeError(
            "X must be an mne.Epochs, a list of mne.Epochs or an array of shape "
            f"(n_epochs, n_channels, n_times); got {type(X).__name__}."
        )
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
    return _Input(
        ch_names=list(ch_names),
        ch_types=["eeg"] * n_channels,
        sfreq=float(sfreq),
        units=units,
        n_epochs=n_epochs,
        n_times=n_times,
        bads=[],
        info=None,
        array=array,
    )


def _match_input(inp: _Input, on_unknown: str, modality="eeg", mapping=None):
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
    if modality == "eeg" and not mapping:
        match = match_channels(names, types, on_unknown=on_unknown)
    else:  # arrays: every channel is of the modality's type
        match = match_modality_channels(
            names,
            types if inp.from_epochs else None,
            modality,
            mapping=mapping,
            on_unknown=on_unknown,
        )
    position = {name: i for i, name in enumerate(inp.ch_names)}
    picks = np.array([position[name] for name in match.ch_names], dtype=np.int64)
    return match, picks


def _check_finite(data: np.ndarray, ch_names) -> None:
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


def _log_level(verbose):
    """Context setting MNE's log level to ``verbose``; None keeps the current one."""
    return contextlib.nullcontext() if verbose is None else use_log_level(verbose)


def _describe_weights(weights) -> str:
    if isinstance(weights, Mapping):
        return f"a state dict of {len(weights)} tensors"
    return repr(str(weights))


def _resolve_device(device) -> torch.device:
    _validate_type(device, (str, torch.device), "device", "'auto', str or torch.device")
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(
            "device must be 'auto' or a torch device such as 'cpu', 'cuda' or "
            f"'cuda:1', got {device!r}."
        ) from None
    if not _device_available(resolved):
        raise ValueError(
            f"device={device!r} is not available on this machine; use "
            "device='auto' (CUDA when available, else CPU) or device='cpu'."
        )
    return resolved


def _device_available(device: torch.device) -> bool:
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False
        return device.index is None or device.index < torch.cuda.device_count()
    if device.type == "mps":
        return torch.backends.mps.is_available()
    return True  # other backends: let torch report problems


def _check_positive_int(value, name: str) -> int:
    _validate_type(value, "int", name)
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}.")
    return int(value)


# ----------------------------------------------------------------- base class


class _NeuroRVQTransformer(TransformerMixin, BaseEstimator):
    """Shared machinery: input contract, model loading, batching, pickling.

    Subclasses define ``__init__`` (storing their parameters), ``_load_model``,
    ``_build_model``, ``_fit_extra`` and ``_transform_prepared``.
    """

    #: Kind of published weights the estimator needs (see
    #: :func:`mne_neurorvq.weights.published_kind`).
    _WEIGHTS_KIND = None

    # ------------------------------------------------------------ validation
    def _check_params(self) -> None:
        _validate_type(
            self.weights,
            (str, PathLike, Mapping, None),
            "weights",
            "a published name, a path, a state dict or None (train in fit)",
        )
        check_train_params(self.train_params)
        kind = published_kind(self.weights)
        if kind is not None and kind != self._WEIGHTS_KIND:
            modality = published_modality(self.weights)
            needed = [
                w for w in PUBLISHED_WEIGHTS.values() if w.kind == self._WEIGHTS_KIND
            ]
            expected = sorted(
                w.name for w in needed if w.modality == modality
            ) or sorted(w.name for w in needed)
            raise ValueError(
                f"weights={self.weights!r} are published {kind} weights, but "
                f"{type(self).__name__} needs {self._WEIGHTS_KIND} weights: "
                f"{', '.join(map(repr, expected))}."
            )
        _check_option("units", self.units, _UNITS)
        _check_option("recipe", self.recipe, _RECIPES)
        _check_option("precision", self.precision, _PRECISIONS)
        _check_option("on_unknown", self.on_unknown, _ON_UNKNOWN)
        if self.clip is not None:
            _validate_type(self.clip, "numeric", "clip", "float or None")
            if not self.clip > 0:
                raise ValueError(
                    f"clip must be a positive number of uV, got {self.clip}."
                )
        _check_positive_int(self.batch_size, "batch_size")

    # ------------------------------------------------------------ fit
    @_fill_doc
    def fit(self, X, y=None):
        """Load the weights and record the channels and preprocessing of ``X``.

        Parameters
        ----------
        %(input)s
        y : None
            Ignored; present for pipeline compatibility.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with _log_level(self.verbose):
            self._fit(X, check_amplitude=True)
        return self

    @_fill_doc
    def fit_transform(self, X, y=None, **fit_params):
        """Fit to ``X`` and transform it, reading and preparing ``X`` once.

        Parameters
        ----------
        %(input)s
        y : None
            Ignored; present for pipeline compatibility.
        **fit_params : dict
            Unused; present for API compatibility.

        Returns
        -------
        X_new : ndarray
            Same as ``fit(X).transform(X)``.
        """
        with _log_level(self.verbose):
            inp = self._fit(X, check_amplitude=False)
            return self._transform_input(inp)

    def _fit(self, X, check_amplitude: bool) -> _Input:
        self._check_params()
        inp = _read_input(X, self.ch_names, self.sfreq, self.units)
        self.modality_ = self._resolve_modality(inp)
        _set_read_units(inp, self.modality_)
        match, picks = _match_input(
            inp, self.on_unknown, self.modality_, getattr(self, "channel_map", None)
        )
        n_patches = self._check_length(inp)
        # cheap dry run on one epoch to record the preprocessing steps
        one = inp.get_data(picks[:1], n_epochs=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, steps = prepare_modality_array(
                one,
                inp.sfreq,
                self.modality_,
                self._preset.sfreq,
                units=inp.units,
                recipe=self.recipe,
                clip=self.clip,
                verbose=False,
            )
        if inp.from_epochs:
            unit = inp.units or "their own unit"
            operations = (f"read the Epochs in {unit} (get_data(units={inp.units!r}))",)
            steps = replace(steps, operations=operations + steps.operations[1:])
        if check_amplitude and self.modality_ == "eeg":
            data = inp.get_data(picks)
            _check_finite(data, match.ch_names)
            self._check_amplitude(data, inp)

        self.device_ = _resolve_device(self.device)
        if self.weights is None:  # self-supervised training on X (labels unused)
            data = self._prepare(inp.get_data(picks), inp)
            model = self._train_model(data, np.asarray(match.vocab_idx, np.int64))
        else:
            model = self._load_model()
        if model.config.modality != self.modality_:
            raise CheckpointError(
                f"weights={_describe_weights(self.weights)} hold a "
                f"{model.config.modality.upper()} model, but {type(self).__name__} "
                f"works on {self.modality_.upper()} here (modality="
                f"{getattr(self, 'modality', 'eeg')!r})."
            )
        preset = self._preset
        if model.config.patch_size != preset.patch_size:
            raise ValueError(
                f"weights={_describe_weights(self.weights)} have "
                f"patch_size={model.config.patch_size}; the estimators need "
                f"{preset.patch_size}-sample patches ({preset.patch_seconds:g} s at "
                f"{preset.sfreq:g} Hz) for {self.modality_.upper()}."
            )
        self.ch_names_ = list(match.ch_names)
        self.input_chans_ = np.array(match.vocab_idx, dtype=np.int64)
        self.picks_ = picks
        self.input_ch_names_ = list(inp.ch_names)
        self.n_features_in_ = len(inp.ch_names)
        self.sfreq_ = inp.sfreq
        self.preprocessing_ = steps
        self.n_patches_ = n_patches
        self.windows_ = plan_windows(len(picks), n_patches, model.config.n_patches)
        self.model_ = model
        self._fit_extra(inp, match)
        return inp

    def _load_model(self):
        raise NotImplementedError

    def _resolve_modality(self, inp: _Input) -> str:
        """The modality of this fit (``modality_``): EEG unless overridden."""
        return "eeg"

    @property
    def _preset(self):
        """Sizes and rate of the fitted modality (EEG before fit)."""
        return MODALITIES[getattr(self, "modality_", "eeg")]

    def _train_model(self, data: np.ndarray, chan_idx: np.ndarray):
        """Train the model on prepared epochs (``weights=None``)."""
        raise NotImplementedError

    def _fit_extra(self, inp: _Input, match) -> None:
        """Subclass hook: record estimator-specific fitted attributes."""

    def _check_length(self, inp: _Input) -> int:
        """Return the number of patches at the model rate, or raise if below one."""
        preset = self._preset
        n_times_out = round(inp.n_times * preset.sfreq / inp.sfreq)
        duration = inp.n_times / inp.sfreq
        if n_times_out < preset.patch_size:
            raise ValueError(
                f"Epochs must last at least {preset.patch_seconds:g} s (one "
                f"{preset.patch_size}-sample patch at {preset.sfreq:g} Hz), got "
                f"{inp.n_times} samples at {inp.sfreq:g} Hz ({duration:g} s). Use "
                "longer epochs."
            )
        return n_times_out // preset.patch_size

    def _check_amplitude(self, data: np.ndarray, inp: _Input) -> None:
        """Warn when the amplitudes do not look like EEG in the assumed unit."""
        if not inp.from_epochs:
            from ..preprocessing import check_amplitude_units, scale_to_microvolts

            check_amplitude_units(scale_to_microvolts(data, inp.units), inp.units)
            return
        stds = np.std(data, axis=-1)
        stds = stds[np.isfinite(stds) & (stds > 0)]
        if not stds.size:
            return
        typical = float(np.median(stds))
        low, high = PLAUSIBLE_AMPLITUDE_UV
        if not low <= typical <= high:
            warn(
                "The Epochs' data, read in uV (MNE stores volts: "
                f"get_data(units='uV')), have a typical amplitude (median standard "
                f"deviation) of {typical:.3g} uV, outside the range expected for "
                f"EEG ({low:g} to {high:g} uV). Were the Epochs built from data in "
                "the wrong unit? mne.EpochsArray expects volts.",
                ignore_namespaces=_WARN_FROM,
            )

    # ------------------------------------------------------------ transform
    def _check_is_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' "
                "with appropriate arguments before using this estimator."
            )

    def _read_for_transform(self, X) -> _Input:
        self._check_is_fitted()
        inp = _read_input(X, self.ch_names, self.sfreq, self.units)
        _set_read_units(inp, self.modality_)
        if len(inp.ch_names) != self.n_features_in_:
            raise ValueError(
                f"X has {len(inp.ch_names)} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input (features are "
                f"channels, axis 1). Fitted on channels {self.input_ch_names_}, got "
                f"{inp.ch_names}."
            )
        if inp.ch_names != self.input_ch_names_:
            missing = [n for n in self.input_ch_names_ if n not in inp.ch_names]
            extra = [n for n in inp.ch_names if n not in self.input_ch_names_]
            detail = (
                f"missing {missing}, unexpected {extra}"
                if missing or extra
                else "same names in another order"
            )
            raise ValueError(
                f"X has other channels than those {type(self).__name__} was fitted "
                f"on ({detail}). Expected {self.input_ch_names_}, got "
                f"{inp.ch_names}; reorder or pick the channels first (e.g. "
                "epochs.reorder_channels)."
            )
        bads = [n for n in inp.bads if n in self.ch_names_]
        if bads:
            raise ValueError(
                f"Channels {bads} are marked bad in X but were used in fit; the "
                "same channels must be used in fit and transform."
            )
        self._check_length(inp)
        return inp

    def _transform_input(self, inp: _Input) -> np.ndarray:
        """Prepare the data of ``inp`` and run the model (subclass part)."""
        data = inp.get_data(self.picks_)
        _check_finite(data, self.ch_names_)
        data = self._prepare(data, inp)
        return self._transform_prepared(data)

    def _prepare(self, data: np.ndarray, inp: _Input) -> np.ndarray:
        """Unit conversion, recipe, resampling, clip, crop to whole patches."""
        preset = self._preset
        if preset.name != "eeg":
            data, _ = prepare_modality_array(
                data,
                inp.sfreq,
                preset.name,
                preset.sfreq,
                units=inp.units,
                recipe=self.recipe,
                clip=self.clip,
            )
            return crop_to_patches(data, preset.patch_size)[0]
        with warnings.catch_warnings():
            if inp.from_epochs:
                # rephrased below: the 'units' advice does not apply to Epochs
                warnings.filterwarnings("ignore", message="With units=")
                self._check_amplitude(data, inp)
            data, _ = prepare_array(
                data,
                inp.sfreq,
                units=inp.units,
                recipe=self.recipe,
                clip=self.clip,
                verbose=quiet(self.verbose),
            )
        data, _ = crop_to_patches(data, PATCH_SIZE)
        return data

    def _transform_prepared(self, data: np.ndarray):
        raise NotImplementedError

    # ------------------------------------------------------------ model runs
    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device_.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _batches(self, n_epochs: int, what: str):
        """Slices over epochs, with a progress bar when there are several."""
        slices = [
            slice(start, min(start + self.batch_size, n_epochs))
            for start in range(0, n_epochs, self.batch_size)
        ]
        return progress(slices, f"{type(self).__name__}: {what}", self.verbose)

    def _chan_idx(self) -> torch.Tensor:
        return torch.as_tensor(self.input_chans_, dtype=torch.long, device=self.device_)

    def _run_windows(self, data: np.ndarray, function) -> list:
        """Apply ``function(x)`` to every window of a batch of epochs.

        Parameters
        ----------
        data : ndarray, shape (B, N, A * 200)
            A batch of prepared epochs.
        function : callable
            Maps a float32 tensor (B', N, A' * 200) on ``device_`` to a tensor
            whose first axis is B'. Windows of equal length are stacked along
            the batch axis and passed together.

        Returns
        -------
        outputs : list of Tensor
            One output per window, in window order, each with B rows.
        """
        batch, n_channels, n_times = data.shape
        size = self._patch_size
        windows = plan_windows(n_channels, n_times // size, self._max_tokens)
        groups = {}
        for index, (start, stop) in enumerate(windows):
            groups.setdefault(stop - start, []).append(index)
        outputs = [None] * len(windows)
        for indices in groups.values():
            chunks = [
                data[:, :, windows[i][0] * size : windows[i][1] * size] for i in indices
            ]
            x = torch.from_numpy(np.ascontiguousarray(np.concatenate(chunks)))
            result = function(x.to(self.device_, torch.float32))
            for position, index in enumerate(indices):
                outputs[index] = result[position * batch : (position + 1) * batch]
        return outputs

    @property
    def _patch_size(self) -> int:
        """Samples per patch of the loaded model (200 when published EEG)."""
        return self.model_.config.patch_size

    @property
    def _max_tokens(self) -> int:
        """Most tokens per sample of the loaded model (256 when published)."""
        return self.model_.config.n_patches

    def _window_weights(self, n_patches: int, n_channels: int) -> np.ndarray:
        windows = plan_windows(n_channels, n_patches, self._max_tokens)
        return np.array([stop - start for start, stop in windows], float) / n_patches

    # ------------------------------------------------------------ sklearn API
    def __sklearn_is_fitted__(self) -> bool:
        """Whether :meth:`fit` was called (the model is loaded)."""
        return hasattr(self, "model_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True  # read as one channel
        tags.input_tags.three_d_array = True  # (n_epochs, n_channels, n_times)
        tags.input_tags.allow_nan = False
        tags.target_tags.required = False
        tags.requires_fit = True
        tags.non_deterministic = False
        tags.transformer_tags.preserves_dtype = []  # fixed output dtype
        return tags

    # ------------------------------------------------------------ pickling
    def __getstate__(self):
        state = dict(super().__getstate__())
        model = state.pop("model_", None)
        if model is not None:
            state["_model_state"] = {
                "config": model.config.to_dict(),
                "state_dict": {
                    key: value.detach().cpu()
                    for key, value in model.state_dict().items()
                },
            }
        return state

    def __setstate__(self, state):
        state = dict(state)
        model_state = state.pop("_model_state", None)
        super().__setstate__(state)
        if model_state is None:
            return
        device = getattr(self, "device_", torch.device("cpu"))
        if not _device_available(device):
            warn(
                f"This {type(self).__name__} was fitted on {device}, which is not "
                "available here: its model is restored on the CPU (device_='cpu').",
                ignore_namespaces=_WARN_FROM,
            )
            device = torch.device("cpu")
        model = self._build_model(model_state["config"])
        model.load_state_dict(model_state["state_dict"], strict=True)
        self.model_ = model.to(device).eval()
        self.device_ = device

    def _build_model(self, config: dict):
        raise NotImplementedError


def _weighted_mean(outputs: list, weights: np.ndarray) -> torch.Tensor:
    """Average of per-window tensors weighted by their number of patches."""
    if len(outputs) == 1:
        return outputs[0]
    total = sum(float(w) * out for w, out in zip(weights, outputs, strict=True))
    return total / math.fsum(weights)


def _used_info(info: Info, picks, sfreq: float = MODEL_SFREQ) -> Info:
    """``info`` reduced to ``picks``, at the model rate (EEG: 200 Hz)."""
    used = pick_info(info, picks, verbose=False)
    with used._unlock():
        used["sfreq"] = sfreq
        if used["lowpass"] is None or used["lowpass"] > sfreq / 2:
            used["lowpass"] = sfreq / 2
    return used


def _set_read_units(inp: _Input, modality: str) -> None:
    """Epochs are read in the modality's unit (EEG uV, ECG/EMG mV, PPG as is)."""
    if inp.from_epochs:
        inp.units = MODALITY_UNITS[modality]
