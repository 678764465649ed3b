"""Bring EEG data into the form NeuroRVQ expects: microvolts at 200 Hz.

Every function here works on NumPy arrays of shape
``(n_epochs, n_channels, n_times)`` and never modifies its input. The steps, in
the order :func:`prepare_array` applies them:

1. units: convert to microvolts (:func:`scale_to_microvolts`) and warn when the
   amplitudes do not look like EEG in the declared unit
   (:func:`check_amplitude_units`);
2. an optional filtering recipe, either the authors' one
   (:func:`authors_filter`, at the original rate, then resampling) or the
   downstream benchmark one (resampling, then :func:`benchmark_filter`);
3. resampling to 200 Hz (:func:`resample_data`);
4. an optional amplitude clip (:func:`clip_amplitude`).

Then :func:`crop_to_patches` cuts the time axis into whole 1 s patches and
:func:`plan_windows` splits epochs that exceed the model's 256-token limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from mne import BaseEpochs
from mne.filter import filter_data, resample
from mne.utils import _check_option, _validate_type, logger, verbose, warn
from scipy import signal

__all__ = [
    "AUTHORS_NOTCH_FREQS",
    "MAX_TOKENS",
    "MODALITY_UNITS",
    "MODEL_SFREQ",
    "PATCH_SIZE",
    "PreprocessingSteps",
    "authors_filter",
    "benchmark_filter",
    "check_amplitude_units",
    "clip_amplitude",
    "common_average_reference",
    "crop_to_patches",
    "get_epochs_data_uv",
    "plan_windows",
    "ppg_authors_filter",
    "prepare_array",
    "prepare_modality_array",
    "resample_data",
    "scale_to_microvolts",
]

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
PLAUSIBLE_AMPLITUDE_UV = (1e-2, 1e4)

_MICROVOLTS_PER_UNIT = {"V": 1e6, "mV": 1e3, "uV": 1.0, "µV": 1.0, "μV": 1.0}
_RECIPES = (None, "authors", "benchmark")
_TYPICAL_AMPLITUDE_UV = 20.0
#: Warnings point at the caller's code, not at MNE or this package.
_WARN_FROM = ("mne", "mne_neurorvq")


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
        ignore_namespaces=_WARN_FROM,
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


# ------------------------------------------------------- filtering, resampling


@verbose
def resample_data(
    data, sfreq: float, target_sfreq: float = MODEL_SFREQ, *, verbose=None
) -> np.ndarray:
    """Resample data along the last axis with MNE's FFT-based resampling.

    Uses :func:`mne.filter.resample` (``method='fft'``, MNE's default
    padding), as :meth:`mne.Epochs.resample` does. The output has
    ``round(n_times * target_sfreq / sfreq)`` samples.

    Parameters
    ----------
    data : array-like, shape (..., n_times)
        The data.
    sfreq : float
        Sampling rate of ``data`` in Hz.
    target_sfreq : float
        Sampling rate to resample to, in Hz.
    verbose : bool | str | int | None
        Control verbosity of the logging output (MNE's convention).

    Returns
    -------
    resampled : ndarray of float64, shape (..., n_times_out)
        The resampled data; a float64 copy of ``data`` if the rates are equal.

    Examples
    --------
    >>> import numpy as np
    >>> resample_data(np.zeros((1, 2, 160)), 160.0, verbose=False).shape
    (1, 2, 200)
    """
    sfreq = _check_sfreq(sfreq, "sfreq")
    target_sfreq = _check_sfreq(target_sfreq, "target_sfreq")
    data = np.array(data, dtype=np.float64)
    if np.isclose(sfreq, target_sfreq):
        return data
    logger.info(f"Resampling from {sfreq:g} Hz to {target_sfreq:g} Hz (FFT).")
    return resample(
        data, up=target_sfreq, down=sfreq, axis=-1, method="fft", verbose=verbose
    )


def clip_amplitude(data, limit: float = AUTHORS_CLIP_UV) -> np.ndarray:
    """Clip data to ``[-limit, limit]``.

    Parameters
    ----------
    data : array-like
        The data, in the unit of ``limit`` (uV for the model).
    limit : float
        The largest absolute value kept; must be positive.

    Returns
    -------
    clipped : ndarray of float64
        A new, clipped array.

    Examples
    --------
    >>> clip_amplitude([-800.0, 20.0, 600.0]).tolist()
    [-500.0, 20.0, 500.0]
    """
    _validate_type(limit, "numeric", "limit")
    if not limit > 0:
        raise ValueError(f"limit must be a positive number of uV, got {limit}.")
    return np.clip(np.asarray(data, dtype=np.float64), -limit, limit)


@verbose
def authors_filter(
    data, sfreq: float, *, clip: float | None = AUTHORS_CLIP_UV, verbose=None
) -> np.ndarray:
    """Filter data with the NeuroRVQ authors' recipe, at the original rate.

    The recipe of the authors' reference example, applied along the
    last axis to data in uV at their original sampling rate; resample to
    200 Hz afterwards (:func:`resample_data`, or :func:`prepare_array` with
    ``recipe='authors'``, which does both):

    1. notch at 50, 60 and 100 Hz, each only when below ``sfreq / 2``:
       second-order IIR notch ``scipy.signal.iirnotch(f, Q=f/2, fs=sfreq)``
       (2 Hz wide), applied forward and backward with
       ``scipy.signal.filtfilt`` (zero phase);
    2. band-pass from 0.5 Hz to ``min(45, sfreq / 2) - 0.5`` Hz (44.5 Hz at
       usual rates): Butterworth of order 3 designed as second-order sections
       (``scipy.signal.butter(..., output='sos')``) and applied with
       ``scipy.signal.sosfiltfilt`` (zero phase). Second-order sections stay
       accurate at high sampling rates where the equivalent ``(b, a)``
       polynomial form loses precision; at 500 Hz and below both forms agree
       to better than 1e-6 uV;
    3. clip to ``+-clip`` uV (:func:`clip_amplitude`).

    Parameters
    ----------
    data : array-like, shape (..., n_times)
        The data in uV.
    sfreq : float
        Sampling rate of ``data`` in Hz.
    clip : float | None
        Clip limit in uV (the recipe uses 500); None skips clipping.
    verbose : bool | str | int | None
        Control verbosity of the logging output (MNE's convention).

    Returns
    -------
    filtered : ndarray of float64, shape (..., n_times)
        The filtered data in uV, at ``sfreq``.

    Examples
    --------
    >>> import numpy as np
    >>> data = 20 * np.random.default_rng(0).standard_normal((2, 3, 1000))
    >>> authors_filter(data, 250.0, verbose=False).shape
    (2, 3, 1000)
    """
    sfreq = _check_sfreq(sfreq, "sfreq")
    filtered = np.array(data, dtype=np.float64)
    for freq in AUTHORS_NOTCH_FREQS:
        if freq < sfreq / 2:
            b, a = signal.iirnotch(freq, Q=freq / 2, fs=sfreq)
            filtered = signal.filtfilt(b, a, filtered, axis=-1)
    h_freq = min(AUTHORS_H_FREQ, sfreq / 2) - 0.5
    if h_freq <= AUTHORS_L_FREQ:
        raise ValueError(
            "The authors' band-pass needs sfreq > 2 Hz (upper edge "
            f"min(45, sfreq / 2) - 0.5 above {AUTHORS_L_FREQ} Hz), got sfreq={sfreq}."
        )
    logger.info(
        f"Authors' recipe at {sfreq:g} Hz: notch {_notch_text(sfreq)}, band-pass "
        f"{AUTHORS_L_FREQ:g}-{h_freq:g} Hz (Butterworth order "
        f"{AUTHORS_BUTTER_ORDER}, zero phase), clip {clip} uV."
    )
    sos = signal.butter(
        AUTHORS_BUTTER_ORDER,
        [AUTHORS_L_FREQ, h_freq],
        btype="bandpass",
        fs=sfreq,
        output="sos",
    )
    filtered = signal.sosfiltfilt(sos, filtered, axis=-1)
    if clip is not None:
        filtered = clip_amplitude(filtered, clip)
    return filtered


def _notch_text(sfreq: float) -> str:
    """Describe the notches the authors' recipe applies at ``sfreq``."""
    freqs = [f"{freq:g}" for freq in AUTHORS_NOTCH_FREQS if freq < sfreq / 2]
    return ", ".join(freqs) + " Hz" if freqs else "none"


def common_average_reference(data) -> np.ndarray:
    """Re-reference data to the average of their channels.

    Parameters
    ----------
    data : array-like, shape (..., n_channels, n_times)
        The data. The average is taken over the channels given, so pass only
        the EEG channels that are used.

    Returns
    -------
    referenced : ndarray of float64
        ``data`` minus, at each time point, the mean over channels.

    Examples
    --------
    >>> common_average_reference([[[1.0, 2.0], [3.0, 6.0]]]).tolist()
    [[[-1.0, -2.0], [1.0, 2.0]]]
    """
    data = np.asarray(data, dtype=np.float64)
    return data - data.mean(axis=-2, keepdims=True)


@verbose
def benchmark_filter(data, sfreq: float, *, verbose=None) -> np.ndarray:
    """Filter data with the downstream benchmark recipe.

    The NeuroRVQ downstream evaluation protocol resamples to 200 Hz, then
    band-passes 0.5-45 Hz and re-references to the common average. This
    function does the last two steps, on data already at their final rate:

    1. band-pass 0.5-45 Hz with :func:`mne.filter.filter_data` and its
       defaults (FIR, ``firwin`` design, Hamming window, zero phase,
       automatic filter length and transition bandwidths: 6.6 s long for the
       0.5 Hz edge);
    2. common average reference (:func:`common_average_reference`).

    Filter continuous recordings (or long epochs) where possible: on epochs
    shorter than the filter MNE warns that the filter is longer than the
    signal.

    Parameters
    ----------
    data : array-like, shape (..., n_channels, n_times)
        The data in uV.
    sfreq : float
        Sampling rate of ``data`` in Hz (above 90 Hz).
    verbose : bool | str | int | None
        Control verbosity of the logging output (MNE's convention).

    Returns
    -------
    filtered : ndarray of float64, shape (..., n_channels, n_times)
        The filtered, re-referenced data.

    Examples
    --------
    >>> import numpy as np
    >>> data = 20 * np.random.default_rng(0).standard_normal((1, 3, 2000))
    >>> benchmark_filter(data, 200.0, verbose=False).shape
    (1, 3, 2000)
    """
    sfreq = _check_sfreq(sfreq, "sfreq")
    data = np.array(data, dtype=np.float64)
    filtered = filter_data(
        data, sfreq, BENCHMARK_L_FREQ, BENCHMARK_H_FREQ, copy=False, verbose=verbose
    )
    logger.info("Re-referencing to the common average.")
    return common_average_reference(filtered)


# --------------------------------------------------------------- entry point


@verbose
def prepare_array(
    data,
    sfreq: float,
    *,
    units: str = "uV",
    recipe: str | None = None,
    clip: float | None = None,
    target_sfreq: float = MODEL_SFREQ,
    verbose=None,
) -> tuple[np.ndarray, PreprocessingSteps]:
    """Convert an array of epochs into NeuroRVQ's input: float32 uV at 200 Hz.

    In order: convert ``units`` to uV and check that the amplitudes look like
    EEG (:func:`check_amplitude_units`); filter and resample according to
    ``recipe``; clip.

    - ``recipe=None``: resample only.
    - ``recipe='authors'``: :func:`authors_filter` at the original rate
      (notch, band-pass, clip to 500 uV unless ``clip`` says otherwise), then
      resample.
    - ``recipe='benchmark'``: resample, then :func:`benchmark_filter`
      (band-pass 0.5-45 Hz, common average reference).

    Parameters
    ----------
    data : array-like, shape (n_epochs, n_channels, n_times)
        The data, in ``units``.
    sfreq : float
        Sampling rate of ``data`` in Hz.
    units : ``'V'`` | ``'mV'`` | ``'uV'`` | ``'µV'``
        The unit of ``data`` (MNE stores volts; ``epochs.get_data()`` is in V).
    recipe : None | ``'authors'`` | ``'benchmark'``
        The filtering recipe.
    clip : float | None
        Clip limit in uV. None means the recipe's default: 500 uV for
        ``'authors'``, no clipping otherwise. With ``'authors'`` the clip is
        applied before resampling, as in the reference code, so the resampled
        output may exceed the limit slightly (pass ``float('inf')`` to skip
        the clip); otherwise it is applied after the last step.
    target_sfreq : float
        Output sampling rate in Hz; the models need 200.
    verbose : bool | str | int | None
        Control verbosity of the logging output (MNE's convention).

    Returns
    -------
    data_uv : ndarray of float32, shape (n_epochs, n_channels, n_times_out)
        The prepared data in uV at ``target_sfreq``.
    steps : PreprocessingSteps
        What was done.

    Examples
    --------
    >>> import numpy as np
    >>> data = 2e-5 * np.random.default_rng(0).standard_normal((2, 3, 320))
    >>> data_uv, steps = prepare_array(data, 160.0, units="V", verbose=False)
    >>> data_uv.shape, data_uv.dtype.name, steps.target_sfreq
    ((2, 3, 400), 'float32', 200.0)
    """
    data = _check_epochs_array(data)
    sfreq = _check_sfreq(sfreq, "sfreq")
    target_sfreq = _check_sfreq(target_sfreq, "target_sfreq")
    _check_option("recipe", recipe, _RECIPES)
    if clip is not None:
        _validate_type(clip, "numeric", "clip", "float or None")

    data_uv = scale_to_microvolts(data, units)
    check_amplitude_units(data_uv, units)
    operations = [f"convert {units} to uV (x{_MICROVOLTS_PER_UNIT[units]:g})"]
    if recipe == "authors":
        clip = AUTHORS_CLIP_UV if clip is None else clip
        data_uv = authors_filter(data_uv, sfreq, clip=clip)
        operations += [
            f"notch {_notch_text(sfreq)} (IIR, Q=f/2, zero phase)",
            f"band-pass {AUTHORS_L_FREQ:g}-{min(AUTHORS_H_FREQ, sfreq / 2) - 0.5:g} Hz"
            f" (Butterworth order {AUTHORS_BUTTER_ORDER}, zero phase)",
            f"clip to +-{clip:g} uV",
        ]
    data_uv = resample_data(data_uv, sfreq, target_sfreq)
    if not np.isclose(sfreq, target_sfreq):
        operations.append(f"resample {sfreq:g} Hz -> {target_sfreq:g} Hz (FFT)")
    if recipe == "benchmark":
        data_uv = benchmark_filter(data_uv, target_sfreq)
        operations += [
            f"band-pass {BENCHMARK_L_FREQ:g}-{BENCHMARK_H_FREQ:g} Hz (MNE FIR, zero "
            "phase)",
            "common average reference",
        ]
    if clip is not None and recipe != "authors":
        data_uv = clip_amplitude(data_uv, clip)
        operations.append(f"clip to +-{clip:g} uV")

    steps = PreprocessingSteps(
        recipe=recipe,
        units=units,
        sfreq=sfreq,
        target_sfreq=target_sfreq,
        clip=None if clip is None else float(clip),
        operations=tuple(operations),
    )
    return data_uv.astype(np.float32), steps


# ------------------------------------------------------- other modalities

#: Unit of the model input of each modality: EEG in uV; ECG in mV (the
#: authors feed PTB-XL's raw wfdb signal, in mV); EMG in mV (ASSUMED: the
#: authors' EMG preprocessing was not recovered); PPG as given (None: no unit
#: conversion; the authors' PPG example uses BIDMC's normalised PLETH).
MODALITY_UNITS = {"eeg": "uV", "ecg": "mV", "emg": "mV", "ppg": None}
#: Band-pass edges (Hz) and Butterworth order of the authors' PPG recipe.
PPG_L_FREQ = 0.5
PPG_H_FREQ = 40.0
PPG_BUTTER_ORDER = 3


@verbose
def ppg_authors_filter(data, sfreq: float, *, verbose=None) -> np.ndarray:
    """Band-pass PPG with the authors' PPG recipe, at the original rate.

    As the authors' PPG example (BIDMC, 125 Hz): Butterworth of order 3,
    band-pass from 0.5 Hz to ``min(40, sfreq / 2) - 0.5`` Hz, designed in
    ``(b, a)`` form and applied forward and backward with
    ``scipy.signal.filtfilt`` along the last axis. The authors then resample
    to 100 Hz with ``scipy.signal.resample`` (:func:`prepare_modality_array`
    with ``recipe="authors"``) and cast to float16 (not done here).

    Parameters
    ----------
    data : array-like, shape (..., n_times)
        The PPG.
    sfreq : float
        Sampling rate of ``data`` in Hz.
    verbose : bool | str | int | None
        Control verbosity of the logging output (MNE's convention).

    Returns
    -------
    filtered : ndarray of float64, shape (..., n_times)

    Examples
    --------
    >>> import numpy as np
    >>> data = np.random.default_rng(0).standard_normal((2, 1, 1250))
    >>> ppg_authors_filter(data, 125.0, verbose=False).shape
    (2, 1, 1250)
    """
    sfreq = _check_sfreq(sfreq, "sfreq")
    h_freq = min(PPG_H_FREQ, sfreq / 2) - 0.5
    if h_freq <= PPG_L_FREQ:
        raise ValueError(f"The PPG band-pass needs sfreq > 2 Hz, got sfreq={sfreq}.")
    logger.info(f"Authors' PPG recipe: band-pass {PPG_L_FREQ:g}-{h_freq:g} Hz.")
    b, a = signal.butter(
        PPG_BUTTER_ORDER, [PPG_L_FREQ, h_freq], btype="bandpass", fs=sfreq
    )
    return signal.filtfilt(b, a, np.array(data, dtype=np.float64), axis=-1)


@verbose
def prepare_modality_array(
    data,
    sfreq: float,
    modality: str,
    target_sfreq: float,
    *,
    units: str = "V",
    recipe: str | None = None,
    clip: float | None = None,
    verbose=None,
) -> tuple[np.ndarray, PreprocessingSteps]:
    """Bring ECG, EMG or PPG epochs into the model's units and rate.

    ``modality="eeg"`` is :func:`prepare_array`. Otherwise: convert ``units``
    to the modality's unit (:data:`MODALITY_UNITS`: ECG and EMG in mV; PPG
    values are used as given and ``units`` is ignored); with
    ``recipe="authors"`` (PPG only) band-pass with :func:`ppg_authors_filter`
    and resample with ``scipy.signal.resample`` as the authors do; otherwise
    resample with :func:`resample_data` (MNE's FFT resampling); then clip to
    ``+-clip`` in the modality's unit. No other recipe is known for these
    modalities (the authors' ECG example filters nothing).

    Parameters
    ----------
    data : array-like, shape (n_epochs, n_channels, n_times)
        The data, in ``units``.
    sfreq : float
        Sampling rate of ``data`` in Hz.
    modality : ``"eeg"`` | ``"ecg"`` | ``"emg"`` | ``"ppg"``
        The signal modality.
    target_sfreq : float
        The model's rate (ECG 200, EMG 1000, PPG 100 Hz).
    units : ``'V'`` | ``'mV'`` | ``'uV'`` | ``'µV'``
        The unit of ``data``.
    recipe : None | ``'authors'``
        Filtering recipe; ``'authors'`` exists for PPG only.
    clip : float | None
        Clip limit in the modality's unit, or None.
    verbose : bool | str | int | None
        Control verbosity of the logging output (MNE's convention).

    Returns
    -------
    data : ndarray of float32, shape (n_epochs, n_channels, n_times_out)
    steps : PreprocessingSteps

    Examples
    --------
    >>> import numpy as np
    >>> data = 1e-3 * np.random.default_rng(0).standard_normal((2, 3, 1000))
    >>> out, steps = prepare_modality_array(data, 500.0, "ecg", 200.0, verbose=False)
    >>> out.shape, steps.operations
    ((2, 3, 400), ('convert V to mV (x1000)', 'resample 500 Hz -> 200 Hz (FFT)'))
    """
    if modality == "eeg":
        return prepare_array(
            data,
            sfreq,
            units=units,
            recipe=recipe,
            clip=clip,
            target_sfreq=target_sfreq,
        )
    _check_option("modality", modality, tuple(MODALITY_UNITS))
    data = _check_epochs_array(data)
    sfreq = _check_sfreq(sfreq, "sfreq")
    target_sfreq = _check_sfreq(target_sfreq, "target_sfreq")
    recipes = (None, "authors") if modality == "ppg" else (None,)
    _check_option(f"recipe (for {modality.upper()})", recipe, recipes)
    model_units = MODALITY_UNITS[modality]
    operations = []
    if model_units is None:
        data = np.array(data, dtype=np.float64)
        operations.append("values as given (no unit conversion)")
    else:
        _check_option("units", units, tuple(_MICROVOLTS_PER_UNIT))
        factor = _MICROVOLTS_PER_UNIT[units] / _MICROVOLTS_PER_UNIT[model_units]
        data = np.array(data, dtype=np.float64) * factor
        operations.append(f"convert {units} to {model_units} (x{factor:g})")
    if recipe == "authors":
        data = ppg_authors_filter(data, sfreq)
        h_freq = min(PPG_H_FREQ, sfreq / 2) - 0.5
        operations.append(
            f"band-pass {PPG_L_FREQ:g}-{h_freq:g} Hz (Butterworth order "
            f"{PPG_BUTTER_ORDER}, filtfilt)"
        )
        if not np.isclose(sfreq, target_sfreq):
            n_out = round(data.shape[-1] * target_sfreq / sfreq)
            data = signal.resample(data, n_out, axis=-1)
            operations.append(
                f"resample {sfreq:g} Hz -> {target_sfreq:g} Hz (scipy.signal.resample)"
            )
    else:
        data = resample_data(data, sfreq, target_sfreq)
        if not np.isclose(sfreq, target_sfreq):
            operations.append(f"resample {sfreq:g} Hz -> {target_sfreq:g} Hz (FFT)")
    if clip is not None:
        data = clip_amplitude(data, clip)
        operations.append(f"clip to +-{clip:g} {model_units or '(as given)'}")
    steps = PreprocessingSteps(
        recipe=recipe,
        units="as given" if model_units is None else units,
        sfreq=sfreq,
        target_sfreq=target_sfreq,
        clip=None if clip is None else float(clip),
        operations=tuple(operations),
    )
    return data.astype(np.float32), steps


# ---------------------------------------------------------- patches, windows


def crop_to_patches(data, patch_size: int = PATCH_SIZE) -> tuple[np.ndarray, int]:
    """Crop the time axis to a whole number of patches.

    Trailing samples that do not fill a patch are dropped, with a warning that
    says how many.

    Parameters
    ----------
    data : ndarray, shape (..., n_times)
        The data at the model rate (``patch_size`` samples per second).
    patch_size : int
        Samples per patch (200: one second at 200 Hz).

    Returns
    -------
    cropped : ndarray, shape (..., n_patches * patch_size)
        A view of ``data`` without the trailing samples.
    n_patches : int
        Number of patches per channel.

    Raises
    ------
    ValueError
        If ``data`` hold less than one patch.

    Examples
    --------
    >>> import numpy as np
    >>> cropped, n_patches = crop_to_patches(np.zeros((2, 3, 800)))
    >>> cropped.shape, n_patches
    ((2, 3, 800), 4)
    """
    _validate_type(patch_size, "int", "patch_size")
    if patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer, got {patch_size}.")
    data = np.asarray(data)
    n_times = data.shape[-1] if data.ndim else 0
    n_patches = n_times // patch_size
    if n_patches < 1:
        raise ValueError(
            f"Epochs must hold at least one patch of {patch_size} samples (1 s at "
            f"{patch_size} Hz), got {n_times} samples "
            f"({n_times / patch_size:g} s at {patch_size} Hz). Use longer epochs."
        )
    n_dropped = n_times - n_patches * patch_size
    if n_dropped:
        warn(
            f"Dropping the last {n_dropped} samples ({n_dropped / patch_size:g} s) "
            f"of each epoch: {n_times} samples are not a whole number of "
            f"{patch_size}-sample patches; {n_patches} patches are kept.",
            ignore_namespaces=_WARN_FROM,
        )
    return data[..., : n_patches * patch_size], n_patches


def plan_windows(
    n_channels: int, n_patches: int, max_tokens: int = MAX_TOKENS
) -> list[tuple[int, int]]:
    """Split an epoch's patches into windows that respect the token limit.

    A sample may hold at most ``max_tokens`` tokens (channels x patches), so a
    window holds at most ``max_patches = max_tokens // n_channels`` patches.
    The rule: use the fewest windows that fit,
    ``n_windows = ceil(n_patches / max_patches)``, and balance their lengths:
    every window gets ``n_patches // n_windows`` patches and the first
    ``n_patches % n_windows`` windows one more. Windows are contiguous, do not
    overlap and cover every patch, so nothing is cropped. For example 30
    patches of 19 channels (at most 13 per window) give 3 windows of 10
    patches, not 13, 13 and 4.

    Each window is passed to the model as a sample of its own (its temporal
    indices are right-aligned within the window). The estimators combine the
    windows of an epoch as follows: tokens are concatenated along time, in
    window order; embeddings are the average of the window embeddings,
    weighted by each window's number of patches.

    Parameters
    ----------
    n_channels : int
        Number of channels used.
    n_patches : int
        Number of patches per channel in the epoch.
    max_tokens : int
        Most tokens per sample (256 for the published models).

    Returns
    -------
    windows : list of (int, int)
        Patch ranges ``[start, stop)``, in order.

    Raises
    ------
    ValueError
        If ``n_channels > max_tokens``: one patch of every channel would
        already exceed the limit.

    Examples
    --------
    >>> plan_windows(19, 30)
    [(0, 10), (10, 20), (20, 30)]
    >>> plan_windows(64, 4)
    [(0, 4)]
    """
    for value, name in (
        (n_channels, "n_channels"),
        (n_patches, "n_patches"),
        (max_tokens, "max_tokens"),
    ):
        _validate_type(value, "int", name)
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}.")
    if n_channels > max_tokens:
        raise ValueError(
            f"Too many channels: {n_channels} channels give {n_channels} tokens per "
            f"patch, more than the model's limit of {max_tokens} tokens per sample. "
            f"Use at most {max_tokens} channels."
        )
    max_patches = max_tokens // n_channels
    n_windows = math.ceil(n_patches / max_patches)
    base_length, n_longer = divmod(n_patches, n_windows)
    windows, start = [], 0
    for window in range(n_windows):
        stop = start + base_length + (window < n_longer)
        windows.append((start, stop))
        start = stop
    return windows


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
