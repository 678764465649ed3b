from __future__ import annotations

import mne
import numpy as np
import pytest
from mne.datasets import eegbci

from mne_neurorvq.channels import (
    CHANNEL_VOCABULARY,
    ChannelMatch,
    clean_channel_name,
    match_channels,
    match_info,
)

EEGMAT_SCALP = (
    "Fp1 Fp2 F3 F4 F7 F8 T3 T4 C3 C4 T5 T6 P3 P4 O1 O2 Fz Cz Pz".lower().split()
)


# ------------------------------------------------------------------ vocabulary


def test_vocabulary_has_104_unique_lower_case_names():
    assert isinstance(CHANNEL_VOCABULARY, tuple)
    assert len(CHANNEL_VOCABULARY) == 104
    assert len(set(CHANNEL_VOCABULARY)) == 104
    assert all(name == name.lower() for name in CHANNEL_VOCABULARY)


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("a1", 0),
        ("cz", 36),
        ("eog", 37),
        ("fp1", 55),
        ("loc", 62),
        ("p08", 66),
        ("roc", 87),
        ("sp1", 88),
        ("sp2", 89),
        ("t3", 93),
        ("tp9", 103),
    ],
)
def test_vocabulary_positions_follow_the_spec(name, index):
    assert CHANNEL_VOCABULARY[index] == name


# ---------------------------------------------------------------- name cleaning


@pytest.mark.parametrize(
    ("raw_name", "expected"),
    [
        ("Fp1", "fp1"),
        ("  CZ ", "cz"),
        ("EEG Fp1", "fp1"),
        ("eeg-C3", "c3"),
        ("EEG_O2", "o2"),
        ("Fc5.", "fc5"),
        ("Cz..", "cz"),
        ("EEG FP1-REF", "fp1"),
        ("EEG C3-LE", "c3"),
        ("O1-AVG", "o1"),
        ("C4-M1", "c4"),
        ("C3-A2", "c3"),
        ("A1-REF", "a1"),
        ("EEG T3", "t3"),
        ("T5", "t5"),
        # a difference of ear electrodes is a reference channel, not a2
        ("EEG A2-A1", "a2-a1"),
        ("A1-A2", "a1-a2"),
        # the suffix is only stripped when a vocabulary name remains
        ("EKG-REF", "ekg-ref"),
        ("ECG ECG", "ecg ecg"),
        ("EEG", "eeg"),
    ],
)
def test_clean_channel_name(raw_name, expected):
    assert clean_channel_name(raw_name) == expected


def test_clean_channel_name_rejects_non_strings():
    with pytest.raises(TypeError, match="name must be an instance of str"):
        clean_channel_name(3)


# -------------------------------------------------------------------- matching


def test_match_channels_result():
    names = ["EEG Fp1", "EEG A2-A1", "Cz..", "ECG ECG", "EEG T3"]
    match = match_channels(names, verbose=False)
    assert isinstance(match, ChannelMatch)
    assert match.picks.dtype == np.int64
    assert match.vocab_idx.dtype == np.int64
    assert match.picks.tolist() == [0, 2, 4]
    assert match.ch_names == ("EEG Fp1", "Cz..", "EEG T3")
    assert match.clean_names == ("fp1", "cz", "t3")
    assert match.vocab_idx.tolist() == [55, 36, 93]
    assert match.n_channels == 3
    assert match.unmatched_names == ("EEG A2-A1", "ECG ECG")
    reasons = dict(match.unmatched)
    assert "not in the NeuroRVQ vocabulary" in reasons["EEG A2-A1"]
    assert "'a2-a1'" in reasons["EEG A2-A1"]


def test_match_channels_is_read_only():
    match = match_channels(["Cz", "Pz"], verbose=False)
    with pytest.raises(ValueError, match="read-only"):
        match.picks[0] = 1
    with pytest.raises(AttributeError):
        match.picks = np.array([1])


def test_non_eeg_types_are_ignored_even_with_vocabulary_names():
    names = ["Cz", "EOG", "Pz", "STI 014"]
    types = ["eeg", "eog", "eeg", "stim"]
    match = match_channels(names, types, on_unknown="raise", verbose=False)
    assert match.ch_names == ("Cz", "Pz")
    reasons = dict(match.unmatched)
    assert reasons["EOG"] == "not an EEG channel (type 'eog')"
    assert "type 'stim'" in reasons["STI 014"]


def test_eeg_typed_vocabulary_oddities_are_used():
    match = match_channels(["EOG", "LOC", "ROC"], ["eeg"] * 3, verbose=False)
    assert match.vocab_idx.tolist() == [37, 62, 87]


def test_on_unknown_warn():
    with pytest.warns(RuntimeWarning, match=r"not in the NeuroRVQ.*\['Foo'\]"):
        match = match_channels(["Cz", "Foo"], on_unknown="warn", verbose=False)
    assert match.ch_names == ("Cz",)


