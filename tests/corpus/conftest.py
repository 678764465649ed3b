"""Corpora for the token-store tests, written with mne-bids and MNE's exporters.

Small on purpose: every recording is cropped to 10 s and the tokenizer is a
tiny random one with the published layout of tokens (4 scales x 8 levels).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import mne
import numpy as np
import pytest
import torch

from mne_neurorvq.datasets import read_eegmat_raw
from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig
from mne_neurorvq.nn.checkpoints import save_checkpoint

SECONDS = 10.0
EEGBCI = Path("MNE-eegbci-data/files/eegmmidb/1.0.0")
#: (subject, task, run, source file, BIDS format): 6 recordings, EDF and
#: BrainVision, 19-channel EEGMAT at 500 Hz and 64-channel eegmmidb at 160 Hz.
BIDS_RECORDINGS = (
    ("eegmat00", "rest", None, "eegmat/Subject00_1.edf", "EDF"),
    ("eegmat00", "arithmetic", None, "eegmat/Subject00_2.edf", "BrainVision"),
    ("eegmat01", "rest", None, "eegmat/Subject01_1.edf", "EDF"),
    ("S001", "motor", 1, EEGBCI / "S001/S001R01.edf", "BrainVision"),
    ("S001", "motor", 2, EEGBCI / "S001/S001R02.edf", "EDF"),
    ("S002", "motor", 1, EEGBCI / "S002/S002R01.edf", "BrainVision"),
)


def read_source(data_path: Path, relative) -> mne.io.BaseRaw:
    """A local recording cropped to :data:`SECONDS`, EEG (and ECG/misc) typed."""
    path = data_path / relative
    if path.parent.name == "eegmat":
        raw = read_eegmat_raw(path, verbose="error")
    else:
        raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
        raw.set_annotations(None)
    return raw.crop(0, SECONDS, include_tmax=False)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A tiny random tokenizer with 4 scales x 8 levels, saved to a file."""
    model = NeuroRVQTokenizerModel(TokenizerConfig.tiny(n_levels=8))
    model.init_weights(torch.Generator().manual_seed(0))
    return save_checkpoint(model, tmp_path_factory.mktemp("weights") / "tiny.pt")


@pytest.fixture(scope="session")
def bids_root(data_path, tmp_path_factory) -> Path:
    """A 6-recording BIDS data set (EDF and BrainVision) written by mne-bids."""
    from mne_bids import BIDSPath, write_raw_bids

    root = tmp_path_factory.mktemp("corpus") / "bids"
    for subject, task, run, source, fmt in BIDS_RECORDINGS:
        raw = read_source(data_path, source)
        path = BIDSPath(subject=subject, task=task, run=run, root=root, datatype="eeg")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # format conversion notices
            write_raw_bids(
                raw,
                path,
                format=fmt,
                allow_preload=True,
                overwrite=True,
                verbose="error",
            )
    return root


@pytest.fixture(scope="session")
def mixed_folder(data_path, tmp_path_factory) -> Path:
    """EDF, FIF, BrainVision and EEGLAB files, plus three bad recordings."""
    folder = tmp_path_factory.mktemp("corpus") / "mixed"
    (folder / "fif").mkdir(parents=True)
    eegmat = read_source(data_path, "eegmat/Subject02_1.edf")
    eegbci = read_source(data_path, EEGBCI / "S032/S032R03.edf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eegmat.copy().pick("eeg").export(folder / "eegmat02.edf", verbose="error")
        eegbci.save(folder / "fif" / "S032_raw.fif", verbose="error")
        eegbci.copy().crop(0, 6).export(folder / "S032.vhdr", verbose="error")
        eegmat.copy().pick("eeg").crop(0, 7).export(
            folder / "eegmat02.set", verbose="error"
        )
        # no channel of the vocabulary
        info = mne.create_info(["foo", "bar"], 200.0, "eeg")
        noise = np.random.default_rng(0).standard_normal((2, 2000)) * 1e-5
        mne.io.RawArray(noise, info, verbose=False).save(
            folder / "unknown_raw.fif", verbose="error"
        )
        # shorter than one second
        eegbci.copy().crop(0, 0.5).save(folder / "short_raw.fif", verbose="error")
    (folder / "corrupt.edf").write_bytes(b"0       not an EDF header" * 20)
    return folder


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny models: a second thread costs more than it gains on a busy machine
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
