"""
.. _ex-channel-names:

======================================================
Montages with unknown, legacy or non-standard channels
======================================================

NeuroRVQ gives every token the index of its channel in a fixed vocabulary of
104 lower-case electrode names. Real recordings name their channels in many
ways: EDF exports add an ``EEG`` prefix (``'EEG Fp1'``), BCI2000 pads names
with dots (``'Fc5.'``), old 10-20 montages use ``T3``/``T4``, and recordings
carry reference, ECG or EOG channels stored as EEG. This example shows what
:func:`~mne_neurorvq.channels.match_info` makes of two PhysioNet recordings,
how to fix channel types, and what ``on_unknown`` does with EEG channels that
the model does not know.
"""

# sphinx_gallery_thumbnail_number = 1

import warnings

import matplotlib.pyplot as plt
import mne
import numpy as np
import torch

from mne_neurorvq.channels import clean_channel_name, match_info
from mne_neurorvq.datasets import eegmat_files
from mne_neurorvq.decoding import NeuroRVQEmbedder
from mne_neurorvq.nn import NeuroRVQFoundation
from mne_neurorvq.training import foundation_preset, tokenizer_preset
from mne_neurorvq.weights import fetch_weights

mne.set_log_level("warning")
# Local copies of the recordings (None: MNE's data folder, downloading there)
local_data = mne.get_config("MNE_NEURORVQ_DATA")

# %%
# EEGMAT: ``EEG`` prefixes, legacy names, a reference channel and ECG
# -------------------------------------------------------------------
# Read one EEGMAT recording as it is stored: every channel is typed EEG.

eegmat_file = eegmat_files([0])[0][2]  # subject 0 at rest (downloaded if needed)
print(eegmat_file.name)
raw = mne.io.read_raw_edf(eegmat_file, verbose=False)
print(raw.ch_names)

# %%
# Names are cleaned (prefix stripped, lower-cased) and looked up in the
# vocabulary. ``T3``-``T6`` are in the vocabulary as they are. The ear
# reference difference ``EEG A2-A1`` cleans to ``'a2-a1'``, not ``'a2'``,
# and ``ECG ECG`` to ``'ecg ecg'``: neither is a vocabulary name, so both are
# left out.

for name in ["EEG Fp1", "EEG T3", "EEG A2-A1", "ECG ECG"]:
    print(f"{name!r:>12} -> {clean_channel_name(name)!r}")

match = match_info(raw.info, verbose=False)
print(f"{match.n_channels} channels used:", match.clean_names)
for name, reason in match.unmatched:
    print(f"not used: {name!r}: {reason}")

# %%
# Both are left out for the right result but for the wrong reason: they are
# EEG channels with unknown names. With ``on_unknown="warn"`` (or
# ``"raise"``) the estimators say so:

try:
    match_info(raw.info, on_unknown="raise")
except ValueError as err:
    print(err)

# %%
# The fix is to give these channels their true types. Only channels of type
# ``'eeg'`` are ever used, so non-EEG channels are then left out silently,
# whatever ``on_unknown`` says (:func:`~mne_neurorvq.datasets.read_eegmat_raw`
# does this for EEGMAT):

raw.set_channel_types({"EEG A2-A1": "misc", "ECG ECG": "ecg"}, on_unit_change="ignore")
match = match_info(raw.info, on_unknown="raise", verbose=False)
print(f"{match.n_channels} EEG channels used; left out:", match.unmatched_names)

# %%
# BCI2000 names with dots
# -----------------------
# The EEG Motor Movement/Imagery recordings name their 64 channels like
# ``'Fc5.'`` and ``'Cz..'``. The dots are stripped, and all 64 are in the
# vocabulary. No renaming is needed (``mne.datasets.eegbci.standardize`` is
# only needed for MNE's montages).

# subject 1, run 1 (eyes open), read or downloaded by MNE's own function
eegbci_file = mne.datasets.eegbci.load_data(1, [1], path=local_data, update_path=False)[
    0
]
raw_bci = mne.io.read_raw_edf(eegbci_file, verbose=False)
match_bci = match_info(raw_bci.info, verbose=False)
print(raw_bci.ch_names[:6], "->", match_bci.clean_names[:6])
print(f"{match_bci.n_channels} of {len(raw_bci.ch_names)} channels used")

# %%
# Channels the model does not know
# ---------------------------------
# Many montages have electrodes outside the vocabulary: mastoids ``M1`` and
# ``M2``, ``FT9``/``FT10``, or ``EOG`` channels typed as EEG under another
# name. Here is a 10-channel recording with such channels (random data in
# volts, as MNE stores them):

