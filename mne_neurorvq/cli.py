"""The ``mne-neurorvq`` command line."""

from __future__ import annotations

import argparse
import sys


def _parity(args) -> int:
    from .parity import main as parity_main

    argv = [args.directory] + (["--json", args.json] if args.json else [])
    return parity_main(argv)


def _sys_info(args) -> int:
    from .utils import sys_info

    sys_info()
    return 0


def _inspect(args) -> int:
    from .nn.checkpoints import (
        PRETRAINING_KEY_PATTERN,
        infer_foundation_config,
        infer_tokenizer_config,
        read_state_dict,
    )

    state = read_state_dict(args.weights)
    n_elements = sum(t.numel() for t in state.values())
    if any(k.startswith("quantize_") for k in state):
        kind, config = "tokenizer", infer_tokenizer_config(state)
    else:
        kind, config = "foundation model", infer_foundation_config(state)
    n_pre = sum(1 for k in state if PRETRAINING_KEY_PATTERN.match(k))
    print(
        f"NeuroRVQ {kind}: {len(state)} tensors, {n_elements:,} values"
        + (f" ({n_pre} pre-training tensors)" if n_pre else "")
    )
    for key, value in config.to_dict().items():
        print(f"  {key:<16} {value}")
    return 0


def _subjects(text):
    """Parse ``"0-23"`` or ``"1,2,5"`` into a list of int."""
    subjects = []
    for part in text.split(","):
        start, _, stop = part.partition("-")
        subjects += list(range(int(start), int(stop or start) + 1))
    return subjects


def _benchmark(args) -> int:
    import warnings

    from .benchmark import BenchmarkSettings, run_benchmark

    # braindecode's import-time deprecation notice is not the user's concern
    warnings.filterwarnings(
        "ignore", message="Montage name 'standard_1020'", category=FutureWarning
    )

    settings = BenchmarkSettings(
        epochs=args.epochs,
        ssl_seconds=args.ssl_seconds,
        ssl_epochs=args.ssl_epochs,
        batch_size=args.batch_size,
    )
    run_benchmark(
        args.task,
        subjects=None if args.subjects is None else _subjects(args.subjects),
        models=args.models,
        cv=args.cv,
        n_splits=args.n_splits,
        seed=args.seed,
        out_dir=args.out,
        data_path=args.data_path,
        max_windows=args.max_windows,
        settings=settings,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the command line."""
    parser = argparse.ArgumentParser(
        prog="mne-neurorvq",
        description="NeuroRVQ EEG tokenizer and foundation model for MNE-Python.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    parity = commands.add_parser(
        "parity", help="check this implementation against reference tensors"
    )
    parity.add_argument(
        "directory",
        help="fixture folder: upstream-parity format, or one sub-folder per "
        "modality (upstream-parity-multimodal)",
    )
    parity.add_argument("--json", help="also write the comparisons to this file")
    parity.set_defaults(func=_parity)
    inspect = commands.add_parser(
        "inspect", help="print the configuration inferred from a checkpoint"
    )
    inspect.add_argument("weights", help="checkpoint file or published name")
    inspect.set_defaults(func=_inspect)
    info = commands.add_parser("sys-info", help="print versions and devices")
    info.set_defaults(func=_sys_info)
    _add_benchmark(commands)
    from .training.cli import add_training_commands

    add_training_commands(commands)
    return parser


def _add_benchmark(commands):
    from .benchmark.models import MODELS, BenchmarkSettings
    from .benchmark.protocol import TASKS

    bench = commands.add_parser(
        "benchmark",
        help="subject-independent benchmark of NeuroRVQ models and baselines",
    )
    bench.add_argument("--task", default="eegmat", choices=sorted(TASKS))
    bench.add_argument("--subjects", help="e.g. 0-23 or 1,2 (default: all)")
    bench.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    bench.add_argument(
        "--cv", default="groupkfold", help="groupkfold, loso, or a JSON file of splits"
    )
    bench.add_argument("--n-splits", type=int, default=10)
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--out", default="neurorvq-benchmark", help="output folder")
    bench.add_argument("--data-path", help="local data folder (MNE_NEURORVQ_DATA)")
    bench.add_argument(
        "--max-windows", type=int, help="at most this many windows per recording"
    )
    bench.add_argument(
        "--epochs",
        type=int,
        default=BenchmarkSettings.epochs,
        help="training epochs of the supervised networks",
    )
    bench.add_argument(
        "--ssl-seconds",
        type=float,
        default=BenchmarkSettings.ssl_seconds,
        help="time budget of each in-fold self-supervised stage",
    )
    bench.add_argument("--ssl-epochs", type=int, default=BenchmarkSettings.ssl_epochs)
    bench.add_argument("--batch-size", type=int, default=BenchmarkSettings.batch_size)
    bench.set_defaults(func=_benchmark)


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
