from __future__ import annotations

import math

import mne
import numpy as np
import pytest
from mne.datasets import eegbci
from scipy import signal

from mne_neurorvq.channels import match_info
from mne_neurorvq.preprocessing import (
    PreprocessingSteps,
    authors_filter,
    benchmark_filter,
    check_amplitude_units,
    clip_amplitude,
    common_average_reference,
    crop_to_patches,
    get_epochs_data_uv,
    plan_windows,
    prepare_array,
    resample_data,
    scale_to_microvolts,
)


def _eeg_like(shape, scale_uv=20.0, seed=0):
    return scale_uv * np.random.default_rng(seed).standard_normal(shape)


def _sine(freq, sfreq, n_times, amplitude=1.0):
    return amplitude * np.sin(2 * np.pi * freq * np.arange(n_times) / sfreq)


def _amplitude_at(x, freq, sfreq):
    """Amplitude of the ``freq`` component of a 1-D signal (integer cycles)."""
    spectrum = np.fft.rfft(x) / (len(x) / 2)
    return np.abs(spectrum[round(freq * len(x) / sfreq)])


# ----------------------------------------------------------------------- units


def test_get_epochs_data_uv():
    info = mne.create_info(["Cz", "Pz"], 200.0, "eeg")
    data = _eeg_like((3, 2, 400), scale_uv=2e-5)
    epochs = mne.EpochsArray(data, info, verbose=False)
    data_uv = get_epochs_data_uv(epochs)
    assert data_uv.dtype == np.float64
    np.testing.assert_allclose(data_uv, data * 1e6)
    np.testing.assert_allclose(
        get_epochs_data_uv(epochs, picks=["Pz"]), data[:, 1:] * 1e6
    )
    with pytest.raises(TypeError, match="epochs must be an instance of mne.Epochs"):
        get_epochs_data_uv(data)


@pytest.mark.parametrize(
    ("units", "factor"), [("V", 1e6), ("mV", 1e3), ("uV", 1.0), ("µV", 1.0)]
)
def test_scale_to_microvolts(units, factor):
    data = np.array([[[1.0, -2.0]]], dtype=np.float32)
    scaled = scale_to_microvolts(data, units)
    assert scaled.dtype == np.float64
    np.testing.assert_allclose(scaled, data * factor)
    assert scaled is not data


def test_scale_to_microvolts_bad_units():
    with pytest.raises(ValueError, match=r"'units' parameter.*'V', 'mV'.*'volts'"):
        scale_to_microvolts(np.zeros(3), "volts")


def test_check_amplitude_units_accepts_eeg():
    assert 15 < check_amplitude_units(_eeg_like((2, 4, 500)), "uV") < 25


@pytest.mark.parametrize(
    ("stored", "assumed", "suggested"),
    [
        (2e-5, "uV", "V"),  # 20 uV stored in volts, passed as microvolts
        (20.0, "V", "uV"),  # stored in microvolts, passed as volts
        (0.02, "V", "mV"),  # stored in millivolts, passed as volts
        (20.0, "mV", "uV"),  # stored in microvolts, passed as millivolts
    ],
)
def test_check_amplitude_units_warns_with_the_unit_to_pass(stored, assumed, suggested):
    data = scale_to_microvolts(_eeg_like((2, 4, 500), scale_uv=stored), assumed)
    match = rf"units='{assumed}'.*They look like they are in {suggested}: pass"
    with pytest.warns(RuntimeWarning, match=match):
        check_amplitude_units(data, assumed)


def test_check_amplitude_units_without_suggestion():
    with pytest.warns(RuntimeWarning, match="Check the units and the data"):
        check_amplitude_units(_eeg_like((1, 2, 300), scale_uv=1e12), "uV")


def test_check_amplitude_units_ignores_flat_data():
    assert check_amplitude_units(np.zeros((2, 3, 100)), "uV") == 0.0


# ------------------------------------------------------- filtering, resampling


def test_resample_data():
    data = _eeg_like((2, 3, 480))
    resampled = resample_data(data, 160.0, verbose=False)
    assert resampled.shape == (2, 3, 600)
    assert resampled.dtype == np.float64
    same = resample_data(data, 200.0, target_sfreq=200.0)
    np.testing.assert_array_equal(same, data)
    assert same is not data
    # a slow sine survives resampling
    sine = _sine(5.0, 500.0, 5000)
    np.testing.assert_allclose(
        resample_data(sine, 500.0, verbose=False), _sine(5.0, 200.0, 2000), atol=1e-3
    )


@pytest.mark.parametrize("sfreq", [0, -200.0, float("nan")])
def test_resample_data_bad_sfreq(sfreq):
    with pytest.raises(ValueError, match="sfreq must be a positive number of Hz"):
        resample_data(np.zeros((1, 1, 10)), sfreq)