def test_on_unknown_raise_lists_names_and_hint():
    names = ["Cz", "Foo", "EEG A2-A1", "ECG"]
    types = ["eeg", "eeg", "eeg", "ecg"]
    with pytest.raises(ValueError, match="2 EEG channel") as excinfo:
        match_channels(names, types, on_unknown="raise")
    message = str(excinfo.value)
    assert "'Foo'" in message
    assert "'EEG A2-A1'" in message
    assert "'ECG'" not in message  # not an EEG channel: never an error
    assert "mne.rename_channels" in message
    assert "drop_channels" in message


def test_on_unknown_bad_value():
    with pytest.raises(ValueError, match="on_unknown.*'ignore', 'warn'.*'nope'"):
        match_channels(["Cz"], on_unknown="nope")


def test_no_channel_matches():
    with pytest.raises(ValueError, match="None of the channels") as excinfo:
        match_channels(["Foo", "Bar", "Cz"], ["eeg", "eeg", "misc"])
    message = str(excinfo.value)
    assert "['Foo', 'Bar', 'Cz']" in message
    assert "a1, a2, af3" in message
    assert "2 of type 'eeg'" in message


def test_duplicates_name_both_channels():
    with pytest.raises(ValueError, match=r"'Cz\.\.' and 'EEG Cz' both map to 'cz'"):
        match_channels(["Cz..", "Pz", "EEG Cz"])


def test_duplicates_of_ignored_channels_are_fine():
    match = match_channels(["Cz", "Cz-REF"], ["eeg", "misc"], verbose=False)
    assert match.ch_names == ("Cz",)


def test_bad_inputs():
    with pytest.raises(TypeError, match="ch_names must be an instance of list"):
        match_channels("Cz")
    with pytest.raises(TypeError, match="each channel name must be an instance"):
        match_channels(["Cz", 3])
    with pytest.raises(ValueError, match="expected 2 types, got 1"):
        match_channels(["Cz", "Pz"], ["eeg"])
    with pytest.raises(TypeError, match="info must be an instance of mne.Info"):
        match_info(["Cz"])


def test_match_info_uses_channel_types():
    info = mne.create_info(
        ["Fp1", "Cz", "ECG", "Foo"], 200.0, ["eeg", "eeg", "ecg", "eeg"]
    )
    with pytest.warns(RuntimeWarning, match=r"\['Foo'\]"):
        match = match_info(info, on_unknown="warn", verbose=False)
    assert match.ch_names == ("Fp1", "Cz")
    assert match.unmatched_names == ("ECG", "Foo")


# ------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def eegbci_raw(data_path):
    paths = eegbci.load_data(
        subjects=1, runs=[4], path=str(data_path), update_path=False
    )
    return mne.io.read_raw_edf(paths[0], preload=True, verbose=False)


@pytest.fixture(scope="module")
def eegmat_path(data_path):
    path = data_path / "eegmat" / "Subject00_1.edf"
    if not path.is_file():
        pytest.skip(f"EEGMAT recording not found at {path}")
    return path


def test_eegbci_all_64_channels_match(eegbci_raw):
    match = match_info(eegbci_raw.info, on_unknown="raise", verbose=False)
    assert match.n_channels == 64
    assert match.picks.tolist() == list(range(64))
    assert match.unmatched == ()
    index_of = dict(zip(match.ch_names, match.vocab_idx.tolist(), strict=True))
    assert index_of["Fc5."] == CHANNEL_VOCABULARY.index("fc5")
    assert index_of["Cz.."] == CHANNEL_VOCABULARY.index("cz")
    assert index_of["Fp1."] == CHANNEL_VOCABULARY.index("fp1")
    assert index_of["T10."] == CHANNEL_VOCABULARY.index("t10")
    assert index_of["Iz.."] == CHANNEL_VOCABULARY.index("iz")


@pytest.mark.parametrize("set_ecg_type", [False, True])
def test_eegmat_uses_19_scalp_channels(eegmat_path, set_ecg_type):
    raw = mne.io.read_raw_edf(eegmat_path, preload=False, verbose=False)
    assert len(raw.ch_names) == 21
    if set_ecg_type:
        raw.set_channel_types({"ECG ECG": "ecg"}, verbose=False)
    match = match_info(raw.info, verbose=False)
    assert match.n_channels == 19
    assert match.clean_names == tuple(EEGMAT_SCALP)
    assert match.unmatched_names == ("EEG A2-A1", "ECG ECG")
    assert match.picks.tolist() == list(range(19))
    index_of = dict(zip(match.clean_names, match.vocab_idx.tolist(), strict=True))
    assert [index_of[name] for name in ("t3", "t4", "t5", "t6")] == [93, 94, 95, 96]


