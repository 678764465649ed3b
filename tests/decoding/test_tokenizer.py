"""NeuroRVQTokenizer and TokenHistogram."""

from __future__ import annotations

import mne
import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from mne_neurorvq.decoding import NeuroRVQTokenizer, TokenHistogram
from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig

from .._near_ties import assert_tokens_equal_outside_near_ties, token_gaps
from ._synthetic import NAMES, NAMES_1020, _epochs, _prepared


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    model = NeuroRVQTokenizerModel(TokenizerConfig.tiny())
    model.init_weights(torch.Generator().manual_seed(0))
    path = tmp_path_factory.mktemp("weights") / "tokenizer.pt"
    torch.save(model.state_dict(), path)
    return str(path)


def _tokenizer(weights, **kwargs):
    return NeuroRVQTokenizer(weights, device="cpu", verbose=False, **kwargs)


def test_tokens_match_the_model(tiny_weights):
    epochs = _epochs()
    tokenizer = _tokenizer(tiny_weights)
    tokens = tokenizer.fit_transform(epochs)
    config = tokenizer.model_.config
    assert tokens.dtype == np.int64
    assert tokens.shape == (3, 3 * 4 * config.n_scales * config.n_levels)
    assert tokenizer.n_tokens_ == tokens.shape[1]
    with torch.inference_mode():
        expected = tokenizer.model_.tokenize(
            _prepared(epochs, [0, 1, 2]), torch.as_tensor(tokenizer.input_chans_)
        )
    np.testing.assert_array_equal(tokens, expected.reshape(3, -1).numpy())
    assert tokens.min() >= 0 and tokens.max() < config.n_code
    # fit then transform equals fit_transform; the tokenizer is deterministic
    np.testing.assert_array_equal(
        clone(tokenizer).fit(epochs).transform(epochs), tokens
    )


def test_feature_names(tiny_weights):
    tokenizer = _tokenizer(tiny_weights).fit(_epochs())
    names = tokenizer.get_feature_names_out()
    assert len(names) == tokenizer.n_tokens_ == 3 * 4 * 4 * 2
    assert names[:3].tolist() == ["fp1_p0_s1_q1", "fp1_p0_s1_q2", "fp1_p0_s2_q1"]
    assert names[8] == "fp1_p1_s1_q1"
    assert names[-1] == "o1_p3_s4_q2"
    assert len(set(names)) == len(names)
    codes = _tokenizer(tiny_weights, output="codes").fit(_epochs())
    code_names = codes.get_feature_names_out()
    assert code_names[0] == "fp1_p0_s1_c0"
    assert len(code_names) == codes.n_tokens_ == 3 * 4 * 4 * 16


def test_codes_output(tiny_weights):
    epochs = _epochs()
    tokenizer = _tokenizer(tiny_weights).fit(epochs)
    tokens = tokenizer.transform(epochs)
    codes = _tokenizer(tiny_weights, output="codes").fit_transform(epochs)
    assert codes.dtype == np.float32
    assert codes.shape == (3, 3 * 4 * 4 * 16)
    with torch.inference_mode():
        lookup = tokenizer.model_.lookup_tokens(
            torch.from_numpy(tokens).reshape(3, 3, 4, 4, 2)
        )
    expected = lookup.permute(1, 3, 4, 0, 2).reshape(3, -1).numpy()  # (B, N, A, S, C)
    np.testing.assert_allclose(codes, expected, rtol=1e-6)


