"""NeuroRVQEmbedder."""

from __future__ import annotations

import mne
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from mne_neurorvq.decoding import NeuroRVQEmbedder
from mne_neurorvq.nn import FoundationConfig, NeuroRVQFoundation

from ._synthetic import NAMES_1020, _epochs, _prepared


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    model = NeuroRVQFoundation(config=FoundationConfig.tiny())
    model.init_weights(torch.Generator().manual_seed(0))
    path = tmp_path_factory.mktemp("weights") / "foundation.pt"
    torch.save(model.state_dict(), path)
    return str(path)


def _embedder(weights, **kwargs):
    return NeuroRVQEmbedder(weights, device="cpu", verbose=False, **kwargs)


def test_mean_pooling_is_the_published_embedding(tiny_weights):
    epochs = _epochs()
    embedder = _embedder(tiny_weights)
    embeddings = embedder.fit_transform(epochs)
    assert embeddings.dtype == np.float32 and embeddings.shape == (3, 800)
    assert embedder.embedding_dim_ == embedder.n_features_out_ == 800
    with torch.inference_mode():
        expected = embedder.model_.embed(
            _prepared(epochs, [0, 1, 2]), torch.as_tensor(embedder.input_chans_)
        )
    np.testing.assert_allclose(embeddings, expected.numpy(), rtol=1e-5, atol=1e-6)
    names = embedder.get_feature_names_out()
    assert (
        names[0] == "neurorvqembedder_s1_d0" and names[200] == "neurorvqembedder_s2_d0"
    )
    assert names[-1] == "neurorvqembedder_s4_d199" and len(names) == 800


def test_scale_and_channel_pooling(tiny_weights):
    epochs = _epochs()
    mean = _embedder(tiny_weights).fit_transform(epochs)
    scale_embedder = _embedder(tiny_weights, pooling="scale")
    scale = scale_embedder.fit_transform(epochs)
    assert scale.shape == (3, 800)
    assert scale_embedder.get_feature_names_out()[0] == "neurorvqembedder_s1_d0"
    # the published embedding is the LayerNorm (weight 1, bias 0) of "scale"
    normed = F.layer_norm(torch.from_numpy(scale), (800,)).numpy()
    np.testing.assert_allclose(normed, mean, rtol=1e-4, atol=1e-5)
    channel_embedder = _embedder(tiny_weights, pooling="channel")
    channel = channel_embedder.fit_transform(epochs)
    assert channel.shape == (3, 3 * 800) == (3, channel_embedder.n_features_out_)
    names = channel_embedder.get_feature_names_out()
    assert names[0] == "neurorvqembedder_fp1_s1_d0"
    assert names[800] == "neurorvqembedder_cz_s1_d0"
    # each channel block is standardised like the published embedding
    blocks = channel.reshape(3, 3, 800)
    np.testing.assert_allclose(blocks.mean(-1), 0, atol=1e-4)
    # with a single channel, the channel embedding is the published one
    one = _epochs(names=["Cz"], types=["eeg"])
    np.testing.assert_allclose(
        _embedder(tiny_weights, pooling="channel").fit_transform(one),
        _embedder(tiny_weights).fit_transform(one),
        rtol=1e-5,
        atol=1e-6,
    )


def test_embedding_does_not_depend_on_the_batch(tiny_weights):
    epochs = _epochs(n_epochs=6)
    embedder = _embedder(tiny_weights, batch_size=4).fit(epochs)
    full = embedder.transform(epochs)
    for index in (0, 5):
        alone = embedder.transform(epochs[index])
        np.testing.assert_allclose(alone[0], full[index], rtol=1e-4, atol=1e-5)
    order = np.array([3, 0, 5, 1, 4, 2])
    shuffled = embedder.set_params(batch_size=2).transform(epochs[order])
    np.testing.assert_allclose(shuffled, full[order], rtol=1e-4, atol=1e-5)
    # other epochs in the batch (different amplitudes) change nothing
    mixed = _epochs(n_epochs=3, seed=1)
    mixed_data = np.concatenate([mixed.get_data() * 5, epochs.get_data()[:1]])
    together = embedder.transform(
        mne.EpochsArray(mixed_data, epochs.info, verbose=False)
    )
    np.testing.assert_allclose(together[-1], full[0], rtol=1e-4, atol=1e-5)


