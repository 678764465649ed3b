"""The report across tasks: the paper's table beside ours, gaps marked."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from mne_neurorvq.benchmark import paper_table, report, summarise, summarize
from mne_neurorvq.benchmark.run import write_results
from mne_neurorvq.cli import main

SHARED_TABLE = "benchmark-splits/paper-table.csv"


def _run(folder, task, models, folds, scores, protocol="paper"):
    """A run folder as run_benchmark leaves it: config.json and unit files."""
    (folder / "units").mkdir(parents=True)
    config = dict(
        task=task,
        protocol=protocol,
        folds=folds,
        models=models,
        classes=["a", "b"],
        paper_balanced_accuracy=None,
    )
    (folder / "config.json").write_text(json.dumps(config))
    for (fold, model), score in scores.items():
        record = dict(
            model=model,
            fold=fold,
            accuracy=score,
            balanced_accuracy=score,
            fit_seconds=1.0,
            n_train=10,
            n_test=5,
            seed=fold,
        )
        (folder / "units" / f"{fold}-{model}.json").write_text(json.dumps(record))
    return folder


def test_paper_table_is_the_published_table(data_path):
    table = paper_table()
    assert list(table.index) == [
        "NeuroGPT", "CBraMod", "BIOT", "MIRepNet", "LaBraM", "EEGPT", "NeuroRVQ"
    ]  # fmt: skip
    assert table.loc["NeuroRVQ", "eyes"] == 0.869
    assert table.loc["NeuroRVQ", "motor_std"] == 0.073
    assert np.isnan(table.loc["BIOT", "sleep"]) and np.isnan(table.loc["BIOT", "mean"])
    shared = data_path.parent / SHARED_TABLE
    if shared.is_file():  # the package's copy is the shared file, unchanged
        from importlib.resources import files

        packaged = files("mne_neurorvq.benchmark") / "data" / "paper-table.csv"
        assert packaged.read_text() == shared.read_text()


def test_report_marks_missing_tasks_and_folds(tmp_path, capsys):
    all_ten = {(f, "bandpower_lr"): 0.6 + 0.01 * f for f in range(10)}
    motor = _run(
        tmp_path / "motor", "motor", ["bandpower_lr"], list(range(10)), all_ten
    )
    part = {(f, m): 0.8 for f in (0, 1, 2) for m in ("bandpower_lr", "eegnet")}
    eyes = _run(tmp_path / "eyes", "eyes", ["bandpower_lr", "eegnet"], [0, 1, 2], part)
    assert main(["report", str(motor), str(eyes), "--out", str(tmp_path / "T")]) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "T" / "table.csv").set_index("model")
    band = table.loc["bandpower_lr"]
    assert band["motor"] == pytest.approx(0.645) and band["motor_folds"] == "10/10"
    assert band["eyes"] == pytest.approx(0.8) and band["eyes_folds"] == "3/10"
    assert band["erp_folds"] == "missing" and np.isnan(band["erp"])
    assert band["mean"] == pytest.approx((0.645 + 0.8) / 2)
    assert band["mean_tasks"] == "2/5"
    eegnet = table.loc["eegnet"]
    assert eegnet["motor_folds"] == "missing" and eegnet["mean_tasks"] == "1/5"
    neurorvq = table.loc["NeuroRVQ"]
    assert neurorvq["source"].startswith("NeuroRVQ paper")
    assert neurorvq["mean"] == 0.749 and neurorvq["erp"] == 0.876
    markdown = (tmp_path / "T" / "table.md").read_text()
    assert "| bandpower_lr | this package | 0.645 ± 0.030 | missing |" in markdown
    assert "0.800 ± 0.000 (3/10 folds)" in markdown and "(2/5 tasks)" in markdown
    assert (
        "| NeuroRVQ | NeuroRVQ paper (arXiv 2510.13068) | 0.700 ± 0.073 |" in markdown
    )
    assert markdown in printed + "\n" and (tmp_path / "T" / "table.png").is_file()
    # a unit twice (two runs of the same fold) is an error, not an average
    shutil.copytree(eyes, tmp_path / "eyes-again")
    with pytest.raises(ValueError, match="same units of task 'eyes'"):
        report([eyes, tmp_path / "eyes-again"], tmp_path / "U", verbose=False)
    with pytest.raises(FileNotFoundError, match="not a benchmark run"):
        report([tmp_path], tmp_path / "U", verbose=False)


def test_results_are_rebuilt_from_the_unit_files(tmp_path):
    scores = {(f, m): 0.5 + f / 10 for f in (1, 0) for m in ("eegnet", "bandpower_lr")}
    run = _run(tmp_path / "run", "eyes", ["bandpower_lr", "eegnet"], [0, 1], scores)
    table = write_results(run)
    assert table[["fold", "model"]].values.tolist() == [
        [0, "bandpower_lr"], [0, "eegnet"], [1, "bandpower_lr"], [1, "eegnet"]
    ]  # fmt: skip
    assert pd.read_csv(run / "scores.csv").equals(table)
    summary = pd.read_csv(run / "summary.csv", index_col=0)
    assert summary.loc["eegnet", "mean"] == pytest.approx(0.55)
    assert (run / "scores.png").is_file()
    with pytest.warns(FutureWarning, match="use summarize"):
        old = summarise(table)
    pd.testing.assert_frame_equal(old, summarize(table))
