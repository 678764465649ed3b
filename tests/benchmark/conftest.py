"""Fixtures of the benchmark tests: eegmmidb subjects 1-4 in MNE's folder layout."""

import shutil

import mne
import numpy as np
import pytest

EEGBCI = ("MNE-eegbci-data", "files", "eegmmidb", "1.0.0")


@pytest.fixture(scope="module")
def eegbci_four(data_path, tmp_path_factory):
    """eegmmidb runs 1 and 2 of subjects 1-4, in the layout eegbci reads offline.

    Subjects 1 and 2 are the real PhysioNet files (copied). Only S001, S002
    and S032 are in the shared data (S032 without runs 1 and 2), so S003 and
    S004 are stand-ins: the recordings of S001 and S002 with added noise,
    written with MNE's own EDF exporter under PhysioNet's file names. The
    benchmark reads all four through ``mne.datasets.eegbci.load_data`` as it
    would read downloaded files.
    """
    pytest.importorskip("edfio")
    source = data_path.joinpath(*EEGBCI)
    root = tmp_path_factory.mktemp("eegbci")
    target = root.joinpath(*EEGBCI)
    rng = np.random.default_rng(0)
    for subject in (1, 2, 3, 4):
        folder = target / f"S{subject:03d}"
        folder.mkdir(parents=True)
        for run in (1, 2):
            name = f"S{subject:03d}R{run:02d}.edf"
            if subject <= 2:
                shutil.copy(source / f"S{subject:03d}" / name, folder / name)
                continue
            real = source / f"S{subject - 2:03d}" / f"S{subject - 2:03d}R{run:02d}.edf"
            raw = mne.io.read_raw_edf(real, preload=True, verbose="error")
            noise = 5e-6 * rng.standard_normal(raw.get_data().shape)
            raw._data += noise
            mne.export.export_raw(folder / name, raw, fmt="edf", verbose="error")
    return root
