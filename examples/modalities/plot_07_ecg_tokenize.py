"""
.. _ex-ecg-tokenize:

=======================================================
Tokenize the ECG of an EEG recording, and the EEG too
=======================================================

Besides the EEG tokenizer the NeuroRVQ authors published tokenizers for ECG,
EMG and PPG: the same architecture with the modality's own convolution
kernels, patch length, channel vocabulary and sampling rate (ECG: 0.2 s
patches at 200 Hz, 15 lead names, at most 600 tokens per sample).
:class:`~mne_neurorvq.decoding.NeuroRVQTokenizer` serves every modality,
one per estimator: ``modality="auto"`` picks it from the channel types of
the Epochs.

This example tokenizes and reconstructs the single ECG channel of an EEGMAT
recording (``"ECG ECG"``, type ``ecg``), then the recording's EEG, and
plots original and reconstruction side by side.

.. note::
   With the published files, ``NeuroRVQTokenizer(modality="ecg")`` (default
   weights: the published tokenizer of the modality,
   ``"neurorvq-ecg-tokenizer-v1"``) and ``NeuroRVQTokenizer()`` are all that
   is needed. When they are not on disk (as where this gallery is built),
   the example **trains a small tokenizer of each modality for 10 to 30 s**
   (``weights=None``: self-supervised training inside ``fit``, on epochs of
   ten other subjects). Its reconstructions are rough.
"""

# sphinx_gallery_thumbnail_number = 1

import matplotlib.pyplot as plt
import mne
import numpy as np

from mne_neurorvq import fetch_weights
from mne_neurorvq.datasets import eegmat_files, read_eegmat_raw
from mne_neurorvq.decoding import NeuroRVQTokenizer
from mne_neurorvq.training import tokenizer_preset

mne.set_log_level("error")
plt.style.use("tableau-colorblind10")  # colour-blind-safe line colours

# %%
# Which lead is it?
# -----------------
# The ECG tokenizer embeds every lead differently (its vocabulary: ``I``,
# ``II``, ``III``, ``aVR``, ``aVL``, ``aVF``, ``V1``-``V6`` and the Frank
# leads ``X``, ``Y``, ``Z``). A channel named only "ECG" does not say which
# lead it is, and the tokenizer refuses to guess: rename the channel (or pass
# ``channel_map={"ECG ECG": "II"}``). EEGMAT documents no lead; we take
# lead II here, an assumption. EEGMAT records at 500 Hz; the tokenizer
# resamples to 200 Hz (and reads ECG in mV).


def ecg_and_eeg_epochs(subject, n_epochs):
    """4 s epochs of the ECG (as lead II) and of the EEG of one recording."""
    path = eegmat_files([subject])[1][2]  # the arithmetic recording
    raw = read_eegmat_raw(path).crop(0, 4.0 * n_epochs)
    epochs = mne.make_fixed_length_epochs(raw, duration=4.0, preload=True)
    ecg = epochs.copy().pick("ecg").rename_channels({"ECG ECG": "II"})
    return ecg, epochs.pick("eeg")


# subject 21: a clear ECG (R peaks of about 0.6 mV, T waves); some EEGMAT
# recordings (e.g. subject 20's arithmetic one) carry no heartbeat at all
held_out_ecg, held_out_eeg = ecg_and_eeg_epochs(21, n_epochs=4)
print(held_out_ecg.ch_names, held_out_ecg.get_channel_types(), held_out_ecg)

# %%
# With both channel types, ``modality="auto"`` cannot choose and says so:

both = held_out_ecg.copy().add_channels([held_out_eeg.copy()])
try:
    NeuroRVQTokenizer(modality="auto").fit(both)
except ValueError as err:
    print(err)

# %%
# A tokenizer per modality: published or trained here
# ---------------------------------------------------
# The published weights are used when they are on disk (see
# :func:`~mne_neurorvq.fetch_weights`; pass ``download=True`` to fetch them);
# otherwise a ``"small"`` tokenizer of the modality (ECG: model width 20, 4
# scales x 4 levels of 512 codes) is trained for 100 steps (EEG: 80) on 4 s
# epochs of subjects 0-9 (12 per subject), at most 30 s each.


