"""Peak memory of the benchmark loaders, measured on stand-ins and scaled.

The loaders read one subject at a time, cut its recordings into 200 Hz trials
and free them before the next subject, so the peak is set by the largest
subject, not by the number of subjects. This script measures it on stand-ins
of the two largest tasks, each run in a fresh process (Linux ``VmHWM``):

- ``memory``: a BIDS tree of Pavlov-2022-like subjects written with mne-bids
  (EEGLAB, 63 channels at 1000 Hz, ds003838's ``trial_type`` strings), read by
  ``load_task("memory")``;
- ``motor``: a MOABB data set serving High-Gamma-like subjects (133 channels at
  500 Hz, a train and a test run), read by ``load_task("motor")``.

For each task it loads subjects of two recording lengths and 1 vs 3 subjects
of one length, then scales the per-subject peak (as a multiple of the
recording's size in float64, at the longest stand-in) to the real recordings
(ds003838: about 7400 s per subject; High Gamma: about 2 x 3700 s).

    python performance/loader_memory.py            # both tasks, about 3 min
    python performance/loader_memory.py --task memory --seconds 300 600
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

#: task -> (channels, native rate, seconds of one real subject, what that is)
REAL = {
    "memory": (63, 1000.0, 7400.0, "ds003838 task-memory, 63 ch x ~2 h at 1000 Hz"),
    "motor": (133, 500.0, 7400.0, "High Gamma train + test, 133 ch x ~2 h at 500 Hz"),
}


def _peak_rss_mib():
    """Peak RSS of this process (``VmHWM``), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise OSError("no VmHWM in /proc/self/status (Linux only)")


def _rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise OSError("no VmRSS in /proc/self/status (Linux only)")


def _digits(condition, first, n):
    """ds003838-style ``trial_type`` of one sequence (memory ones recalled)."""
    out = []
    for k in range(1, n + 1):
        position = " (first)" if k == 1 else " (last)" if k == n else ""
        if condition == "control":
            out.append(
                f"control {k:02d}/{n:02d}: listen to digit {k}{position} in "
                f"{n} digit sequence"
            )
        else:
            out.append(
                f"memory {k:02d}/{n:02d} correct: memorize digit {k}{position}"
                f" in {n} digit sequence; correctly recalled"
            )
    return [first + 2.0 * k for k in range(n)], out


def write_pavlov(root, subjects, seconds, n_channels=63, sfreq=1000.0):
    """Write Pavlov-like subjects: a 13-digit trial every 40 s."""
    import mne
    import mne_bids

    names = [f"E{i}" for i in range(n_channels)]
    for subject in subjects:
        rng = np.random.default_rng(subject)
        info = mne.create_info(names, sfreq, "eeg")
        info["line_freq"] = 50.0
        data = 1e-6 * rng.standard_normal((n_channels, round(seconds * sfreq)))
        raw = mne.io.RawArray(data, info, verbose=False)
        onsets, descriptions = [], []
        for i, first in enumerate(np.arange(5.0, seconds - 30.0, 40.0)):
            times, texts = _digits(("memory", "control")[i % 2], first, 13)
            onsets += times
            descriptions += texts
        raw.set_annotations(mne.Annotations(onsets, 1.0, descriptions))
        bids_path = mne_bids.BIDSPath(
            subject=f"{subject:03d}", task="memory", datatype="eeg", root=root
        )
        mne_bids.write_raw_bids(
            raw,
            bids_path,
            format="EEGLAB",
            allow_preload=True,
            overwrite=True,
            verbose=False,
        )


