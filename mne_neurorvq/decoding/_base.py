"""Machinery shared by the NeuroRVQ scikit-learn transformers.

The input contract is :mod:`mne_neurorvq.decoding._input` (Epochs, lists of
Epochs, braindecode datasets, arrays); ``_NeuroRVQTransformer`` matches
channels, validates, prepares (:func:`mne_neurorvq.preprocessing.prepare_array`),
batches, splits long epochs into windows and pickles the model as a CPU state
dict.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Mapping
from dataclasses import replace
from os import PathLike

import numpy as np
import torch
from mne import Info, pick_info
from mne.utils import _check_option, _validate_type, use_log_level
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError

from .._progress import progress, quiet
from .._warnings import warn
from ..nn.checkpoints import CheckpointError
from ..nn.config import MODALITIES
from ..preprocessing import (
    MODALITY_UNITS,
    MODEL_SFREQ,
    crop_to_patches,
    plan_windows,
    prepare_modality_array,
)
from ..weights import PUBLISHED_WEIGHTS, published_kind, published_modality
from ._device import (
    PRECISIONS,
    autocast,
    device_available,
    resolve_device,
    resolve_precision,
)
from ._docs import fill_doc
from ._input import (
    Input,
    check_finite,
    check_fitted_channels,
    match_input,
    read_input,
)
from ._training import check_train_params

UNITS = ("V", "mV", "uV", "µV", "μV")
RECIPES = (None, "authors", "benchmark")
ON_UNKNOWN = ("ignore", "warn", "raise")


def _log_level(verbose):
    """Context setting MNE's log level to ``verbose``; None keeps the current one."""
    return contextlib.nullcontext() if verbose is None else use_log_level(verbose)