def test_clip_amplitude():
    data = np.array([-900.0, -20.0, 0.0, 499.0, 700.0])
    np.testing.assert_array_equal(clip_amplitude(data), [-500, -20, 0, 499, 500])
    np.testing.assert_array_equal(clip_amplitude(data, 100), [-100, -20, 0, 100, 100])
    with pytest.raises(ValueError, match="positive number of uV, got -1"):
        clip_amplitude(data, -1)


def test_authors_filter_removes_line_noise_drift_and_clips():
    sfreq, n_times = 500.0, 5000
    alpha = _sine(10.0, sfreq, n_times, amplitude=30.0)
    data = (
        alpha
        + 100.0
        + sum(
            _sine(freq, sfreq, n_times, amplitude=20.0) for freq in (50, 60, 100, 150)
        )
    )
    filtered = authors_filter(data[np.newaxis, np.newaxis], sfreq, verbose=False)
    assert filtered.shape == (1, 1, n_times)
    middle = filtered[0, 0, 1000:-1000]  # away from the edges
    assert abs(middle.mean()) < 0.5  # DC removed by the 0.5 Hz high-pass
    assert _amplitude_at(middle, 10.0, sfreq) == pytest.approx(30.0, rel=0.02)
    for freq in (50, 60, 100, 150):  # notches, and 150 Hz by the low-pass
        assert _amplitude_at(middle, freq, sfreq) < 0.3
    loud = authors_filter(50 * data[np.newaxis, np.newaxis], sfreq, verbose=False)
    assert np.abs(loud).max() == 500.0
    unclipped = authors_filter(50 * data, sfreq, clip=None, verbose=False)
    assert np.abs(unclipped).max() > 500.0


def test_authors_filter_matches_b_a_form_at_usual_rates():
    # the band-pass is run as second-order sections; at usual rates this is the
    # (b, a) + filtfilt form of the reference scripts up to rounding
    sfreq = 200.0
    data = _eeg_like((1, 2, 2000))
    notched = data
    for freq in (50.0, 60.0):  # 100 Hz is not below sfreq / 2
        b, a = signal.iirnotch(freq, Q=freq / 2, fs=sfreq)
        notched = signal.filtfilt(b, a, notched, axis=-1)
    b, a = signal.butter(3, [0.5, 44.5], btype="bandpass", fs=sfreq)
    expected = np.clip(signal.filtfilt(b, a, notched, axis=-1), -500, 500)
    actual = authors_filter(data, sfreq, verbose=False)
    np.testing.assert_allclose(
        actual[..., 100:-100], expected[..., 100:-100], atol=1e-3
    )


def test_authors_filter_bad_sfreq():
    with pytest.raises(ValueError, match="needs sfreq > 2 Hz.*got sfreq=2.0"):
        authors_filter(np.zeros((1, 1, 100)), 2.0)


def test_common_average_reference():
    data = _eeg_like((2, 5, 100))
    referenced = common_average_reference(data)
    np.testing.assert_allclose(referenced.mean(axis=1), 0.0, atol=1e-12)
    mean = np.broadcast_to(data.mean(axis=1, keepdims=True), data.shape)
    np.testing.assert_allclose(referenced, data - mean)


def test_benchmark_filter():
    sfreq, n_times = 200.0, 4000
    data = np.stack(
        [
            _sine(10.0, sfreq, n_times, 30.0) + 100.0 + _sine(60.0, sfreq, n_times, 20),
            _sine(7.0, sfreq, n_times, 10.0) - 50.0,
            _sine(3.0, sfreq, n_times, 5.0),
        ]
    )[np.newaxis]
    filtered = benchmark_filter(data, sfreq, verbose=False)
    assert filtered.shape == data.shape
    np.testing.assert_allclose(filtered.mean(axis=1), 0.0, atol=1e-9)  # CAR
    first = filtered[0, 0, 1400:-1400]  # away from the edges
    assert abs(first.mean()) < 0.5  # DC removed
    assert _amplitude_at(first, 60.0, sfreq) < 0.2  # above 45 Hz
    # CAR removes a third of channel 0's own 10 Hz component
    assert _amplitude_at(first, 10.0, sfreq) == pytest.approx(20.0, rel=0.05)


# --------------------------------------------------------------- entry point