def test_eegmat_unknown_eeg_channels_raise(eegmat_path):
    raw = mne.io.read_raw_edf(eegmat_path, preload=False, verbose=False)
    with pytest.raises(ValueError, match=r"\['EEG A2-A1', 'ECG ECG'\]"):
        match_info(raw.info, on_unknown="raise")


# ------------------------------------------------------------ other modalities


@pytest.mark.parametrize(
    ("name", "modality", "clean"),
    [
        ("ECG II", "ecg", "ii"),
        ("Lead II", "ecg", "ii"),
        ("ECG-V1", "ecg", "v1"),
        ("EKG_aVR", "ecg", "avr"),
        ("aVF", "ecg", "avf"),
        ("III", "ecg", "iii"),
        ("Frank X", "ecg", "vx"),
        ("Z", "ecg", "vz"),
        ("ECG Lead V6", "ecg", "v6"),
        ("ECG ECG", "ecg", ""),
        ("EMG1", "emg", "c1"),
        ("EMG 016", "emg", "c16"),
        ("ch7", "emg", "c7"),
        ("PLETH,", "ppg", "ppg_c1"),
        ("PPG", "ppg", "ppg_c1"),
        ("EEG Fp1", "eeg", "fp1"),
    ],
)
def test_modality_names_are_cleaned(name, modality, clean):
    from mne_neurorvq.channels import clean_modality_channel_name

    assert clean_modality_channel_name(name, modality) == clean


def test_modality_vocabularies_match_the_fixture(parity_multimodal_path):
    """The spatial indices equal the reference's ``chan_vocab_idx``."""
    import json

    import torch

    from mne_neurorvq.channels import MODALITY_VOCABULARIES, match_modality_channels

    for modality in ("ecg", "ppg", "emg"):
        folder = parity_multimodal_path / modality
        config = json.loads((folder / "config.json").read_text())
        vocabulary = MODALITY_VOCABULARIES[modality]
        assert list(vocabulary) == config["channel_vocabulary"]
        for case in torch.load(folder / "cases.pt", weights_only=True):
            match = match_modality_channels(case["ch_names"], None, modality)
            assert match.vocab_idx.tolist() == case["chan_vocab_idx"].tolist()


def test_single_ecg_lead_must_be_named():
    from mne_neurorvq.channels import match_modality_channels

    names, types = ["EEG Fz", "ECG ECG"], ["eeg", "ecg"]
    with pytest.raises(ValueError, match=r"'ECG ECG' does not say which lead.*'II'"):
        match_modality_channels(names, types, "ecg")
    match = match_modality_channels(names, types, "ecg", mapping={"ECG ECG": "II"})
    assert match.clean_names == ("ii",) and match.picks.tolist() == [1]
    with pytest.raises(ValueError, match="not in the data"):
        match_modality_channels(names, types, "ecg", mapping={"ECG": "II"})
    # EEG matching leaves the ECG channel out, as before
    assert match_modality_channels(names, types, "eeg").clean_names == ("fz",)


def test_ppg_is_chosen_by_name_or_explicitly():
    from mne_neurorvq.channels import match_modality_channels

    names, types = ["Pleth", "Resp"], ["misc", "misc"]
    assert match_modality_channels(names, types, "ppg").ch_names == ("Pleth",)
    match = match_modality_channels(
        ["Resp", "sensor"], ["misc", "bio"], "ppg", mapping={"sensor": "ppg_c1"}
    )
    assert match.ch_names == ("sensor",)
    with pytest.raises(ValueError, match="None of the channels matches the PPG"):
        match_modality_channels(["Resp"], ["misc"], "ppg")


def test_modality_is_inferred_or_ambiguity_is_explained():
    from mne_neurorvq.channels import infer_modality

    eegmat = [*(f"EEG {n}" for n in EEGMAT_SCALP), "ECG ECG"]
    types = ["eeg"] * 19 + ["ecg"]
    with pytest.raises(ValueError, match=r"ambiguous.*\['ecg', 'eeg'\]"):
        infer_modality(eegmat, types)
    assert infer_modality(eegmat[:-1], types[:-1]) == "eeg"
    assert infer_modality(["Pleth", "STI"], ["misc", "stim"]) == "ppg"
    assert infer_modality(["EMG1", "EMG2"], ["emg", "emg"]) == "emg"
    assert infer_modality(["c1", "c2"], ["eeg", "eeg"]) == "eeg"  # types decide
    assert infer_modality(["c1", "c12"]) == "emg"  # arrays: names decide
    with pytest.raises(ValueError, match="ambiguous"):
        infer_modality(["c1", "c2"])
    with pytest.raises(ValueError, match="found no EEG, ECG"):
        infer_modality(["STI"], ["stim"])
