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


def _download(args) -> int:
    from pooch import file_hash

    from .weights import PUBLISHED_WEIGHTS, download_weights

    paths = []
    for name in args.names:
        try:
            path = download_weights(name, args.dir)
        except (FileNotFoundError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        info = PUBLISHED_WEIGHTS[name]
        checked = (
            "matches the published SHA-256"
            if info.sha256
            else f"none published; pinned revision {info.revision[:10]}"
        )
        print(f"{name}: {path}")
        print(f"  size    {path.stat().st_size:,} bytes")
        print(f"  sha256  {info.sha256 or file_hash(str(path))} ({checked})")
        paths.append(path)
    folders = sorted({str(path.parent) for path in paths})
    print("To use these files (e.g. on machines without network):")
    print("\n".join(f"  export MNE_NEURORVQ_WEIGHTS={folder}" for folder in folders))
    return 0


def _subjects(text):
    """Parse ``"0-23"``, ``"1,2,5"`` or identifiers (``"physionet_S001,..."``)."""
    subjects = []
    for part in text.split(","):
        start, _, stop = part.partition("-")
        if start.isdigit() and (stop.isdigit() or not stop):
            subjects += list(range(int(start), int(stop or start) + 1))
        else:
            subjects.append(part)
    return subjects


def _benchmark_settings(args):
    from .benchmark import BenchmarkSettings

    def pick(specific, shared, default):
        return next(v for v in (specific, shared, default) if v is not None)

    return BenchmarkSettings(
        finetune_epochs=pick(
            args.finetune_epochs, args.epochs, BenchmarkSettings.finetune_epochs
        ),
        warmup_epochs=args.warmup_epochs,
        batch_size=args.batch_size,
        precision=args.precision,
        baseline_epochs=pick(
            args.baseline_epochs, args.epochs, BenchmarkSettings.baseline_epochs
        ),
        baseline_batch_size=args.baseline_batch_size,
        ssl_seconds=args.ssl_seconds,
        ssl_epochs=args.ssl_epochs,
    )


def _benchmark(args) -> int:
    import warnings

    from .benchmark import describe_benchmark, run_benchmark

    # braindecode's import-time deprecation notice is not the user's concern
    warnings.filterwarnings(
        "ignore", message="Montage name 'standard_1020'", category=FutureWarning
    )
    kwargs = dict(
        subjects=None if args.subjects is None else _subjects(args.subjects),
        models=args.models,
        protocol=args.protocol,
        folds=None if args.folds is None else _subjects(args.folds),
        cv=args.cv,
        n_splits=args.n_splits,
        seed=args.seed,
        max_windows=args.max_windows,
        data_path=args.data_path,
        settings=_benchmark_settings(args),
        weights=args.weights,
        cache=args.cache,
    )
    if args.dry_run:
        print(describe_benchmark(args.task, out_dir=args.out, **kwargs))
        return 0
    run_benchmark(
        args.task,
        out_dir=args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        scheduler_file=args.scheduler_file,
        **kwargs,
    )
    return 0


def _report(args) -> int:
    from .benchmark import report

    report(args.runs, args.out)
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
    _add_download(commands)
    _add_benchmark(commands)
    _add_report(commands)
    from .training.cli import add_training_commands

    add_training_commands(commands)
    from .corpus.cli import add_corpus_command

    add_corpus_command(commands)
    return parser


def _add_download(commands):
    from .weights import PUBLISHED_WEIGHTS

    def published(name):
        if name not in PUBLISHED_WEIGHTS:
            raise argparse.ArgumentTypeError(
                f"{name!r} is not one of {', '.join(PUBLISHED_WEIGHTS)}"
            )
        return name

    download = commands.add_parser(
        "download",
        help="fetch published weights (pinned, hash-checked) for offline use",
    )
    download.add_argument(
        "names",
        nargs="*",
        type=published,
        default=["neurorvq-eeg-tokenizer-v1", "neurorvq-eeg-foundation-v1"],
        metavar="NAME",
        help="published names (default: both EEG files): "
        + ", ".join(PUBLISHED_WEIGHTS),
    )
    download.add_argument(
        "--dir", help="destination folder (default: the download cache)"
    )
    download.set_defaults(func=_download)


def _task_help(tasks) -> str:
    """One line per registered task, from its record."""
    lines = []
    for name, task in tasks.items():
        folds = "published folds" if task.fold_file else "GroupKFold"
        lines.append(f"{name}: {task.description} [{folds}]")
    return "; ".join(lines)


def _add_benchmark(commands):
    from .benchmark.models import MODELS, BenchmarkSettings
    from .benchmark.protocol import TASKS

    with_folds = [name for name, task in TASKS.items() if task.fold_file]
    bench = commands.add_parser(
        "benchmark",
        help="subject-independent benchmark of NeuroRVQ models and baselines",
        description="Subject-independent benchmark of NeuroRVQ and baselines. "
        "Each subject's trials are cut once into a trial store (--cache); each "
        "(fold, model) unit writes OUT/units/<fold>-<model>.json when it "
        "finishes, and the same command again skips finished units. The tasks "
        f"{', '.join(with_folds)} use the paper's protocol by default (the "
        "published folds of Lee et al., MLSP 2025); other tasks use GroupKFold.",
    )
    bench.add_argument(
        "--task",
        default="eegmat",
        choices=sorted(TASKS),
        help=_task_help(TASKS),
    )
    bench.add_argument(
        "--protocol",
        choices=("paper", "groupkfold"),
        help=f"paper: the published folds (default for {', '.join(with_folds)}); "
        "groupkfold: --cv splits (default for other tasks)",
    )
    bench.add_argument(
        "--subjects",
        help="e.g. 0-23, 1,2 or fold-file identifiers such as physionet_S001 "
        "(default: all); under the paper protocol, folds without a selected "
        "validation and training subject are skipped",
    )
    bench.add_argument(
        "--folds", help="paper protocol: run only these folds, e.g. 0 or 0-2"
    )
    bench.add_argument(
        "--models",
        nargs="+",
        choices=MODELS,
        help="default: neurorvq_finetune neurorvq_embedding_lr eegnet "
        "eeginception_erp (paper), all but the EEGInceptions (groupkfold)",
    )
    bench.add_argument(
        "--weights",
        default="auto",
        help="auto (published files if on disk, else in-fold training), download, "
        "none (in-fold training) or a folder holding the published files",
    )
    bench.add_argument(
        "--cv",
        default="groupkfold",
        help="groupkfold protocol: groupkfold, loso, or a JSON file of splits",
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
        help="training epochs of every supervised network (quick runs); "
        "--finetune-epochs and --baseline-epochs override it",
    )
    defaults = BenchmarkSettings()
    for flag, help_text in (
        ("finetune-epochs", "NeuroRVQ fine-tuning epochs"),
        ("baseline-epochs", "epochs of the braindecode baselines"),
    ):
        default = getattr(defaults, flag.replace("-", "_"))
        bench.add_argument(f"--{flag}", type=int, help=f"{help_text} ({default})")
    bench.add_argument("--warmup-epochs", type=int, default=defaults.warmup_epochs)
    bench.add_argument(
        "--batch-size",
        type=int,
        default=defaults.batch_size,
        help="batch size of the NeuroRVQ models",
    )
    bench.add_argument(
        "--baseline-batch-size", type=int, default=defaults.baseline_batch_size
    )
    bench.add_argument(
        "--precision",
        default=defaults.precision,
        choices=("auto", "float32", "bf16"),
        help="NeuroRVQ fine-tuning precision (auto: bf16 where supported)",
    )
    bench.add_argument(
        "--ssl-seconds",
        type=float,
        default=defaults.ssl_seconds,
        help="time budget of each in-fold self-supervised stage",
    )
    bench.add_argument("--ssl-epochs", type=int, default=defaults.ssl_epochs)
    bench.add_argument(
        "--cache",
        help="folder of the trial store (default: benchmark in the package's "
        "cache, MNE_NEURORVQ_CACHE); a run whose subjects are all there reads no "
        "recording",
    )
    where = bench.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        help="run the units on a local Dask cluster of this many processes (one "
        "GPU each when GPUs are visible); default: one after another here",
    )
    where.add_argument(
        "--scheduler",
        help="address of a running Dask scheduler to send the units to "
        "(e.g. tcp://10.0.0.1:8786; dask-jobqueue, Kubernetes)",
    )
    where.add_argument(
        "--scheduler-file", help="scheduler file of a running Dask cluster"
    )
    bench.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan of the run (datasets, subjects, folds, models, "
        "weights, store, units, downloads) without downloading or loading anything",
    )
    bench.set_defaults(func=_benchmark)