def test_inverse_transform(tiny_weights):
    epochs = _epochs()
    tokenizer = _tokenizer(tiny_weights)
    tokens = tokenizer.fit_transform(epochs)
    reconstructed = tokenizer.inverse_transform(tokens)
    assert isinstance(reconstructed, mne.EpochsArray)
    assert reconstructed.ch_names == ["Fp1", "Cz", "O1"]
    assert reconstructed.info["sfreq"] == 200.0
    assert len(reconstructed.times) == 800
    values = reconstructed.get_data(units="uV")
    with torch.inference_mode():
        expected = tokenizer.model_.decode_tokens(
            torch.from_numpy(tokens).reshape(3, 3, 4, 4, 2),
            torch.as_tensor(tokenizer.input_chans_),
        )
    np.testing.assert_allclose(values, expected.numpy(), rtol=1e-4, atol=1e-5)
    # standardised per sample (window)
    np.testing.assert_allclose(values.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(values.std(axis=(1, 2), ddof=1), 1, rtol=1e-4)
    # code vectors reconstruct the same signal
    codes = _tokenizer(tiny_weights, output="codes")
    from_codes = codes.fit(epochs).inverse_transform(codes.transform(epochs))
    np.testing.assert_allclose(
        from_codes.get_data(), reconstructed.get_data(), atol=1e-9
    )
    # arrays give arrays
    array_tokenizer = _tokenizer(tiny_weights, ch_names=NAMES, sfreq=250.0)
    array_tokens = array_tokenizer.fit_transform(epochs.get_data())
    from_array = array_tokenizer.inverse_transform(array_tokens)
    assert isinstance(from_array, np.ndarray) and from_array.dtype == np.float32
    np.testing.assert_allclose(from_array, values, rtol=1e-5, atol=1e-5)


def test_inverse_transform_errors(tiny_weights):
    tokenizer = _tokenizer(tiny_weights)
    tokens = tokenizer.fit_transform(_epochs())
    with pytest.raises(ValueError, match=r"shape \(n_epochs, 96\)"):
        tokenizer.inverse_transform(tokens[:, :-1])
    with pytest.raises(ValueError, match="integer token indices"):
        tokenizer.inverse_transform(tokens.astype(float))
    with pytest.raises(ValueError, match=r"must lie in \[0, 64\)"):
        tokenizer.inverse_transform(tokens + 64)


def test_long_epochs_are_split_into_windows_not_cropped(tiny_weights):
    """30 s of 19 channels: 570 tokens, split into 3 windows of 10 s."""
    epochs = _epochs(
        n_epochs=2, n_seconds=30, names=NAMES_1020, types=["eeg"] * 19, sfreq=200.0
    )
    tokenizer = _tokenizer(tiny_weights)
    tokens = tokenizer.fit_transform(epochs)
    assert tokenizer.n_patches_ == 30
    assert tokenizer.windows_ == [(0, 10), (10, 20), (20, 30)]
    assert tokens.shape == (2, 19 * 30 * 4 * 2)
    tokens = tokens.reshape(2, 19, 30, 4, 2)
    data = torch.from_numpy(epochs.get_data(units="uV").astype(np.float32))
    chan_idx = torch.as_tensor(tokenizer.input_chans_)
    # the windows run stacked in one batch: the same tokens outside near ties
    for start, stop in tokenizer.windows_:
        window = data[:, :, start * 200 : stop * 200]
        with torch.inference_mode():
            alone = tokenizer.model_.tokenize(window, chan_idx)
        gaps = token_gaps(tokenizer.model_, window, chan_idx)
        assert_tokens_equal_outside_near_ties(tokens[:, :, start:stop], alone, gaps)
    # reconstruction covers the 30 s
    reconstructed = tokenizer.inverse_transform(tokens.reshape(2, -1))
    assert reconstructed.get_data().shape == (2, 19, 6000)


def test_bf16_precision(tiny_weights):
    epochs = _epochs()
    tokens = _tokenizer(tiny_weights).fit_transform(epochs)
    bf16 = _tokenizer(tiny_weights, precision="bf16")
    tokens_bf16 = bf16.fit_transform(epochs)
    assert tokens_bf16.dtype == np.int64 and tokens_bf16.shape == tokens.shape
    assert tokens_bf16.max() < 64
    # the first level is robust to bfloat16 rounding for most patches
    first_level = tokens.reshape(-1, 2)[:, 0] == tokens_bf16.reshape(-1, 2)[:, 0]
    assert first_level.mean() > 0.5
    reconstructed = bf16.inverse_transform(tokens_bf16)
    assert np.isfinite(reconstructed.get_data()).all()


# --------------------------------------------------------------- histogram


def test_token_histogram():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 8, size=(5, 3 * 4 * 2 * 2))  # 3 ch, 4 patches, S=L=2
    histogram = TokenHistogram(n_codes=8, n_scales=2, n_levels=2)
    counts = histogram.fit_transform(tokens)
    assert counts.shape == (5, 2 * 2 * 8) and counts.dtype == np.float32
    np.testing.assert_allclose(counts.reshape(5, 4, 8).sum(-1), 1, rtol=1e-6)
    blocks = tokens.reshape(5, 12, 2, 2)
    expected = np.bincount(blocks[1, :, 1, 0], minlength=8) / 12  # scale 2, level 1
    np.testing.assert_allclose(counts[1, 16:24], expected, rtol=1e-6)
    names = histogram.get_feature_names_out()
    assert (
        names[0] == "tokenhistogram_s1_q1_k0" and names[16] == "tokenhistogram_s2_q1_k0"
    )
    first = TokenHistogram(n_codes=8, n_scales=2, n_levels=2, levels=[1])
    np.testing.assert_array_equal(
        first.fit_transform(tokens), counts.reshape(5, 2, 2, 8)[:, :, 0].reshape(5, -1)
    )
    assert len(first.get_feature_names_out()) == 16
    # float columns (e.g. from a DataFrame) holding integers are accepted
    np.testing.assert_array_equal(histogram.transform(tokens.astype(float)), counts)