def published_or_trained(modality, train_epochs):
    """A NeuroRVQTokenizer of ``modality``, fitted on ``train_epochs``."""
    name = f"neurorvq-{modality}-tokenizer-v1"
    try:
        weights = str(fetch_weights(name, download=False))
        print(f"{modality}: published weights {weights}")
        return NeuroRVQTokenizer(weights, modality=modality, device="cpu")
    except FileNotFoundError:
        print(f"{modality}: {name} not found, training a small tokenizer")
    tokenizer = NeuroRVQTokenizer(
        weights=None,
        modality=modality,
        config=tokenizer_preset("small", modality=modality),
        # ECG: 100 steps of 8 epochs (about 10 s); EEG: 80 (about 30 s)
        train_params=dict(
            epochs=100,
            max_steps=100 if modality == "ecg" else 80,
            batch_size=8,
            lr=2e-3,
            time_limit=30,
        ),
        device="cpu",
        random_state=0,
    )
    return tokenizer.fit(train_epochs)


train = [ecg_and_eeg_epochs(subject, n_epochs=12) for subject in range(10)]
train_ecg = mne.concatenate_epochs([ecg for ecg, _ in train])
train_eeg = mne.concatenate_epochs([eeg for _, eeg in train])
ecg_tokenizer = published_or_trained("ecg", train_ecg)
eeg_tokenizer = published_or_trained("eeg", train_eeg)

# %%
# Tokenize and reconstruct
# ------------------------
# The fitted tokenizers are reused on the held-out subject 21 (``transform``
# needs the channels and epoch length seen in ``fit``). A 4 s epoch of the
# ECG lead is 20 patches of 0.2 s; each patch gets 4 scales x L levels of
# tokens. The reconstruction (``inverse_transform``) is an
# :class:`~mne.EpochsArray` of the same channel type, standardised (mean 0,
# standard deviation 1 per epoch): tokens carry no absolute amplitude.

results = {}
for label, tokenizer, epochs in (
    ("ECG (lead II)", ecg_tokenizer, held_out_ecg),
    ("EEG", eeg_tokenizer, held_out_eeg),
):
    tokens = tokenizer.transform(epochs)
    reconstructed = tokenizer.inverse_transform(tokens)
    config = tokenizer.model_.config
    print(
        f"{label}: modality {tokenizer.modality_}, tokens {tokens.shape} = "
        f"{len(tokenizer.ch_names_)} channel(s) x {tokenizer.n_patches_} patches "
        f"x {config.n_scales} scales x {config.n_levels} levels; reconstruction "
        f"{reconstructed.get_channel_types()[0]} at {reconstructed.info['sfreq']:g}"
        " Hz"
    )
    unit = {"ecg": "mV", "eeg": "uV"}[tokenizer.modality_]
    original = epochs.copy().resample(config.sfreq).get_data(units=unit)
    recon = reconstructed.get_data(units=unit)

    def zscore(x):
        axes = tuple(range(1, x.ndim))
        return (x - x.mean(axes, keepdims=True)) / x.std(axes, keepdims=True)

    mse = np.mean((zscore(original) - zscore(recon)) ** 2)
    print(f"  reconstruction error (z-scored MSE; 1 = predicting zeros): {mse:.2f}")
    results[label] = (zscore(original)[0, 0], zscore(recon)[0, 0], config.sfreq)

# %%
# Original (grey) and reconstruction (blue), first held-out epoch; for the
# EEG its first channel (Fp1).

fig, axes = plt.subplots(2, 1, figsize=(8, 4.5), layout="constrained")
for ax, (label, (original, recon, sfreq)) in zip(axes, results.items(), strict=True):
    times = np.arange(original.size) / sfreq
    ax.plot(times, original, color="0.6", lw=1.2, label="original")
    ax.plot(times, recon, color="#0072B2", lw=0.9, label="reconstruction")
    ax.set(ylabel="amplitude (z-score)", title=label, xlim=(0, times[-1]))
axes[0].legend(loc="upper right", fontsize="small")
axes[-1].set_xlabel("time (s)")
fig.suptitle("EEGMAT subject 21: tokens to signal, per modality")

# %%
# What stays assumed
# ------------------
# - The lead of EEGMAT's ECG channel (II here).
# - The ECG rate: 200 Hz, as the authors' model code and the reference
#   fixture; one of the authors' examples feeds 500 Hz PTB-XL records without
#   resampling (see :ref:`other_modalities`).
#
# **What the result means.** With the published ECG tokenizer the
# reconstruction follows the QRS complexes and T waves; the small tokenizers
# trained here for seconds (see the output) only show the mechanics, and
# their error says nothing about the published models.