def _add_report(commands):
    report = commands.add_parser(
        "report",
        help="merge benchmark runs into the paper's table (csv, markdown, figure)",
        description="One table across tasks: one row per model, one column per "
        "task plus the mean (balanced accuracy, mean +- std over folds), beside "
        "the rows the NeuroRVQ paper publishes. Missing tasks and folds are "
        "marked, not averaged silently.",
    )
    report.add_argument("runs", nargs="+", metavar="RUN_DIR", help="--out of runs")
    report.add_argument(
        "--out",
        default="neurorvq-report",
        help="folder of table.csv, table.md, table.png",
    )
    report.set_defaults(func=_report)


DEBUG_FLAG = "--debug"
DEBUG_VARIABLE = "MNE_NEURORVQ_DEBUG"


def _error_line(err: BaseException) -> str:
    """The error as one line: its message, or its type when it has none."""
    message = " ".join(str(err).split())
    return message or type(err).__name__


def main(argv=None) -> int:
    """Run the command line; returns the exit status.

    An error ends the command with one line on stderr (``mne-neurorvq:
    error: ...``) and exit status 1; ``--debug`` (anywhere on the command
    line) or ``MNE_NEURORVQ_DEBUG=1`` lets the exception and its traceback
    through instead. Ctrl-C ends it with status 130.
    """
    import os

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in argv or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
    argv = [arg for arg in argv if arg != DEBUG_FLAG]
    parser = build_parser()
    parser.add_argument(
        DEBUG_FLAG,
        action="store_true",
        help=f"show the traceback of an error (or set {DEBUG_VARIABLE}=1)",
    )
    args = parser.parse_args(argv)
    if debug:
        return args.func(args)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("mne-neurorvq: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - every error becomes one line
        print(
            f"mne-neurorvq: error: {_error_line(err)} (--debug shows the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
