"""The modality records: one record per modality, read everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from mne_neurorvq.channels import MODALITY_CH_TYPES, MODALITY_VOCABULARIES
from mne_neurorvq.modalities import MODALITIES, Modality, register_modality
from mne_neurorvq.nn.config import TokenizerConfig
from mne_neurorvq.preprocessing import MODALITY_UNITS

TOY = Modality(
    "toy",
    100.0,
    40,
    32,
    2,
    (9, 7, 5, 3),
    (5, 3, 3, 3),
    vocabulary=("t1", "t2", "t3"),
    units="mV",
    ch_types=("misc",),
    amplitude_stats=(0.1, 0.2),
)


@pytest.fixture
def toy():
    register_modality(TOY)
    try:
        yield TOY
    finally:
        del MODALITIES["toy"]


def test_published_records():
    assert sorted(MODALITIES) == ["ecg", "eeg", "emg", "ppg"]
    assert MODALITIES["eeg"].vocabulary_size == 104
    assert MODALITIES["emg"].stage1_paddings == (25, 8, 4, 2)
    assert MODALITIES["ppg"].published == {"tokenizer": "neurorvq-ppg-tokenizer-v1"}
    assert dict(MODALITY_UNITS) == {"eeg": "uV", "ecg": "mV", "ppg": None, "emg": "mV"}
    assert MODALITY_CH_TYPES["ppg"] == ("bio", "misc")
    with pytest.raises(ValueError, match="exists already"):
        register_modality(MODALITIES["eeg"])
    with pytest.raises(ValueError, match="as 'ppg'"):
        register_modality(Modality("one", 1.0, 8, 1, 1, (1,), (1,), vocabulary=("a",)))


def test_a_new_modality_is_one_record(toy):
    """Configs, channels, units, the tokenizer trained in fit and checkpoints."""
    from mne_neurorvq.decoding import NeuroRVQTokenizer
    from mne_neurorvq.nn.checkpoints import load_tokenizer
    from mne_neurorvq.nn.tokenizer import AMPLITUDE_STATS

    assert MODALITY_VOCABULARIES["toy"] == ("t1", "t2", "t3")
    assert MODALITY_UNITS["toy"] == "mV" and AMPLITUDE_STATS["toy"] == (0.1, 0.2)
    config = TokenizerConfig.tiny(modality="toy")
    assert (config.patch_size, config.n_electrodes, config.sfreq) == (40, 3, 100.0)
    X = 1e-3 * np.random.default_rng(0).standard_normal((4, 3, 400))
    tokenizer = NeuroRVQTokenizer(
        weights=None,
        modality="toy",
        config=config,
        train_params={"epochs": 1, "batch_size": 4},
        ch_names=["T1", "x", "t3"],
        sfreq=200.0,
        device="cpu",
        verbose=False,
    )
    tokens = tokenizer.fit_transform(X)
    assert tokenizer.ch_names_ == ["T1", "t3"]  # "x" is not in the vocabulary
    assert tokenizer.n_patches_ == 5  # 2 s at 100 Hz in 40-sample patches
    assert tokens.shape == (4, 2 * 5 * 4 * 2)
    assert tokenizer.preprocessing_.operations[0] == "convert V to mV (x1000)"
    assert tokenizer.inverse_transform(tokens).shape == (4, 2, 200)
    state = tokenizer.model_.state_dict()
    assert load_tokenizer(state, modality="toy").config == config