@pytest.mark.parametrize("recipe", [None, "authors", "benchmark"])
def test_prepare_array(recipe):
    data = _eeg_like((2, 3, 8 * 250), scale_uv=2e-5)  # 8 s at 250 Hz, in volts
    original = data.copy()
    prepared, steps = prepare_array(
        data, 250.0, units="V", recipe=recipe, verbose=False
    )
    np.testing.assert_array_equal(data, original)  # input untouched
    assert prepared.dtype == np.float32
    assert prepared.shape == (2, 3, 1600)
    assert isinstance(steps, PreprocessingSteps)
    assert (steps.recipe, steps.units, steps.sfreq, steps.target_sfreq) == (
        recipe,
        "V",
        250.0,
        200.0,
    )
    assert steps.operations[0] == "convert V to uV (x1e+06)"
    assert any("resample 250 Hz -> 200 Hz" in op for op in steps.operations)
    if recipe == "authors":
        assert steps.clip == 500.0
        assert "notch 50, 60, 100 Hz (IIR, Q=f/2, zero phase)" in steps.operations
        assert steps.operations.index("clip to +-500 uV") < len(steps.operations) - 1
    else:
        assert steps.clip is None
    if recipe == "benchmark":
        assert steps.operations[-1] == "common average reference"
        np.testing.assert_allclose(prepared.mean(axis=1), 0.0, atol=1e-4)
    if recipe is None:
        expected = resample_data(data * 1e6, 250.0, verbose=False)
        np.testing.assert_allclose(prepared, expected, rtol=1e-6, atol=1e-4)


def test_prepare_array_clip_and_no_resampling():
    data = _eeg_like((1, 2, 400), scale_uv=300.0)
    prepared, steps = prepare_array(data, 200.0, clip=100.0, verbose=False)
    assert np.abs(prepared).max() == 100.0
    assert steps.clip == 100.0
    assert steps.operations == ("convert uV to uV (x1)", "clip to +-100 uV")


def test_prepare_array_authors_notches_only_below_nyquist():
    _, steps = prepare_array(_eeg_like((1, 2, 1600)), 160.0, recipe="authors")
    assert "notch 50, 60 Hz (IIR, Q=f/2, zero phase)" in steps.operations
    assert any("band-pass 0.5-44.5 Hz" in op for op in steps.operations)


def test_prepare_array_warns_on_wrong_units():
    volts = _eeg_like((1, 2, 400), scale_uv=2e-5)
    with pytest.warns(RuntimeWarning, match="pass units='V' instead"):
        prepare_array(volts, 200.0, verbose=False)


def test_prepare_array_errors():
    with pytest.raises(
        ValueError, match=r"3-D array.*got an array of shape \(2, 400\)"
    ):
        prepare_array(np.zeros((2, 400)), 200.0)
    with pytest.raises(ValueError, match="real numbers.*complex128"):
        prepare_array(np.zeros((1, 2, 400), dtype=complex), 200.0)
    with pytest.raises(ValueError, match="'recipe' parameter.*'fancy'"):
        prepare_array(np.zeros((1, 2, 400)), 200.0, recipe="fancy")
    with pytest.raises(ValueError, match="'units' parameter.*'microvolt'"):
        prepare_array(np.zeros((1, 2, 400)), 200.0, units="microvolt")
    with pytest.raises(TypeError, match="clip must be an instance of float or None"):
        prepare_array(np.zeros((1, 2, 400)), 200.0, clip="500")
    with pytest.raises(TypeError, match="data must be an instance of array"):
        prepare_array("data", 200.0)


# ---------------------------------------------------------- patches, windows


def test_crop_to_patches_exact():
    data = np.zeros((2, 3, 800))
    cropped, n_patches = crop_to_patches(data)
    assert n_patches == 4
    assert cropped.shape == (2, 3, 800)


def test_crop_to_patches_drops_trailing_samples():
    data = np.arange(2 * 3 * 450, dtype=float).reshape(2, 3, 450)
    with pytest.warns(RuntimeWarning, match="Dropping the last 50 samples"):
        cropped, n_patches = crop_to_patches(data)
    assert n_patches == 2
    np.testing.assert_array_equal(cropped, data[..., :400])


def test_crop_to_patches_too_short():
    with pytest.raises(
        ValueError, match=r"at least one patch of 200.*150 samples \(0\.75 s"
    ):
        crop_to_patches(np.zeros((1, 2, 150)))
    with pytest.raises(ValueError, match="patch_size must be a positive integer"):
        crop_to_patches(np.zeros((1, 2, 150)), patch_size=0)


@pytest.mark.parametrize(
    ("n_channels", "n_patches", "expected"),
    [
        (19, 30, [(0, 10), (10, 20), (20, 30)]),
        (19, 13, [(0, 13)]),
        (19, 14, [(0, 7), (7, 14)]),
        (64, 4, [(0, 4)]),
        (64, 10, [(0, 4), (4, 7), (7, 10)]),
        (256, 3, [(0, 1), (1, 2), (2, 3)]),
        (1, 300, [(0, 150), (150, 300)]),
    ],
)
def test_plan_windows_examples(n_channels, n_patches, expected):
    assert plan_windows(n_channels, n_patches) == expected


