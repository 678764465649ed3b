"""
.. _ex-embeddings:

================================================================
Embeddings and subject-independent decoding of mental arithmetic
================================================================

The NeuroRVQ foundation model embeds an epoch into 800 values (4 scales x
200). :class:`~mne_neurorvq.decoding.NeuroRVQEmbedder` is a scikit-learn
transformer, so the embeddings go into any pipeline. This example decodes
rest vs mental arithmetic on EEGMAT with a logistic regression, and
evaluates it **across subjects**: every fold tests on subjects the model
never saw (:class:`~sklearn.model_selection.GroupKFold`), the only honest
evaluation when the windows of a subject are correlated.

.. note::
   The weights are the published foundation model
   (``"neurorvq-eeg-foundation-v1"``, the default of ``NeuroRVQEmbedder()``)
   when it can be fetched (downloaded or on disk), otherwise **random
   weights** of a small foundation model (4 blocks of width 100 instead of
   12 of width 200, so 400-wide embeddings). Random features still carry some
   information about the input's spectrum, so their scores are not chance,
   but they say nothing about NeuroRVQ. The output below says which weights
   this build used.
"""

import matplotlib.pyplot as plt
import mne
import numpy as np
import torch
from scipy.signal import welch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from mne_neurorvq.datasets import load_eegmat
from mne_neurorvq.decoding import NeuroRVQEmbedder
from mne_neurorvq.nn import NeuroRVQFoundation
from mne_neurorvq.training import foundation_preset, tokenizer_preset
from mne_neurorvq.weights import fetch_weights

mne.set_log_level("error")
plt.style.use("tableau-colorblind10")  # colour-blind-safe line colours

# %%
# Weights
# -------
# The published foundation model (``"neurorvq-eeg-foundation-v1"``,
# downloaded once from the authors' Hugging Face repository) when it can be
# fetched, else random weights of a small model (no network, no local copy).

try:
    weights = fetch_weights("neurorvq-eeg-foundation-v1")
    published = True
except FileNotFoundError:  # no network and no local copy: random weights
    small = tokenizer_preset("small")
    model = NeuroRVQFoundation(config=foundation_preset("small", small))
    model.init_weights(torch.Generator().manual_seed(0))
    weights = model.state_dict()
    published = False
print("weights:", "published" if published else "random (offline)")

# %%
# Data
# ----
# Twelve subjects, eight 4 s windows at rest and eight during serial
# subtraction each. ``y`` holds the labels and ``subjects`` the subject of
# every window, the groups of the cross-validation.

epochs, y, subjects = load_eegmat(range(12), max_windows=8)
print(epochs)
labels, counts = np.unique(y, return_counts=True)
print({str(label): int(count) for label, count in zip(labels, counts, strict=True)})

# %%
# Embeddings in a pipeline
# ------------------------
# The embedder reads the Epochs in microvolts, uses the 19 EEG channels
# (``EEG A2-A1`` and the ECG are typed misc and ECG by the loader), applies
# the authors' filtering recipe and resamples to 200 Hz. ``fit`` only loads
# the weights.

embedder = NeuroRVQEmbedder(
    weights,
    recipe="authors",
    device="cpu",
    verbose=False,
)
pipe = make_pipeline(
    embedder, StandardScaler(), LogisticRegression(C=0.1, max_iter=2000)
)

cv = GroupKFold(n_splits=4)
scores = cross_val_score(
    pipe, epochs, y, groups=subjects, cv=cv, scoring="balanced_accuracy"
)
print(f"embeddings: balanced accuracy {scores.mean():.2f} +- {scores.std():.2f}")

# %%
# A baseline
# ----------
# A useful decoder must beat simple features. Log power in the classical
# bands of every channel (from a Welch spectrum) with the same classifier:


def log_band_power(data, sfreq=500.0):
    """Log power of every channel in 5 bands, from data in V."""
    freqs, psd = welch(data, fs=sfreq, nperseg=int(sfreq))
    bands = [(1, 4), (4, 8), (8, 13), (13, 30), (30, 45)]
    power = [psd[..., (freqs >= lo) & (freqs < hi)].mean(-1) for lo, hi in bands]
    return np.log(np.stack(power, axis=-1)).reshape(len(data), -1)


X_eeg = epochs.get_data(picks="eeg")
baseline = make_pipeline(
    FunctionTransformer(log_band_power),
    StandardScaler(),
    LogisticRegression(C=0.1, max_iter=2000),
)
baseline_scores = cross_val_score(
    baseline, X_eeg, y, groups=subjects, cv=cv, scoring="balanced_accuracy"
)
print(
    f"band power: balanced accuracy {baseline_scores.mean():.2f} "
    f"+- {baseline_scores.std():.2f}"
)

# %%
# Scores per fold (each fold tests on three unseen subjects):

fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
folds = np.arange(1, cv.get_n_splits() + 1)
kind = "published" if published else "random"
ax.bar(folds - 0.2, scores, width=0.4, label=f"NeuroRVQ embedding ({kind} weights)")
ax.bar(folds + 0.2, baseline_scores, width=0.4, label="log band power")
ax.axhline(0.5, color="k", ls="--", lw=0.8, label="chance")
ax.set(
    xlabel="fold (held-out subjects)",
    ylabel="balanced accuracy",
    ylim=(0, 1),
    xticks=folds,
    title="Rest vs arithmetic, subject-independent",
)
ax.legend(fontsize="small", loc="upper left")

# %%
# **What the result means.** Every score is measured on subjects the model
# never saw. With the published foundation model the embedding's score is
# what frozen NeuroRVQ features give for this task. With random weights
# (when the published ones cannot be fetched, as where this gallery is
# built; see the output of the first cell) the embedding is a random
# projection of the input: its score, often below the band-power baseline,
# says nothing about NeuroRVQ.

# %%
# Other poolings
# --------------
# ``pooling="mean"`` gives the published 800-wide embedding. ``"scale"``
# keeps the four scales' raw means apart (before the final normalisation),
# and ``"channel"`` gives one embedding per channel, for spatial analyses:

per_channel = NeuroRVQEmbedder(
    weights,
    pooling="channel",
    device="cpu",
    verbose=False,
).fit_transform(epochs[:4])
width = per_channel.shape[1] // 19  # 800 for the published model
print(f"pooling='channel': {per_channel.shape} = 4 epochs x (19 channels x {width})")
