"""
.. _ex-codebook:

==================================
Codebook usage and token maps
==================================

Every 1 s patch of every channel gets one token per scale and residual
level. This example tokenizes EEGMAT epochs and looks at the tokens three
ways: how much of each codebook the data use
(:func:`~mne_neurorvq.viz.plot_codebook_usage`), which code each channel and
second gets (:func:`~mne_neurorvq.viz.plot_token_map`), and fixed-size token
histograms (:class:`~mne_neurorvq.decoding.TokenHistogram`) compared between
rest and mental arithmetic.

.. note::
   The weights are the published tokenizer (``"neurorvq-eeg-tokenizer-v1"``,
   4 scales x 8 levels of 8192 codes) when it can be fetched (downloaded or
   on disk), otherwise **random weights** of a small tokenizer (2 encoder
   blocks, 4 scales x 4 levels of 512 random unit-norm codes), which show
   how to inspect tokens, not what a trained tokenizer learned. The output
   below says which.
"""

import matplotlib.pyplot as plt
import mne
import numpy as np
import torch

from mne_neurorvq.datasets import load_eegmat
from mne_neurorvq.decoding import NeuroRVQTokenizer, TokenHistogram
from mne_neurorvq.nn import NeuroRVQTokenizerModel
from mne_neurorvq.training import tokenizer_preset
from mne_neurorvq.viz import plot_codebook_usage, plot_token_map
from mne_neurorvq.weights import fetch_weights

mne.set_log_level("error")
plt.style.use("tableau-colorblind10")  # colour-blind-safe line colours

# %%
# Weights
# -------
# The published tokenizer (``"neurorvq-eeg-tokenizer-v1"``, downloaded once from the
# authors' Hugging Face repository) when it can be fetched, else the random
# weights of a small tokenizer (no network, no local copy).

try:
    weights = fetch_weights("neurorvq-eeg-tokenizer-v1")
    published = True
except FileNotFoundError:  # no network and no local copy: random weights
    model = NeuroRVQTokenizerModel(tokenizer_preset("small"))
    model.init_weights(torch.Generator().manual_seed(0))
    weights = model.state_dict()
    published = False
print("weights:", "published" if published else "random (offline)")

# %%
# Tokenize
# --------
# Six EEGMAT subjects, the first ten 4 s windows of the rest and of the
# arithmetic recording of each. The recordings are at 500 Hz; the tokenizer
# resamples to 200 Hz, and its ``"authors"`` recipe applies the authors'
# notch and 0.5-44.5 Hz band-pass first.

epochs, y, subjects = load_eegmat(range(6), max_windows=10)
print(epochs)

tokenizer = NeuroRVQTokenizer(
    weights,
    recipe="authors",
    device="cpu",
    verbose=False,
)
tokens = tokenizer.fit_transform(epochs)
config = tokenizer.model_.config
n_channels, n_patches = len(tokenizer.ch_names_), tokenizer.n_patches_
tokens_5d = tokens.reshape(
    len(epochs), n_channels, n_patches, config.n_scales, config.n_levels
)
print(f"{tokens.shape[1]} tokens per epoch = {tokens_5d.shape[1:]}")

# %%
# Codebook usage
# --------------
# For every scale and level: the share of the codebook's codes used at least
# once in these epochs, and the perplexity, the number of equally likely
# codes that would give the same entropy. A codebook in which a few codes
# take most patches has a low perplexity.

fig = plot_codebook_usage(tokens_5d, n_code=config.n_code, show=False)

# %%
# Token maps
# ----------
# The codes of one epoch, channel by patch, for the first (coarsest) level of
# each scale. The colour is the code index: identical colours are identical
# codes.

fig = plot_token_map(tokens_5d[0], ch_names=tokenizer.ch_names_, level=0, show=False)
fig.suptitle(f"Epoch 0 ({y[0]}, subject {subjects[0]}): level 1 of every scale")

# %%
# Token histograms: rest vs arithmetic
# ------------------------------------
# :class:`~mne_neurorvq.decoding.TokenHistogram` counts, per scale and level,
# how often each code occurs in an epoch: a feature vector of fixed size
# whatever the montage and length. Here, only the first level, and the mean
# histogram of each condition.

histogram = TokenHistogram(
    n_codes=config.n_code,
    n_scales=config.n_scales,
    n_levels=config.n_levels,
    levels=[1],
)
features = histogram.fit_transform(tokens)
print(f"histogram features: {features.shape}")  # scales x 1 level x codes

fig, axes = plt.subplots(
    config.n_scales, 1, figsize=(9, 6), sharex=True, layout="constrained"
)
blocks = features.reshape(len(features), config.n_scales, config.n_code)
for scale, ax in enumerate(axes):
    for label, color in (("rest", "C0"), ("arithmetic", "C3")):
        ax.plot(
            blocks[y == label, scale].mean(axis=0),
            color=color,
            lw=0.8,
            label=label,
        )
    ax.set_ylabel(f"scale {scale + 1}\nshare")
axes[0].legend(ncols=2, fontsize="small")
axes[0].set_title("Mean level-1 token histogram per condition")
axes[-1].set_xlabel("code index")

# %%
# The histograms are features like any other: see
# :ref:`ex-embeddings` for a subject-independent classifier.
#
# **What the result means.** With the published tokenizer, codebook usage
# and the histogram differences reflect what the tokenizer learned from EEG.
# With random codes (when the published weights cannot be fetched, as where
# this gallery is built; see the output of the first cell) the figures show
# how to inspect tokens, and their differences between conditions only
# reflect the input's spectrum through a random projection.
print(
    "largest difference between the conditions' mean histograms:",
    np.abs(
        blocks[y == "rest"].mean(axis=0) - blocks[y == "arithmetic"].mean(axis=0)
    ).max(),
)
