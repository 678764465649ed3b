import io

import numpy as np
import pytest

from mne_neurorvq.datasets import (
    eegmat_files,
    load_eegbci_eyes,
    load_eegbci_imagery,
    load_eegmat,
)
from mne_neurorvq.datasets._paths import data_root, resolve_data_dir


def test_eegmat_windows_labels_and_subjects(data_path):
    epochs, y, groups = load_eegmat(
        [0, 4], max_windows=3, path=data_path, download=False, verbose="error"
    )
    assert len(epochs) == len(y) == len(groups) == 12
    assert epochs.info["sfreq"] == 500 and len(epochs.ch_names) == 21
    assert epochs.get_channel_types(["ECG ECG", "EEG A2-A1"]) == ["ecg", "misc"]
    assert epochs.times[-1] == pytest.approx(4 - 1 / 500)
    assert list(y[:6]) == ["rest"] * 3 + ["arithmetic"] * 3
    assert list(np.unique(groups)) == [0, 4]
    assert list(epochs.metadata["subject"]) == list(groups)
    # volts: EEG of tens of microvolts
    std = epochs.get_data(picks="eeg").std()
    assert 1e-6 < std < 1e-3


def test_eegmat_all_local_subjects_and_missing_files(data_path, tmp_path):
    files = eegmat_files(path=data_path / "eegmat", download=False)
    assert len(files) == 48 and files[0][:2] == (0, 1)
    with pytest.raises(FileNotFoundError, match="MNE_NEURORVQ_DATA"):
        eegmat_files([30], path=data_path, download=False)
    with pytest.raises(ValueError, match="0-35"):
        eegmat_files([40], path=tmp_path, download=False)


def test_eegbci_eyes_open_closed(data_path):
    epochs, y, groups = load_eegbci_eyes([1, 2], path=data_path, verbose="error")
    assert set(y) == {"eyes_open", "eyes_closed"}
    assert len(epochs) == 60  # 2 subjects x 2 runs x 15 windows of 4 s
    assert epochs.ch_names[0] == "Fc5." and epochs.info["sfreq"] == 160
    assert np.sum(y == "eyes_open") == 30


def test_eegbci_imagery_cue_locked(data_path):
    epochs, y, groups = load_eegbci_imagery([1], path=data_path, verbose="error")
    assert set(y) == {"left_fist", "right_fist"}
    assert len(epochs) == 45 and len(epochs.times) == 640  # 4 s at 160 Hz


def test_data_root_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("MNE_NEURORVQ_DATA", str(tmp_path))
    assert data_root() == tmp_path
    assert resolve_data_dir("eegmat") == tmp_path / "eegmat"
    assert resolve_data_dir("eegmat", tmp_path / "eegmat") == tmp_path / "eegmat"


def test_loaders_print_nothing_by_default(data_path, capsys):
    """MNE's per-file info lines only on request; no bar when not a terminal."""
    load_eegmat([0], max_windows=2, path=data_path, download=False)
    load_eegbci_eyes([1], path=data_path)
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == ""
    load_eegmat([0], max_windows=2, path=data_path, download=False, verbose="info")
    assert "Extracting EDF parameters" in capsys.readouterr().out


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(
    ("verbose", "n_items", "shown"),
    [("info", 2, True), (None, 2, True), (False, 2, False), ("error", 2, False)]
    + [("info", 1, False)],
)
def test_progress_bar_follows_verbose(verbose, n_items, shown):
    from mne_neurorvq._progress import progress

    terminal, pipe = _Terminal(), io.StringIO()
    assert list(progress(range(n_items), "files", verbose, file=terminal)) == list(
        range(n_items)
    )
    assert ("files:" in terminal.getvalue()) == shown
    list(progress(range(n_items), "files", verbose, file=pipe))
    # by default never on a pipe or a file; anywhere when asked for
    assert ("files:" in pipe.getvalue()) == (shown and verbose is not None)