ch_names = ["Fp1", "Fp2", "Fz", "Cz", "Pz", "O1", "O2", "M1", "M2", "FT9"]
info = mne.create_info(ch_names, sfreq=250.0, ch_types="eeg")
rng = np.random.default_rng(0)
epochs = mne.EpochsArray(20e-6 * rng.standard_normal((6, 10, 1000)), info)

match = match_info(epochs.info, verbose=False)
print("used:", match.clean_names)
print("not used:", match.unmatched_names)

# %%
# The estimators use the known channels and handle the unknown ones
# according to ``on_unknown``: ``"ignore"`` (the default) leaves them out
# with a log message, ``"warn"`` with a warning, ``"raise"`` refuses the
# input. The fitted attribute ``ch_names_`` lists the channels used.
# The weights are the published foundation model when it can be fetched,
# else random weights of a small model (see the gallery's README); only the
# channels matter here.

try:
    foundation_weights = fetch_weights("neurorvq-eeg-foundation-v1")
    published = True
except FileNotFoundError:  # no network and no local copy: random weights
    small = tokenizer_preset("small")
    model = NeuroRVQFoundation(config=foundation_preset("small", small))
    model.init_weights(torch.Generator().manual_seed(0))
    foundation_weights = model.state_dict()
    published = False
print("weights:", "published" if published else "random (offline)")
for on_unknown in ("ignore", "warn", "raise"):
    embedder = NeuroRVQEmbedder(foundation_weights, on_unknown=on_unknown, device="cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            embedder.fit(epochs)
        except ValueError as err:
            print(f"on_unknown={on_unknown!r}: ValueError: {str(err)[:72]}...")
        else:
            print(f"on_unknown={on_unknown!r}: uses {embedder.ch_names_}")
    for warning in caught:
        print(f"    {warning.category.__name__}: {str(warning.message)[:72]}...")

# %%
# To use such a channel, rename it to the vocabulary name of the same
# electrode, if there is one; otherwise drop it or leave it out. Channels
# marked bad are never used:

epochs.info["bads"] = ["Fp2"]
embedder = NeuroRVQEmbedder(foundation_weights, device="cpu").fit(epochs)
print(embedder.ch_names_)

# %%
# Which channels are used, on the scalp
# -------------------------------------
# For a figure, give the recordings standard positions: EEGMAT's names need
# their prefix removed (MNE's template montage knows ``T3``), and
# BCI2000's names need :func:`mne.datasets.eegbci.standardize`. Channels
# that NeuroRVQ does not use are marked bad, and so drawn in red.

# MNE 1.13 renamed the template montages ("standard_1005" -> "colin27_1005")
builtin = mne.channels.get_builtin_montages()
montage = "colin27_1005" if "colin27_1005" in builtin else "standard_1005"

raw_mat = mne.io.read_raw_edf(eegmat_file, verbose=False)
raw_mat.set_channel_types(
    {"EEG A2-A1": "misc", "ECG ECG": "ecg"}, on_unit_change="ignore"
)
raw_mat.rename_channels(lambda name: name.replace("EEG ", ""))
raw_mat.set_montage(montage, match_case=False, on_missing="ignore")
mne.datasets.eegbci.standardize(raw_bci)
raw_bci.set_montage(montage)
raw_custom = mne.io.RawArray(epochs.get_data()[0], epochs.info.copy())
raw_custom.set_montage(montage, match_case=False)
for this_raw in (raw_mat, raw_bci, raw_custom):
    unused = match_info(this_raw.info, verbose=False).unmatched_names
    eeg = this_raw.copy().pick("eeg").ch_names
    this_raw.info["bads"] += [n for n in unused if n in eeg]

fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), layout="constrained")
titles = [
    "EEGMAT: 19 of 19 EEG used",
    "eegmmidb (BCI2000): 64 of 64 used",
    "custom: M1, M2, FT9 (unknown)\nand Fp2 (bad) not used",
]
for ax, this_raw, title in zip(
    axes, (raw_mat, raw_bci, raw_custom), titles, strict=True
):
    show_names = this_raw is not raw_bci  # 64 names would overlap
    this_raw.plot_sensors(axes=ax, show_names=show_names, show=False)
    ax.set_title(title, fontsize=10)
fig.suptitle("Channels NeuroRVQ uses (black) and leaves out (red)")

# %%
# **What the result means.** Which channels are used depends only on their
# names and types, never on the weights: this example's output is the same
# with the published foundation model and with the random weights used
# offline.
