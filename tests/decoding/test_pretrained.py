"""save_pretrained / from_pretrained of the estimators (no pickle)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from mne_neurorvq.decoding import NeuroRVQEmbedder, NeuroRVQTokenizer
from mne_neurorvq.nn import FoundationConfig, TokenizerConfig
from mne_neurorvq.nn.checkpoints import CheckpointError

from ._synthetic import NAMES_1020, _epochs

pytestmark = pytest.mark.filterwarnings(
    "ignore:Montage name 'standard_1020' is deprecated:FutureWarning"
)


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.slow
def test_classifier_round_trip(tmp_path):
    with warnings.catch_warnings():  # braindecode's import-time warnings
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        pytest.importorskip("braindecode")
        from mne_neurorvq.decoding import NeuroRVQClassifier

    epochs = _epochs(n_epochs=8, n_seconds=2, names=NAMES_1020, types=["eeg"] * 19)
    y = np.array(["rest", "task"] * 4)
    clf = NeuroRVQClassifier(
        weights=None,
        config=FoundationConfig.tiny(),
        max_epochs=1,
        batch_size=4,
        random_state=0,
        verbose=0,
    ).fit(epochs, y)
    folder = clf.save_pretrained(tmp_path / "clf")
    assert _files(folder) == ["config.json", "model.safetensors"]  # no pickle
    config = json.loads((folder / "config.json").read_text())
    assert config["estimator"] == "NeuroRVQClassifier"
    assert config["fitted"]["classes"] == ["rest", "task"]
    assert config["fitted"]["ch_names_"] == NAMES_1020
    assert config["params"]["config"]["depth"] == 1
    assert config["fitted"]["preprocessing"]["target_sfreq"] == 200.0
    restored = NeuroRVQClassifier.from_pretrained(folder)
    np.testing.assert_array_equal(restored.predict(epochs), clf.predict(epochs))
    np.testing.assert_array_equal(
        restored.predict_proba(epochs), clf.predict_proba(epochs)
    )
    assert restored.classes_.dtype == clf.classes_.dtype
    assert restored.preprocessing_ == clf.preprocessing_
    assert restored.get_params()["max_epochs"] == 1
    # and it can be fitted again, as any classifier
    restored.fit(epochs, y)
    model_only = restored.module_.save_pretrained(tmp_path / "model-only")
    with pytest.raises(CheckpointError, match="no fitted estimator, not a Neuro"):
        NeuroRVQClassifier.from_pretrained(model_only)
    with pytest.raises(FileNotFoundError, match="No model.safetensors"):
        NeuroRVQClassifier.from_pretrained(tmp_path)


def test_transformer_trained_in_fit_round_trip(tmp_path):
    epochs = _epochs(n_epochs=4, n_seconds=2)
    tokenizer = NeuroRVQTokenizer(
        weights=None,
        config=TokenizerConfig.tiny(),
        train_params={"epochs": 1},
        device="cpu",
        verbose=False,
    )
    tokens = tokenizer.fit_transform(epochs)
    folder = tokenizer.save_pretrained(tmp_path / "tok")
    assert _files(folder) == ["config.json", "model.safetensors"]
    restored = NeuroRVQTokenizer.from_pretrained(folder)
    assert restored.weights == str(folder) and restored.train_params == {"epochs": 1}
    np.testing.assert_array_equal(restored.fit_transform(epochs), tokens)
    with pytest.raises(CheckpointError, match="holds a NeuroRVQTokenizer, not a"):
        NeuroRVQEmbedder.from_pretrained(folder)


def test_embedder_accepts_a_braindecode_layout_folder(tmp_path):
    from mne_neurorvq.nn import NeuroRVQFoundation

    model = NeuroRVQFoundation(config=FoundationConfig.tiny())
    model.init_weights(torch.Generator().manual_seed(0))
    torch.save(model.state_dict(), tmp_path / "fm.pt")
    model.save_pretrained(tmp_path / "bd", layout="braindecode")
    epochs = _epochs(n_epochs=2, n_seconds=2)
    kwargs = dict(device="cpu", verbose=False)
    np.testing.assert_array_equal(
        NeuroRVQEmbedder(tmp_path / "bd", **kwargs).fit_transform(epochs),
        NeuroRVQEmbedder(str(tmp_path / "fm.pt"), **kwargs).fit_transform(epochs),
    )
