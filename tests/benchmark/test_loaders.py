"""Every task loader, offline, through its real code path on a faithful stand-in.

- motor / ERP: MOABB's own ``FakeDataset`` and a MOABB ``BaseDataset`` serving
  synthetic runs (annotations like the High Gamma EDF files, a stim channel like
  KU ERP's), through ``BaseDataset.get_data`` and its annotation step;
- sleep: Sleep-EDF-named PSG (MNE's EDF exporter) and annotation-only EDF+
  hypnogram files in the folder layout ``fetch_data`` reads offline;
- memory: a BIDS tree written with mne-bids (EEGLAB files, ds003838's
  ``trial_type`` strings); the openneuro-py download step is skipped because
  the files are there (openneuro-py only talks to https://openneuro.org);
- eyes: the local eegmmidb files.
"""

import datetime
import os
import shutil

import mne
import numpy as np
import pytest

from mne_neurorvq.benchmark import TASKS, load_task
from mne_neurorvq.benchmark.loaders import WAKE_MARGIN, _require

pytestmark = pytest.mark.filterwarnings(
    # MOABB 1.7 builds montages by a name MNE 1.13 deprecates (tests build them too)
    "ignore:Montage name 'standard_10:FutureWarning"
)

ONSET_STEP, FIRST_ONSET = 9.1, 3.0037


def _pulse_samples(epochs, channel):
    return np.abs(epochs.get_data(picks=[channel])[:, 0]).argmax(axis=1)


# ----------------------------------------------------------------- MOABB


@pytest.fixture(scope="module")
def moabb():
    return pytest.importorskip("moabb.datasets.base")


def _pulse_dataset(moabb, events, interval, sfreq, delay, stim, ch_names):
    """A MOABB data set of 2 subjects x 2 runs with a pulse after every cue."""

    class PulseData(moabb.BaseDataset):
        def __init__(self):
            super().__init__(
                subjects=[1, 2],
                sessions_per_subject=1,
                events=events,
                code="PulseData",
                interval=list(interval),
                paradigm="imagery",
            )
            self.paths = []

        def _run(self, seed):
            rng = np.random.default_rng(seed)
            n_events = 6
            onsets = FIRST_ONSET + ONSET_STEP * np.arange(n_events)
            codes = np.resize(list(events.values()), n_events)
            info = mne.create_info(list(ch_names), sfreq, "eeg")
            data = 1e-6 * rng.standard_normal((len(ch_names), round(60 * sfreq)))
            for onset in onsets:
                data[ch_names.index("Cz"), round((onset + delay) * sfreq)] += 1e-3
            raw = mne.io.RawArray(data, info, verbose=False)
            if stim:  # like KU ERP: a stim channel with the class codes
                trigger = np.zeros((1, raw.n_times))
                trigger[0, np.round(onsets * sfreq).astype(int)] = codes
                info = mne.create_info(["STI 014"], sfreq, "stim")
                raw.add_channels([mne.io.RawArray(trigger, info, verbose=False)])
            else:  # like the High Gamma EDF files: annotations
                names = {v: k for k, v in events.items()}
                raw.set_annotations(
                    mne.Annotations(onsets, 4.0, [names[c] for c in codes])
                )
            return raw

        def _get_single_subject_data(self, subject):
            self.paths.append(mne.get_config("MNE_DATASETS_PULSEDATA_PATH"))
            runs = {"0train": self._run(subject), "1test": self._run(10 + subject)}
            return {"0": runs}

        def data_path(
            self, subject, path=None, force_update=False, update_path=None, verbose=None
        ):
            return []

    return PulseData()


HGD_EVENTS = {"right_hand": 1, "left_hand": 2, "rest": 3, "feet": 4}
ERP_EVENTS = {"Target": 1, "NonTarget": 2}


