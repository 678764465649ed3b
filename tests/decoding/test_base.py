"""The input contract shared by NeuroRVQTokenizer and NeuroRVQEmbedder."""

from __future__ import annotations

import pickle
import subprocess
import sys

import mne
import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted

import mne_neurorvq.decoding as decoding
from mne_neurorvq.channels import CHANNEL_VOCABULARY
from mne_neurorvq.decoding import NeuroRVQEmbedder, NeuroRVQTokenizer
from mne_neurorvq.nn import (
    FoundationConfig,
    NeuroRVQFoundation,
    NeuroRVQTokenizerModel,
    TokenizerConfig,
)
from mne_neurorvq.preprocessing import PreprocessingSteps

from .._near_ties import assert_tokens_equal_outside_near_ties, token_gaps
from ._synthetic import _prepared

NAMES = ["Fp1", "Cz", "O1", "ECG"]
TYPES = ["eeg", "eeg", "eeg", "ecg"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Paths of tiny random tokenizer and foundation checkpoints."""
    folder = tmp_path_factory.mktemp("weights")
    tokenizer = NeuroRVQTokenizerModel(TokenizerConfig.tiny())
    tokenizer.init_weights(torch.Generator().manual_seed(0))
    foundation = NeuroRVQFoundation(config=FoundationConfig.tiny())
    foundation.init_weights(torch.Generator().manual_seed(0))
    paths = {"tokenizer": folder / "tok.pt", "foundation": folder / "fm.pt"}
    torch.save(tokenizer.state_dict(), paths["tokenizer"])
    torch.save(foundation.state_dict(), paths["foundation"])
    return {key: str(path) for key, path in paths.items()}


def _estimators(weights, **kwargs):
    kwargs.setdefault("device", "cpu")
    kwargs.setdefault("verbose", False)
    return [
        NeuroRVQTokenizer(weights["tokenizer"], **kwargs),
        NeuroRVQEmbedder(weights["foundation"], **kwargs),
    ]


def _data(n_epochs=4, n_channels=4, n_times=1000, scale=2e-5, seed=0):
    rng = np.random.default_rng(seed)
    return scale * rng.standard_normal((n_epochs, n_channels, n_times))


def _epochs(data=None, names=NAMES, types=TYPES, sfreq=250.0):
    data = _data() if data is None else data
    info = mne.create_info(list(names), sfreq, list(types))
    return mne.EpochsArray(data, info, verbose=False)


# ---------------------------------------------------------------- equivalence


@pytest.mark.parametrize("kind", ["tokenizer", "embedder"])
def test_epochs_list_and_array_give_the_same_output(weights, kind):
    est = _estimators(weights)[kind == "embedder"]
    data = _data()
    epochs = _epochs(data)
    expected = clone(est).fit_transform(epochs)
    from_list = (
        clone(est)
        .fit([epochs[i] for i in range(2)])
        .transform([epochs[i] for i in range(len(epochs))])
    )
    np.testing.assert_array_equal(from_list, expected)
    from_array = clone(est).set_params(ch_names=NAMES, sfreq=250.0, units="V")
    # the ECG channel is typed 'eeg' in an array but its name is unknown
    np.testing.assert_array_equal(from_array.fit_transform(data), expected)
    in_uv = clone(from_array).set_params(units="uV").fit_transform(data * 1e6)
    np.testing.assert_allclose(in_uv, expected, rtol=1e-5, atol=1e-6)


def test_fitted_attributes(weights):
    for est in _estimators(weights, recipe="authors"):
        assert not hasattr(est, "model_")
        est.fit(_epochs())
        assert est.ch_names_ == ["Fp1", "Cz", "O1"]
        expected_idx = [CHANNEL_VOCABULARY.index(n) for n in ("fp1", "cz", "o1")]
        assert est.input_chans_.tolist() == expected_idx
        assert est.input_chans_.dtype == np.int64
        assert est.picks_.tolist() == [0, 1, 2]
        assert est.input_ch_names_ == NAMES
        assert est.n_features_in_ == 4
        assert est.sfreq_ == 250.0
        assert est.n_patches_ == 4
        assert est.windows_ == [(0, 4)]
        assert est.device_ == torch.device("cpu")
        assert isinstance(est.preprocessing_, PreprocessingSteps)
        assert est.preprocessing_.recipe == "authors"
        assert est.preprocessing_.clip == 500.0
        assert est.preprocessing_.target_sfreq == 200.0
        assert "get_data(units='uV')" in est.preprocessing_.operations[0]
        assert any("resample 250" in op for op in est.preprocessing_.operations)
        assert not est.model_.training
        check_is_fitted(est)


def test_bad_channels_are_not_used(weights):
    epochs = _epochs()
    epochs.info["bads"] = ["Cz"]
    for est in _estimators(weights):
        est.fit(epochs)
        assert est.ch_names_ == ["Fp1", "O1"]
        assert est.picks_.tolist() == [0, 2]
        assert est.n_features_in_ == 4
        good = epochs.copy()
        good.info["bads"] = []
        est.transform(good)  # same channels, Cz unused
        refit = clone(est).fit(good)
        assert refit.ch_names_ == ["Fp1", "Cz", "O1"]
        bad_again = epochs.copy()
        bad_again.info["bads"] = ["Fp1"]
        with pytest.raises(ValueError, match="marked bad in X but were used in fit"):
            est.transform(bad_again)


def test_2d_array_is_one_channel(weights):
    data = _data(n_channels=1)
    for est in _estimators(weights, ch_names=["Cz"], sfreq=250.0):
        out_2d = clone(est).fit_transform(data[:, 0])
        out_3d = clone(est).fit_transform(data)
        np.testing.assert_array_equal(out_2d, out_3d)
        assert est.fit(data[:, 0]).n_features_in_ == 1
        with pytest.raises(ValueError, match="read as one channel"):
            clone(est).set_params(ch_names=["Cz", "Pz"]).fit(data[:, 0])


def test_longer_or_odd_epochs(weights):
    """Epoch lengths that are not whole seconds lose their last fraction."""
    data = _data(n_times=300)  # 1.2 s at 250 Hz -> 240 samples at 200 Hz
    tokenizer, embedder = _estimators(weights, ch_names=NAMES, sfreq=250.0)
    with pytest.warns(RuntimeWarning, match="Dropping the last 40 samples"):
        assert embedder.fit_transform(data).shape == (4, 800)
    assert embedder.n_patches_ == 1
    # the embedder accepts another length at transform, the tokenizer does not
    with pytest.warns(RuntimeWarning, match="Dropping"):
        assert embedder.transform(_data(n_times=800)).shape == (4, 800)
    tokenizer.fit(_data(n_times=1000))
    with pytest.raises(ValueError, match="fitted on epochs of 4 patches"):
        tokenizer.transform(_data(n_times=500))


# ---------------------------------------------------------------- errors


def _array_est(est):
    return clone(est).set_params(ch_names=NAMES, sfreq=250.0)


@pytest.mark.parametrize(
    ("make_X", "params", "error", "match"),
    [
        (
            lambda: np.where(np.arange(4)[:, None, None] == 1, np.nan, _data()),
            {},
            ValueError,
            r"NaN or infinity .* epochs \[1\]",
        ),
        (
            lambda: np.where(np.arange(1000) == 3, np.inf, _data()),
            {},
            ValueError,
            "NaN or infinity",
        ),
        (
            lambda: _data(n_channels=2),
            {"ch_names": ["EKG", "foo"]},
            ValueError,
            "None of the channels matches the NeuroRVQ channel vocabulary",
        ),
        (
            lambda: _data(n_channels=2),
            {"ch_names": ["Cz", "EEG Cz"]},
            ValueError,
            "both map to 'cz'",
        ),
        (
            lambda: _data(n_times=200),
            {},
            ValueError,
            r"at least 1 s .* got 200 samples at 250 Hz \(0.8 s\)",
        ),
        (lambda: _data(), {"sfreq": None}, ValueError, "pass sfreq to the estimator"),
        (
            lambda: _data(),
            {"ch_names": None},
            ValueError,
            "pass ch_names to the estimator",
        ),
        (
            lambda: _data(),
            {"ch_names": None, "sfreq": None},
            ValueError,
            "pass ch_names and sfreq",
        ),
        (
            lambda: (_data() * 1e6).astype(np.int64),
            {},
            ValueError,
            "dtype int64; NeuroRVQ expects floating-point EEG",
        ),
        (lambda: _data().astype(complex), {}, ValueError, "Complex data not supported"),
        (lambda: _data()[0, 0], {}, ValueError, "Reshape your data"),
        (
            lambda: _data()[..., None],
            {},
            ValueError,
            r"got an array of shape .* \(4-D\)",
        ),
        (lambda: _data()[:0], {}, ValueError, r"0 sample\(s\)"),
        (lambda: _data()[:, :, :0], {}, ValueError, r"0 feature\(s\)"),
        (
            lambda: _data(),
            {"ch_names": NAMES[:3]},
            ValueError,
            "ch_names has 3 names but X has 4 channel",
        ),
        (
            lambda: sparse.csr_matrix(_data()[:, 0]),
            {},
            TypeError,
            "Sparse input is not supported",
        ),
        (lambda: "data.fif", {}, TypeError, "got str"),
        (lambda: _data(), {"units": "nV"}, ValueError, "Invalid value for the 'units'"),
        (lambda: _data(), {"recipe": "fancy"}, ValueError, "'recipe' parameter"),
        (lambda: _data(), {"precision": "fp16"}, ValueError, "'precision' parameter"),
        (lambda: _data(), {"batch_size": 0}, ValueError, "batch_size must be a pos"),
        (lambda: _data(), {"clip": -1.0}, ValueError, "clip must be a positive"),
        (lambda: _data(), {"device": "gpu"}, ValueError, "device must be 'auto'"),
        (lambda: _data(), {"weights": 3}, TypeError, "weights must be an instance"),
        (
            lambda: _data(),
            {"on_unknown": "raise", "ch_names": ["Cz", "Fp1", "O1", "X"]},
            ValueError,
            r"not in the NeuroRVQ channel vocabulary .*\['X'\]",
        ),
    ],
)
def test_bad_input_errors(weights, make_X, params, error, match):
    for est in _estimators(weights):
        est = _array_est(est).set_params(**params)
        with pytest.raises(error, match=match):
            est.fit(make_X())


def test_missing_weights_file(weights, tmp_path):
    for est in _estimators(weights):
        with pytest.raises(FileNotFoundError, match="nope.pt"):
            est.set_params(weights=str(tmp_path / "nope.pt")).fit(_epochs())


def test_wrong_kind_of_weights(weights):
    tokenizer, embedder = _estimators(weights)
    with pytest.raises(ValueError, match="cannot be loaded as a NeuroRVQ tokenizer"):
        tokenizer.set_params(weights=weights["foundation"]).fit(_epochs())
    with pytest.raises(ValueError, match="as a NeuroRVQ foundation model"):
        embedder.set_params(weights=weights["tokenizer"]).fit(_epochs())
    # published names are checked before anything is fetched
    with pytest.raises(ValueError, match="needs tokenizer weights: 'neurorvq-eeg-tok"):
        tokenizer.set_params(weights="neurorvq-eeg-foundation-v1").fit(_epochs())
    with pytest.raises(ValueError, match="are published tokenizer weights, but Neu"):
        embedder.set_params(weights="neurorvq-eeg-tokenizer-v1").fit(_epochs())


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device(weights):
    for est in _estimators(weights, device="cuda"):
        with pytest.raises(ValueError, match="'cuda' is not available"):
            est.fit(_epochs())
    for est in _estimators(weights, device="auto"):
        assert est.fit(_epochs()).device_ == torch.device("cpu")


def test_other_channels_at_transform(weights):
    for est in _estimators(weights):
        est.fit(_epochs())
        with pytest.raises(
            ValueError, match=r"X has 3 features, but \w+ is expecting 4"
        ):
            est.transform(_epochs(_data(n_channels=3), NAMES[:3], TYPES[:3]))
        renamed = ["Fp1", "Cz", "O2", "ECG"]
        with pytest.raises(ValueError, match=r"missing \['O1'\], unexpected \['O2'\]"):
            est.transform(_epochs(names=renamed))
        reordered = ["Cz", "Fp1", "O1", "ECG"]
        with pytest.raises(ValueError, match="same names in another order"):
            est.transform(_epochs(names=reordered))
        with pytest.raises(ValueError, match="pass ch_names and sfreq"):
            est.transform(_data())


def test_list_of_epochs_must_agree(weights):
    epochs = _epochs()
    other = _epochs(sfreq=500.0)
    renamed = _epochs(names=["Fp1", "Cz", "O2", "ECG"])
    for est in _estimators(weights):
        with pytest.raises(ValueError, match=r"X\[1\] has 4 channels at 500 Hz"):
            est.fit([epochs[0], other[0]])
        with pytest.raises(ValueError, match=r"same channels .* X\[2\]"):
            est.fit([epochs[0], epochs[1], renamed[0]])
        with pytest.raises(TypeError, match="mixing"):
            est.fit([epochs[0], _data()[0]])


def test_amplitude_warnings(weights):
    data = _data()
    for est in _estimators(weights, ch_names=NAMES, sfreq=250.0):
        with pytest.warns(RuntimeWarning, match="With units='uV'.*pass units='V'"):
            est.set_params(units="uV").fit(data)
        with pytest.warns(RuntimeWarning, match="With units='V'.*pass units='uV'"):
            clone(est).set_params(units="V").fit_transform(data * 1e6)
        # Epochs built from data in uV: the advice is about the Epochs, not units
        with pytest.warns(RuntimeWarning, match="Epochs' data, read in uV") as record:
            clone(est).fit_transform(_epochs(data * 1e6))
        assert not any("pass units" in str(w.message) for w in record)


# ---------------------------------------------------------------- sklearn API


def test_not_fitted_and_clone(weights):
    for est in _estimators(weights):
        with pytest.raises(NotFittedError):
            est.transform(_epochs())
        with pytest.raises(NotFittedError):
            est.get_feature_names_out()
        with pytest.raises(NotFittedError):
            check_is_fitted(est)
        est.fit(_epochs())
        fresh = clone(est)
        assert not hasattr(fresh, "model_")
        assert fresh.get_params() == est.get_params()
        # refitting a clone on another montage re-infers the channels
        other = ["Fz", "Pz", "Oz", "ECG"]
        assert clone(est).fit(_epochs(names=other)).ch_names_ == other[:3]


def test_pickle_round_trip(weights):
    epochs = _epochs()
    for est in _estimators(weights):
        expected = est.fit_transform(epochs)
        state = est.__getstate__()
        assert "model_" not in state
        tensors = state["_model_state"]["state_dict"].values()
        assert all(t.device.type == "cpu" for t in tensors)
        assert hasattr(est, "model_")  # __getstate__ does not touch the estimator
        restored = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(restored.transform(epochs), expected)
        assert restored.device_ == torch.device("cpu")


def test_pickle_from_gpu_restores_on_cpu(weights, monkeypatch):
    """A model fitted on CUDA unpickles on a CPU-only machine."""
    epochs = _epochs()
    for est in _estimators(weights):
        expected = est.fit_transform(epochs)
        # simulate a fit on CUDA: __getstate__ moves every tensor to the CPU
        # whatever its device, so only device_ tells where it was fitted
        est.device_ = torch.device("cuda:0")
        payload = pickle.dumps(est)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        with pytest.warns(RuntimeWarning, match="fitted on cuda:0, which is not"):
            restored = pickle.loads(payload)
        monkeypatch.undo()
        assert restored.device_ == torch.device("cpu")
        assert next(restored.model_.parameters()).device.type == "cpu"
        np.testing.assert_array_equal(restored.transform(epochs), expected)


def test_set_output_pandas(weights):
    pd = pytest.importorskip("pandas")
    epochs = _epochs()
    for est in _estimators(weights):
        out = est.set_output(transform="pandas").fit_transform(epochs)
        assert isinstance(out, pd.DataFrame)
        assert list(out.columns) == list(est.get_feature_names_out())
        assert isinstance(est.transform(epochs), pd.DataFrame)


def test_grid_search_over_a_parameter(weights):
    data = _data(n_epochs=8)
    data[::2] *= 3  # two classes with different amplitudes
    y = np.tile([0, 1], 4)
    embedder = _estimators(weights, ch_names=NAMES, sfreq=250.0)[1]
    pipe = make_pipeline(embedder, LogisticRegression(max_iter=1000))
    search = GridSearchCV(
        pipe,
        {"neurorvqembedder__pooling": ["mean", "scale"]},
        cv=KFold(2),
        error_score="raise",
    )
    search.fit(data, y)
    assert search.best_params_["neurorvqembedder__pooling"] in ("mean", "scale")
    assert search.best_estimator_[0].n_features_out_ == 800


def test_progress_bar_and_batches(weights, capsys):
    """Batches of 2 or 32: the same output (tokens: outside near ties)."""
    epochs = _epochs(_data(n_epochs=5))
    for est in _estimators(weights, batch_size=2):
        expected = clone(est).set_params(batch_size=32).fit_transform(epochs)
        est.set_params(verbose=True)
        got = est.fit_transform(epochs)
        if isinstance(est, NeuroRVQTokenizer):
            x = _prepared(epochs, est.picks_)
            chans = torch.as_tensor(est.input_chans_)
            gaps = token_gaps(est.model_, x, chans)
            assert_tokens_equal_outside_near_ties(
                got, expected.reshape(gaps.shape), gaps
            )
        else:
            np.testing.assert_allclose(got, expected, atol=1e-5)
        err = capsys.readouterr().err
        assert f"{type(est).__name__}:" in err and "3/3" in err
        est.set_params(verbose="error").transform(epochs)
        assert f"{type(est).__name__}:" not in capsys.readouterr().err


def test_estimators_print_nothing_by_default(weights, capsys):
    """No MNE message per batch (resampling 250 -> 200 Hz), no bar on a pipe.

    What remains is the estimator's own line on the channels it leaves out.
    """
    epochs = _epochs(_data(n_epochs=5))
    for est in _estimators(weights, batch_size=2, verbose=None):
        est.fit_transform(epochs)
        printed = capsys.readouterr()
        assert printed.out.splitlines() == [
            "NeuroRVQ: not using 1 channel(s): 'ECG': not an EEG channel (type 'ecg')."
        ]
        assert printed.err == ""
        est.set_params(verbose="info").transform(epochs)
        assert "Resampling from 250" in capsys.readouterr().out


def test_tags(weights):
    for est in _estimators(weights):
        tags = est.__sklearn_tags__()
        assert tags.input_tags.two_d_array and tags.input_tags.three_d_array
        assert not tags.input_tags.allow_nan
        assert tags.requires_fit and not tags.target_tags.required


def test_decoding_import_is_light():
    code = (
        "import sys, mne_neurorvq.decoding as d; "
        "assert 'braindecode' not in sys.modules, 'braindecode imported'; "
        "assert 'NeuroRVQClassifier' in dir(d)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        decoding.Nope  # noqa: B018


def test_parity_fixture_weights_load(parity_path):
    tokenizer = NeuroRVQTokenizer(
        str(parity_path / "tokenizer_state_dict.pt"), device="cpu", verbose=False
    )
    embedder = NeuroRVQEmbedder(
        str(parity_path / "foundation_model_state_dict.pt"), device="cpu", verbose=False
    )
    epochs = _epochs()
    assert tokenizer.fit_transform(epochs).shape == (4, 3 * 4 * 4 * 8)
    assert tokenizer.model_.config.n_code == 256
    assert embedder.fit_transform(epochs).shape == (4, 800)


# ---------------------------------------------------------------- real data


def test_eegbci_epochs_and_array_give_the_same_features(data_path, parity_path):
    """eegmmidb S001 R04: 64 channels at 160 Hz with BCI2000 names."""
    (fname,) = mne.datasets.eegbci.load_data(
        subjects=1, runs=[4], path=str(data_path), update_path=False, verbose=False
    )
    raw = mne.io.read_raw_edf(fname, preload=True, verbose=False).crop(0, 40)
    epochs = mne.make_fixed_length_epochs(
        raw, duration=4.0, preload=True, verbose=False
    )
    epochs = epochs[:6]
    assert len(epochs.ch_names) == 64 and epochs.info["sfreq"] == 160.0
    array = epochs.get_data()
    kwargs = dict(device="cpu", verbose=False)
    for est in (
        NeuroRVQTokenizer(str(parity_path / "tokenizer_state_dict.pt"), **kwargs),
        NeuroRVQEmbedder(str(parity_path / "foundation_model_state_dict.pt"), **kwargs),
    ):
        from_epochs = est.fit_transform(epochs)
        assert len(est.ch_names_) == 64 and est.windows_ == [(0, 4)]
        assert est.ch_names_[0] == "Fc5."
        assert CHANNEL_VOCABULARY[est.input_chans_[0]] == "fc5"
        from_array = clone(est).set_params(
            ch_names=epochs.ch_names, sfreq=160.0, units="V"
        )
        from_array = from_array.fit_transform(array)
        np.testing.assert_array_equal(from_array, from_epochs)
