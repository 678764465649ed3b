"""The runner: paper protocol, weights choice, dry run and command line."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score

from mne_neurorvq.benchmark import (
    TASKS,
    BenchmarkSettings,
    TrialStore,
    build_model,
    describe_benchmark,
    load_task,
    resolve_weights,
    run_benchmark,
)
from mne_neurorvq.benchmark.folds import PAPER_TASKS
from mne_neurorvq.cli import _benchmark_settings, _subjects, build_parser, main

pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:Montage name 'standard_1020' is deprecated:FutureWarning"
    ),
    # wfdb (imported by braindecode) calls a pandas API deprecated in pandas 3.1
    pytest.mark.filterwarnings("ignore::DeprecationWarning:wfdb.*"),
]
TINY = BenchmarkSettings(
    finetune_epochs=1, baseline_epochs=1, batch_size=16, ssl_seconds=2, ssl_epochs=1
)


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """Empty weight folders and caches: nothing published is on disk."""
    for key in ("MNE_NEURORVQ_CACHE", "MNE_NEURORVQ_WEIGHTS", "HF_HUB_CACHE"):
        folder = tmp_path / key.lower()
        folder.mkdir()
        monkeypatch.setenv(key, str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def test_paper_protocol_uses_the_published_folds(data_path, no_weights):
    """S001 is validated in fold 3 and S002 in fold 9; the others are skipped."""
    out = no_weights / "out"
    scores = run_benchmark(
        "eyes",
        subjects=[1, 2],
        models=("bandpower_lr", "neurorvq_finetune"),
        settings=TINY,
        weights="none",
        data_path=data_path,
        max_windows=5,
        cache=no_weights / "store",
        out_dir=out,
        verbose=False,
    )
    assert sorted(set(scores["fold"])) == [3, 9]
    epochs, y, groups = load_task("eyes", [1, 2], path=data_path, max_windows=5)
    fold3 = scores[scores["fold"] == 3].iloc[0]
    is_s001 = groups == "physionet_S001"
    assert fold3["n_test"] == is_s001.sum() and fold3["n_train"] == (~is_s001).sum()
    # the store holds the trials load_task cuts (one loop), in float32
    store = TrialStore(no_weights / "store")
    s001, s002 = (store.entry("eyes", s, max_windows=5) for s in (1, 2))
    np.testing.assert_array_equal(
        np.concatenate([s001.data, s002.data]), epochs.get_data().astype(np.float32)
    )
    np.testing.assert_array_equal(
        np.concatenate([s001.codes, s002.codes]),
        [TASKS["eyes"].classes.index(label) for label in y],
    )
    # the band-power row is the model trained on S002 and scored on S001
    model = build_model("bandpower_lr", None, TINY, 3, 200.0)
    model.fit(np.asarray(s002.data), s002.codes)
    expected = balanced_accuracy_score(s001.codes, model.predict(np.asarray(s001.data)))
    assert fold3["model"] == "bandpower_lr"
    assert fold3["balanced_accuracy"] == pytest.approx(expected)
    assert {"accuracy", "balanced_accuracy"} <= set(scores)
    config = json.loads((out / "config.json").read_text())
    assert config["protocol"] == "paper" and config["folds"] == [3, 9]
    assert config["subjects"] == ["physionet_S001", "physionet_S002"]
    assert config["paper_balanced_accuracy"] == 0.869
    assert config["weights"]["mode"] == "none"
    assert config["weights"]["source"] == "in-fold training"
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    assert summary.loc["neurorvq_finetune", "paper"] == 0.869
    assert np.isnan(summary.loc["bandpower_lr", "paper"])
    assert {"mean", "accuracy"} <= set(summary)
    with pytest.raises(ValueError, match="No fold of the 'eyes' task"):
        run_benchmark("eyes", subjects=[1], cache=no_weights / "store")


def test_groupkfold_is_reproducible_and_auto_trains_in_fold(
    data_path, no_weights, capsys
):
    """eegmat keeps GroupKFold; no published file on disk: in-fold training."""
    kwargs = dict(
        subjects=[0, 1],
        cv="loso",
        models=("bandpower_lr", "neurorvq_tokens_lr"),
        settings=TINY,
        data_path=data_path,
        max_windows=2,
        seed=3,
        weights="auto",
        cache=no_weights / "store",
    )
    first = run_benchmark("eegmat", out_dir=no_weights / "a", **kwargs)
    out = capsys.readouterr().out
    assert "--weights auto and the published files are not on disk" in out
    assert "accuracy" in out and "paper" not in out
    second = run_benchmark("eegmat", out_dir=no_weights / "b", verbose=False, **kwargs)
    np.testing.assert_array_equal(
        first["balanced_accuracy"], second["balanced_accuracy"]
    )
    assert len(first) == 4  # 2 models x 2 subjects
    for name in ("scores.csv", "summary.csv", "scores.png", "config.json"):
        assert (no_weights / "a" / name).is_file()
    config = json.loads((no_weights / "a" / "config.json").read_text())
    assert config["protocol"] == "groupkfold" and config["subjects"] == [0, 1]
    assert config["weights"]["source"] == "in-fold training"
    assert config["weights"]["missing"] == ["neurorvq-eeg-tokenizer-v1"]
    with pytest.raises(ValueError, match="paper protocol needs a fold file"):
        run_benchmark("eegmat", protocol="paper")


def test_weights_modes_resolve_without_downloading(no_weights):
    models = ("neurorvq_finetune", "neurorvq_tokens_lr", "eegnet")
    none = resolve_weights("none", models)
    assert not none.published and none.by_kind() is None and not none.missing
    assert none.needed == ("neurorvq-eeg-foundation-v1", "neurorvq-eeg-tokenizer-v1")
    auto = resolve_weights("auto", models)
    assert not auto.published and auto.missing == none.needed
    assert resolve_weights("auto", ["eegnet"]).note == "no NeuroRVQ model selected"
    planned = resolve_weights("download", models, download=False)
    assert planned.missing == none.needed and not planned.files
    folder = no_weights / "mine"
    folder.mkdir()
    with pytest.raises(FileNotFoundError, match="NeuroRVQ_EEG_foundation_model_v1"):
        resolve_weights(str(folder), ["neurorvq_finetune"])
    with pytest.raises(ValueError, match="or a folder holding the published files"):
        resolve_weights(str(folder / "absent"), ["neurorvq_finetune"])
    with pytest.raises(FileNotFoundError):  # before any data is loaded
        run_benchmark(
            "eyes",
            weights=str(folder),
            models=["neurorvq_finetune"],
            out_dir=no_weights / "out",
        )
    assert not (no_weights / "out").exists()


class _Recorder(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.paths.append(self.path)
        self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def weights_server(no_weights, monkeypatch):
    """A local hub that records every request (it serves nothing)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.paths = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("MNE_NEURORVQ_WEIGHTS_URL", url + "/pretrained_models")
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("task", PAPER_TASKS)
def test_dry_run_of_every_paper_task(task, weights_server, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    argv = ["benchmark", "--task", task, "--protocol", "paper", "--dry-run"]
    assert main([*argv, "--weights", "download", "--data-path", str(data)]) == 0
    out = capsys.readouterr().out
    assert "10 of 10 published folds" in out and out.count("    fold ") == 10
    assert "to download: neurorvq-eeg-foundation-v1" in out
    assert "NeuroRVQ paper: balanced accuracy" in out
    assert weights_server.paths == []  # no request
    assert list(data.iterdir()) == []  # nothing downloaded or written


def test_dry_run_reports_subjects_folds_and_weights(no_weights, capsys):
    folder = no_weights / "mine"
    folder.mkdir()
    argv = ["benchmark", "--task", "eyes", "--subjects", "1,2", "--dry-run"]
    assert main([*argv, "--weights", str(folder), "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert "subjects: 2 (physionet_S001 ... physionet_S002)" in out
    assert "fold 3: validation physionet_S001; training 1 subjects" in out
    assert "fine-tuned 3 epochs (4 warm-up)" in out and "EEGNet, 3 epochs" in out
    assert "missing in that folder: neurorvq-eeg-foundation-v1" in out
    assert "(0 of 2 subjects cut already)" in out
    assert "units: 8 (2 folds x 4 models), 0 finished in" in out
    text = describe_benchmark("eegmat", subjects=[0, 1], weights="none")
    assert "subjects: 2 (0 ... 1)" in text and "leave one" not in text
    assert "folds: 2, GroupKFold of subjects" in text
    assert "--weights none: NeuroRVQ models trained inside each fold" in text


def test_command_line_options():
    assert _subjects("physionet_S001,3-4") == ["physionet_S001", 3, 4]
    parser = build_parser()
    args = parser.parse_args(["benchmark", "--epochs", "2", "--finetune-epochs", "5"])
    settings = _benchmark_settings(args)
    assert (settings.finetune_epochs, settings.baseline_epochs) == (5, 2)
    default = _benchmark_settings(parser.parse_args(["benchmark"]))
    assert default == BenchmarkSettings()
    assert (default.finetune_epochs, default.baseline_epochs) == (20, 100)


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")  # torch
def test_models_follow_the_published_recipes():
    import mne

    settings = BenchmarkSettings()
    clf = build_model("neurorvq_finetune", None, settings, 0, 200.0)
    params = clf.get_params()
    assert (params["max_epochs"], params["warmup_epochs"], params["batch_size"]) == (
        20,
        4,
        32,
    )
    assert (params["lr"], params["weight_decay"], params["layer_decay"]) == (
        5e-4,
        1e-2,
        0.975,
    )
    assert params["precision"] == "auto"
    rng = np.random.default_rng(0)
    info = mne.create_info(["C3", "C4", "Cz", "Fz"], 200.0, "eeg")
    epochs = mne.EpochsArray(
        rng.standard_normal((12, 4, 800)) * 1e-5, info, verbose=False
    )
    y = np.tile([0, 1], 6)
    quick = BenchmarkSettings(baseline_epochs=3, baseline_batch_size=8)
    mi = build_model("eeginception_mi", None, quick, 0, 200.0)  # 7 M parameters
    assert mi.module == "EEGInceptionMI" and mi.module__sfreq == 200.0
    for name in ("eegnet", "eeginception_erp"):
        net = build_model(name, None, quick, 0, 200.0).fit(epochs, y)
        # AdamW 1e-3 without weight decay, cosine down to 0 at the last epoch
        np.testing.assert_allclose(net.history[:, "event_lr"], [1e-3, 5e-4, 0])
        assert net.optimizer_.param_groups[0]["weight_decay"] == 0
        assert net.batch_size == 8 and net.predict(epochs).shape == (12,)