@pytest.mark.parametrize(
    ("name", "events", "interval", "sfreq", "stim"),
    [
        ("motor", HGD_EVENTS, (0, 4), 500.0, False),  # High Gamma: 500 Hz, EDF
        ("motor", HGD_EVENTS, (0.25, 4.25), 1000.0, True),  # interval not at 0
        ("erp", ERP_EVENTS, (0, 1), 1000.0, True),  # KU ERP: 1000 Hz, stim
    ],
)
def test_moabb_trials_on_the_right_samples(
    moabb, tmp_path, name, events, interval, sfreq, stim
):
    task = TASKS[name]
    delay, expected = (1.0, 200) if name == "motor" else (0.0, 40)
    ch_names = ["C3", "Cz", "C4", "EOGh", "AFF1", "FFC3h", "TPP9h"]
    dataset = _pulse_dataset(moabb, events, interval, sfreq, delay, stim, ch_names)
    subjects = ["highgamma_s01", 2] if name == "motor" else ["1", 2]
    key = "MNE_DATASETS_PULSEDATA_PATH"
    before = os.environ.get(key)
    epochs, y, groups = load_task(name, subjects, path=tmp_path, dataset=dataset)
    # the data set's path setting pointed at --data-path during the call only
    assert dataset.paths == [str(tmp_path)] * 2 and os.environ.get(key) == before
    assert epochs.info["sfreq"] == 200.0 and len(epochs.times) == task.n_times
    assert len(epochs) == 2 * 2 * 6  # subjects x runs x trials
    np.testing.assert_allclose(_pulse_samples(epochs, "Cz"), expected, atol=1)
    kept = ["C3", "Cz", "C4", "TPP9h"] if name == "motor" else ch_names
    assert epochs.ch_names == kept
    np.testing.assert_allclose(epochs.get_data().mean(axis=1), 0, atol=1e-15)
    names = {v: k for k, v in events.items()}
    per_run = [dict(task.annotations)[names[c]] for c in np.resize(list(names), 6)]
    assert y.tolist() == per_run * 4
    assert [task.classes[c] for c in epochs.events[:, 2]] == y.tolist()
    ids = [task.subject_id(1)] * 12 + [task.subject_id(2)] * 12
    assert groups.tolist() == ids == epochs.metadata["subject"].tolist()


@pytest.mark.parametrize("sfreq", [1000.0, 500.0])
def test_moabb_fake_dataset_motor(moabb, tmp_path, sfreq):
    from moabb.datasets.fake import FakeDataset

    dataset = FakeDataset(
        event_list=("right_hand", "left_hand", "rest", "feet"),
        n_sessions=1,
        n_runs=2,
        n_subjects=2,
        sfreq=sfreq,
        duration=40,
        n_events=10,
        channels=("C3", "Cz", "C4", "FFC3h"),
        seed=3,
    )
    epochs, y, groups = load_task(
        "motor", path=tmp_path, dataset=dataset, subjects=[1, 2], max_windows=None
    )
    # events every 37/9 s from 0 s; the last one's 0-4 s window leaves the run
    assert len(epochs) == 2 * 2 * 9 and epochs.ch_names == ["C3", "Cz", "C4"]
    cycle = ["right_fist", "left_fist", "no_action", "both_feet"]
    assert y.tolist() == np.resize(cycle, 9).tolist() * 4
    assert sorted(set(groups)) == ["highgamma_s01", "highgamma_s02"]
    assert epochs.event_id == {c: i for i, c in enumerate(TASKS["motor"].classes)}


# ----------------------------------------------------------------- sleep

#: (description, onset s, duration s) of the stand-in hypnogram: 40 min of wake
#: before and after 30 min of sleep, then unscored time.
HYPNOGRAM = [
    ("Sleep stage W", 0, 2400),
    ("Sleep stage 1", 2400, 300),
    ("Sleep stage 2", 2700, 300),
    ("Movement time", 3000, 30),
    ("Sleep stage 2", 3030, 270),
    ("Sleep stage 3", 3300, 300),
    ("Sleep stage 4", 3600, 300),
    ("Sleep stage R", 3900, 300),
    ("Sleep stage W", 4200, 2400),
    ("Sleep stage ?", 6600, 300),
]
PSG_CHANNELS = [
    "EEG Fpz-Cz",
    "EEG Pz-Oz",
    "EOG horizontal",
    "Resp oro-nasal",
    "EMG submental",
    "Temp rectal",
    "Event marker",
]
START = datetime.datetime(1989, 4, 24, 16, 13, tzinfo=datetime.UTC)
#: first kept wake epoch (30 min before sleep) and first S3 epoch, + 1 s
SLEEP_PULSES = (2400 - WAKE_MARGIN + 1.0, 3300 + 1.0)