@pytest.mark.parametrize("n_channels", [1, 3, 19, 22, 64, 100, 256])
@pytest.mark.parametrize("n_patches", [1, 2, 12, 13, 14, 30, 61, 257])
def test_plan_windows_rule(n_channels, n_patches):
    windows = plan_windows(n_channels, n_patches)
    max_patches = 256 // n_channels
    lengths = [stop - start for start, stop in windows]
    assert windows[0][0] == 0
    assert windows[-1][1] == n_patches
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))
    assert all(0 < length <= max_patches for length in lengths)
    assert all(length * n_channels <= 256 for length in lengths)
    assert len(windows) == math.ceil(n_patches / max_patches)  # fewest windows
    assert max(lengths) - min(lengths) <= 1  # balanced
    assert lengths == sorted(lengths, reverse=True)  # longer windows first


def test_plan_windows_errors():
    with pytest.raises(ValueError, match="300 channels.*limit of 256 tokens"):
        plan_windows(300, 4)
    with pytest.raises(ValueError, match="n_patches must be a positive integer, got 0"):
        plan_windows(19, 0)
    with pytest.raises(TypeError, match="n_channels must be an int, got"):
        plan_windows(19.0, 4)
    assert plan_windows(4, 5, max_tokens=8) == [(0, 2), (2, 4), (4, 5)]


# ------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def eegbci_raw(data_path):
    paths = eegbci.load_data(
        subjects=1, runs=[4], path=str(data_path), update_path=False
    )
    return mne.io.read_raw_edf(paths[0], preload=True, verbose=False)


@pytest.fixture(scope="module")
def eegmat_raw(data_path):
    path = data_path / "eegmat" / "Subject00_1.edf"
    if not path.is_file():
        pytest.skip(f"EEGMAT recording not found at {path}")
    raw = mne.io.read_raw_edf(path, preload=True, verbose=False)
    raw.set_channel_types(
        {"ECG ECG": "ecg", "EEG A2-A1": "misc"}, on_unit_change="ignore", verbose=False
    )
    return raw


def test_eegbci_epochs_to_model_input(eegbci_raw):
    assert eegbci_raw.info["sfreq"] == 160.0
    epochs = mne.make_fixed_length_epochs(
        eegbci_raw, duration=5.0, preload=True, verbose=False
    )
    match = match_info(epochs.info, on_unknown="raise", verbose=False)
    data_uv = get_epochs_data_uv(epochs, picks=match.picks)
    assert data_uv.shape == (25, 64, 800)
    stds = data_uv.std(axis=-1)
    assert 1.0 < np.median(stds) < 200.0
    prepared, steps = prepare_array(
        data_uv, epochs.info["sfreq"], recipe="authors", verbose=False
    )
    assert prepared.shape == (25, 64, 1000)  # 5 s at 200 Hz
    assert 1.0 < np.median(prepared.std(axis=-1)) < 200.0
    # clipped to 500 uV at 160 Hz; resampling afterwards may overshoot a little
    assert 400.0 < np.abs(prepared).max() < 550.0
    assert steps.sfreq == 160.0
    cropped, n_patches = crop_to_patches(prepared)
    assert n_patches == 5
    assert plan_windows(match.n_channels, n_patches) == [(0, 3), (3, 5)]


def test_eegbci_whole_run_resampled_length(eegbci_raw):
    data_uv = eegbci_raw.get_data(units="uV")[np.newaxis]
    assert data_uv.shape == (1, 64, 20000)
    resampled = resample_data(data_uv, 160.0, verbose=False)
    assert resampled.shape == (1, 64, 25000)


def test_eegmat_30_s_epoch_to_windows(eegmat_raw):
    assert eegmat_raw.info["sfreq"] == 500.0
    match = match_info(eegmat_raw.info, on_unknown="raise", verbose=False)
    assert match.n_channels == 19
    data_v = eegmat_raw.get_data(picks=match.picks, start=0, stop=30 * 500)[np.newaxis]
    prepared, steps = prepare_array(data_v, 500.0, units="V", verbose=False)
    assert prepared.shape == (1, 19, 6000)
    assert 1.0 < np.median(prepared.std(axis=-1)) < 200.0
    assert steps.operations[-1] == "resample 500 Hz -> 200 Hz (FFT)"
    cropped, n_patches = crop_to_patches(prepared)  # exact: no warning
    assert n_patches == 30
    windows = plan_windows(match.n_channels, n_patches)
    assert windows == [(0, 10), (10, 20), (20, 30)]
    assert all(stop - start <= 13 for start, stop in windows)