def _high_gamma_like(seconds, n_channels=133, sfreq=500.0):
    """A MOABB data set of High-Gamma-like subjects (train and test run)."""
    import mne
    from moabb.datasets.base import BaseDataset

    from mne_neurorvq.benchmark.protocol import HGD_EXCLUDED_CHANNELS

    names = list(HGD_EXCLUDED_CHANNELS) + [f"E{i}" for i in range(n_channels - 55)]

    class HighGammaLike(BaseDataset):
        def __init__(self):
            super().__init__(
                subjects=list(range(1, 15)),
                sessions_per_subject=1,
                events={"right_hand": 1, "left_hand": 2, "rest": 3, "feet": 4},
                code="HighGammaLike",
                interval=[0, 4],
                paradigm="imagery",
            )

        def _run(self, seed, run_seconds):
            rng = np.random.default_rng(seed)
            info = mne.create_info(names, sfreq, "eeg")
            data = rng.standard_normal((len(names), round(run_seconds * sfreq)))
            raw = mne.io.RawArray(1e-6 * data, info, verbose=False)
            onsets = np.arange(2.0, run_seconds - 6.0, 8.0)
            labels = np.resize(["right_hand", "left_hand", "rest", "feet"], len(onsets))
            raw.set_annotations(mne.Annotations(onsets, 4.0, labels))
            return raw

        def _get_single_subject_data(self, subject):
            runs = {
                "0train": self._run(subject, 0.85 * seconds),
                "1test": self._run(100 + subject, 0.15 * seconds),
            }
            return {"0": runs}

        def data_path(
            self, subject, path=None, force_update=False, update_path=None, verbose=None
        ):
            return []

    return HighGammaLike()


def worker(task, root, n_subjects, seconds):
    """Load the stand-in in this process; print figures as JSON."""
    warnings.simplefilter("ignore")
    import mne  # noqa: F401  (imports count in the baseline, not the peak)

    from mne_neurorvq.benchmark import load_task

    if task == "motor":
        kwargs = {"dataset": _high_gamma_like(seconds)}
        subjects = list(range(1, 1 + n_subjects))
    else:
        kwargs = {"download": False}
        subjects = list(range(32, 32 + n_subjects))
    base = _rss_mib()
    start = time.perf_counter()
    epochs, _, _ = load_task(task, subjects, path=root, **kwargs)
    print(
        json.dumps(
            dict(
                task=task,
                subjects=n_subjects,
                seconds=seconds,
                trials=len(epochs),
                trials_mib=epochs.get_data(copy=False).nbytes / 2**20,
                base_mib=base,
                peak_mib=_peak_rss_mib(),
                wall_s=time.perf_counter() - start,
            )
        )
    )


#: the checkout this script belongs to comes first on the workers' path
REPO = Path(__file__).resolve().parents[1]


def _measure(task, root, n_subjects, seconds):
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            task,
            str(root),
            str(n_subjects),
            str(seconds),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
    )
    if out.returncode:
        raise RuntimeError(f"worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--task", nargs="+", default=["memory", "motor"], choices=sorted(REAL)
    )
    parser.add_argument("--seconds", nargs=2, type=float, default=[300.0, 600.0])
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        task, root, n_subjects, seconds = args.worker
        worker(task, root, int(n_subjects), float(seconds))
        return
    rows = []
    short, long = args.seconds
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.task:
            for seconds, n_subjects in ((short, 1), (short, 3), (long, 1)):
                root = Path(tmp) / f"{task}-{seconds:g}"
                if task == "memory" and not root.exists():
                    write_pavlov(root / "ds003838", range(32, 35), seconds)
                rows.append(_measure(task, root, n_subjects, seconds))
                r = rows[-1]
                print(
                    f"{task:<7} {n_subjects} subject(s) x {seconds:5.0f} s: peak "
                    f"{r['peak_mib']:7.0f} MiB, {r['peak_mib'] - r['base_mib']:6.0f}"
                    f" above the {r['base_mib']:.0f} MiB after imports; "
                    f"{r['trials']} trials ({r['trials_mib']:.0f} MiB), "
                    f"{r['wall_s']:.0f} s",
                    flush=True,
                )
    print()
    for task in args.task:
        n_channels, sfreq, seconds, what = REAL[task]
        one = [r for r in rows if r["task"] == task and r["subjects"] == 1]
        longest = max(one, key=lambda r: r["seconds"])
        # peak above the imports per MiB of the recording as float64, at the
        # longest stand-in (small recordings sit below glibc's mmap threshold)
        ratio = (longest["peak_mib"] - longest["base_mib"]) / (
            n_channels * sfreq * longest["seconds"] * 8 / 2**20
        )
        raw_mib = n_channels * sfreq * seconds * 8 / 2**20
        print(
            f"{task}: peak {ratio:.1f} x the recording as float64; one real subject "
            f"({what}, {raw_mib / 1024:.1f} GiB as float64): about "
            f"{ratio * raw_mib / 1024:.1f} GiB above the imports, one subject at a "
            "time"
        )
    results = Path(__file__).with_name("results")
    results.mkdir(exist_ok=True)
    (results / "loader_memory.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
