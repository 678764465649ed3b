import json

import numpy as np
import pytest

from mne_neurorvq.benchmark import (
    LogBandPower,
    load_task,
    make_splits,
    preprocess_raw,
)
from mne_neurorvq.cli import _subjects
from mne_neurorvq.datasets import read_eegmat_raw

pytestmark = pytest.mark.filterwarnings(
    "ignore:Montage name 'standard_1020' is deprecated:FutureWarning"
)


def test_splits_never_share_a_subject():
    groups = np.repeat(np.arange(7), 5)
    for kind, n in (("groupkfold", 3), ("loso", None)):
        splits = make_splits(groups, kind, n_splits=n or 3, seed=1)
        tested = []
        for train, test in splits:
            assert not set(groups[train]) & set(groups[test])
            assert len(train) + len(test) == len(groups)
            tested += list(np.unique(groups[test]))
        assert sorted(tested) == list(range(7))  # every subject tested once
    assert len(make_splits(groups, "loso")) == 7
    # the seed changes the assignment, the same seed repeats it
    a = [t.tolist() for _, t in make_splits(groups, "groupkfold", 3, seed=0)]
    b = [t.tolist() for _, t in make_splits(groups, "groupkfold", 3, seed=0)]
    assert a == b


def test_split_file_and_leak_detection(tmp_path):
    groups = np.repeat(np.arange(4), 2)
    path = tmp_path / "splits.json"
    path.write_text(json.dumps([{"train": [0, 1], "test": [2, 3]}]))
    ((train, test),) = make_splits(groups, str(path))
    assert train.tolist() == [0, 1, 2, 3] and test.tolist() == [4, 5, 6, 7]
    path.write_text(json.dumps([{"train": [0, 1], "test": [1, 2]}]))
    with pytest.raises(ValueError, match=r"Subjects \[1\] are in train and test"):
        make_splits(groups, str(path))


def test_protocol_on_eegmat(data_path):
    raw = read_eegmat_raw(data_path / "eegmat" / "Subject00_2.edf", verbose="error")
    raw = preprocess_raw(raw, verbose="error")
    assert raw.info["sfreq"] == 200 and len(raw.ch_names) == 19
    assert raw.info["highpass"] == 0.5 and raw.info["lowpass"] == 45
    data = raw.get_data()
    np.testing.assert_allclose(data.mean(axis=0), 0, atol=1e-12)  # average reference
    epochs, y, groups = load_task(
        "eegmat", subjects=[0, 1], max_windows=3, path=data_path, download=False
    )
    assert epochs.info["sfreq"] == 200 and len(epochs.times) == 800
    assert list(np.unique(y)) == ["arithmetic", "rest"] and set(groups) == {0, 1}


def test_bandpower_features_separate_eyes_closed_alpha(data_path):
    epochs, y, _ = load_task("eyes", subjects=[1], path=data_path)
    features = LogBandPower().fit_transform(epochs).reshape(len(y), -1, 5)
    alpha = features[..., 2].mean(axis=1)  # mean log alpha power over channels
    assert alpha[y == "eyes_closed"].mean() > alpha[y == "eyes_open"].mean()


def test_unavailable_tasks_explain_themselves(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_task("memory", [39], path=tmp_path, download=False)
    with pytest.raises(ValueError, match="Unknown task"):
        load_task("nope")
    assert _subjects("0-3,7") == [0, 1, 2, 3, 7]
