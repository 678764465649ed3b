"""Synthetic Epochs shared by the transformer tests."""

from __future__ import annotations

import mne
import numpy as np
import torch

from mne_neurorvq.preprocessing import prepare_array

NAMES = ["Fp1", "Cz", "O1", "ECG"]
TYPES = ["eeg", "eeg", "eeg", "ecg"]
#: 19 channels of the 10-20 system (legacy names, all in the vocabulary).
NAMES_1020 = "Fp1 Fp2 F7 F3 Fz F4 F8 T3 C3 Cz C4 T4 T5 P3 Pz P4 T6 O1 O2".split()


def _epochs(n_epochs=3, n_seconds=4, names=NAMES, types=TYPES, sfreq=250.0, seed=0):
    n_times = int(n_seconds * sfreq)
    data = 2e-5 * np.random.default_rng(seed).standard_normal(
        (n_epochs, len(names), n_times)
    )
    info = mne.create_info(list(names), sfreq, list(types))
    return mne.EpochsArray(data, info, verbose=False)


def _prepared(epochs, picks):
    data = epochs.get_data(picks=picks, units="uV")
    return torch.from_numpy(
        prepare_array(data, epochs.info["sfreq"], units="uV", verbose=False)[0]
    )
