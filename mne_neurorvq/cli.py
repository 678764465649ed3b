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
    parity.add_argument("directory", help="fixture folder (upstream-parity format)")
    parity.add_argument("--json", help="also write the comparisons to this file")
    parity.set_defaults(func=_parity)
    inspect = commands.add_parser(
        "inspect", help="print the configuration inferred from a checkpoint"
    )
    inspect.add_argument("weights", help="checkpoint file or published name")
    inspect.set_defaults(func=_inspect)
    info = commands.add_parser("sys-info", help="print versions and devices")
    info.set_defaults(func=_sys_info)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
