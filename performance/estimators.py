"""Cross-validation overhead of the estimators against the bare model.

The same epochs go (a) through the torch model directly, as one stacked
float32 tensor in batches, and (b) through a scikit-learn pipeline
(``NeuroRVQEmbedder`` or ``NeuroRVQTokenizer`` followed by logistic
regression) inside ``cross_validate`` with ``GroupKFold``, fed a list of
one-epoch ``mne.Epochs``. Each fold transforms every epoch once (its training
part in ``fit``, its test part in ``score``), so the pipeline does ``n_splits``
model passes over the data; the overhead is its total time against
``n_splits`` times the model's time on the stacked tensor. Everything the
pipeline adds (loading the weights in each fold, reading the Epochs, unit
conversion, channel matching, the logistic regression) counts as overhead.

On a shared machine whose speed drifts between the two measurements, that
comparison is noisy (a few %). The "same-run" column splits the pipeline's
own wall time instead: the time spent in the estimators' model runs against
everything else, measured in the same run.

Data: 1/f noise of about 20 uV, 64 channels named from the model's
vocabulary, 4 s at 200 Hz (the model's rate, so no resampling is measured),
in volts as MNE stores it. Weights: the published configuration with random
values (k-means codebooks for the tokenizer); speed does not depend on them.
Each side is timed ``--repeats`` times, alternating, and the fastest run of
each is kept (the figures of a shared machine vary from run to run).

Usage::

    python performance/estimators.py                      # 64 epochs, 4 folds
    python performance/estimators.py --models embed --n-epochs 32
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import mne
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_validate
from sklearn.pipeline import make_pipeline

from mne_neurorvq.channels import CHANNEL_VOCABULARY
from mne_neurorvq.decoding import NeuroRVQEmbedder, NeuroRVQTokenizer
from mne_neurorvq.nn import NeuroRVQFoundation, NeuroRVQTokenizerModel
from mne_neurorvq.nn.checkpoints import save_checkpoint

SFREQ = 200.0


def pink_noise(n_epochs, n_chans, n_times, seed=0):
    """1/f noise, about 20 uV standard deviation, in volts."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal((n_epochs, n_chans, n_times)))
    freqs = np.fft.rfftfreq(n_times, 1 / SFREQ)
    spectrum /= np.sqrt(np.maximum(freqs, 1.0))
    data = np.fft.irfft(spectrum, n=n_times)
    data *= 20e-6 / data.std(axis=-1, keepdims=True)
    return data


def build(model_name, x_uv, chans, folder):
    """Random published-configuration model, saved as a checkpoint."""
    generator = torch.Generator().manual_seed(0)
    if model_name == "tokenize":
        model = NeuroRVQTokenizerModel()
        model.init_weights(generator)
        with torch.no_grad():
            model.train()(x_uv[:16], chans)  # k-means initialisation
    else:
        model = NeuroRVQFoundation()
        model.init_weights(generator)
    model.eval()
    path = save_checkpoint(model, Path(folder) / f"{model_name}.pt")
    return model, path


def time_model(model, model_name, x_uv, chans, batch_size):
    """Seconds of one pass of the model over the stacked tensor."""
    run = model.tokenize if model_name == "tokenize" else model.embed
    start = time.perf_counter()
    with torch.inference_mode():
        for begin in range(0, len(x_uv), batch_size):
            run(x_uv[begin : begin + batch_size], chans)
    return time.perf_counter() - start


#: Seconds spent in the estimators' model runs (``_transform_prepared``).
_MODEL_SECONDS = [0.0]


def _count_model_time(estimator_class):
    """Accumulate the time of ``estimator_class``'s model runs."""
    run = estimator_class._transform_prepared

    def timed(self, data):
        start = time.perf_counter()
        try:
            return run(self, data)
        finally:
            _MODEL_SECONDS[0] += time.perf_counter() - start

    estimator_class._transform_prepared = timed


