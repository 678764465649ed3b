"""Warnings of every public method point at the caller's line (this file)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from mne_neurorvq.decoding import NeuroRVQEmbedder, NeuroRVQTokenizer
from mne_neurorvq.nn import (
    FoundationConfig,
    NeuroRVQFoundation,
    NeuroRVQTokenizerModel,
    TokenizerConfig,
)
from mne_neurorvq.preprocessing import prepare_array

from ._synthetic import _epochs


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    tokenizer = NeuroRVQTokenizerModel(TokenizerConfig.tiny())
    tokenizer.init_weights(torch.Generator().manual_seed(0))
    foundation = NeuroRVQFoundation(config=FoundationConfig.tiny())
    foundation.init_weights(torch.Generator().manual_seed(0))
    torch.save(tokenizer.state_dict(), folder / "tok.pt")
    torch.save(foundation.state_dict(), folder / "fm.pt")
    return {"tokenizer": str(folder / "tok.pt"), "foundation": str(folder / "fm.pt")}


def _assert_here(record):
    assert len(record) >= 1
    for warning in record:
        assert warning.filename == __file__, (warning.filename, warning.message)


def test_fit_transform_and_transform(weights):
    odd = _epochs(n_seconds=2.2, sfreq=200.0)  # 40 samples beyond whole seconds
    loud = _epochs()
    loud._data *= 1e6  # built from microvolts: implausible in volts
    for est in (
        NeuroRVQTokenizer(weights["tokenizer"], device="cpu", verbose=False),
        NeuroRVQEmbedder(weights["foundation"], device="cpu", verbose=False),
    ):
        with pytest.warns(RuntimeWarning, match="Dropping the last") as record:
            est.fit_transform(odd)  # through scikit-learn's set_output wrapper
        _assert_here(record)
        with pytest.warns(RuntimeWarning, match="Dropping the last") as record:
            est.transform(odd)
        _assert_here(record)
        with pytest.warns(RuntimeWarning, match="read in uV") as record:
            est.fit(loud)
        _assert_here(record)


def test_pipeline_and_unknown_channels(weights):
    epochs = _epochs(names=["Fp1", "Cz", "XYZ", "ECG"])
    y = np.array([0, 1, 0])
    pipe = make_pipeline(
        NeuroRVQEmbedder(
            weights["foundation"], on_unknown="warn", device="cpu", verbose=False
        ),
        LogisticRegression(),
    )
    with pytest.warns(RuntimeWarning, match="XYZ") as record:
        pipe.fit(epochs, y)
    _assert_here(record)


def test_preprocessing_functions():
    data = 20.0 * np.random.default_rng(0).standard_normal((2, 2, 400))
    with pytest.warns(RuntimeWarning, match="pass units='uV'") as record:
        prepare_array(data, 200.0, units="V", verbose=False)
    _assert_here(record)
