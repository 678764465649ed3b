"""Data-parallel training on 2 CPU processes (gloo)."""

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ._workers import ddp_worker

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs gloo"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_end_with_identical_weights_and_codebooks(tmp_path):
    # Each process draws its own batches, seeds its k-means differently and
    # (with dead-code restarts on) picks replacements from its own batch: the
    # k-means broadcast, the all-reduced EMA statistics, the restart broadcast
    # and DDP's gradient averaging must keep every replica identical.
    mp.spawn(
        ddp_worker,
        args=(2, _free_port(), str(tmp_path), True),
        nprocs=2,
        join=True,
    )
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0]["step"] == ranks[1]["step"] == 2
    assert ranks[0]["restarted"] > 0
    states = [r["state"] for r in ranks]
    assert states[0].keys() == states[1].keys()
    different = [k for k in states[0] if not torch.equal(states[0][k], states[1][k])]
    assert different == []
    codebooks = [k for k in states[0] if k.endswith("embedding.weight")]
    assert codebooks and all(states[0][k].abs().sum() > 0 for k in codebooks)
    # usage trackers count the tokens of both processes
    for key in ("last_used", "epoch_counts"):
        assert torch.equal(ranks[0]["usage"][key], ranks[1]["usage"][key])
    # only process 0 wrote the run's files
    assert (tmp_path / "tokenizer.pt").exists()
    saved = torch.load(tmp_path / "tokenizer.pt", weights_only=True)
    assert all(torch.equal(saved[k], states[0][k]) for k in saved)
