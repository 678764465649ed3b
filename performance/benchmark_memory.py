"""Peak RSS of one benchmark unit on a KU ERP stand-in store, by number of subjects.

The stand-in has the real shapes of KU ERP (Lee2019_ERP as the benchmark cuts
it): 8,280 trials x 62 channels x 200 samples per subject, float32 (411 MB a
subject, 22 GB for 54), random values, labels 1 target in 6, written through
``TrialStore.write`` (the store's own writer). Each measurement runs one unit
of fold 0 (its validation subjects of ``kuerp.txt``; every other subject of
the first N trains) in a fresh process and reads its peak RSS
(``VmHWM``) and its RSS after the imports:

- ``bandpower_lr``: the frozen-feature path: every subject's log band power
  computed from the store (cached in its entry: only the first run of a
  subject computes it), then the scaler and logistic regression fitted on the
  training subjects' features and scored on the validation subjects';
- ``embedding_lr``: the same path for ``neurorvq_embedding_lr`` with
  published-size features (200 per trial) already cached in the store (what
  a second unit of the same weights finds; computing real embeddings of
  447 k trials is GPU work), so the scaler and the linear model on 447 k x
  200 features are measured;
- ``eegnet`` and ``finetune``: the streaming path: the braindecode EEGNet and
  the published-size NeuroRVQ foundation model (random weights) trained from
  a ``TrialDataset`` over all training subjects, stopped after ``--batches``
  batches (a full fine-tune of 400 k trials is GPU work; the memory of a
  batch does not depend on how many came before), without the prediction
  pass.

    python performance/benchmark_memory.py --subjects 5 20 54 --root /tmp/erp-store
    python performance/benchmark_memory.py --subjects 5 --keep   # keep the store

The store is deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

N_TRIALS, N_CHANNELS, N_TIMES = 8280, 62, 200
#: The 62 EEG channels of Lee2019_ERP, in MOABB's order.
KU_CHANNELS = (
    "Fp1 Fp2 F7 F3 Fz F4 F8 FC5 FC1 FC2 FC6 T7 C3 Cz C4 T8 TP9 CP5 CP1 CP2 CP6 "
    "TP10 P7 P3 Pz P4 P8 PO9 O1 Oz O2 PO10 FC3 FC4 C5 C1 C2 C6 CP3 CPz CP4 P1 "
    "P2 POz FT9 FTT9h TTP7h TP7 TPP9h FT10 FTT10h TPP8h TP8 TPP10h F9 F10 AF7 "
    "AF3 AF4 AF8 PO3 PO4"
).split()
MODELS = ("bandpower_lr", "embedding_lr", "eegnet", "finetune")
GIB = 1024**3


def _status(field: str) -> int:
    """A field of /proc/self/status in bytes (VmRSS: now, VmHWM: peak)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def build_store(root: Path, n_subjects: int) -> float:
    """Write the stand-in entries 1..n not there yet; returns seconds."""
    from mne_neurorvq.benchmark import TrialStore
    from mne_neurorvq.benchmark.loaders import SubjectTrials

    store = TrialStore(root)
    started = time.perf_counter()
    for subject in range(1, n_subjects + 1):
        if store.entry("erp", subject) is not None:
            continue
        rng = np.random.default_rng(subject)
        data = rng.standard_normal((N_TRIALS, N_CHANNELS, N_TIMES), np.float32)
        data *= np.float32(1e-5)
        codes = (rng.random(N_TRIALS) < 1 / 6).astype(np.int16)
        store.write("erp", subject, SubjectTrials(data, codes, KU_CHANNELS))
        del data
        print(f"  wrote subject {subject}", flush=True)
    return time.perf_counter() - started


def _fold(n_subjects):
    from mne_neurorvq.benchmark import paper_folds

    subjects = [str(s) for s in range(1, n_subjects + 1)]
    test = [s for s in paper_folds("erp")[0] if s in subjects] or subjects[-1:]
    return [s for s in subjects if s not in test], test


class _StopAfter:
    """A skorch callback that ends training after ``n`` batches."""

    def __init__(self, n):
        self.n, self.seen = n, 0

    def __call__(self):
        from skorch.callbacks import Callback

        outer = self

        class Stop(Callback):
            def on_batch_end(self, net, training=False, **kwargs):
                if training:
                    outer.seen += 1
                    if outer.seen >= outer.n:
                        raise KeyboardInterrupt  # skorch ends fit() cleanly

        return Stop()