@pytest.mark.parametrize(
    ("params", "tokens", "match"),
    [
        ({}, np.zeros((2, 7), int), "not a multiple of n_scales x n_levels"),
        ({}, np.full((2, 8), 9), r"must lie in \[0, 8\)"),
        ({}, np.zeros(8, int), "must be 2-D"),
        ({}, np.full((2, 8), 0.5), "integer token indices"),
        ({"levels": [3]}, np.zeros((2, 8), int), "between 1 and 2"),
        ({"n_codes": 0}, np.zeros((2, 8), int), "n_codes must be a positive"),
        ({}, np.zeros((2, 0), int), "0 feature.*no tokens"),
        ({}, np.zeros((0, 8), int), "0 sample.*no epochs"),
        ({}, sparse.csr_matrix(np.zeros((2, 8), int)), "Sparse input"),
    ],
)
def test_token_histogram_errors(params, tokens, match):
    histogram = TokenHistogram(**{"n_codes": 8, "n_scales": 2, "n_levels": 2, **params})
    with pytest.raises((ValueError, TypeError), match=match):
        histogram.fit(tokens)


def test_token_histogram_in_a_pipeline(tiny_weights):
    epochs = _epochs(n_epochs=4)
    pipe = make_pipeline(
        _tokenizer(tiny_weights), TokenHistogram(n_codes=64, n_scales=4, n_levels=2)
    )
    features = pipe.fit_transform(epochs)
    assert features.shape == (4, 4 * 2 * 64)
    pipe.set_output(transform="pandas")
    frame = pipe.fit_transform(epochs)
    assert frame.columns[0] == "tokenhistogram_s1_q1_k0"
    np.testing.assert_allclose(frame.to_numpy(), features)
    with pytest.raises(ValueError, match="X has 16 features, but TokenHistogram"):
        pipe[-1].transform(np.zeros((1, 16), int))


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


def test_eegmat_cross_validation_with_token_histograms(data_path, parity_path):
    epochs, y, groups = _eegmat_epochs(data_path)
    assert len(epochs) == 72 and len(epochs.ch_names) == 21
    # one batch per call: fewer, larger forward passes
    tokenizer = NeuroRVQTokenizer(
        str(parity_path / "tokenizer_state_dict.pt"),
        device="cpu",
        batch_size=256,
        verbose=False,
    )
    pipe = make_pipeline(
        tokenizer,
        TokenHistogram(n_codes=256, n_scales=4, n_levels=8, levels=[1, 2]),
        LogisticRegression(max_iter=2000),
    )
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
    fitted = clone(tokenizer).fit(epochs[:2])
    assert len(fitted.ch_names_) == 19  # 'EEG A2-A1' and 'ECG ECG' are not used
    assert "EEG A2-A1" not in fitted.ch_names_


# ------------------------------------------------------------ other modalities


def _eegmat_ecg(data_path, n_epochs=3):
    from mne_neurorvq.datasets import eegmat_files, read_eegmat_raw

    path = eegmat_files([0], path=data_path, download=False)[1][2]
    with mne.utils.use_log_level("error"):
        raw = read_eegmat_raw(path).crop(0, 4.0 * n_epochs)
        epochs = mne.make_fixed_length_epochs(raw, duration=4.0, preload=True)
    return epochs


def test_eegmat_ecg_lead_tokenizes_and_reconstructs(data_path, parity_multimodal_path):
    """The ECG channel of EEGMAT, named lead II by the user, with modality='auto'."""
    weights = str(parity_multimodal_path / "ecg" / "tokenizer_state_dict.pt")
    epochs = _eegmat_ecg(data_path)
    with pytest.raises(ValueError, match="ambiguous.*pick the channels"):
        _tokenizer(weights, modality="auto").fit(epochs)
    ecg = epochs.copy().pick("ecg")
    with pytest.raises(ValueError, match="'ECG ECG' does not say which lead"):
        _tokenizer(weights, modality="auto").fit(ecg)
    ecg.rename_channels({"ECG ECG": "II"})
    tokenizer = _tokenizer(weights, modality="auto")
    tokens = tokenizer.fit_transform(ecg)
    config = tokenizer.model_.config
    assert tokenizer.modality_ == "ecg" and tokenizer.n_patches_ == 20
    assert tokens.shape == (3, 20 * 4 * 8) and tokens.max() < config.n_code
    assert tokenizer.get_feature_names_out()[0] == "ii_p0_s1_q1"
    # the same tokens as the model on the data in mV resampled to 200 Hz
    from mne_neurorvq.preprocessing import resample_data

    data = resample_data(ecg.get_data(units="mV"), 500.0, 200.0, verbose=False)
    with torch.inference_mode():
        expected = tokenizer.model_.tokenize(
            torch.as_tensor(data, dtype=torch.float32), torch.tensor([4])
        )
    np.testing.assert_array_equal(tokens, expected.reshape(3, -1).numpy())
    reconstructed = tokenizer.inverse_transform(tokens)
    assert isinstance(reconstructed, mne.EpochsArray)
    assert reconstructed.get_channel_types() == ["ecg"]
    assert reconstructed.ch_names == ["II"] and reconstructed.info["sfreq"] == 200.0
    values = reconstructed.get_data(units="mV")
    assert values.shape == (3, 1, 800)
    np.testing.assert_allclose(values.std(axis=(1, 2)), 1.0, rtol=1e-3)
    # the same with a mapping instead of renaming
    mapped = _tokenizer(weights, modality="ecg", channel_map={"ECG ECG": "II"})
    np.testing.assert_array_equal(
        mapped.fit_transform(epochs.copy().pick("ecg")), tokens
    )


