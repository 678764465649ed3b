"""Bring EEG data into the form NeuroRVQ expects: microvolts at 200 Hz.

(A package of focused modules: ``_units`` (units, amplitude checks, the
steps record), ``_filters`` (filtering, resampling), ``_prepare`` (the entry
points, every modality) and ``_windows`` (patches and windows); everything
public is imported here.)

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

# constants of the recipes, importable from here as before the split
from ._filters import (  # noqa: F401, E402
    PPG_BUTTER_ORDER,
    PPG_H_FREQ,
    PPG_L_FREQ,
    authors_filter,
    benchmark_filter,
    clip_amplitude,
    common_average_reference,
    ppg_authors_filter,
    resample_data,
)
from ._prepare import MODALITY_UNITS, prepare_array, prepare_modality_array
from ._units import (  # noqa: F401, E402
    AUTHORS_BUTTER_ORDER,
    AUTHORS_CLIP_UV,
    AUTHORS_H_FREQ,
    AUTHORS_L_FREQ,
    AUTHORS_NOTCH_FREQS,
    BENCHMARK_H_FREQ,
    BENCHMARK_L_FREQ,
    MAX_TOKENS,
    MODEL_SFREQ,
    PATCH_SIZE,
    PLAUSIBLE_AMPLITUDE_UV,
    PreprocessingSteps,
    check_amplitude_units,
    get_epochs_data_uv,
    scale_to_microvolts,
)
from ._windows import crop_to_patches, plan_windows

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
