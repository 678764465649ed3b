"""The entry points: EEG (:func:`prepare_array`) and other modalities."""

from __future__ import annotations

import numpy as np
from mne.utils import _check_option, _validate_type, verbose
from scipy import signal

from ..modalities import MODALITIES, FieldView
from ._filters import (
    PPG_BUTTER_ORDER,
    PPG_H_FREQ,
    PPG_L_FREQ,
    _notch_text,
    authors_filter,
    benchmark_filter,
    clip_amplitude,
    ppg_authors_filter,
    resample_data,
)
from ._units import (
    _MICROVOLTS_PER_UNIT,
    _RECIPES,
    AUTHORS_BUTTER_ORDER,
    AUTHORS_CLIP_UV,
    AUTHORS_H_FREQ,
    AUTHORS_L_FREQ,
    BENCHMARK_H_FREQ,
    BENCHMARK_L_FREQ,
    MODEL_SFREQ,
    PreprocessingSteps,
    _check_epochs_array,
    _check_sfreq,
    check_amplitude_units,
    scale_to_microvolts,
)

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

#: Unit of the model input of each modality (EEG uV, ECG and EMG mV, PPG as
#: given: None), a view of the modality records (:mod:`mne_neurorvq.modalities`).
MODALITY_UNITS = FieldView("units")


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
    recipes = MODALITIES[modality].recipes
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