def test_emg_and_ppg_arrays_are_windowed_by_the_token_budget(parity_multimodal_path):
    rng = np.random.default_rng(0)
    emg = _tokenizer(
        str(parity_multimodal_path / "emg" / "tokenizer_state_dict.pt"),
        modality="auto",
        ch_names=[f"EMG{i}" for i in range(1, 17)],
        sfreq=2000.0,
        units="mV",
    )
    x = 0.1 * rng.standard_normal((2, 16, 8000))  # 4 s: 20 patches x 16 channels
    tokens = emg.fit_transform(x)
    assert emg.modality_ == "emg" and emg.windows_ == [(0, 10), (10, 20)]
    assert tokens.shape == (2, 16 * 20 * 4 * 16)
    assert emg.get_feature_names_out()[-1] == "c16_p19_s4_q16"
    assert emg.inverse_transform(tokens).shape == (2, 16, 4000)

    ppg = _tokenizer(
        str(parity_multimodal_path / "ppg" / "tokenizer_state_dict.pt"),
        modality="ppg",
        recipe="authors",
        ch_names=["PLETH"],
        sfreq=125.0,
    )
    x = rng.standard_normal((2, 1, 2500))  # 20 s: 25 patches of 0.8 s
    tokens = ppg.fit_transform(x)
    assert ppg.windows_ == [(0, 9), (9, 17), (17, 25)]
    assert "band-pass 0.5-39.5 Hz" in " ".join(ppg.preprocessing_.operations)
    from mne_neurorvq.preprocessing import prepare_modality_array

    data, _ = prepare_modality_array(x, 125.0, "ppg", 100.0, recipe="authors")
    window = torch.as_tensor(data[:, :, 17 * 80 :])
    with torch.inference_mode():
        last = ppg.model_.tokenize(window, [0])
    # the windows run stacked in one batch: the same tokens outside near ties
    gaps = token_gaps(ppg.model_, window, torch.tensor([0]))
    assert_tokens_equal_outside_near_ties(
        tokens.reshape(2, 1, 25, 4, 8)[:, :, 17:], last, gaps
    )
    ecg_weights = str(parity_multimodal_path / "ecg" / "tokenizer_state_dict.pt")
    ecg = _tokenizer(
        ecg_weights, modality="ecg", recipe="authors", ch_names=["II"], sfreq=125.0
    )
    with pytest.raises(ValueError, match=r"recipe \(for ECG\)"):
        ecg.fit(x)


def test_default_weights_stand_for_the_modalitys_published_file(
    parity_multimodal_path, tmp_path, monkeypatch
):
    """``modality="ppg"`` with the default weights loads the published PPG name."""
    import shutil

    source = parity_multimodal_path / "ppg" / "tokenizer_state_dict.pt"
    shutil.copy(source, tmp_path / "NeuroRVQ_PPG_tokenizer_v1.pt")
    monkeypatch.setenv("MNE_NEURORVQ_WEIGHTS", str(tmp_path))
    x = np.random.default_rng(0).standard_normal((1, 1, 400))
    tokenizer = NeuroRVQTokenizer(
        modality="ppg", ch_names=["ppg"], sfreq=100.0, device="cpu"
    )
    assert tokenizer.fit_transform(x).shape == (1, 5 * 4 * 8)
    assert tokenizer.model_.config.modality == "ppg"


def test_other_modality_trains_in_fit():
    from mne_neurorvq.nn import TokenizerConfig

    rng = np.random.default_rng(0)
    x = 1e-3 * rng.standard_normal((8, 2, 400))  # 2 s of leads I and V1, volts
    tokenizer = _tokenizer(
        None,
        modality="ecg",
        ch_names=["I", "V1"],
        sfreq=200.0,
        config=TokenizerConfig.tiny(modality="ecg"),
        train_params=dict(epochs=1, batch_size=4),
    )
    tokens = tokenizer.fit_transform(x)
    assert tokens.shape == (8, 2 * 10 * 4 * 2)
    with pytest.raises(ValueError, match="config is for EEG"):
        tokenizer.set_params(config=TokenizerConfig.tiny()).fit(x)
