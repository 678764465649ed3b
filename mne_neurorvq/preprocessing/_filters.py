"""Filtering and resampling: the authors' recipes, the benchmark's, PPG's."""

from __future__ import annotations

import numpy as np
from mne.filter import filter_data, resample
from mne.utils import _validate_type, logger, verbose
from scipy import signal

from ._units import (
    AUTHORS_BUTTER_ORDER,
    AUTHORS_CLIP_UV,
    AUTHORS_H_FREQ,
    AUTHORS_L_FREQ,
    AUTHORS_NOTCH_FREQS,
    BENCHMARK_H_FREQ,
    BENCHMARK_L_FREQ,
    MODEL_SFREQ,
    _check_sfreq,
)

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


# ------------------------------------------------------------------ PPG

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