@pytest.fixture(scope="module")
def sleep_folder(tmp_path_factory):
    """Nights 1 and 2 of subject 0 and the only night of subject 13."""
    pytest.importorskip("edfio")
    import edfio

    root = tmp_path_factory.mktemp("sleep")
    folder = root / "physionet-sleep-data"
    folder.mkdir()
    sfreq, n_seconds = 100.0, 6900
    rng = np.random.default_rng(0)
    data = 2e-5 * rng.standard_normal((len(PSG_CHANNELS), round(n_seconds * sfreq)))
    for time in SLEEP_PULSES:
        data[0, round(time * sfreq)] += 1e-3
    info = mne.create_info(PSG_CHANNELS, sfreq, ["eeg", "eeg"] + ["misc"] * 5)
    raw = mne.io.RawArray(data, info, verbose=False)
    raw.set_meas_date(START)
    psg = folder / "SC4001E0-PSG.edf"
    mne.export.export_raw(psg, raw, fmt="edf", verbose=False)
    hypnogram = folder / "SC4001EC-Hypnogram.edf"
    edfio.Edf(
        [],  # annotation-only EDF+, as the Sleep-EDF hypnograms
        annotations=[edfio.EdfAnnotation(o, d, t) for t, o, d in HYPNOGRAM],
        starttime=START.time(),
        recording=edfio.Recording(startdate=START.date()),
    ).write(hypnogram)
    for night in ("SC4002E0-PSG.edf", "SC4131E0-PSG.edf"):
        shutil.copy(psg, folder / night)
    for night in ("SC4002EC-Hypnogram.edf", "SC4131EC-Hypnogram.edf"):
        shutil.copy(hypnogram, folder / night)
    return root