def time_pipeline(model_name, path, epochs_list, y, groups, args):
    """Seconds of cross_validate over the list of one-epoch Epochs.

    Returns the wall time and the part of it spent in the estimators' model
    runs (batching, tensors and the torch model); the rest is what the
    pipeline adds.
    """
    tokenize = model_name == "tokenize"
    estimator_class = NeuroRVQTokenizer if tokenize else NeuroRVQEmbedder
    estimator = estimator_class(
        weights=str(path), device="cpu", batch_size=args.batch_size, verbose="error"
    )
    pipe = make_pipeline(estimator, LogisticRegression(max_iter=200))
    _MODEL_SECONDS[0] = 0.0
    start = time.perf_counter()
    cross_validate(pipe, epochs_list, y, groups=groups, cv=GroupKFold(args.n_splits))
    return time.perf_counter() - start, _MODEL_SECONDS[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["embed", "tokenize"])
    parser.add_argument("--n-epochs", type=int, default=64)
    parser.add_argument("--n-chans", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--n-splits", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="performance/results/estimators.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    mne.set_log_level("error")
    _count_model_time(NeuroRVQEmbedder)
    _count_model_time(NeuroRVQTokenizer)

    n_times = int(args.seconds * SFREQ)
    data = pink_noise(args.n_epochs, args.n_chans, n_times)
    names = list(CHANNEL_VOCABULARY[1 : args.n_chans + 1])
    info = mne.create_info(names, SFREQ, "eeg")
    epochs_list = [mne.EpochsArray(data[i : i + 1], info) for i in range(len(data))]
    y = np.arange(args.n_epochs) % 2
    groups = np.arange(args.n_epochs) * args.n_splits * 2 // args.n_epochs
    x_uv = torch.from_numpy((data * 1e6).astype(np.float32))
    chans = torch.arange(1, args.n_chans + 1)

    print(
        f"{args.n_epochs} one-epoch Epochs of {args.n_chans} ch x {args.seconds} s, "
        f"GroupKFold({args.n_splits}), batch {args.batch_size}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    header = (
        f"{'model':<9} {'model s':>8} {'x folds':>8} {'pipeline s':>11} "
        f"{'epochs/s model':>15} {'epochs/s pipe':>14} {'overhead':>9} "
        f"{'same-run':>10}"
    )
    print(header + "\n" + "-" * len(header))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for model_name in args.models:
            model, path = build(model_name, x_uv, chans, folder)
            time_model(model, model_name, x_uv[: args.batch_size], chans, 8)  # warm
            model_times, pipe_times, inner_times = [], [], []
            for _ in range(args.repeats):
                model_times.append(
                    time_model(model, model_name, x_uv, chans, args.batch_size)
                )
                wall, inner = time_pipeline(
                    model_name, path, epochs_list, y, groups, args
                )
                pipe_times.append(wall)
                inner_times.append(inner)
            model_s = min(model_times) * args.n_splits
            best = int(np.argmin(pipe_times))
            pipe_s = pipe_times[best]
            # same-run split: immune to the machine's speed changing between
            # the two measurements
            added = (pipe_s - inner_times[best]) / inner_times[best]
            n_passes = args.n_epochs * args.n_splits
            row = {
                "model": model_name,
                "model_seconds_all_folds": model_s,
                "pipeline_seconds": pipe_s,
                "model_epochs_per_s": n_passes / model_s,
                "pipeline_epochs_per_s": n_passes / pipe_s,
                "overhead": pipe_s / model_s - 1,
                "overhead_same_run": added,
                "model_times": model_times,
                "pipeline_times": pipe_times,
                "pipeline_model_times": inner_times,
            }
            rows.append(row)
            print(
                f"{model_name:<9} {min(model_times):>8.2f} {model_s:>8.2f} "
                f"{pipe_s:>11.2f} {row['model_epochs_per_s']:>15.2f} "
                f"{row['pipeline_epochs_per_s']:>14.2f} {100 * row['overhead']:>8.1f}% "
                f"{100 * added:>9.1f}%"
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "settings": vars(args),
                "machine": {
                    "platform": platform.platform(),
                    "cpu_count": os.cpu_count(),
                    "torch": torch.__version__,
                },
                "rows": rows,
            },
            indent=1,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