def measure(root: Path, n_subjects: int, model: str, batches: int) -> dict:
    """One unit in this (fresh) process; peak RSS and RSS after imports."""
    import torch

    from mne_neurorvq.benchmark import (
        BenchmarkSettings,
        TrialDataset,
        TrialStore,
        fitting,
    )

    torch.set_num_threads(2)
    store = TrialStore(root)
    train_ids, test_ids = _fold(n_subjects)
    train = [store.entry("erp", s) for s in train_ids]
    test = [store.entry("erp", s) for s in test_ids]
    imported = _status("VmRSS")
    started = time.perf_counter()
    settings = BenchmarkSettings()
    if model == "bandpower_lr":
        result = fitting.fit_and_score("bandpower_lr", train, test, settings=settings)
    elif model == "embedding_lr":
        fake = root / "fake-foundation.safetensors"
        fake.write_bytes(b"stand-in weights: only the cache key is read")
        key = f"embedding-{fitting._weights_key(fake)}"
        for entry in train + test:
            if entry.features(key) is None:
                rng = np.random.default_rng(len(entry))
                entry.save_features(
                    key, rng.standard_normal((len(entry), 200), np.float32)
                )
        imported = _status("VmRSS")
        result = fitting.fit_and_score(
            "neurorvq_embedding_lr",
            train,
            test,
            weights={"foundation": str(fake)},
            settings=settings,
        )
    else:
        dataset = TrialDataset(train)
        stop = _StopAfter(batches)
        if model == "eegnet":
            dataset.scale = 1e6
            net = fitting.build_model("eegnet", None, settings, 0, 200.0)
            net.set_params(
                classes=[0, 1],
                module__n_outputs=2,
                module__n_chans=N_CHANNELS,
                module__n_times=N_TIMES,
                callbacks=[*net.callbacks, ("stop", stop())],
                max_epochs=1,
            )
            net.fit(dataset, y=dataset.labels)
        else:
            from mne_neurorvq.benchmark._finetune import StoreClassifier
            from mne_neurorvq.nn import FoundationConfig

            net = StoreClassifier(
                weights=None,
                config=FoundationConfig(),
                max_epochs=1,
                batch_size=settings.batch_size,
                precision="float32",
                callbacks=[("stop", stop())],
                verbose=0,
            )
            net.fit(dataset, dataset.labels)
        result = {"batches": stop.seen, "n_train": len(dataset)}
    # VmHWM, not getrusage: Linux keeps ru_maxrss across exec, so a child
    # would report its parent's peak when that is higher
    peak = _status("VmHWM")
    return dict(
        model=model,
        subjects=n_subjects,
        peak_gib=peak / GIB,
        after_imports_gib=imported / GIB,
        seconds=time.perf_counter() - started,
        **{k: v for k, v in result.items() if k in ("n_train", "n_test", "batches")},
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, nargs="+", default=[5, 20, 54])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--root", default="/tmp/neurorvq-erp-standin")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--measure", nargs=2, metavar=("N", "MODEL"))
    args = parser.parse_args(argv)
    root = Path(args.root)
    if args.measure:  # the child process
        result = measure(root, int(args.measure[0]), args.measure[1], args.batches)
        print("RESULT " + json.dumps(result), flush=True)
        return
    rows = []
    for n in sorted(args.subjects):
        seconds = build_store(root, n)
        size = sum(f.stat().st_size for f in root.rglob("data.npy")) / GIB
        print(f"store of {n} subjects: {size:.1f} GiB ({seconds:.0f} s)", flush=True)
        for model in args.models:
            command = [sys.executable, __file__, "--root", str(root)]
            command += ["--batches", str(args.batches), "--measure", str(n), model]
            out = subprocess.run(
                command, capture_output=True, text=True, env=os.environ, check=False
            )
            lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
            if out.returncode or not lines:
                print(out.stdout[-2000:], out.stderr[-4000:])
                raise SystemExit(f"{model} at {n} subjects failed")
            rows.append(json.loads(lines[-1][7:]))
            print(json.dumps(rows[-1]), flush=True)
    print("\n| subjects | model | trials trained | peak RSS | RSS after imports |")
    print("|---:|---|---:|---:|---:|")
    for r in rows:
        trained = f"{r['n_train']:,}" + (
            f" ({r['batches']} batches)" if "batches" in r else ""
        )
        print(
            f"| {r['subjects']} | {r['model']} | {trained} | "
            f"{r['peak_gib']:.2f} GiB | {r['after_imports_gib']:.2f} GiB |"
        )
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "benchmark_memory.json").write_text(json.dumps(rows, indent=1))
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
