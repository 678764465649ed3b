"""Run the subject-independent benchmark and write its table, figure and config."""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score

from .loaders import load_task
from .models import MODELS, BenchmarkSettings, build_model, published_weights
from .splits import make_splits


def _seed_everything(seed):
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seeds third-party code)
    torch.manual_seed(seed)


def run_benchmark(
    task="eegmat",
    *,
    subjects=None,
    models=MODELS,
    cv="groupkfold",
    n_splits=10,
    seed=0,
    out_dir="neurorvq-benchmark",
    data_path=None,
    max_windows=None,
    settings: BenchmarkSettings | None = None,
    epochs_data=None,
    verbose=True,
):
    """Cross-validate every model with subject-independent splits.

    Parameters
    ----------
    task : str
        Task of :data:`mne_neurorvq.benchmark.protocol.TASKS`.
    subjects : list of int | None
        Subjects to use (default: all available).
    models : sequence of str
        Models of :data:`mne_neurorvq.benchmark.models.MODELS`.
    cv : ``"groupkfold"`` | ``"loso"`` | path
        Splits (see :func:`mne_neurorvq.benchmark.make_splits`).
    n_splits : int
        Folds of GroupKFold (the protocol uses 10).
    seed : int
        Seed of the splits and of every model.
    out_dir : str | Path
        Folder for ``scores.csv`` (per fold), ``summary.csv``, ``scores.png``
        and ``config.json``.
    data_path : str | Path | None
        Local data folder (default: ``MNE_NEURORVQ_DATA`` or a download).
    max_windows : int | None
        At most this many windows per recording (EEGMAT, eyes).
    settings : BenchmarkSettings | None
        Model and training sizes.
    epochs_data : tuple | None
        ``(epochs, y, groups)`` to use instead of loading ``task``.
    verbose : bool
        Print progress and the table.

    Returns
    -------
    scores : pandas.DataFrame
        One row per model and fold: ``model``, ``fold``, ``balanced_accuracy``,
        ``fit_seconds``, ``n_train``, ``n_test``.

    Examples
    --------
    >>> scores = run_benchmark("eegmat", n_splits=5)  # doctest: +SKIP
    """
    import pandas as pd

    settings = BenchmarkSettings() if settings is None else settings
    started = time.perf_counter()
    if epochs_data is None:
        kwargs = {"subjects": subjects, "path": data_path}
        if task in ("eegmat", "eyes"):
            kwargs["max_windows"] = max_windows
        if task == "eyes" and subjects is None:
            kwargs["subjects"] = (1, 2)
        epochs, y, groups = load_task(task, **kwargs)
    else:
        epochs, y, groups = epochs_data
    classes, y_encoded = np.unique(y, return_inverse=True)
    splits = make_splits(groups, cv, n_splits, seed)
    weights = published_weights()
    weights_note = (
        "published NeuroRVQ checkpoints"
        if weights is not None
        else "no published checkpoints found: NeuroRVQ models trained inside each "
        "fold, self-supervised, tiny configuration (labels unused)"
    )
    if verbose:
        print(
            f"{task}: {len(epochs)} epochs, {len(np.unique(groups))} subjects, "
            f"{len(epochs.ch_names)} channels at {epochs.info['sfreq']:g} Hz, "
            f"classes {[str(c) for c in classes]}; {len(splits)} folds ({cv}); "
            f"{weights_note}"
        )
    rows = []
    for fold, (train, test) in enumerate(splits):
        for name in models:
            _seed_everything(seed + fold)
            model = build_model(
                name, weights, settings, seed + fold, epochs.info["sfreq"]
            )
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(epochs[train], y_encoded[train])
                predictions = np.asarray(model.predict(epochs[test])).astype(int)
            score = balanced_accuracy_score(y_encoded[test], predictions)
            rows.append(
                dict(
                    model=name,
                    fold=fold,
                    balanced_accuracy=score,
                    fit_seconds=time.perf_counter() - t0,
                    n_train=len(train),
                    n_test=len(test),
                )
            )
            if verbose:
                print(
                    f"  fold {fold + 1}/{len(splits)} {name:<22} "
                    f"balanced accuracy {score:.3f} "
                    f"({rows[-1]['fit_seconds']:.0f} s)",
                    flush=True,
                )
    scores = pd.DataFrame(rows)
    elapsed = time.perf_counter() - started
    summary = summarise(scores)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out / "scores.csv", index=False)
    summary.to_csv(out / "summary.csv")
    config = dict(
        task=task,
        subjects=sorted(map(int, np.unique(groups))),
        models=list(models),
        cv=str(cv),
        n_splits=len(splits),
        seed=seed,
        max_windows=max_windows,
        settings=asdict(settings),
        weights=weights_note,
        n_epochs=len(epochs),
        classes=[str(c) for c in classes],
        wall_time_s=elapsed,
    )
    (out / "config.json").write_text(json.dumps(config, indent=1))
    plot_scores(scores, title=f"{task}: balanced accuracy per fold").savefig(
        out / "scores.png", dpi=120
    )
    if verbose:
        print()
        print(format_table(summary))
        print(f"\n{weights_note}\nwall time {elapsed / 60:.1f} min; results in {out}")
    return scores


