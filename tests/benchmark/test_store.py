"""The trial store, the streaming dataset, and a registered task end to end."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import mne
import numpy as np
import pytest

from mne_neurorvq.benchmark import (
    TASKS,
    Task,
    TrialDataset,
    TrialStore,
    get_task,
    make_plan,
    register_task,
    run_benchmark,
    subject_trials,
)
from mne_neurorvq.benchmark.units import read_units
from mne_neurorvq.cli import main

ROOT = Path(__file__).resolve().parents[2]
CH_NAMES = ["Fz", "C3", "Cz", "C4", "Pz", "O1", "O2"]


def toy_recordings(task, subject, *, path=None, verbose=None, n_trials=8):
    """Two recordings of a subject: alpha (label "closed") or not ("open")."""
    rng = np.random.default_rng(subject)
    for label in ("open", "closed"):
        sfreq, seconds = 250.0, 2.0 * n_trials + 1
        times = np.arange(round(seconds * sfreq)) / sfreq
        data = 1e-5 * rng.standard_normal((len(CH_NAMES), len(times)))
        if label == "closed":
            data[-2:] += 3e-5 * np.sin(2 * np.pi * 10 * times)  # O1, O2
        info = mne.create_info(CH_NAMES, sfreq, "eeg")
        raw = mne.io.RawArray(data, info, verbose=False)
        onsets = 0.5 + 2.0 * np.arange(n_trials)
        raw.set_annotations(mne.Annotations(onsets, 0.0, [label] * n_trials))
        yield raw


@pytest.fixture
def toy_task(tmp_path):
    """A lab's own task: 4 subjects, 2 published folds in a file of its own."""
    folds = tmp_path / "toy-folds.json"
    folds.write_text(json.dumps({"0": ["toy_01", "toy_03"], "1": ["toy_02", "toy_04"]}))
    task = register_task(
        Task(
            "toy",
            "eyes open vs closed of a toy lab",
            "0-1 s after each cue",
            "generated in the test",
            toy_recordings,
            classes=("open", "closed"),
            annotations=(("open", "open"), ("closed", "closed")),
            tmin=0.0,
            tmax=1.0,
            fold_file=str(folds),
            subjects=(1, 2, 3, 4),
            subject_format="toy_{:02d}",
        )
    )
    yield task
    TASKS.pop("toy")


@pytest.mark.slow
def test_registered_task_runs_end_to_end(toy_task, tmp_path, capsys):
    assert get_task("toy") is toy_task
    with pytest.raises(ValueError, match="registered already"):
        register_task(
            Task("toy", "other", "", "", toy_recordings, ("a",), (("a", "a"),))
        )
    with pytest.raises(ValueError, match="not among its classes"):
        register_task(Task("bad", "", "", "", toy_recordings, ("a",), (("x", "b"),)))
    # the CLI lists the registered task and its dry run is the run's plan
    assert (
        main(["benchmark", "--task", "toy", "--dry-run", "--cache", str(tmp_path)]) == 0
    )
    dry = capsys.readouterr().out
    assert "task toy: eyes open vs closed of a toy lab" in dry
    assert "fold 0: validation toy_01, toy_03; training 2 subjects" in dry
    scores = run_benchmark(
        "toy",
        models=["bandpower_lr"],
        cache=tmp_path / "store",
        out_dir=tmp_path / "out",
        verbose=False,
    )
    assert scores["fold"].tolist() == [0, 1]
    assert (scores["balanced_accuracy"] == 1.0).all()  # alpha is obvious
    store = TrialStore(tmp_path / "store")
    entry = store.entry("toy", "toy_02")
    manifest = entry.manifest
    assert manifest["task"] == "toy" and manifest["subject"] == "toy_02"
    assert manifest["ch_names"] == CH_NAMES and manifest["sfreq"] == 200.0
    assert manifest["n_trials"] == 16 and manifest["protocol_version"] == 1
    assert entry.data.dtype == np.float32 and entry.data.shape == (16, 7, 200)
    assert entry.codes.tolist() == [0] * 8 + [1] * 8
    assert entry.features("bandpower").shape == (16, 35)  # cached once
    # the entry holds what the shared loop cuts
    trials = subject_trials("toy", 2)
    np.testing.assert_array_equal(entry.data, trials.data)
    units = read_units(tmp_path / "out")
    assert {u["model"] for u in units} == {"bandpower_lr"} and len(units) == 2
    plan = make_plan("toy", models=["bandpower_lr"], cache=tmp_path / "store")
    assert "(4 of 4 subjects cut already)" in plan.describe()


