"""Agreement of bf16 with float32 on real EEG: identical tokens, embedding cosine.

Runs ``NeuroRVQTokenizer`` and ``NeuroRVQEmbedder`` with ``precision="float32"``
and ``precision="bf16"`` on the same EEGMAT windows (held-out subjects 18-23,
4 s, the authors' preprocessing recipe) and reports the share of identical
tokens (overall, per scale and per level) and the cosine similarity of the
embeddings (minimum, mean). bf16 runs the transformer under autocast; the
temporal convolutions, the heads into code space and the nearest-code search
stay float32.

Models: the published architecture with random weights and codebooks
initialised by k-means on real EEG (subjects 00-02) -- the published
checkpoints cannot be downloaded here; the random foundation model gets layer
scale 1 so that its blocks weigh in the embedding -- and, when given, trained
checkpoints (``--tokenizer``, ``--foundation``; e.g. the ones
``train_eegmat.py`` writes).

Usage::

    MNE_NEURORVQ_DATA=../shared/data python performance/bf16_agreement.py
    python performance/bf16_agreement.py --tokenizer run/tokenizer/tokenizer.pt \\
        --foundation run/foundation/foundation.pt
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import mne
import numpy as np
import torch

from mne_neurorvq.channels import match_info
from mne_neurorvq.datasets import load_eegmat
from mne_neurorvq.decoding import NeuroRVQEmbedder, NeuroRVQTokenizer
from mne_neurorvq.nn import NeuroRVQFoundation, NeuroRVQTokenizerModel
from mne_neurorvq.nn.checkpoints import save_checkpoint
from mne_neurorvq.preprocessing import prepare_array

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = os.environ.get(
    "MNE_NEURORVQ_DATA", str(HERE.parents[1] / "shared" / "data")
)


def random_models(folder, data_path, seed=0):
    """Published-architecture tokenizer (k-means codebooks) and foundation model."""
    generator = torch.Generator().manual_seed(seed)
    fit_epochs, _, _ = load_eegmat(
        [0, 1, 2], max_windows=6, path=data_path, download=False, verbose="error"
    )
    match = match_info(fit_epochs.info)
    x, _ = prepare_array(
        fit_epochs.get_data()[:, match.picks],
        fit_epochs.info["sfreq"],
        units="V",
        recipe="authors",
    )
    x = torch.from_numpy(x.astype(np.float32))
    chans = torch.as_tensor(match.vocab_idx)
    tokenizer = NeuroRVQTokenizerModel()
    tokenizer.init_weights(generator)
    with torch.no_grad():
        tokenizer.train()(x, chans)  # k-means initialisation on real EEG
    foundation = NeuroRVQFoundation()
    foundation.init_weights(generator)
    with torch.no_grad():
        # layer scale 1 instead of the 1e-5 init: otherwise the blocks hardly
        # touch the embedding and bf16's rounding of them would not show
        for block in foundation.blocks:
            block.gamma_1.fill_(1.0)
            block.gamma_2.fill_(1.0)
    return (
        save_checkpoint(tokenizer.eval(), Path(folder) / "tokenizer.pt"),
        save_checkpoint(foundation.eval(), Path(folder) / "foundation.pt"),
    )


def run_both_precisions(estimator_class, weights, epochs, device):
    """``fit_transform`` in float32 and in bf16: {precision: (output, seconds)}."""
    runs = {}
    for precision in ("float32", "bf16"):
        estimator = estimator_class(
            weights=str(weights), recipe="authors", device=device, precision=precision
        )
        start = time.perf_counter()
        output = estimator.fit_transform(epochs)
        runs[precision] = (output, time.perf_counter() - start)
    return runs, estimator


def token_agreement(weights, epochs, device):
    """Share of identical tokens, overall and per scale and level."""
    runs, estimator = run_both_precisions(NeuroRVQTokenizer, weights, epochs, device)
    model = estimator.model_
    n_scales, n_levels = model.config.n_scales, model.config.n_levels
    same = runs["float32"][0] == runs["bf16"][0]
    same = same.reshape(len(epochs), -1, n_scales, n_levels)
    return {
        "identical": float(same.mean()),
        "identical_per_scale": same.mean(axis=(0, 1, 3)).tolist(),
        "identical_per_level": same.mean(axis=(0, 1, 2)).tolist(),
        "seconds_float32": runs["float32"][1],
        "seconds_bf16": runs["bf16"][1],
    }


def embedding_agreement(weights, epochs, device):
    """Cosine similarity of float32 and bf16 embeddings."""
    runs, _ = run_both_precisions(NeuroRVQEmbedder, weights, epochs, device)
    a, b = runs["float32"][0], runs["bf16"][0]
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return {
        "cosine_min": float(cosine.min()),
        "cosine_mean": float(cosine.mean()),
        "max_abs_difference": float(np.abs(a - b).max()),
        "seconds_float32": runs["float32"][1],
        "seconds_bf16": runs["bf16"][1],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--subjects", default="18-23")
    parser.add_argument("--max-windows", type=int, default=10, help="per recording")
    parser.add_argument("--tokenizer", default=None)
    parser.add_argument("--foundation", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results" / "bf16_agreement.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    mne.set_log_level("error")
    first, last = (int(s) for s in args.subjects.split("-"))
    epochs, _, _ = load_eegmat(
        list(range(first, last + 1)),
        max_windows=args.max_windows,
        path=args.data,
        download=False,
    )
    seconds = epochs.times[-1] - epochs.times[0] + 1 / epochs.info["sfreq"]
    print(
        f"EEGMAT subjects {args.subjects}: {len(epochs)} windows of "
        f"{len(epochs.ch_names)} ch x {seconds:.0f} s; "
        f"device {args.device}, {torch.get_num_threads()} threads"
    )
    report = {"settings": vars(args), "n_windows": len(epochs), "models": {}}
    with tempfile.TemporaryDirectory() as folder:
        tok_random, fm_random = random_models(folder, args.data)
        models = {"published architecture, random weights": (tok_random, fm_random)}
        if args.tokenizer or args.foundation:
            models["trained (given)"] = (args.tokenizer, args.foundation)
        for name, (tok_path, fm_path) in models.items():
            entry = {}
            if tok_path:
                entry["tokens"] = token_agreement(tok_path, epochs, args.device)
            if fm_path:
                entry["embedding"] = embedding_agreement(fm_path, epochs, args.device)
            report["models"][name] = entry
            print(f"\n{name}")
            if "tokens" in entry:
                tokens = entry["tokens"]
                print(
                    f"  tokens identical: {100 * tokens['identical']:.2f} % "
                    f"(per level: "
                    + " ".join(f"{100 * v:.1f}" for v in tokens["identical_per_level"])
                    + f"); time fp32 {tokens['seconds_float32']:.1f} s, "
                    f"bf16 {tokens['seconds_bf16']:.1f} s"
                )
            if "embedding" in entry:
                emb = entry["embedding"]
                print(
                    f"  embedding cosine: min {emb['cosine_min']:.7f}, mean "
                    f"{emb['cosine_mean']:.7f}; time fp32 {emb['seconds_float32']:.1f}"
                    f" s, bf16 {emb['seconds_bf16']:.1f} s"
                )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {out}")
    return report


if __name__ == "__main__":
    main()