def test_long_epochs_average_the_windows(tiny_weights):
    """30 s of 19 channels: 3 windows of 10 s; token means combined, then normed."""
    epochs = _epochs(
        n_epochs=1, n_seconds=30, names=NAMES_1020, types=["eeg"] * 19, sfreq=200.0
    )
    for pooling in ("mean", "channel"):
        embedder = _embedder(tiny_weights, pooling=pooling)
        embeddings = embedder.fit_transform(epochs)
        assert embedder.windows_ == [(0, 10), (10, 20), (20, 30)]
        data = torch.from_numpy(epochs.get_data(units="uV").astype(np.float32))
        chan_idx = torch.as_tensor(embedder.input_chans_)
        with torch.inference_mode():
            windows = [
                embedder._pooled(data[:, :, start * 200 : stop * 200], chan_idx)
                for start, stop in embedder.windows_
            ]
            expected = embedder._normalise(torch.stack(windows).mean(0)).numpy()
        np.testing.assert_allclose(embeddings, expected, rtol=1e-4, atol=1e-5)
    # unequal windows are weighted by their number of patches (15 s -> 8 and 7),
    # which is exactly the torch model's own windowed embedding
    epochs = _epochs(
        n_epochs=1, n_seconds=15, names=NAMES_1020, types=["eeg"] * 19, sfreq=200.0
    )
    embedder = _embedder(tiny_weights)
    embedding = embedder.fit_transform(epochs)
    assert embedder.windows_ == [(0, 8), (8, 15)]
    data = torch.from_numpy(epochs.get_data(units="uV").astype(np.float32))
    chan_idx = torch.as_tensor(embedder.input_chans_)
    with torch.inference_mode():
        first = embedder.model_.pool(
            embedder.model_.forward_features(data[:, :, :1600], chan_idx)
        )
        second = embedder.model_.pool(
            embedder.model_.forward_features(data[:, :, 1600:], chan_idx)
        )
        expected = embedder.model_.fc_norm((8 * first + 7 * second) / 15).numpy()
        whole = embedder.model_.embed(data, chan_idx).numpy()
    np.testing.assert_allclose(embedding, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(embedding, whole, rtol=1e-4, atol=1e-5)


def test_bf16_precision(tiny_weights):
    epochs = _epochs()
    embeddings = _embedder(tiny_weights).fit_transform(epochs)
    bf16 = _embedder(tiny_weights, precision="bf16").fit_transform(epochs)
    assert bf16.dtype == np.float32 and bf16.shape == embeddings.shape
    similarity = F.cosine_similarity(
        torch.from_numpy(bf16), torch.from_numpy(embeddings), dim=1
    )
    assert similarity.min() > 0.98


def test_wrong_pooling(tiny_weights):
    with pytest.raises(ValueError, match="'pooling' parameter"):
        _embedder(tiny_weights, pooling="max").fit(_epochs())


# --------------------------------------------------------------- real data


def _eegmat_epochs(data_path, n_subjects=6, n_windows=6):
    """4 s windows of rest (0) and arithmetic (1), with the subject as group."""
    data, labels, groups, info = [], [], [], None
    for subject in range(n_subjects):
        for label in (0, 1):
            fname = data_path / "eegmat" / f"Subject{subject:02d}_{label + 1}.edf"
            raw = mne.io.read_raw_edf(fname, preload=False, verbose=False)
            raw.crop(0, 4.0 * n_windows).load_data(verbose=False)
            windows = mne.make_fixed_length_epochs(
                raw, duration=4.0, preload=True, verbose=False
            )[:n_windows]
            data.append(windows.get_data())
            info = windows.info if info is None else info
            labels += [label] * len(windows)
            groups += [subject] * len(windows)
    epochs = mne.EpochsArray(np.concatenate(data), info, verbose=False)
    return epochs, np.array(labels), np.array(groups)


def test_eegmat_cross_validation(data_path, parity_path):
    epochs, y, groups = _eegmat_epochs(data_path)
    embedder = NeuroRVQEmbedder(
        str(parity_path / "foundation_model_state_dict.pt"),
        device="cpu",
        batch_size=256,
        verbose=False,
    )
    pipe = make_pipeline(embedder, LogisticRegression(max_iter=2000))
    scores = cross_val_score(
        pipe,
        epochs,
        y,
        groups=groups,
        cv=GroupKFold(3),
        scoring="balanced_accuracy",
        error_score="raise",
    )
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    # what cross-validation hands over: a list of one-epoch Epochs
    fitted = clone(embedder).fit(epochs)
    as_list = fitted.transform([epochs[i] for i in range(10)])
    np.testing.assert_array_equal(as_list, fitted.transform(epochs[:10]))
