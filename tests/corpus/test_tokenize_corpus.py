"""tokenize-corpus end to end: BIDS and mixed folders, parity, resumption."""

from __future__ import annotations

import warnings

import mne
import numpy as np
import pytest

from mne_neurorvq.cli import main
from mne_neurorvq.corpus import TokenStore, find_corpus_recordings, tokenize_corpus
from mne_neurorvq.decoding import NeuroRVQTokenizer

from .conftest import BIDS_RECORDINGS


def _estimator_tokens(rec, weights, start=None, stop=None):
    """NeuroRVQTokenizer(weights).fit_transform on one epoch, reshaped."""
    raw, _ = rec.read_raw()
    data = raw.get_data(start=start or 0, stop=stop)
    epochs = mne.EpochsArray(data[np.newaxis], raw.info, verbose=False)
    tokenizer = NeuroRVQTokenizer(weights=str(weights), device="cpu", verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. dropped samples at 160 Hz
        tokens = tokenizer.fit_transform(epochs)
    return tokens.reshape(len(tokenizer.ch_names_), -1, 4, 8), tokenizer


@pytest.fixture(scope="module")
def bids_store(bids_root, tiny_weights, tmp_path_factory):
    out = tmp_path_factory.mktemp("stores") / "bids.zarr"
    argv = ["tokenize-corpus", str(bids_root), "--out", str(out)]
    assert main([*argv, "--weights", str(tiny_weights), "--no-progress"]) == 0
    return out


def test_bids_store_index_and_tokens(bids_store, bids_root, tiny_weights):
    store = TokenStore(bids_store)
    index = store.index
    assert len(index) == len(BIDS_RECORDINGS) == 6
    assert (index["status"] == "ok").all()
    assert set(index["subject"]) == {"eegmat00", "eegmat01", "S001", "S002"}
    assert sorted(index["task"].unique()) == ["arithmetic", "motor", "rest"]
    assert set(index.loc[index["subject"] == "S001", "run"]) == {"1", "2"}
    assert set(index["sfreq"]) == {500.0, 160.0}
    assert set(index["n_channels"]) == {19, 64}
    assert (index["n_seconds"] == 10).all()
    assert (index["weights_name"] == "tiny.pt").all()
    for rec in find_corpus_recordings(bids_root):
        tokens = store.tokens(rec.recording)
        row = index.set_index("recording").loc[rec.recording]
        assert tokens.dtype == np.uint16
        assert tokens.shape == (row["n_channels"], 10, 4, 8)
        expected, tokenizer = _estimator_tokens(rec, tiny_weights)
        np.testing.assert_array_equal(tokens, expected)
        assert list(row["ch_names"]) == tokenizer.ch_names_
        assert list(row["chan_idx"]) == tokenizer.input_chans_.tolist()
        assert row["source_size"] == rec.size()
        assert row["source_sha256"] == rec.sha256()


def test_rerun_skips_all_and_says_so(bids_store, bids_root, tiny_weights, capsys):
    before = TokenStore(bids_store).index
    argv = ["tokenize-corpus", str(bids_root), "--out", str(bids_store)]
    assert main([*argv, "--weights", str(tiny_weights), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "6 already in the store (skipped), 0 to tokenize" in out
    after = TokenStore(bids_store).index
    assert after["seconds_taken"].tolist() == before["seconds_taken"].tolist()


def test_other_settings_are_refused(bids_store, bids_root, tiny_weights):
    with pytest.raises(ValueError, match="recipe: None in the store, 'benchmark'"):
        tokenize_corpus(bids_root, bids_store, weights=tiny_weights, recipe="benchmark")


def test_decode_rebuilds_a_recording(bids_store, bids_root, tiny_weights):
    store = TokenStore(bids_store)
    recording = store.recordings[0]
    raw = store.decode(recording)
    rec = next(r for r in find_corpus_recordings(bids_root) if r.recording == recording)
    tokens, tokenizer = _estimator_tokens(rec, tiny_weights)
    expected = tokenizer.inverse_transform(tokens.reshape(1, -1)).get_data()[0]
    np.testing.assert_allclose(raw.get_data(), expected, rtol=1e-6, atol=1e-12)
    row = store.index.set_index("recording").loc[recording]
    assert isinstance(raw, mne.io.RawArray)
    assert raw.ch_names == list(row["ch_names"])
    assert raw.info["sfreq"] == 200.0
    assert raw.n_times == 10 * 200
    data = raw.get_data(units="uV")
    assert abs(data.mean()) < 1e-3 and abs(data.std() - 1) < 1e-3  # standardised
    with pytest.raises(KeyError, match="No recording 'nope'"):
        store.tokens("nope")


def test_segments_equal_the_estimator_on_each_segment(
    bids_root, tiny_weights, tmp_path
):
    recordings = find_corpus_recordings(bids_root)
    out = tmp_path / "segments.zarr"
    tokenize_corpus(
        recordings[0].path,
        out,
        weights=tiny_weights,
        segment_seconds=4,
        progress=False,
    )
    store = TokenStore(out)
    (recording,) = store.recordings
    rec = next(r for r in find_corpus_recordings(recordings[0].path))
    sfreq = store.index["sfreq"].iloc[0]
    step = int(4 * sfreq)
    pieces = [
        _estimator_tokens(rec, tiny_weights, start, start + step)[0]
        for start in range(0, int(10 * sfreq), step)
    ]
    np.testing.assert_array_equal(store.tokens(recording), np.concatenate(pieces, 1))
    assert store.array(recording).attrs["segment_patches"] == 4


def test_mixed_folder_with_bad_inputs(mixed_folder, tiny_weights, tmp_path, capsys):
    out = tmp_path / "mixed.zarr"
    summary = tokenize_corpus(mixed_folder, out, weights=tiny_weights, progress=False)
    assert (summary.n_found, summary.n_tokenized, summary.n_skipped) == (7, 4, 3)
    index = TokenStore(out).index.set_index("recording")
    ok = index[index["status"] == "ok"]
    assert sorted(ok.index) == [
        "S032.vhdr",
        "eegmat02.edf",
        "eegmat02.set",
        "fif/S032_raw.fif",
    ]
    assert ok.loc["S032.vhdr", "n_seconds"] == 6
    assert ok.loc["eegmat02.set", "n_seconds"] == 7
    reasons = index["reason"]
    assert "None of the channels matches" in reasons["unknown_raw.fif"]
    assert "at least 1 s" in reasons["short_raw.fif"]
    assert reasons["corrupt.edf"].split(":")[0] in ("ValueError", "RuntimeError")
    assert "4 recording(s) tokenized, 3 skipped" in capsys.readouterr().out


def test_changed_source_is_tokenized_again(mixed_folder, tiny_weights, tmp_path):
    folder = tmp_path / "changing"
    folder.mkdir()
    raw = mne.io.read_raw(mixed_folder / "fif" / "S032_raw.fif", verbose="error")
    raw.save(folder / "a_raw.fif", verbose="error")
    raw.save(folder / "b_raw.fif", verbose="error")
    out = tmp_path / "changing.zarr"
    tokenize_corpus(folder, out, weights=tiny_weights, progress=False)
    first = TokenStore(out).tokens("b_raw.fif")
    raw.copy().crop(0, 5).save(folder / "b_raw.fif", overwrite=True, verbose="error")
    summary = tokenize_corpus(folder, out, weights=tiny_weights, progress=False)
    assert (summary.n_already_done, summary.n_tokenized) == (1, 1)
    second = TokenStore(out).tokens("b_raw.fif")
    assert first.shape[1] == 10 and second.shape[1] == 5
    row = TokenStore(out).index.set_index("recording").loc["b_raw.fif"]
    assert row["n_seconds"] == 5 and row["source_size"] < row["source_size"] * 2


def test_bids_store_feeds_pretraining(bids_store):
    from mne_neurorvq.training import TokenWindowDataset

    data = TokenWindowDataset.from_store(bids_store, seconds=2, verbose="error")
    assert data.n_blocks == 6 and len(data) == 6 * 5  # 10 s in 2 s windows
    for index in (0, 29):
        assert data.window_tokens([index]).shape[2:] == (2, 4, 8)
    assert data.tokenizer_config.n_levels == 8


def test_channel_map_names_numbered_electrodes(
    mixed_folder, tiny_weights, tmp_path, capsys
):
    """--channel-map: a device's numbered channels tokenize as the named ones."""
    folder = tmp_path / "numbered"
    folder.mkdir()
    raw = mne.io.read_raw(mixed_folder / "fif" / "S032_raw.fif", verbose="error")
    raw.save(folder / "named_raw.fif", verbose="error")
    numbered = {name: f"E{i:03d}" for i, name in enumerate(raw.ch_names, start=1)}
    raw.copy().rename_channels(numbered).save(
        folder / "numbered_raw.fif", verbose="error"
    )
    argv = ["tokenize-corpus", str(folder), "--weights", str(tiny_weights)]
    # without the map the numbered recording has no known channel
    plain = tmp_path / "plain.zarr"
    assert main([*argv, "--out", str(plain), "--no-progress"]) == 0
    index = TokenStore(plain).index.set_index("recording")
    assert index.loc["numbered_raw.fif", "status"] == "skipped"
    assert "None of the channels matches" in index.loc["numbered_raw.fif", "reason"]
    # with it, the same tokens as the named recording (whose names the map lacks)
    mapped = tmp_path / "mapped.zarr"
    pairs = [f"{number}={name}" for name, number in numbered.items()]
    assert (
        main([*argv, "--out", str(mapped), "--no-progress", "--channel-map", *pairs])
        == 0
    )
    store = TokenStore(mapped)
    assert (store.index["status"] == "ok").all()
    np.testing.assert_array_equal(
        store.tokens("numbered_raw.fif"), store.tokens("named_raw.fif")
    )
    assert store.settings["channel_map"] == {v: k for k, v in numbered.items()}
    row = store.index.set_index("recording").loc["numbered_raw.fif"]
    assert list(row["ch_names"])[:2] == ["E001", "E002"]
    # decoding reads the map back from the store
    rebuilt = store.decode("numbered_raw.fif")
    np.testing.assert_array_equal(
        rebuilt.get_data(), store.decode("named_raw.fif").get_data()
    )
    assert rebuilt.ch_names[:2] == ["E001", "E002"]
    # a rerun with another map is refused; a malformed pair is a usage error
    with pytest.raises(ValueError, match="channel_map"):
        tokenize_corpus(
            folder, mapped, weights=tiny_weights, channel_map={"E001": "Fp1"}
        )
    capsys.readouterr()
    with pytest.raises(SystemExit) as usage:
        main([*argv, "--out", str(mapped), "--channel-map", "E001"])
    assert usage.value.code == 2
    assert "expected NAME=VOCABULARY" in capsys.readouterr().err
    with pytest.raises(TypeError, match="dict of str to str"):
        tokenize_corpus(folder, tmp_path / "x.zarr", channel_map=[("E001", "Fp1")])
