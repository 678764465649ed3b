"""Exact resume: a run killed by SIGKILL and resumed ends with identical weights."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mne_neurorvq.training import CHECKPOINT_NAME

WORKER = Path(__file__).with_name("_workers.py")


def _run(*args, **kwargs):
    return subprocess.Popen([sys.executable, str(WORKER), *map(str, args)], **kwargs)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_then_resume_gives_identical_weights(tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    reference = _run("resume", full)
    # the run to interrupt is slowed down so that it can be caught mid-epoch
    victim = _run("resume", killed, "--delay", "0.25")
    checkpoint = killed / CHECKPOINT_NAME
    position = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if checkpoint.exists():
            position = torch.load(checkpoint, weights_only=True)["position"]
            # 6 steps per epoch: wait for a checkpoint in the middle of epoch 2
            if position["step"] >= 8 and position["batch_in_epoch"] > 0:
                victim.send_signal(signal.SIGKILL)
                break
        assert victim.poll() is None, "the run ended before it could be killed"
        time.sleep(0.02)
    assert victim.wait(timeout=60) == -signal.SIGKILL
    assert 0 < position["batch_in_epoch"] < position["steps_per_epoch"]
    assert not (killed / "tokenizer.pt").exists()  # it really did not finish
    assert _run("resume", killed, "--resume").wait(timeout=120) == 0
    assert reference.wait(timeout=120) == 0

    expected = torch.load(full / "tokenizer.pt", weights_only=True)
    resumed = torch.load(killed / "tokenizer.pt", weights_only=True)
    assert expected.keys() == resumed.keys()
    different = [k for k in expected if not torch.equal(expected[k], resumed[k])]
    assert different == []
    # optimizer state, position and usage trackers agree too
    a = torch.load(full / CHECKPOINT_NAME, weights_only=True)
    b = torch.load(killed / CHECKPOINT_NAME, weights_only=True)
    assert a["position"] == b["position"] and a["position"]["step"] == 18
    for key in ("last_used", "epoch_counts"):
        assert torch.equal(a["task_state"]["usage"][key], b["task_state"]["usage"][key])
    moments_a = a["optimizer"]["state"]
    moments_b = b["optimizer"]["state"]
    assert all(
        torch.equal(moments_a[i]["exp_avg_sq"], moments_b[i]["exp_avg_sq"])
        for i in moments_a
    )
    assert (full / "history.jsonl").read_text().count("\n") == 3
    assert (killed / "history.jsonl").read_text().count("\n") == 3
    assert not [p for p in os.listdir(killed) if p.endswith(".tmp")]