def test_sleep_edf_six_classes_trimmed_wake_one_night_subject(sleep_folder):
    epochs, y, groups = load_task(
        "sleep", ["physionet_sleepedf_00", 13], path=sleep_folder
    )
    task = TASKS["sleep"]
    assert epochs.ch_names == ["Fpz", "Pz"]  # EEG only, by their active electrode
    assert epochs.info["sfreq"] == 200.0 and len(epochs.times) == 6000
    # per night: wake 30 min (60 epochs) on each side of sleep, movement time and
    # unscored epochs left out
    per_night = {"W": 120, "S1": 10, "S2": 19, "S3": 10, "S4": 10, "R": 10}
    labels, counts = np.unique(y, return_counts=True)
    assert dict(zip(labels, counts // 3, strict=True)) == per_night
    assert (groups == "physionet_sleepedf_00").sum() == 2 * 179  # two nights
    assert (groups == "physionet_sleepedf_13").sum() == 179  # its only night
    assert sorted(set(epochs.events[:, 2])) == list(range(6))
    assert task.classes == ("W", "S1", "S2", "S3", "S4", "R")
    for night in range(3):
        night_y = y[night * 179 : (night + 1) * 179]
        night_epochs = epochs[night * 179 : (night + 1) * 179]
        first_w, first_s3 = (
            np.flatnonzero(night_y == "W")[0],
            np.flatnonzero(night_y == "S3")[0],
        )
        samples = _pulse_samples(night_epochs[[first_w, first_s3]], "Fpz")
        np.testing.assert_allclose(samples, 200, atol=1)
    np.testing.assert_allclose(epochs.get_data().mean(axis=1), 0, atol=1e-15)


# ----------------------------------------------------------------- memory


def _digit(condition, k, n, correct=True):
    position = " (first)" if k == 1 else " (last)" if k == n else ""
    if condition == "control":
        return (
            f"control {k:02d}/{n:02d}: listen to digit {k}{position} in {n} digit "
            "sequence"
        )
    outcome = "correct" if correct else "error"
    recall = "correctly recalled" if correct else "forgotten"
    return (
        f"memory {k:02d}/{n:02d} {outcome}: memorize digit {k}{position} in {n} "
        f"digit sequence; {recall}"
    )


#: (condition, digits, onset of the first digit s, recalled)
SEQUENCES = [
    ("control", 13, 10.0, True),
    ("memory", 13, 50.0, True),
    ("memory", 5, 90.0, True),
    ("control", 9, 110.0, True),
    ("memory", 13, 140.0, False),
]


@pytest.fixture(scope="module")
def pavlov_root(tmp_path_factory):
    mne_bids = pytest.importorskip("mne_bids")
    pytest.importorskip("eeglabio")
    root = tmp_path_factory.mktemp("pavlov")
    sfreq = 1000.0
    for subject in (39, 41):
        rng = np.random.default_rng(subject)
        info = mne.create_info(["Fz", "Cz", "Pz", "Oz"], sfreq, "eeg")
        info["line_freq"] = 50.0
        raw = mne.io.RawArray(
            1e-6 * rng.standard_normal((4, 190_000)), info, verbose=False
        )
        raw.set_meas_date(START)
        onsets, descriptions = [], []
        for condition, n, onset, correct in SEQUENCES:
            onsets += [onset + 2.0 * k for k in range(n)]
            descriptions += [_digit(condition, k + 1, n, correct) for k in range(n)]
            if n == 13:
                raw._data[1, round((onset + 15.0) * sfreq)] += 1e-3
        raw.set_annotations(mne.Annotations(onsets, 1.0, descriptions))
        bids_path = mne_bids.BIDSPath(
            subject=f"{subject:03d}",
            task="memory",
            datatype="eeg",
            root=root / "ds003838",
        )
        mne_bids.write_raw_bids(
            raw, bids_path, format="EEGLAB", allow_preload=True, verbose=False
        )
    return root


def test_pavlov_memory_13_digit_trials(pavlov_root, tmp_path):
    # download=True (the default): the files are there, so nothing is fetched
    epochs, y, groups = load_task("memory", ["pavlov_sub-039", 41], path=pavlov_root)
    assert y.tolist() == ["control", "memory", "memory"] * 2
    assert epochs.events[:, 2].tolist() == [0, 1, 1] * 2
    assert groups.tolist() == ["pavlov_sub-039"] * 3 + ["pavlov_sub-041"] * 3
    assert epochs.info["sfreq"] == 200.0 and len(epochs.times) == 800
    assert epochs.times[0] == 14.0 and epochs.ch_names == ["Fz", "Cz", "Pz", "Oz"]
    np.testing.assert_allclose(_pulse_samples(epochs, "Cz"), 200, atol=1)
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_task("memory", [40], path=tmp_path, download=False)


# ----------------------------------------------------------------- eyes


def test_eyes_eegmmidb_runs_1_and_2(data_path):
    epochs, y, groups = load_task("eyes", [1, "physionet_S002"], path=data_path)
    assert len(epochs) == 2 * 2 * 15  # 61 s runs in 4 s windows
    assert len(epochs.ch_names) == 64 and "FC5" in epochs.ch_names
    assert y.tolist() == (["eyes_open"] * 15 + ["eyes_closed"] * 15) * 2
    assert epochs.events[:, 2].tolist() == ([1] * 15 + [0] * 15) * 2
    assert groups.tolist() == ["physionet_S001"] * 30 + ["physionet_S002"] * 30
    # the first window, by hand: 160 -> 200 Hz, 0.5-45 Hz, average reference
    fname = data_path / "MNE-eegbci-data/files/eegmmidb/1.0.0/S001/S001R01.edf"
    raw = mne.io.read_raw_edf(fname, preload=True, verbose=False)
    raw.resample(200.0, verbose=False).filter(0.5, 45.0, verbose=False)
    window = raw.get_data()[:, :800]
    np.testing.assert_allclose(
        epochs.get_data()[0], window - window.mean(axis=0), atol=1e-12
    )


# ----------------------------------------------------------------- errors


def test_subjects_and_extras_errors(tmp_path):
    with pytest.raises(ValueError, match="Unknown subject 'highgamma_s99'"):
        load_task("motor", ["highgamma_s99"], path=tmp_path)
    with pytest.raises(ValueError, match="not a subject of the 'memory' benchmark"):
        load_task("memory", [37], path=tmp_path)
    with pytest.raises(ValueError, match="Unknown task"):
        load_task("nope")
    with pytest.raises(ImportError, match=r"mne-neurorvq\[benchmark\]"):
        _require("not_an_installed_module", "memory")