def test_trial_dataset_reads_the_entries(toy_task, tmp_path):
    store = TrialStore(tmp_path)
    entries = store.fill("toy", [1, 2])
    dataset = TrialDataset(entries, picks=[2, 0], scale=1e6, n_times=100)
    assert len(dataset) == 32 and dataset.shape == (32, 2, 100)
    x, y = dataset[20]
    expected = entries[1].data[4][[2, 0], :100] * np.float32(1e6)
    np.testing.assert_array_equal(x.numpy(), expected)
    assert y == entries[1].codes[4] == 0
    stacked = np.concatenate(list(dataset.chunks(5)))
    np.testing.assert_array_equal(stacked[20], x.numpy())
    with pytest.raises(IndexError):
        dataset[32]


@pytest.mark.slow
def test_a_killed_write_leaves_no_entry(toy_task, tmp_path):
    """A process killed between the entry's files leaves nothing that is read."""
    code = textwrap.dedent(
        f"""
        import os, sys
        import numpy as np
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_store import toy_recordings
        from mne_neurorvq.benchmark import Task, TrialStore, register_task
        register_task(Task("toy", "", "", "", toy_recordings, ("open", "closed"),
                           (("open", "open"), ("closed", "closed")), 0.0, 1.0,
                           subjects=(1, 2, 3, 4), subject_format="toy_{{:02d}}"))
        real_save = np.save
        def killed(path, *args, **kwargs):  # the kill, after data.npy
            os._exit(9)
        np.save = killed
        TrialStore({str(tmp_path)!r}).fill("toy", [1])
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, check=False)
    assert done.returncode == 9
    store = TrialStore(tmp_path)
    assert store.entry("toy", 1) is None
    final = store.entry_path("toy", 1)
    left = list(final.parent.glob(".toy_01.*"))
    assert len(left) == 1 and (left[0] / "data.npy").is_file()
    entry = store.fill("toy", [1])[0]
    assert entry.path == final and len(entry) == 16


@pytest.mark.slow
def test_frozen_features_are_computed_once_per_weights(toy_task, tmp_path):
    """Published-style weights: features cached per subject, LR fitted per fold."""
    import torch

    from mne_neurorvq.benchmark.fitting import fit_and_score
    from mne_neurorvq.nn import (
        FoundationConfig,
        NeuroRVQFoundation,
        NeuroRVQTokenizerModel,
        TokenizerConfig,
    )

    foundation = tmp_path / "foundation.pt"
    tokenizer = tmp_path / "tokenizer.pt"
    torch.manual_seed(0)
    torch.save(
        NeuroRVQFoundation(config=FoundationConfig.tiny()).state_dict(), foundation
    )
    state = NeuroRVQTokenizerModel(TokenizerConfig.tiny()).state_dict()
    for key in state:  # random codebooks, marked as trained ones are
        if key.endswith("initted"):
            state[key].fill_(1)
    torch.save(state, tokenizer)
    weights = {"foundation": str(foundation), "tokenizer": str(tokenizer)}
    train, test = (
        TrialStore(tmp_path).fill("toy", [1, 2]),
        TrialStore(tmp_path).fill("toy", [3]),
    )
    for name, prefix in (
        ("neurorvq_embedding_lr", "embedding-"),
        ("neurorvq_tokens_lr", "tokens-"),
    ):
        first = fit_and_score(name, train, test, weights=weights)
        cached = sorted((train[0].path / "features").glob(f"{prefix}*.npy"))
        assert len(cached) == 1 and np.load(cached[0]).shape[0] == 16
        stamp = cached[0].stat().st_mtime_ns
        second = fit_and_score(name, train, test, weights=weights)
        assert cached[0].stat().st_mtime_ns == stamp  # read, not recomputed
        assert first["balanced_accuracy"] == second["balanced_accuracy"]
        assert (first["n_train"], first["n_test"]) == (32, 16)
