"""Training runs executed in separate processes by the tests.

``python tests/training/_workers.py resume OUT [--resume] [--delay S]`` trains a
tiny tokenizer on synthetic windows, checkpointing every 2 steps (the exact
resume test kills it with SIGKILL). :func:`ddp_worker` is the entry point of
the distributed test (``torch.multiprocessing.spawn``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from mne_neurorvq.nn import TokenizerConfig
from mne_neurorvq.training import TokenizerTraining, Trainer, WindowDataset

#: Tiny tokenizer used by the subprocess tests.
CONFIG = TokenizerConfig.tiny(n_code=32, code_dim=8)


def synthetic_dataset(n_windows=24, seed=0) -> WindowDataset:
    """Two channel sets of 2 s windows of noisy oscillations (uV)."""
    rng = np.random.default_rng(seed)
    t = np.arange(400) / 200.0
    blocks = []
    for chans in ([36, 9, 10], [55, 56]):
        freqs = rng.uniform(4, 30, size=(n_windows // 2, len(chans), 1))
        phase = rng.uniform(0, 2 * np.pi, size=freqs.shape)
        data = 20 * np.sin(2 * np.pi * freqs * t + phase)
        data += 5 * rng.standard_normal(data.shape)
        blocks.append((data.astype(np.float32), chans))
    return WindowDataset(blocks)


def run_resume(out_dir, resume=False, delay=0.0, epochs=3):
    torch.set_num_threads(1)

    def slow_down(trainer, step, output):
        time.sleep(delay)

    task = TokenizerTraining(CONFIG, dead_after=3)
    trainer = Trainer(
        task,
        synthetic_dataset(),
        out_dir,
        epochs=epochs,
        batch_size=4,
        lr=2e-3,
        checkpoint_every=2,
        seed=7,
        progress=False,
        verbose=False,
        callbacks=[slow_down] if delay else [],
    )
    trainer.fit(resume=resume)


def ddp_worker(rank, world_size, port, out_dir, restart_dead=False):
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    task = TokenizerTraining(CONFIG, dead_after=1, restart_dead=restart_dead)
    result = Trainer(
        task,
        synthetic_dataset(),
        out_dir,
        epochs=1,
        max_steps=2,
        batch_size=3,
        seed=rank,  # deliberately different: replicas must still agree
        progress=False,
        verbose=False,
        device="cpu",
    ).fit()
    state = {k: v.clone() for k, v in result.model.state_dict().items()}
    torch.save(
        {
            "state": state,
            "usage": task.usage.state_dict(),
            "step": result.step,
            "restarted": sum(h["train"].get("restarted", 0) for h in result.history),
        },
        Path(out_dir) / f"rank{rank}.pt",
    )


if __name__ == "__main__":
    command, out = sys.argv[1], sys.argv[2]
    if command == "resume":
        delay = (
            float(sys.argv[sys.argv.index("--delay") + 1])
            if "--delay" in sys.argv
            else 0
        )
        run_resume(out, resume="--resume" in sys.argv, delay=delay)
