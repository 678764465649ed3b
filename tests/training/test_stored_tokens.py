"""Pre-training from a token store: same inputs and targets, CLI, checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import mne
import numpy as np
import pytest
import torch

from mne_neurorvq.cli import main
from mne_neurorvq.corpus import tokenize_corpus
from mne_neurorvq.datasets import read_eegmat_raw
from mne_neurorvq.nn import FoundationConfig, NeuroRVQTokenizerModel, TokenizerConfig
from mne_neurorvq.nn.checkpoints import load_foundation, load_tokenizer, save_checkpoint
from mne_neurorvq.training import (
    PretrainingTask,
    StoredTokenPretraining,
    TokenWindowDataset,
    Trainer,
    WindowDataset,
)
from mne_neurorvq.training.pretraining import tokens_for_pretraining


@pytest.fixture(scope="module")
def corpus(data_path, tmp_path_factory):
    """Two 10 s EEGMAT recordings (19 channels, EDF), a tiny tokenizer, a store."""
    folder = tmp_path_factory.mktemp("tokens")
    recordings = folder / "recordings"
    recordings.mkdir()
    for subject in (3, 4):
        raw = read_eegmat_raw(data_path / "eegmat" / f"Subject0{subject}_1.edf")
        raw.pick("eeg").crop(0, 10, include_tmax=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw.export(recordings / f"s{subject}.edf", verbose="error")
    model = NeuroRVQTokenizerModel(TokenizerConfig.tiny(n_levels=8))
    model.init_weights(torch.Generator().manual_seed(0))
    weights = save_checkpoint(model, folder / "tiny.pt")
    store = folder / "store.zarr"
    tokenize_corpus(recordings, store, weights=weights, progress=False)
    return {"recordings": recordings, "weights": weights, "store": store}


def test_windows_and_targets_equal_the_on_the_fly_ones(corpus):
    # 19 channels x 10 s fit one tokenizer window: the stored tokens of a
    # 10 s training window are what the tokenizer gives for that window
    stored = TokenWindowDataset.from_store(corpus["store"], seconds=10)
    paths = sorted(corpus["recordings"].glob("*.edf"))
    signals = WindowDataset.from_recordings(paths, 10, recipe=None, verbose="error")
    assert len(stored) == len(signals) == 2
    tokenizer = load_tokenizer(corpus["weights"])
    for (x, chan_idx), (x_ref, chan_ref) in zip(
        stored.blocks, signals.blocks, strict=True
    ):
        np.testing.assert_array_equal(x, x_ref)
        np.testing.assert_array_equal(chan_idx, chan_ref)
    for index in range(len(stored)):
        x, chan_idx, _ = stored[index]
        expected = tokens_for_pretraining(tokenizer, x[None], chan_idx)
        got = (
            stored.window_tokens([index])
            .permute(3, 4, 0, 1, 2)
            .reshape(*expected.shape)
        )
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_training_from_tokens_equals_training_from_signals(corpus, tmp_path):
    stored = TokenWindowDataset.from_store(corpus["store"], seconds=10)
    paths = sorted(corpus["recordings"].glob("*.edf"))
    signals = WindowDataset.from_recordings(paths, 10, recipe=None, verbose="error")
    config = FoundationConfig.for_tokenizer(stored.tokenizer_config, depth=1)
    settings = dict(epochs=1, batch_size=1, progress=False, verbose=False)
    reference = Trainer(
        PretrainingTask(load_tokenizer(corpus["weights"]), config),
        signals,
        tmp_path / "signals",
        **settings,
    ).fit()
    result = Trainer(
        StoredTokenPretraining(stored, config), stored, tmp_path / "tokens", **settings
    ).fit()
    assert result.step == reference.step == 2
    for entry, expected in zip(result.history, reference.history, strict=True):
        assert entry["train"]["loss"] == pytest.approx(expected["train"]["loss"])
    state = load_foundation(result.model_path, pretraining=True).state_dict()
    expected = load_foundation(reference.model_path, pretraining=True).state_dict()
    for key, value in state.items():
        torch.testing.assert_close(value, expected[key])


def test_pretrain_cli_from_tokens(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["pretrain", "--tokens", str(corpus["store"]), "--out", str(out)]
    argv += ["--config", "tiny", "--seconds", "5", "--epochs", "1"]
    assert main([*argv, "--batch-size", "2", "--threads", "1", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "4 windows of 5 s" in printed and "with stored tokens" in printed
    run = json.loads((out / "run.json").read_text())
    assert run["task"] == "foundation" and run["total_steps"] == 2
    assert run["model"]["tokenizer_config"]["n_levels"] == 8
    assert (out / "foundation.pt").is_file()
    with pytest.raises(SystemExit, match="give no inputs and no --tokenizer"):
        main([*argv, "--tokenizer", str(corpus["weights"])])
    with pytest.raises(SystemExit, match="or --tokens STORE"):
        main(["pretrain", "--out", str(out)])


def test_changed_source_is_refused(corpus, tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    source = next(corpus["recordings"].glob("*.edf"))
    raw = mne.io.read_raw_edf(source, preload=True, verbose="error")
    raw.save(folder / "a_raw.fif", verbose="error")
    store = tmp_path / "store.zarr"
    tokenize_corpus(folder, store, weights=corpus["weights"], progress=False)
    raw.crop(0, 5).save(folder / "a_raw.fif", overwrite=True, verbose="error")
    with pytest.raises(ValueError, match="changed since it was tokenized"):
        TokenWindowDataset.from_store(store, seconds=5)
    with pytest.raises(ValueError, match="at most 13 s"):
        TokenWindowDataset.from_store(corpus["store"], seconds=20)


@pytest.mark.slow
def test_pretrain_from_tokens_under_torchrun(corpus, tmp_path):
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(repo), env.get("PYTHONPATH", "")])
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node=2", "-m", "mne_neurorvq", "pretrain"]
    command += ["--tokens", str(corpus["store"]), "--out", str(out), "--device", "cpu"]
    command += ["--config", "tiny", "--seconds", "5", "--epochs", "1"]
    command += ["--batch-size", "1", "--threads", "1", "--no-progress"]
    result = subprocess.run(
        command, cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run = json.loads((out / "run.json").read_text())
    assert run["world_size"] == 2 and run["n_windows"] == 4
    assert run["steps_per_epoch"] == 2  # 4 windows, batch 1, over 2 processes
    assert (out / "foundation.pt").is_file()
