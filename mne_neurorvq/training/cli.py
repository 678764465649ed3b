"""``mne-neurorvq train-tokenizer`` and ``mne-neurorvq pretrain``.

Both read recordings (files, or folders searched recursively for formats
:func:`mne.io.read_raw` opens), cut them into windows and train; the output
folder receives the training checkpoint (``training_state.pt``, for
``--resume``), ``run.json``, ``history.jsonl`` (one JSON line per epoch) and
the final model in the published key layout (``tokenizer.pt`` or
``foundation.pt``), loadable with :func:`mne_neurorvq.nn.checkpoints.load_tokenizer`
or :func:`~mne_neurorvq.nn.checkpoints.load_foundation`.

Data-parallel training: launch the same command with ``torchrun``, e.g.
``torchrun --nproc-per-node 4 -m mne_neurorvq.cli train-tokenizer ...``.
"""

from __future__ import annotations

import argparse

__all__ = ["add_training_commands"]


def _add_common(parser: argparse.ArgumentParser, inputs: str = "+"):
    parser.add_argument(
        "inputs",
        nargs=inputs,
        help="recording files or folders (searched recursively)",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--config",
        default="small",
        help="model size: tiny, small, published, or a JSON file of config fields "
        "(default: small)",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-4, help="peak learning rate")
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument(
        "--schedule", choices=("cosine", "linear", "constant"), default="cosine"
    )
    parser.add_argument(
        "--warmup-steps",
        type=int,
        default=None,
        help="linear warm-up steps (default: 5%% of the steps)",
    )
    parser.add_argument(
        "--clip-grad", type=float, default=3.0, help="gradient-norm clip (0: off)"
    )
    parser.add_argument(
        "--seconds",
        type=int,
        default=4,
        help="window length in seconds; channels x seconds <= 256 (default: 4)",
    )
    parser.add_argument(
        "--recipe",
        choices=("benchmark", "authors", "none"),
        default="benchmark",
        help="filtering recipe of mne_neurorvq.preprocessing.prepare_array",
    )
    parser.add_argument(
        "--max-windows", type=int, default=None, help="at most this many per recording"
    )
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        help="write the training checkpoint every N steps (always at the end)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="resume from OUT/training_state.pt (exactly where it stopped)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument(
        "--minutes", type=float, default=None, help="stop after this much training"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (log lines only)"
    )


def add_training_commands(commands) -> None:
    """Add ``train-tokenizer`` and ``pretrain`` to an argparse sub-parser set."""
    tokenizer = commands.add_parser(
        "train-tokenizer", help="train a NeuroRVQ tokenizer on recordings"
    )
    _add_common(tokenizer)
    tokenizer.add_argument(
        "--init", default=None, help="start from these tokenizer weights"
    )
    tokenizer.add_argument(
        "--dead-after",
        type=int,
        default=100,
        help="steps without use after which a code counts as dead (default: 100)",
    )
    tokenizer.add_argument(
        "--restart-dead",
        action="store_true",
        help="replace dead codes by random inputs of the current batch (off by "
        "default; not part of the reference training)",
    )
    tokenizer.set_defaults(func=_train_tokenizer)

    pretrain = commands.add_parser(
        "pretrain", help="masked-token pre-training of a foundation model"
    )
    _add_common(pretrain, inputs="*")
    pretrain.add_argument(
        "--tokenizer",
        default=None,
        help="trained tokenizer checkpoint (frozen); required without --tokens",
    )
    pretrain.add_argument(
        "--tokens",
        default=None,
        metavar="STORE",
        help="token store of `tokenize-corpus`: predict its tokens instead of "
        "running a tokenizer at every step (the recordings are read again from "
        "the sources in its index, prepared with its recipe; --recipe and "
        "--tokenizer do not apply)",
    )
    pretrain.add_argument(
        "--mask-ratio", type=float, default=0.5, help="share of masked patches"
    )
    pretrain.add_argument(
        "--init", default=None, help="start from these foundation weights"
    )
    pretrain.set_defaults(func=_pretrain)


def _prepare(args):
    import torch

    from .data import WindowDataset, find_recordings

    if args.threads:
        torch.set_num_threads(args.threads)
    paths = find_recordings(args.inputs)
    recipe = None if args.recipe == "none" else args.recipe
    dataset = WindowDataset.from_recordings(
        paths, args.seconds, recipe=recipe, max_windows=args.max_windows
    )
    print(f"{dataset!r} from {len(paths)} recording(s)", flush=True)
    return dataset, _training_config(args)


def _training_config(args):
    from .engine import TrainingConfig

    return TrainingConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        warmup_steps=args.warmup_steps,
        clip_grad=args.clip_grad or None,
        precision=args.precision,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
        max_steps=args.max_steps,
        time_limit=None if args.minutes is None else 60 * args.minutes,
        progress=not args.no_progress,
    )


def _train_tokenizer(args) -> int:
    from .engine import Trainer
    from .presets import tokenizer_preset
    from .tokenizer import TokenizerTraining

    dataset, config = _prepare(args)
    model_config = None if args.init else tokenizer_preset(args.config)
    task = TokenizerTraining(
        model_config,
        init=args.init,
        dead_after=args.dead_after,
        restart_dead=args.restart_dead,
    )
    result = Trainer(task, dataset, args.out, config, device=args.device).fit(
        resume=args.resume
    )
    if result.model_path is not None:
        print(f"tokenizer: {result.model_path}")
    return 0


def _pretrain(args) -> int:
    from ..nn.checkpoints import load_tokenizer
    from .engine import Trainer
    from .presets import foundation_preset
    from .pretraining import PretrainingTask

    if args.tokens is not None:
        return _pretrain_from_tokens(args)
    if args.tokenizer is None or not args.inputs:
        raise SystemExit(
            "mne-neurorvq pretrain: error: give recordings and --tokenizer, or "
            "--tokens STORE (a token store of tokenize-corpus)"
        )
    dataset, config = _prepare(args)
    tokenizer = load_tokenizer(args.tokenizer)
    model_config = foundation_preset(args.config, tokenizer.config)
    task = PretrainingTask(
        tokenizer, model_config, mask_ratio=args.mask_ratio, init=args.init
    )
    result = Trainer(task, dataset, args.out, config, device=args.device).fit(
        resume=args.resume
    )
    if result.model_path is not None:
        print(f"foundation model: {result.model_path}")
    return 0


def _pretrain_from_tokens(args) -> int:
    import torch

    from .engine import Trainer
    from .presets import foundation_preset
    from .stored_tokens import StoredTokenPretraining, TokenWindowDataset

    if args.inputs or args.tokenizer:
        raise SystemExit(
            "mne-neurorvq pretrain: error: with --tokens the recordings and the "
            "tokenizer come from the store; give no inputs and no --tokenizer"
        )
    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = TokenWindowDataset.from_store(
        args.tokens, args.seconds, max_windows=args.max_windows
    )
    print(f"{dataset!r} with stored tokens from {args.tokens}", flush=True)
    model_config = foundation_preset(args.config, dataset.tokenizer_config)
    task = StoredTokenPretraining(
        dataset, model_config, mask_ratio=args.mask_ratio, init=args.init
    )
    result = Trainer(
        task, dataset, args.out, _training_config(args), device=args.device
    ).fit(resume=args.resume)
    if result.model_path is not None:
        print(f"foundation model: {result.model_path}")
    return 0
