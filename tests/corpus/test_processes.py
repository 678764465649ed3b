"""The store across processes: SIGKILL then rerun, and real torchrun ranks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mne_neurorvq.corpus import TokenStore

REPO = Path(__file__).resolve().parents[2]
#: Index columns that say how a row was made rather than what it holds.
_RUN_COLUMNS = ["rank", "seconds_taken"]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, [env.get("PYTHONPATH")])]
    )
    env["OMP_NUM_THREADS"] = "1"
    return env


def _command(bids_root, out, weights):
    return [
        "tokenize-corpus",
        str(bids_root),
        "--out",
        str(out),
        "--weights",
        str(weights),
        "--no-progress",
        "--threads",
        "1",
    ]


def _assert_same_store(store_path, reference_path):
    """Same recordings, same index rows, byte-identical token chunks."""
    store, reference = TokenStore(store_path), TokenStore(reference_path)
    index = store.index.drop(columns=_RUN_COLUMNS)
    expected = reference.index.drop(columns=_RUN_COLUMNS)
    assert index.to_dict("records") == expected.to_dict("records")
    for recording, key in zip(index["recording"], index["key"], strict=True):
        tokens = store.tokens(recording)
        assert tokens.dtype == np.uint16
        np.testing.assert_array_equal(tokens, reference.tokens(recording))
        chunks = sorted(
            p for p in (store.path / "tokens" / key).rglob("*") if p.is_file()
        )
        assert chunks
        for chunk in chunks:
            twin = reference.path / chunk.relative_to(store.path)
            assert chunk.read_bytes() == twin.read_bytes()


@pytest.fixture(scope="module")
def reference_store(bids_root, tiny_weights, tmp_path_factory):
    """The BIDS tree tokenized by one process."""
    from mne_neurorvq.cli import main

    out = tmp_path_factory.mktemp("reference") / "one.zarr"
    assert main(_command(bids_root, out, tiny_weights)) == 0
    return out


@pytest.mark.slow
def test_sigkill_then_rerun_completes_the_same_store(
    bids_root, tiny_weights, reference_store, tmp_path
):
    out = tmp_path / "killed.zarr"
    process = subprocess.Popen(
        [sys.executable, "-m", "mne_neurorvq", *_command(bids_root, out, tiny_weights)],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parts = out / "index-parts"
    deadline = time.monotonic() + 120
    try:
        while not any(parts.glob("*.parquet")) and time.monotonic() < deadline:
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    done_when_killed = len(list(parts.glob("*.parquet")))
    assert 1 <= done_when_killed < 6
    assert not (out / "index.parquet").exists()  # killed before the merge

    rerun = subprocess.run(
        [sys.executable, "-m", "mne_neurorvq", *_command(bids_root, out, tiny_weights)],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"{done_when_killed} already in the store (skipped)" in rerun.stdout
    assert not list(out.glob(".tmp-*"))
    _assert_same_store(out, reference_store)


@pytest.mark.slow
def test_torchrun_two_ranks_give_the_same_store(
    bids_root, tiny_weights, reference_store, tmp_path
):
    out = tmp_path / "torchrun.zarr"
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "mne_neurorvq",
    ]
    result = subprocess.run(
        [*torchrun, *_command(bids_root, out, tiny_weights)],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "over 2 process(es)" in result.stdout
    assert "patches/s" in result.stdout
    assert result.stdout.count("6 recording(s) tokenized") == 1  # rank 0 reports
    index = TokenStore(out).index
    assert set(index["rank"]) == {0, 1}  # both ranks had a share
    _assert_same_store(out, reference_store)