def summarise(scores):
    """Mean and standard deviation of the balanced accuracy per model.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "model": ["bandpower_lr", "bandpower_lr", "eegnet", "eegnet"],
    ...     "fold": [0, 1, 0, 1],
    ...     "balanced_accuracy": [0.6, 0.7, 0.5, 0.55],
    ...     "fit_seconds": [1.0, 1.0, 10.0, 12.0],
    ... })
    >>> summarise(scores)["mean"].round(3).to_dict()
    {'bandpower_lr': 0.65, 'eegnet': 0.525}
    """
    table = scores.groupby("model", sort=False)["balanced_accuracy"].agg(
        ["mean", "std", "count"]
    )
    table["fit_seconds"] = scores.groupby("model", sort=False)["fit_seconds"].sum()
    return table


def format_table(summary) -> str:
    """The summary as a text table: model, mean +- std, folds, time.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "model": ["bandpower_lr", "bandpower_lr"],
    ...     "fold": [0, 1],
    ...     "balanced_accuracy": [0.6, 0.7],
    ...     "fit_seconds": [1.0, 1.0],
    ... })
    >>> print(format_table(summarise(scores)))
    model                       balanced accuracy  folds  fit time
    --------------------------------------------------------------
    bandpower_lr                    0.650 +- 0.071      2       2 s
    """
    lines = [
        f"{'model':<24} {'balanced accuracy':>20} {'folds':>6} {'fit time':>9}",
        "-" * 62,
    ]
    for name, row in summary.iterrows():
        std = 0.0 if np.isnan(row["std"]) else row["std"]
        lines.append(
            f"{name:<24} {row['mean']:>12.3f} +- {std:.3f} "
            f"{int(row['count']):>6} {row['fit_seconds']:>7.0f} s"
        )
    return "\n".join(lines)


def plot_scores(scores, title="", show=False):
    """Per-fold balanced accuracy of every model (dots) and the mean (bar).

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "model": ["bandpower_lr", "bandpower_lr"],
    ...     "fold": [0, 1],
    ...     "balanced_accuracy": [0.6, 0.7],
    ...     "fit_seconds": [1.0, 1.0],
    ... })
    >>> fig = plot_scores(scores, title="EEGMAT, rest vs arithmetic")
    """
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(scores["model"]))
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(names) + 1.5), layout="constrained")
    for i, name in enumerate(names):
        values = scores.loc[scores["model"] == name, "balanced_accuracy"].to_numpy()
        ax.barh(i, values.mean(), color="0.85")
        ax.scatter(values, np.full(len(values), i), color="C0", zorder=3, s=15)
    ax.axvline(0.5, color="C3", lw=1, ls="--", label="chance (2 classes)")
    ax.set(
        yticks=range(len(names)),
        yticklabels=names,
        xlim=(0, 1),
        xlabel="balanced accuracy",
        title=title,
    )
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize="small")
    if show:
        plt.show()
    return fig
