import os
import random

import numpy as np
import pytest
import torch

import mne_neurorvq.training.checkpointing as checkpointing
from mne_neurorvq.training import CHECKPOINT_NAME, TokenizerTraining, Trainer
from mne_neurorvq.training.checkpointing import (
    atomic_save,
    capture_rng_state,
    load_training_checkpoint,
    restore_rng_state,
)

from ._workers import CONFIG


def test_atomic_save_writes_complete_files_only(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "state.pt"
    seen = []
    real_replace = os.replace

    def checking_replace(src, dst):
        # at the moment of the rename the temporary file is complete and the
        # destination does not exist yet (first save)
        seen.append(
            (torch.load(src, weights_only=True)["x"].sum().item(), os.path.exists(dst))
        )
        real_replace(src, dst)

    monkeypatch.setattr(checkpointing.os, "replace", checking_replace)
    atomic_save({"x": torch.ones(1000)}, path)
    assert seen == [(1000.0, False)]
    assert os.listdir(path.parent) == ["state.pt"]
    monkeypatch.setattr(checkpointing.os, "replace", real_replace)

    def failing_save(obj, file):
        file.write(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(checkpointing.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        atomic_save({"x": torch.zeros(1000)}, path)
    # the previous checkpoint is intact and no temporary file is left behind
    assert os.listdir(path.parent) == ["state.pt"]
    assert torch.load(path, weights_only=True)["x"].sum() == 1000
    with pytest.raises(OSError, match="disk full"):
        atomic_save({"x": torch.zeros(1)}, tmp_path / "new.pt")
    assert not (tmp_path / "new.pt").exists()


def test_rng_state_roundtrip():
    torch.manual_seed(1)
    np.random.seed(1)  # noqa: NPY002
    random.seed(1)
    state = capture_rng_state()
    expected = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    torch.rand(5)
    restore_rng_state(state)
    got = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    assert torch.equal(expected[0], got[0])
    assert np.array_equal(expected[1], got[1]) and expected[2] == got[2]


def test_trainer_checkpoint_contents(dataset, tmp_path):
    task = TokenizerTraining(CONFIG)
    Trainer(
        task,
        dataset,
        tmp_path,
        epochs=1,
        batch_size=4,
        checkpoint_every=2,
        progress=False,
        verbose=False,
    ).fit()
    state = load_training_checkpoint(tmp_path / CHECKPOINT_NAME)  # weights_only
    assert {"model", "optimizer", "scheduler", "position", "rng", "task_state"} <= set(
        state
    )
    assert state["position"]["step"] == 6 and state["position"]["epoch"] == 1
    assert state["position"]["batch_in_epoch"] == 0
    assert state["scheduler"]["last_epoch"] == 6
    assert len(state["rng"]) == 1 and "numpy" in state["rng"][0]
    assert state["task_state"]["usage"]["last_used"].shape == (4, 2, CONFIG.n_code)
    assert set(state["model"]) == set(task.model.state_dict())
    leftovers = [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert leftovers == []


def test_resume_checks_compatibility(dataset, tmp_path):
    Trainer(
        TokenizerTraining(CONFIG),
        dataset,
        tmp_path,
        epochs=1,
        max_steps=2,
        batch_size=4,
        progress=False,
        verbose=False,
    ).fit()
    with pytest.raises(ValueError, match="batch_size=4"):
        Trainer(
            TokenizerTraining(CONFIG),
            dataset,
            tmp_path,
            epochs=1,
            batch_size=3,
            progress=False,
            verbose=False,
        ).fit(resume=True)
    with pytest.raises(FileNotFoundError, match="No training checkpoint"):
        Trainer(
            TokenizerTraining(CONFIG),
            dataset,
            tmp_path / "none",
            epochs=1,
            progress=False,
            verbose=False,
        ).fit(resume=True)
