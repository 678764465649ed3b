"""Train a CPU-sized NeuroRVQ tokenizer and foundation model on EEGMAT.

Tokenizer: trained on EEGMAT subjects 00-17 (rest and arithmetic files), 19
channels x 4 s windows, benchmark recipe (resample to 200 Hz, 0.5-45 Hz,
common average); evaluated on subjects 18-23 with the paper's reconstruction
metric, the MSE between the per-sample z-scored input and reconstruction
(``std_x`` and ``std_recon`` of the tokenizer's forward in eval mode; 1.0 is
the error of predicting zeros; the published tokenizer reports 0.084-0.090),
and the codebook usage per level (perplexity, share of codes used).

Foundation model: pre-trained by masked-token prediction on the train
subjects with the frozen tokenizer; masked-token accuracy per scale on the
held-out subjects (fixed masks, ratio 0.5) against always predicting the most
frequent token of each head on that set.

Training stops by wall time (``--minutes`` and ``--pretrain-minutes``); the
learning-rate schedule spans the number of steps estimated from a short
timing probe. Prints a table and writes JSON to ``performance/results/``.

Usage (the reference run: 12 + 4 minutes, one torch thread on a shared
2-core machine, where a second thread slowed the small kernels down 5-10x)::

    python performance/train_eegmat.py --minutes 12 --pretrain-minutes 4 --threads 1

``--tokenizer PATH`` evaluates (and pre-trains on) an existing tokenizer
instead of training one; windows are cached as .npz in the results folder (or
``--cache``). The masked-token accuracy stays at the baseline for about 1,000
steps of batch 64 before it rises (see ``performance/README.md``): more than a
2-core CPU does in minutes. The pre-training figures in the README come from
the CPU-trained tokenizer and 3.5 minutes on one GPU::

    python performance/train_eegmat.py --tokenizer RUN/tokenizer/tokenizer.pt \
        --pretrain-minutes 3.5 --batch-size 64 --device cuda --monitor
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from mne_neurorvq.training import (
    PretrainingTask,
    TokenizerTraining,
    Trainer,
    WindowDataset,
    foundation_preset,
    tokenizer_preset,
)

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = os.environ.get(
    "MNE_NEURORVQ_DATA", str(HERE.parents[1] / "shared" / "data")
)
TRAIN_SUBJECTS = range(18)
TEST_SUBJECTS = range(18, 24)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--minutes", type=float, default=12.0, help="tokenizer")
    parser.add_argument("--pretrain-minutes", type=float, default=4.0)
    parser.add_argument("--config", default="small", help="tokenizer preset or JSON")
    parser.add_argument("--n-code", type=int, default=None)
    parser.add_argument("--n-levels", type=int, default=None)
    parser.add_argument("--code-dim", type=int, default=None)
    parser.add_argument("--encoder-depth", type=int, default=None)
    parser.add_argument("--decoder-depth", type=int, default=None)
    parser.add_argument(
        "--conv-channels", type=int, default=None, help="model width = 25 x this"
    )
    parser.add_argument("--num-heads", type=int, default=None)
    parser.add_argument("--foundation-depth", type=int, default=None)
    parser.add_argument(
        "--foundation-init-values",
        type=float,
        default=None,
        help="layer-scale init of the foundation blocks (preset default if unset)",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--pretrain-lr", type=float, default=1e-3)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--recipe", default="benchmark")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--restart-dead", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument(
        "--cache", default=None, help="folder of the .npz window cache (default: out)"
    )
    parser.add_argument(
        "--device", default=None, help="torch device (default: CUDA when available)"
    )
    parser.add_argument(
        "--monitor",
        action="store_true",
        help="also log the held-out masked accuracy after every pre-training epoch",
    )
    parser.add_argument("--skip-pretraining", action="store_true")
    parser.add_argument(
        "--tokenizer", default=None, help="evaluate this tokenizer instead of training"
    )
    return parser.parse_args(argv)


def load_windows(data_dir, subjects, seconds, recipe, cache_dir):
    """Windows of the subjects' two recordings, cached as .npz."""
    key = f"eegmat_{recipe}_{seconds}s_{min(subjects):02d}-{max(subjects):02d}.npz"
    cache = Path(cache_dir) / key
    if cache.is_file():
        stored = np.load(cache)
        blocks = [(stored[f"x{i}"], stored[f"c{i}"]) for i in range(int(stored["n"]))]
        return WindowDataset(blocks)
    paths = [
        Path(data_dir) / "eegmat" / f"Subject{s:02d}_{k}.edf"
        for s in subjects
        for k in (1, 2)
    ]
    dataset = WindowDataset.from_recordings(
        paths, seconds, recipe=recipe, verbose="warning"
    )
    arrays = {"n": np.array(dataset.n_blocks)}
    for i, (windows, chan_idx) in enumerate(dataset.blocks):
        arrays[f"x{i}"], arrays[f"c{i}"] = windows, chan_idx
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **arrays)
    return dataset


