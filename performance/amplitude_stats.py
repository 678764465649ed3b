"""Typical per-sample statistics of the tokenizer's amplitude target on real EEG.

The tokenizer's decoder predicts the *standardised* log-amplitude spectrum;
turning it back into a signal needs the mean and standard deviation of
``log1p(|FFT|)`` of the original sample, which tokens do not carry. This
script measures them on EEGMAT (19 channels, rest and arithmetic, 4 s
windows, 0.5-45 Hz band-pass, 200 Hz, microvolts) and prints the medians used
as :data:`mne_neurorvq.nn.tokenizer.DEFAULT_AMPLITUDE_STATS`.

Usage: ``python performance/amplitude_stats.py [DATA_DIR]`` (default:
``$MNE_NEURORVQ_DATA`` or ``../shared/data``).
"""

import os
import sys
from pathlib import Path

import mne
import numpy as np
import torch

from mne_neurorvq.channels import match_info
from mne_neurorvq.nn.fourier import fourier_targets
from mne_neurorvq.preprocessing import prepare_array


def main(data_dir):
    mne.set_log_level("error")
    means, stds = [], []
    files = sorted(Path(data_dir, "eegmat").glob("Subject*_?.edf"))
    for path in files:
        raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
        match = match_info(raw.info, verbose="error")
        raw.pick(match.picks.tolist())
        epochs = mne.make_fixed_length_epochs(raw, duration=4.0, verbose="error")
        data, _ = prepare_array(
            epochs.get_data(units="uV"),
            raw.info["sfreq"],
            recipe="benchmark",
            verbose="error",
        )
        patches = torch.from_numpy(data).reshape(len(data), data.shape[1], 4, 200)
        targets = fourier_targets(patches)
        means.append(targets.amplitude_mean.flatten().numpy())
        stds.append(targets.amplitude_std.flatten().numpy())
    means, stds = np.concatenate(means), np.concatenate(stds)
    print(f"{len(files)} files, {len(means)} windows of 19 channels x 4 s")
    for name, values in (("mean", means), ("std", stds)):
        q = np.percentile(values, [5, 25, 50, 75, 95])
        print(
            f"log1p|FFT| {name:>4}: median {q[2]:.3f} (5-95%: {q[0]:.3f}-{q[4]:.3f}, "
            f"IQR {q[1]:.3f}-{q[3]:.3f})"
        )


if __name__ == "__main__":
    default = os.environ.get(
        "MNE_NEURORVQ_DATA", Path(__file__).parents[2] / "shared" / "data"
    )
    main(sys.argv[1] if len(sys.argv) > 1 else default)
