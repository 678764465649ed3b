"""Units of EEG data: microvolts, amplitude checks, the steps record."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from mne import BaseEpochs
from mne.utils import _check_option, _validate_type

from .._warnings import warn
from ..modalities import MODALITIES

#: Sampling rate of the model input in Hz (one 200-sample patch per second).
MODEL_SFREQ = 200.0
#: Samples per patch.
PATCH_SIZE = 200
#: Most tokens (channels x patches) one sample may hold.
MAX_TOKENS = 256
#: Line-noise frequencies (Hz) notched by the authors' recipe.
AUTHORS_NOTCH_FREQS = (50.0, 60.0, 100.0)
#: Band-pass edges (Hz) and Butterworth order of the authors' recipe.
AUTHORS_L_FREQ = 0.5
AUTHORS_H_FREQ = 45.0
AUTHORS_BUTTER_ORDER = 3
#: Clip limit (uV) of the authors' recipe.
AUTHORS_CLIP_UV = 500.0
#: Band-pass edges (Hz) of the downstream benchmark recipe.
BENCHMARK_L_FREQ = 0.5
BENCHMARK_H_FREQ = 45.0
#: Typical EEG amplitude range (uV): the median standard deviation of a
#: recording outside it suggests the declared unit is wrong.
PLAUSIBLE_AMPLITUDE_UV = MODALITIES["eeg"].plausible_amplitude

_MICROVOLTS_PER_UNIT = {"V": 1e6, "mV": 1e3, "uV": 1.0, "µV": 1.0, "μV": 1.0}
_RECIPES = (None, "authors", "benchmark")
_TYPICAL_AMPLITUDE_UV = 20.0


@dataclass(frozen=True)
class PreprocessingSteps:
    """Record of what :func:`prepare_array` did to the data.

    Estimators keep it in a fitted attribute so the preprocessing of training
    and test data can be compared and reported.

    Attributes
    ----------
    recipe : None | ``'authors'`` | ``'benchmark'``
        The filtering recipe (None: no filtering).
    units : str
        The unit the input data were declared to be in.
    sfreq : float
        Sampling rate of the input data in Hz.
    target_sfreq : float
        Sampling rate of the output data in Hz.
    clip : float | None
        The clip limit in uV that was applied, or None.
    operations : tuple of str
        Human-readable description of each operation, in the order applied.

    Examples
    --------
    >>> import numpy as np
    >>> from mne_neurorvq.preprocessing import prepare_array
    >>> data = 2e-5 * np.random.default_rng(0).standard_normal((1, 2, 500))
    >>> _, steps = prepare_array(data, 250.0, units="V", verbose=False)
    >>> steps.operations
    ('convert V to uV (x1e+06)', 'resample 250 Hz -> 200 Hz (FFT)')
    """

    recipe: str | None
    units: str
    sfreq: float
    target_sfreq: float
    clip: float | None
    operations: tuple[str, ...]


# --------------------------------------------------------------------- units


def get_epochs_data_uv(epochs: BaseEpochs, picks=None) -> np.ndarray:
    """Get the data of epochs in microvolts.

    Same as ``epochs.get_data(picks=picks, units="uV")``: MNE stores volts, so
    EEG values are multiplied by 1e6. All picked channels must share the volt
    unit (EEG, EOG, ECG, EMG, ...); pick the EEG channels otherwise.

    Parameters
    ----------
    epochs : mne.Epochs
        The epochs.
    picks : str | array-like of int | array-like of str | None
        Channels to include, as in :meth:`mne.Epochs.get_data`. None picks the
        good data channels.

    Returns
    -------
    data : ndarray of float64, shape (n_epochs, n_channels, n_times)
        The data in microvolts.

    Examples
    --------
    >>> import mne
    >>> import numpy as np
    >>> info = mne.create_info(["Cz"], 200.0, "eeg")
    >>> epochs = mne.EpochsArray(np.full((1, 1, 200), 1e-5), info, verbose=False)
    >>> float(get_epochs_data_uv(epochs)[0, 0, 0])
    10.0
    """
    _validate_type(epochs, BaseEpochs, "epochs", "mne.Epochs")
    data = epochs.get_data(picks=picks, units="uV")
    return np.asarray(data, dtype=np.float64)


def scale_to_microvolts(data, units: str) -> np.ndarray:
    """Convert data from ``units`` to microvolts.

    Parameters
    ----------
    data : array-like, shape (..., n_times)
        The data.
    units : ``'V'`` | ``'mV'`` | ``'uV'`` | ``'µV'``
        The unit the data are in (MNE stores volts, ``'V'``).

    Returns
    -------
    data_uv : ndarray of float64
        A new array in microvolts.

    Examples
    --------
    >>> scale_to_microvolts([2e-5, -1e-5], "V").tolist()
    [20.0, -10.0]
    """
    _check_option("units", units, tuple(_MICROVOLTS_PER_UNIT))
    return np.array(data, dtype=np.float64) * _MICROVOLTS_PER_UNIT[units]


def check_amplitude_units(data_uv, assumed_units: str) -> float:
    """Warn when data do not look like EEG in the unit they were declared in.

    The typical amplitude is the median, over epochs and channels, of the
    standard deviation over time (the standard deviation ignores DC offsets,
    the median ignores a few flat or broken channels). Scalp EEG is usually
    1 to 100 uV; a typical amplitude outside 0.01 to 10000 uV means the unit
    is almost certainly wrong, e.g. volts passed as ``units='uV'``. The
    warning names the unit that would give a plausible amplitude.

    Parameters
    ----------
    data_uv : array-like, shape (..., n_times)
        The data after conversion to microvolts with ``assumed_units``.
    assumed_units : ``'V'`` | ``'mV'`` | ``'uV'`` | ``'µV'``
        The unit the data were declared to be in.

    Returns
    -------
    typical_amplitude : float
        The typical amplitude in uV (0 when every trace is flat or not
        finite; then nothing is checked).

    Examples
    --------
    >>> import numpy as np
    >>> data_uv = 20 * np.random.default_rng(0).standard_normal((2, 3, 400))
    >>> 15 < check_amplitude_units(data_uv, "uV") < 25
    True
    """
    _check_option("assumed_units", assumed_units, tuple(_MICROVOLTS_PER_UNIT))
    typical_amplitude = _typical_amplitude(np.asarray(data_uv, dtype=np.float64))
    low, high = PLAUSIBLE_AMPLITUDE_UV
    if typical_amplitude == 0 or low <= typical_amplitude <= high:
        return typical_amplitude
    suggested = _suggest_units(typical_amplitude, assumed_units)
    advice = (
        f"They look like they are in {suggested}: pass units={suggested!r} instead."
        if suggested is not None
        else "Check the units and the data."
    )
    warn(
        f"With units={assumed_units!r}, the typical amplitude of the data (median "
        f"standard deviation over epochs and channels) is {typical_amplitude:.3g} "
        f"uV, outside the range expected for EEG ({low:g} to {high:g} uV). " + advice,
    )
    return typical_amplitude


def _typical_amplitude(data_uv: np.ndarray) -> float:
    """Median over traces of the standard deviation over time, in uV."""
    stds = np.std(data_uv, axis=-1)
    stds = stds[np.isfinite(stds) & (stds > 0)]
    return float(np.median(stds)) if stds.size else 0.0


def _suggest_units(typical_amplitude: float, assumed_units: str) -> str | None:
    """Return the unit giving the most plausible amplitude, None if none does."""
    low, high = PLAUSIBLE_AMPLITUDE_UV
    best, best_distance = None, math.inf
    for units in ("V", "mV", "uV"):
        factor = _MICROVOLTS_PER_UNIT[units] / _MICROVOLTS_PER_UNIT[assumed_units]
        amplitude = typical_amplitude * factor
        distance = abs(math.log10(amplitude / _TYPICAL_AMPLITUDE_UV))
        if low <= amplitude <= high and distance < best_distance:
            best, best_distance = units, distance
    return best


# ------------------------------------------------------------------ checks


def _check_epochs_array(data) -> np.ndarray:
    """Return ``data`` as a 3-D float64 array, or raise a clear error."""
    _validate_type(data, (np.ndarray, list, tuple), "data", "array")
    array = np.asarray(data)
    if array.ndim != 3:
        raise ValueError(
            "data must be a 3-D array of shape (n_epochs, n_channels, n_times), got "
            f"an array of shape {array.shape}."
        )
    if not (np.issubdtype(array.dtype, np.floating) or array.dtype.kind in "iu"):
        raise ValueError(
            f"data must hold real numbers (float or int), got dtype {array.dtype}."
        )
    return array.astype(np.float64, copy=False)


def _check_sfreq(sfreq, name: str) -> float:
    """Return ``sfreq`` as a float after checking that it is a positive rate."""
    _validate_type(sfreq, "numeric", name)
    if not (np.isfinite(sfreq) and sfreq > 0):
        raise ValueError(f"{name} must be a positive number of Hz, got {sfreq}.")
    return float(sfreq)