def _describe_weights(weights) -> str:
    if isinstance(weights, Mapping):
        return f"a state dict of {len(weights)} tensors"
    return repr(str(weights))


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
        _check_option("units", self.units, UNITS)
        _check_option("recipe", self.recipe, RECIPES)
        _check_option("precision", self.precision, PRECISIONS)
        _check_option("on_unknown", self.on_unknown, ON_UNKNOWN)
        if self.clip is not None:
            _validate_type(self.clip, "numeric", "clip", "float or None")
            if not self.clip > 0:
                raise ValueError(
                    f"clip must be a positive number of uV, got {self.clip}."
                )
        _check_positive_int(self.batch_size, "batch_size")

    # ------------------------------------------------------------ fit
    @fill_doc
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

    @fill_doc
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

    def _fit(self, X, check_amplitude: bool) -> Input:
        self._check_params()
        inp = read_input(X, self.ch_names, self.sfreq, self.units)
        self.modality_ = self._resolve_modality(inp)
        _set_read_units(inp, self.modality_)
        match, picks = match_input(
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
        if inp.from_mne:
            unit = inp.units or "their own unit"
            operations = (
                f"read the {inp.kind} in {unit} (get_data(units={inp.units!r}))",
            )
            steps = replace(steps, operations=operations + steps.operations[1:])
        if check_amplitude and self._preset.plausible_amplitude is not None:
            data = inp.get_data(picks)
            check_finite(data, match.ch_names)
            self._check_amplitude(data, inp)

        self.device_ = resolve_device(self.device)
        self.precision_ = resolve_precision(self.precision, self.device_)
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

    def _resolve_modality(self, inp: Input) -> str:
        """The modality of this fit (``modality_``): EEG unless overridden."""
        return "eeg"

    @property
    def _preset(self):
        """Sizes and rate of the fitted modality (EEG before fit)."""
        return MODALITIES[getattr(self, "modality_", "eeg")]

    def _train_model(self, data: np.ndarray, chan_idx: np.ndarray):
        """Train the model on prepared epochs (``weights=None``)."""
        raise NotImplementedError

    def _fit_extra(self, inp: Input, match) -> None:
        """Subclass hook: record estimator-specific fitted attributes."""

    def _check_length(self, inp: Input) -> int:
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

    def _check_amplitude(self, data: np.ndarray, inp: Input) -> None:
        """Warn when the amplitudes look wrong for the modality in the unit read."""
        plausible = self._preset.plausible_amplitude
        if plausible is None:
            return
        if not inp.from_mne:
            from ..preprocessing import check_amplitude_units, scale_to_microvolts

            check_amplitude_units(scale_to_microvolts(data, inp.units), inp.units)
            return
        stds = np.std(data, axis=-1)
        stds = stds[np.isfinite(stds) & (stds > 0)]
        if not stds.size:
            return
        typical = float(np.median(stds))
        low, high = plausible
        unit, name = inp.units, self._preset.name.upper()
        what = "The Epochs'" if inp.kind == "Epochs" else f"The {inp.kind}'s"
        if not low <= typical <= high:
            warn(
                f"{what} data, read in {unit} (MNE stores volts: "
                f"get_data(units='{unit}')), have a typical amplitude (median "
                f"standard deviation) of {typical:.3g} {unit}, outside the range "
                f"expected for {name} ({low:g} to {high:g} {unit}). Were they "
                "built from data in the wrong unit? MNE expects volts (e.g. "
                "mne.EpochsArray, mne.io.RawArray).",
            )

    # ------------------------------------------------------------ transform
    def _check_is_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' "
                "with appropriate arguments before using this estimator."
            )

    def _read_for_transform(self, X) -> Input:
        self._check_is_fitted()
        inp = read_input(X, self.ch_names, self.sfreq, self.units)
        _set_read_units(inp, self.modality_)
        check_fitted_channels(inp, self)
        self._check_length(inp)
        return inp

    def _transform_input(self, inp: Input) -> np.ndarray:
        """Prepare the data of ``inp`` and run the model (subclass part)."""
        data = inp.get_data(self.picks_)
        check_finite(data, self.ch_names_)
        data = self._prepare(data, inp)
        return self._transform_prepared(data)

    def _prepare(self, data: np.ndarray, inp: Input) -> np.ndarray:
        """Unit conversion, recipe, resampling, clip, crop to whole patches."""
        preset = self._preset
        with warnings.catch_warnings():
            if inp.from_mne:
                # rephrased below: the 'units' advice does not apply to Epochs
                warnings.filterwarnings("ignore", message="With units=")
                self._check_amplitude(data, inp)
            data, _ = prepare_modality_array(
                data,
                inp.sfreq,
                preset.name,
                preset.sfreq,
                units=inp.units,
                recipe=self.recipe,
                clip=self.clip,
                verbose=quiet(self.verbose),
            )
        return crop_to_patches(data, preset.patch_size)[0]

    def _transform_prepared(self, data: np.ndarray):
        raise NotImplementedError

    # ------------------------------------------------------------ model runs
    def _autocast(self):
        return autocast(self.precision_, self.device_)

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

    # ------------------------------------------------------------ formats
    def save_pretrained(self, folder):
        """Write the model and parameters into ``folder``, without pickle.

        ``model.safetensors`` holds the model (e.g. one trained in
        :meth:`fit` with ``weights=None``); ``config.json`` its configuration,
        the parameters, the channels and preprocessing seen in :meth:`fit` and
        the package version. Push the folder to the Hugging Face Hub with
        ``huggingface_hub.upload_folder``; :meth:`from_pretrained` reads it.

        Parameters
        ----------
        folder : str | path-like
            Where to write (created if needed).

        Returns
        -------
        folder : pathlib.Path
        """
        from ._pretrained import save_transformer

        return save_transformer(self, folder)

    @classmethod
    def from_pretrained(cls, folder, **params):
        """An estimator with the saved parameters and the saved model as weights.

        ``weights`` is the folder, so :meth:`fit` loads the saved model
        (never trains again) and records the channels of its input.

        Parameters
        ----------
        folder : str | path-like
            A folder written by :meth:`save_pretrained`.
        **params
            Parameters overriding the saved ones.

        Returns
        -------
        estimator : instance of cls
            Not fitted yet.
        """
        from ._pretrained import load_transformer

        return load_transformer(cls, folder, **params)

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
        if not device_available(device):
            warn(
                f"This {type(self).__name__} was fitted on {device}, which is not "
                "available here: its model is restored on the CPU (device_='cpu').",
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


def _set_read_units(inp: Input, modality: str) -> None:
    """Epochs are read in the modality's unit (EEG uV, ECG/EMG mV, PPG as is)."""
    if inp.from_mne:
        inp.units = MODALITY_UNITS[modality]
