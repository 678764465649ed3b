"""The issue's acceptance, on eegmmidb subjects 1-4 with real Dask clusters.

One command, four runs: the units and scores; the same command again skips
them; with the recordings moved away a local Dask cluster of 2 worker
processes on 127.0.0.1 runs it from the store alone with the same band-power
scores; a run killed with SIGKILL resumes and leaves its finished units as
they were; the report merges it into the paper's table. And a unit sent to an
existing scheduler (``--scheduler`` / ``--scheduler-file``) is the same unit.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mne_neurorvq.benchmark.units import read_units
from mne_neurorvq.cli import main

pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:Montage name 'standard_1020' is deprecated:FutureWarning"
    ),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:wfdb.*"),
]
ROOT = Path(__file__).resolve().parents[2]
COMMAND = (
    "benchmark --task eyes --subjects 1-4 --max-windows 6 --epochs 1 --weights none "
    "--models bandpower_lr eegnet"
).split()
UNITS = {
    f"{fold}-{model}" for fold in (2, 3, 8, 9) for model in ("bandpower_lr", "eegnet")
}


def _units(out):
    return {
        p.stem: (p.stat().st_mtime_ns, p.read_bytes())
        for p in (out / "units").glob("*.json")
    }


def _scores(out, model=None):
    scores = pd.read_csv(out / "scores.csv")
    if model is not None:
        scores = scores[scores["model"] == model]
    columns = ["accuracy", "balanced_accuracy", "n_train", "n_test", "seed"]
    return scores.set_index(["model", "fold"]).sort_index()[columns]


def _bandpower(out):
    return _scores(out, "bandpower_lr")


@pytest.mark.slow
def test_acceptance(eegbci_four, tmp_path, capsys):
    cache, a, b = tmp_path / "C", tmp_path / "A", tmp_path / "B"
    argv = [*COMMAND, "--cache", str(cache), "--data-path", str(eegbci_four)]
    # 1. 8 unit files (4 folds x 2 models) and the scores
    assert main([*argv, "--out", str(a)]) == 0
    out = capsys.readouterr().out
    assert set(_units(a)) == UNITS
    scores = pd.read_csv(a / "scores.csv")
    assert len(scores) == 8 and sorted(set(scores["fold"])) == [2, 3, 8, 9]
    for name in ("summary.csv", "scores.png", "config.json"):
        assert (a / name).is_file()
    assert "bandpower_lr" in out and f"in {a / 'units'}" in out
    record = json.loads((a / "units" / "3-eegnet.json").read_text())
    assert (
        record["n_train"] == 3 * 12 and record["n_test"] == 12 and record["seed"] == 3
    )
    assert {"torch", "mne_neurorvq"} <= set(record["versions"])
    assert record["weights"]["mode"] == "none" and record["fit_seconds"] > 0
    # 2. the same command again skips all 8
    before = _units(a)
    assert main([*argv, "--out", str(a)]) == 0
    assert "8 units, 8 finished already (skipped)" in capsys.readouterr().out
    assert _units(a) == before
    # 3. the recordings moved away: from the store, on 2 Dask worker processes
    away = eegbci_four.with_name(eegbci_four.name + "-away")
    eegbci_four.rename(away)
    try:
        assert main([*argv, "--out", str(b), "--workers", "2"]) == 0
        # the same scores for every model, EEGNet's training included (same seed)
        pd.testing.assert_frame_equal(_scores(a), _scores(b))
        assert set(_units(b)) == UNITS
        assert {u["worker"] for u in read_units(a)} == {None}  # in this process
        assert len({u["worker"] for u in read_units(b)} - {None}) >= 1
        # 4. killed with SIGKILL after its first unit: resumed, finished units kept
        killed = tmp_path / "K"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        command = [
            sys.executable,
            "-m",
            "mne_neurorvq.cli",
            *argv,
            "--out",
            str(killed),
        ]
        process = subprocess.Popen(
            command,
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while not _units(killed) and time.monotonic() < deadline:
            assert process.poll() is None, "the run ended before its first unit"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        finished = _units(killed)
        assert 1 <= len(finished) < 8
        assert main([*argv, "--out", str(killed)]) == 0
        out = capsys.readouterr().out
        assert f"{len(finished)} finished already (skipped)" in out
        after = _units(killed)
        assert set(after) == UNITS
        assert {name: after[name] for name in finished} == finished
        assert not [p for p in (killed / "units").iterdir() if p.suffix != ".json"]
    finally:
        away.rename(eegbci_four)
    # 5. the report: the task and a mean column, beside the paper's rows
    assert main(["report", str(a), "--out", str(tmp_path / "T")]) == 0
    table = pd.read_csv(tmp_path / "T" / "table.csv")
    assert {"eyes", "mean", "eyes_folds", "mean_tasks"} <= set(table)
    ours = table[table["source"] == "this package"].set_index("model")
    assert ours.loc["bandpower_lr", "eyes_folds"] == "4/10"
    assert ours.loc["bandpower_lr", "mean_tasks"] == "1/5"
    assert ours.loc["bandpower_lr", "eyes"] == pytest.approx(
        _bandpower(a)["balanced_accuracy"].mean()
    )
    markdown = (tmp_path / "T" / "table.md").read_text()
    assert "(4/10 folds)" in markdown and "(1/5 tasks)" in markdown
    assert (tmp_path / "T" / "table.png").is_file()


@pytest.mark.slow
def test_units_on_an_existing_scheduler(eegbci_four, tmp_path, capsys):
    """--scheduler and --scheduler-file send the units to a running cluster."""
    distributed = pytest.importorskip("distributed")
    argv = [
        *COMMAND[:-1],  # band power only: the cluster is what is tested
        "--cache",
        str(tmp_path / "C"),
        "--data-path",
        str(eegbci_four),
        "--folds",
        "2,3",
    ]
    scheduler_file = tmp_path / "scheduler.json"
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # the scheduler writes its file, as `dask scheduler --scheduler-file` does
        scheduler_kwargs={"scheduler_file": str(scheduler_file)},
    ) as cluster:
        address = cluster.scheduler_address
        assert main([*argv, "--out", str(tmp_path / "A"), "--scheduler", address]) == 0
        assert json.loads(scheduler_file.read_text())["address"] == address
        argv += ["--out", str(tmp_path / "B"), "--scheduler-file", str(scheduler_file)]
        assert main(argv) == 0
        workers = set(cluster.scheduler_info["workers"])
    a, b = read_units(tmp_path / "A"), read_units(tmp_path / "B")
    # the units ran on the cluster's worker, not in this process
    assert {u["worker"] for u in a + b} <= workers and len(workers) == 1
    assert {u["fold"] for u in a} == {2, 3} and len(a) == len(b) == 2
    assert [u["balanced_accuracy"] for u in a] == [u["balanced_accuracy"] for u in b]
    capsys.readouterr()
