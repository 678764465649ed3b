"""Token corpora: tokenization throughput and pre-training step time.

1. ``tokenize-corpus`` throughput (single-channel 1 s patches per second of
   wall time, reading and preparation included) on a folder of EEGMAT
   recordings (19 channels at 500 Hz, the 60 s arithmetic files), in one
   process and, with ``--torchrun N``, under ``torchrun --nproc-per-node N``.
2. Masked-token pre-training step time from the store
   (:class:`~mne_neurorvq.training.StoredTokenPretraining`: no tokenizer
   runs) against today's pre-training from signals
   (:class:`~mne_neurorvq.training.PretrainingTask`: the frozen tokenizer
   tokenizes every batch), same windows (19 channels x 4 s), batch, model
   and threads; median step time after warm-up.

The tokenizer has random weights of the chosen size (speed does not depend
on the values): ``small`` (the CPU-sized preset, with a 4-block foundation
model) or ``published`` (the published tokenizer and 12-block foundation
model).

Usage::

    MNE_NEURORVQ_DATA=../shared/data python performance/corpus_speed.py \
        --size small --threads 1 --torchrun 2
    MNE_NEURORVQ_DATA=../shared/data python performance/corpus_speed.py \
        --size published --threads 2

Prints a table and writes JSON to ``performance/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from mne_neurorvq.corpus import tokenize_corpus
from mne_neurorvq.datasets import eegmat_files
from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig
from mne_neurorvq.nn.checkpoints import load_tokenizer, save_checkpoint

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _tokenizer_weights(size: str, folder: Path) -> Path:
    from mne_neurorvq.training import tokenizer_preset

    config = TokenizerConfig.published() if size == "published" else None
    config = config or tokenizer_preset(size)
    model = NeuroRVQTokenizerModel(config)
    model.init_weights(torch.Generator().manual_seed(0))
    return save_checkpoint(model, folder / f"{size}-tokenizer.pt")


def _corpus(n_recordings: int, folder: Path) -> Path:
    recordings = folder / "recordings"
    recordings.mkdir()
    files = eegmat_files(range(n_recordings), download=False)
    for _, condition, path in files:
        if condition == 2:  # the 60 s arithmetic recordings
            (recordings / path.name).symlink_to(path)
    return recordings


def _torchrun(n_procs: int, recordings, store, weights, threads) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={n_procs}",
        "-m",
        "mne_neurorvq",
        "tokenize-corpus",
        str(recordings),
        "--out",
        str(store),
        "--weights",
        str(weights),
        "--threads",
        str(threads),
        "--no-progress",
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(result.stderr[-3000:])
    return float(re.search(r"= ([0-9.]+) patches/s", result.stdout).group(1))


def _step_times(task, dataset, out, steps, batch_size) -> float:
    from mne_neurorvq.training import Trainer

    stamps = []
    trainer = Trainer(
        task,
        dataset,
        out,
        epochs=1000,
        max_steps=steps,
        batch_size=batch_size,
        progress=False,
        verbose=False,
        callbacks=[lambda trainer, step, output: stamps.append(time.perf_counter())],
    )
    trainer.fit()
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    return statistics.median(gaps[2:])  # after warm-up


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("small", "published"), default="small")
    parser.add_argument("--recordings", type=int, default=8, help="60 s each")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--torchrun", type=int, default=0, help="processes (0: off)")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from mne_neurorvq.nn._tuning import cpu_description
    from mne_neurorvq.training import (
        PretrainingTask,
        StoredTokenPretraining,
        TokenWindowDataset,
        WindowDataset,
        foundation_preset,
    )

    results = {
        "machine": f"{cpu_description()['model']} "
        f"({platform.machine()}), {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at start",
        "torch": torch.__version__,
        "size": args.size,
        "threads": args.threads,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        weights = _tokenizer_weights(args.size, folder)
        recordings = _corpus(args.recordings, folder)
        store = folder / "store.zarr"
        summary = tokenize_corpus(recordings, store, weights=weights, progress=False)
        results["tokenize"] = {
            "recordings": summary.n_tokenized,
            "patches": summary.n_patches,
            "seconds": summary.seconds,
            "patches_per_s": summary.patches_per_second,
        }
        if args.torchrun:
            results["tokenize"][f"torchrun_{args.torchrun}_patches_per_s"] = _torchrun(
                args.torchrun,
                recordings,
                folder / "store2.zarr",
                weights,
                max(args.threads // args.torchrun, 1),
            )

        stored = TokenWindowDataset.from_store(store, seconds=4, verbose="error")
        paths = sorted(recordings.glob("*.edf"))
        signals = WindowDataset.from_recordings(paths, 4, recipe=None, verbose="error")
        tokenizer = load_tokenizer(weights)
        fm_config = foundation_preset(args.size, tokenizer.config)
        from_signals = _step_times(
            PretrainingTask(tokenizer, fm_config),
            signals,
            folder / "signals",
            args.steps,
            args.batch_size,
        )
        from_tokens = _step_times(
            StoredTokenPretraining(stored, fm_config),
            stored,
            folder / "tokens",
            args.steps,
            args.batch_size,
        )
        results["pretraining_step_s"] = {
            "foundation_depth": fm_config.depth,
            "batch": f"{args.batch_size} x 19 ch x 4 s",
            "from_signals": from_signals,
            "from_tokens": from_tokens,
            "speed_up": from_signals / from_tokens,
        }
    tok = results["tokenize"]
    step = results["pretraining_step_s"]
    print(f"machine: {results['machine']}; torch {results['torch']}")
    print(f"tokenizer/foundation size: {args.size}; torch threads {args.threads}")
    print(
        f"tokenize-corpus: {tok['recordings']} recordings, {tok['patches']} patches "
        f"in {tok['seconds']:.1f} s = {tok['patches_per_s']:.0f} patches/s"
    )
    for key, value in tok.items():
        if key.startswith("torchrun"):
            print(f"  {key}: {value:.0f}")
    print(
        f"pre-training step ({step['batch']}, foundation depth "
        f"{step['foundation_depth']}): from signals {step['from_signals']:.3f} s, "
        f"from tokens {step['from_tokens']:.3f} s, speed-up {step['speed_up']:.2f}x"
    )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / f"corpus_speed_{args.size}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
