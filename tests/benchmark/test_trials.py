"""cut_trials: the protocol on one recording puts every trial on the right samples."""

import mne
import numpy as np
import pytest

from mne_neurorvq.benchmark import TASKS, cut_trials, task_channels
from mne_neurorvq.benchmark.protocol import HGD_EXCLUDED_CHANNELS

#: task -> (annotation, pulse delay after the event in s, expected sample)
CUE_LOCKED = {
    "motor": ("feet", 1.0, 200),  # 0-4 s: 1 s after the cue is sample 200
    "erp": ("Target", 0.0, 40),  # -0.2-0.8 s: the cue itself is sample 40
    "memory": ("memory", 15.0, 200),  # 14-18 s: 15 s after the cue is sample 200
}
#: onsets off the 200 Hz grid (and off each native grid's multiples of 5 ms)
ONSETS = np.array([20.0037, 41.5011, 63.2593])


def _raw(sfreq, n_seconds, ch_names=("C3", "Cz", "C4"), seed=0):
    rng = np.random.default_rng(seed)
    info = mne.create_info(list(ch_names), sfreq, "eeg")
    data = 1e-6 * rng.standard_normal((len(ch_names), round(n_seconds * sfreq)))
    return mne.io.RawArray(data, info, verbose=False)


def _add_pulses(raw, times, channel="Cz", amplitude=1e-3):
    sfreq = raw.info["sfreq"]
    index = raw.ch_names.index(channel)
    for time in times:
        raw._data[index, round(time * sfreq)] += amplitude


def _pulse_samples(epochs, channel="Cz"):
    data = epochs.get_data(picks=[channel])[:, 0]
    return np.abs(data).argmax(axis=1)


@pytest.mark.parametrize("sfreq", [1000.0, 500.0, 250.0])
@pytest.mark.parametrize("name", sorted(CUE_LOCKED))
def test_pulse_lands_on_the_right_200hz_sample(name, sfreq):
    description, delay, expected = CUE_LOCKED[name]
    raw = _raw(sfreq, 90.0)
    _add_pulses(raw, ONSETS + delay)
    raw.set_annotations(mne.Annotations(ONSETS, 0.0, [description] * len(ONSETS)))
    epochs = cut_trials(raw, name, verbose=False)
    task = TASKS[name]
    assert epochs.info["sfreq"] == 200.0 and len(epochs.times) == task.n_times
    assert epochs.times[0] == pytest.approx(task.tmin)
    assert len(epochs) == len(ONSETS)
    # within one sample of the exact position, for every trial
    np.testing.assert_allclose(_pulse_samples(epochs), expected, atol=1)
    # events are 200 Hz sample numbers of the onsets (not native-rate ones)
    np.testing.assert_allclose(epochs.events[:, 0], ONSETS * 200, atol=1)
    code = task.event_id[description]
    assert epochs.event_id == {task.classes[code]: code}
    assert set(epochs.events[:, 2]) == {code}


@pytest.mark.parametrize("sfreq", [160.0, 100.0])
@pytest.mark.parametrize(("name", "label"), [("eyes", "eyes_open"), ("sleep", "R")])
def test_fixed_length_windows_tile_each_annotation(name, label, sfreq):
    task = TASKS[name]
    description = dict((v, k) for k, v in task.annotations)[label]
    n_windows, start = 5, 3.0
    raw = _raw(sfreq, start + (n_windows + 1) * task.chunk)
    # 1 s into every window; the span is not a multiple of the window
    _add_pulses(raw, start + task.chunk * np.arange(n_windows) + 1.0)
    span = n_windows * task.chunk + 0.5 * task.chunk
    raw.set_annotations(mne.Annotations([start], [span], [description]))
    epochs = cut_trials(raw, name, verbose=False)
    assert len(epochs) == n_windows and len(epochs.times) == task.n_times
    np.testing.assert_allclose(_pulse_samples(epochs), 200, atol=1)
    assert set(epochs.events[:, 2]) == {task.classes.index(label)}


def test_high_gamma_channels_removed_before_the_average_reference():
    names = ["C3", "Cz", "C4", "TPP9h", "EOGh", "EMG_RH", "AFF1", "FFC3h", "OI2h"]
    raw = _raw(500.0, 30.0, names)
    raw.set_channel_types({"EMG_RH": "emg"})  # typed or not, they go
    # a large signal on the excluded channels must not leak into the reference
    raw._data[names.index("EOGh")] += 1e-3 * np.sin(np.arange(raw.n_times) / 50)
    raw._data[names.index("AFF1")] += 5e-4
    raw.set_annotations(mne.Annotations([5.0, 15.0], 4.0, ["rest", "left_hand"]))
    assert task_channels(raw, "motor") == ["C3", "Cz", "C4", "TPP9h"]
    epochs = cut_trials(raw, "motor", verbose=False)
    assert epochs.ch_names == ["C3", "Cz", "C4", "TPP9h"]
    assert not set(epochs.ch_names) & set(HGD_EXCLUDED_CHANNELS)
    data = epochs.get_data()
    np.testing.assert_allclose(data.mean(axis=1), 0, atol=1e-15)  # average reference
    # the same trials without reference, minus their channel mean
    plain = raw.copy().pick(epochs.ch_names).resample(200.0, verbose=False)
    plain.filter(0.5, 45.0, verbose=False)
    start = round(5.0 * 200)
    window = plain.get_data()[:, start : start + 800]
    np.testing.assert_allclose(data[0], window - window.mean(axis=0), atol=1e-14)
    assert epochs.info["highpass"] == 0.5 and epochs.info["lowpass"] == 45.0
    assert epochs.events[:, 2].tolist() == [0, 1]
    assert epochs.event_id == {"no_action": 0, "left_fist": 1}


def test_event_id_copy_and_errors():
    raw = _raw(250.0, 30.0)
    raw.set_annotations(mne.Annotations([2.0, 9.0, 16.0], 0.0, ["a", "b", "c"]))
    before = raw.get_data()
    epochs = cut_trials(raw, "motor", {"a": 7, "b": 7, "c": 2}, verbose=False)
    assert epochs.events[:, 2].tolist() == [7, 7, 2]
    assert epochs.event_id == {"a": 7, "c": 2}
    assert raw.info["sfreq"] == 250.0 and np.array_equal(raw.get_data(), before)
    with pytest.raises(ValueError, match="No annotation of the recording matches"):
        cut_trials(raw, "motor", verbose=False)
    eog = _raw(250.0, 10.0, ["EOGh", "AFF1"])
    eog.set_annotations(mne.Annotations([2.0], 0.0, ["feet"]))
    with pytest.raises(ValueError, match="No channel of the recording is kept"):
        cut_trials(eog, "motor", verbose=False)
    with pytest.raises(ValueError, match="Unknown task"):
        cut_trials(raw, "nope")
    cut_trials(raw, "motor", {"a": 1}, copy=False, verbose=False)
    assert raw.info["sfreq"] == 200.0  # copy=False works on raw itself
