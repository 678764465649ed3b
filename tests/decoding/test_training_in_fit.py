"""weights=None: the estimators learn their models in fit, without labels."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from mne_neurorvq.datasets import load_eegmat
from mne_neurorvq.decoding import NeuroRVQEmbedder, NeuroRVQTokenizer
from mne_neurorvq.nn import FoundationConfig, TokenizerConfig

TRAIN = {"epochs": 1, "batch_size": 16}


@pytest.fixture(scope="module")
def eegmat(data_path):
    return load_eegmat(
        [0, 1, 2],
        window=2.0,
        max_windows=4,
        path=data_path,
        download=False,
        verbose="error",
    )


def test_tokenizer_learns_its_codebooks(eegmat):
    epochs, _, _ = eegmat
    tok = NeuroRVQTokenizer(
        weights=None, config=TokenizerConfig.tiny(), train_params=TRAIN, random_state=0
    ).fit(epochs)
    assert tok.model_.config == TokenizerConfig.tiny()
    assert all(cb.is_initialized for q in tok.model_.quantizers for cb in q.codebooks())
    tokens = tok.transform(epochs)
    assert tokens.shape == (len(epochs), 19 * 2 * 4 * 2)
    # the same seed gives the same model; another seed another one
    again = NeuroRVQTokenizer(
        weights=None, config=TokenizerConfig.tiny(), train_params=TRAIN, random_state=0
    ).fit(epochs)
    np.testing.assert_array_equal(again.transform(epochs), tokens)
    assert clone(tok).get_params()["weights"] is None


def test_embedder_in_fold_pretraining(eegmat):
    epochs, y, groups = eegmat
    embedder = NeuroRVQEmbedder(
        weights=None,
        tokenizer_config=TokenizerConfig.tiny(),
        config=FoundationConfig.tiny(),
        train_params=TRAIN,
        random_state=0,
    )
    pipe = make_pipeline(embedder, LogisticRegression(max_iter=500))
    scores = cross_val_score(
        pipe, epochs, y, groups=groups, cv=GroupKFold(3), scoring="balanced_accuracy"
    )
    assert scores.shape == (3,)
    features = embedder.fit_transform(epochs)
    assert features.shape == (len(epochs), 800) and np.isfinite(features).all()
    assert not hasattr(embedder.model_, "head_pre_1")  # encoder only


def test_bad_train_params(eegmat):
    epochs, _, _ = eegmat
    with pytest.raises(TypeError, match="epoch"):
        NeuroRVQTokenizer(weights=None, train_params={"epoch": 1}).fit(epochs)
    with pytest.raises(TypeError, match="TokenizerConfig"):
        NeuroRVQTokenizer(weights=None, config={"n_code": 8}).fit(epochs)