def estimate_steps(task_factory, dataset, batch_size, minutes, seed, device):
    """Steps that fit in ``minutes``, from the time of a few probe steps."""
    import tempfile

    times = []

    def timer(trainer, step, output):
        times.append(time.monotonic())

    with tempfile.TemporaryDirectory() as tmp:
        Trainer(
            task_factory(),
            dataset,
            tmp,
            epochs=1,
            max_steps=6,
            batch_size=batch_size,
            seed=seed,
            progress=False,
            verbose=False,
            device=device,
            callbacks=[timer],
        ).fit()
    per_step = float(np.median(np.diff(times)))
    return max(10, int(minutes * 60 / per_step * 0.97)), per_step


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out_dir = Path(args.out)
    started = time.monotonic()
    t0 = time.monotonic()
    cache = Path(args.cache) if args.cache else out_dir
    train = load_windows(args.data, TRAIN_SUBJECTS, args.seconds, args.recipe, cache)
    test = load_windows(args.data, TEST_SUBJECTS, args.seconds, args.recipe, cache)
    load_time = time.monotonic() - t0
    print(f"train: {train!r}\ntest: {test!r} (loaded in {load_time:.0f} s)")

    sizes = {
        "n_code": args.n_code,
        "n_levels": args.n_levels,
        "code_dim": args.code_dim,
        "encoder_depth": args.encoder_depth,
        "decoder_depth": args.decoder_depth,
        "num_heads": args.num_heads,
    }
    if args.conv_channels:
        sizes["conv_channels"] = args.conv_channels
        sizes["embed_dim"] = 25 * args.conv_channels
    tok_config = tokenizer_preset(
        args.config, **{k: v for k, v in sizes.items() if v is not None}
    )
    run_dir = out_dir / f"train_eegmat_{time.strftime('%Y%m%d-%H%M%S')}"

    if args.tokenizer:
        # reuse a trained tokenizer: evaluate it only
        task = TokenizerTraining(init=args.tokenizer)
        model = task.build(args.seed).eval()
        tok_config = model.config
        trainer = Trainer(
            task,
            train,
            run_dir / "tokenizer",
            batch_size=args.batch_size,
            device=args.device,
        )
        tok_info = {"init": args.tokenizer, "steps": 0, "wall_time_s": 0.0}
    else:
        model, trainer, tok_info = train_tokenizer(args, tok_config, train, run_dir)
    t0 = time.monotonic()
    test_eval = trainer.evaluate(test)
    train_eval = trainer.evaluate(
        # a third of the train subjects (00, 03, ..., 15), both recordings
        train.subset_blocks([b for b in range(train.n_blocks) if b // 2 % 3 == 0])
    )
    eval_time = time.monotonic() - t0
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    report = {
        "tokenizer": {
            "config": tok_config.to_dict(),
            "trainable_parameters": n_params,
            **tok_info,
            "epochs": tok_info["steps"] * args.batch_size / len(train),
            "test": test_eval,
            "train_subset": train_eval,
            "eval_time_s": eval_time,
        },
        "settings": vars(args),
        "data": {"train_windows": len(train), "test_windows": len(test)},
        "machine": {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
        },
    }
    print_tokenizer(report["tokenizer"])

    if not args.skip_pretraining:
        tokenizer = model.eval()
        fm_changes = {}
        if args.foundation_depth:
            fm_changes["depth"] = args.foundation_depth
        if args.foundation_init_values is not None:
            fm_changes["init_values"] = args.foundation_init_values
        fm_config = foundation_preset(args.config, tok_config, **fm_changes)
        if args.config not in ("tiny", "small", "published"):
            fm_config = foundation_preset("small", tok_config, **fm_changes)

        def make_pretraining_task():
            return PretrainingTask(tokenizer, fm_config, mask_ratio=0.5)

        fm_steps, fm_probe = estimate_steps(
            make_pretraining_task,
            train,
            args.batch_size,
            args.pretrain_minutes,
            args.seed,
            args.device,
        )
        print(f"foundation: {fm_probe:.2f} s/step -> schedule over {fm_steps} steps")
        fm_task = make_pretraining_task()
        fm_trainer = Trainer(
            fm_task,
            train,
            run_dir / "foundation",
            epochs=int(np.ceil(fm_steps / (len(train) / args.batch_size))) + 1,
            max_steps=fm_steps,
            batch_size=args.batch_size,
            lr=args.pretrain_lr,
            warmup_steps=max(1, fm_steps // 20),
            seed=args.seed,
            time_limit=60 * args.pretrain_minutes,
            precision=args.precision,
            progress=False,
            device=args.device,
            eval_data=test if args.monitor else None,
        )
        fm_result = fm_trainer.fit()
        fm_eval = fm_trainer.evaluate(test)
        report["foundation"] = {
            "config": fm_config.to_dict(),
            "trainable_parameters": sum(
                p.numel() for p in fm_result.model.parameters() if p.requires_grad
            ),
            "steps": fm_result.step,
            "wall_time_s": fm_result.wall_time,
            "history": fm_result.history,
            "test": fm_eval,
        }
        print_foundation(report["foundation"])

    report["total_wall_time_s"] = time.monotonic() - started
    run_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{run_dir.name}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\ntotal {report['total_wall_time_s'] / 60:.1f} min; results: {path}")
    return report


def train_tokenizer(args, tok_config, train, run_dir):
    """Train the tokenizer within the time budget; return model, trainer, info."""

    def make_tokenizer_task():
        return TokenizerTraining(tok_config, restart_dead=args.restart_dead)

    max_steps, probe = estimate_steps(
        make_tokenizer_task,
        train,
        args.batch_size,
        args.minutes,
        args.seed,
        args.device,
    )
    print(f"tokenizer: {probe:.2f} s/step -> schedule over {max_steps} steps")
    epochs = int(np.ceil(max_steps / (len(train) / args.batch_size))) + 1
    trainer = Trainer(
        make_tokenizer_task(),
        train,
        run_dir / "tokenizer",
        epochs=epochs,
        max_steps=max_steps,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_steps=max(1, max_steps // 20),
        min_lr_ratio=0.02,
        seed=args.seed,
        time_limit=60 * args.minutes,
        precision=args.precision,
        checkpoint_every=200,
        progress=False,
        device=args.device,
    )
    result = trainer.fit()
    info = {
        "steps": result.step,
        "wall_time_s": result.wall_time,
        "seconds_per_step_probe": probe,
        "stop_reason": result.stop_reason,
        "history": result.history,
    }
    return result.model, trainer, info


def print_tokenizer(rep):
    test = rep["test"]
    print("\nTokenizer (held-out subjects 18-23)")
    print(
        f"  steps {rep['steps']} ({rep['epochs']:.1f} epochs) in "
        f"{rep['wall_time_s'] / 60:.1f} min; {rep['trainable_parameters']:,} "
        "trainable parameters"
    )
    print(
        f"  reconstruction MSE (z-scored): test {test['mse']:.4f}, "
        f"train subset {rep['train_subset']['mse']:.4f} (published model: "
        "0.084-0.090)"
    )
    ppl = np.array(test["perplexity"])
    share = np.array(test["used_share"])
    print("  codebook usage on test, per level (mean over scales):")
    print("    level | perplexity | used share")
    for level in range(ppl.shape[1]):
        print(
            f"    {level + 1:>5} | {ppl[:, level].mean():>10.1f} | "
            f"{share[:, level].mean():>10.3f}"
        )


def print_foundation(rep):
    test = rep["test"]
    print("\nFoundation model, masked-token accuracy on held-out subjects")
    print(
        f"  steps {rep['steps']} in {rep['wall_time_s'] / 60:.1f} min; "
        f"{rep['trainable_parameters']:,} trainable parameters"
    )
    print("    scale | accuracy | most-frequent baseline")
    pairs = zip(test["accuracy_per_scale"], test["baseline_per_scale"], strict=True)
    for scale, (acc, base) in enumerate(pairs):
        print(f"    {scale + 1:>5} | {acc:>8.3f} | {base:>8.3f}")
    acc, base = np.array(test["accuracy"]), np.array(test["baseline"])
    print("  per level (mean over scales):")
    print(
        "    "
        + " ".join(
            f"L{i + 1} {a:.3f}/{b:.3f}"
            for i, (a, b) in enumerate(zip(acc.mean(0), base.mean(0), strict=True))
        )
    )


if __name__ == "__main__":
    main()
