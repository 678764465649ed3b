"""The explicit rule for bipolar derivations (channels.bipolar_active_electrode)."""

import pytest

from mne_neurorvq.channels import (
    CHANNEL_VOCABULARY,
    bipolar_active_electrode,
    clean_channel_name,
    match_channels,
)


@pytest.mark.parametrize(
    ("name", "electrode"),
    [("EEG Fpz-Cz", "Fpz"), ("EEG Pz-Oz", "Pz"), ("C3-A2", "C3"), ("Fp1-F7.", "Fp1")],
)
def test_active_electrode_of_a_derivation(name, electrode):
    assert bipolar_active_electrode(name) == electrode
    assert clean_channel_name(electrode) in CHANNEL_VOCABULARY


def test_never_applied_silently():
    # matching leaves derivations out; only the explicit rule maps them
    match = match_channels(["EEG Fpz-Cz", "EEG Pz-Oz", "EEG Cz"], verbose=False)
    assert match.ch_names == ("EEG Cz",)


@pytest.mark.parametrize(
    "name", ["EEG A2-A1", "M1-M2", "EEG Cz", "EOG horizontal", "Fpz-Cz-Oz", "Fpz-X1"]
)
def test_not_a_derivation_of_two_vocabulary_electrodes(name):
    with pytest.raises(ValueError, match="not a bipolar derivation"):
        bipolar_active_electrode(name)
