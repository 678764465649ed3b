"""``mne-neurorvq tokenize-corpus``: a BIDS data set or folder into a token store.

Sharded: ``torchrun --nproc-per-node G -m mne_neurorvq tokenize-corpus ...``.
"""

from __future__ import annotations

import argparse

__all__ = ["add_corpus_command"]


def add_corpus_command(commands) -> None:
    """Add ``tokenize-corpus`` to an argparse sub-parser set."""
    parser = commands.add_parser(
        "tokenize-corpus",
        help="tokenize a BIDS data set or a folder of recordings into a token store",
        description="Tokenize every recording of a BIDS data set (read with "
        "mne-bids) or of a folder (EDF, BDF, FIF, EEGLAB, BrainVision...) as "
        "NeuroRVQTokenizer does, into a Zarr v3 store of uint16 tokens with a "
        "Parquet index. Reruns skip what is done; under torchrun every process "
        "takes its own share of the recordings.",
    )
    parser.add_argument("root", help="BIDS root, folder of recordings, or one file")
    parser.add_argument("--out", required=True, help="the store folder")
    parser.add_argument(
        "--weights",
        default=None,
        help="tokenizer weights: published name or file (default: the published "
        "tokenizer of the modality)",
    )
    parser.add_argument(
        "--modality", default="eeg", choices=("eeg", "ecg", "emg", "ppg", "auto")
    )
    parser.add_argument(
        "--recipe",
        default="none",
        choices=("none", "authors", "benchmark"),
        help="filtering recipe of the estimator (default: none, resample only)",
    )
    parser.add_argument(
        "--segment-seconds",
        type=float,
        default=600.0,
        help="longest stretch of a recording tokenized at once (memory bound; "
        "default 600)",
    )
    parser.add_argument(
        "--channel-map",
        nargs="+",
        type=_channel_pair,
        default=None,
        metavar="NAME=VOCABULARY",
        help="vocabulary names of channels, by their name in the recordings, "
        "e.g. --channel-map 'EEG 001=Fp1' 'EEG 002=Fp2' or --channel-map ECG=II "
        "(quote names with spaces)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=_tokenize_corpus)


def _channel_pair(text: str) -> tuple[str, str]:
    """``NAME=VOCABULARY`` (the last ``=`` splits: names may hold spaces)."""
    name, sep, target = text.rpartition("=")
    if not sep or not name.strip() or not target.strip():
        raise argparse.ArgumentTypeError(
            f"expected NAME=VOCABULARY (e.g. 'EEG 001=Fp1'), got {text!r}"
        )
    return name.strip(), target.strip()


def _tokenize_corpus(args: argparse.Namespace) -> int:
    import torch

    from .writer import tokenize_corpus

    if args.threads:
        torch.set_num_threads(args.threads)
    summary = tokenize_corpus(
        args.root,
        args.out,
        weights=args.weights,
        modality=args.modality,
        recipe=None if args.recipe == "none" else args.recipe,
        segment_seconds=args.segment_seconds,
        channel_map=dict(args.channel_map) if args.channel_map else None,
        device=args.device,
        batch_size=args.batch_size,
        progress=not args.no_progress,
    )
    return 0 if summary.n_tokenized or summary.n_already_done else 1
