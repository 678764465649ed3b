"""Run the subject-independent benchmark and write its table, figure and config."""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from .folds import PAPER_BALANCED_ACCURACY, PAPER_TASKS, _number, paper_splits
from .loaders import load_task
from .models import (
    BASELINE_RECIPE,
    BASELINES,
    DEFAULT_MODELS,
    NEURORVQ_RECIPE,
    BenchmarkSettings,
    build_model,
    resolve_weights,
)
from .protocol import TASKS
from .splits import make_splits

#: Protocols: the paper's published folds, or GroupKFold over any data.
PROTOCOLS = ("paper", "groupkfold")

#: The model whose figure the NeuroRVQ paper reports.
PAPER_MODEL = "neurorvq_finetune"


def _seed_everything(seed):
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seeds third-party code)
    torch.manual_seed(seed)


def _check_protocol(task, protocol):
    """The protocol to use: the paper's for its five tasks, else GroupKFold."""
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; tasks are {sorted(TASKS)}")
    if protocol is None:
        return "paper" if task in PAPER_TASKS else "groupkfold"
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if protocol == "paper" and task not in PAPER_TASKS:
        raise ValueError(
            f"The paper protocol has folds for {list(PAPER_TASKS)}, not {task!r}; "
            "use protocol='groupkfold'."
        )
    return protocol


def run_benchmark(
    task="eegmat",
    *,
    subjects=None,
    models=None,
    protocol=None,
    folds=None,
    cv="groupkfold",
    n_splits=10,
    seed=0,
    out_dir="neurorvq-benchmark",
    data_path=None,
    max_windows=None,
    settings: BenchmarkSettings | None = None,
    weights="auto",
    epochs_data=None,
    verbose=True,
):
    """Cross-validate every model with subject-independent splits.

    Parameters
    ----------
    task : str
        Task of :data:`mne_neurorvq.benchmark.TASKS`.
    subjects : list of int or str | None
        Subjects to use (default: all of the task). Under the paper protocol,
        identifiers of the fold files or their numbers (see
        :func:`~mne_neurorvq.benchmark.select_subjects`); folds left without
        a selected validation or training subject are skipped.
    models : sequence of str | None
        Models of :data:`mne_neurorvq.benchmark.MODELS` (default: those of
        ``mne_neurorvq.benchmark.models.DEFAULT_MODELS`` for the
        protocol).
    protocol : ``"paper"`` | ``"groupkfold"`` | None
        ``"paper"`` (default for motor, erp, memory, sleep and eyes): the 10
        published folds of :func:`~mne_neurorvq.benchmark.paper_folds`, each
        fold's validation subjects against every other subject of the task;
        ``"groupkfold"`` (default otherwise): the splits of ``cv``.
    folds : sequence of int | None
        Under the paper protocol, run only these folds (0-9).
    cv : ``"groupkfold"`` | ``"loso"`` | path
        Splits of the ``"groupkfold"`` protocol (see
        :func:`mne_neurorvq.benchmark.make_splits`).
    n_splits : int
        Folds of GroupKFold.
    seed : int
        Seed of the GroupKFold splits and of every model.
    out_dir : str | Path
        Folder for ``scores.csv`` (per fold), ``summary.csv`` (with the
        paper's figure under the paper protocol), ``scores.png`` and
        ``config.json``.
    data_path : str | Path | None
        Local data folder (default: the loader's own settings or a download).
    max_windows : int | None
        At most this many windows per recording (quick runs).
    settings : BenchmarkSettings | None
        Training sizes (default: the published recipes).
    weights : ``"auto"`` | ``"download"`` | ``"none"`` | path
        NeuroRVQ weights (see :func:`~mne_neurorvq.benchmark.resolve_weights`).
    epochs_data : tuple | None
        ``(epochs, y, groups)`` to use instead of loading ``task``.
    verbose : bool
        Print progress and the table.

    Returns
    -------
    scores : pandas.DataFrame
        One row per model and fold: ``model``, ``fold``, ``accuracy``,
        ``balanced_accuracy``, ``fit_seconds``, ``n_train``, ``n_test``. Each
        model is scored as it is after its last training epoch (no model
        selection on the validation fold).

    Examples
    --------
    >>> scores = run_benchmark("eyes", subjects=[1, 2], max_windows=4,
    ...                        weights="none")  # doctest: +SKIP
    """
    import pandas as pd

    protocol = _check_protocol(task, protocol)
    models = DEFAULT_MODELS[protocol] if models is None else tuple(models)
    settings = BenchmarkSettings() if settings is None else settings
    started = time.perf_counter()
    choice = resolve_weights(weights, models)  # downloads before loading data
    if protocol == "paper":
        split_spec = paper_splits(task, subjects, folds)
        if not split_spec:
            raise ValueError(
                f"No fold of the {task!r} task has both validation and training "
                f"subjects among {subjects}."
            )
        fold_names = [s["fold"] for s in split_spec]
        subjects = _needed_subjects(split_spec)
    if epochs_data is None:
        epochs, y, groups = load_task(
            task, subjects=subjects, path=data_path, max_windows=max_windows
        )
    else:
        epochs, y, groups = epochs_data
    groups = np.asarray(groups)
    if protocol == "paper":
        splits = make_splits(groups, split_spec)
    else:
        splits = make_splits(groups, cv, n_splits, seed)
        fold_names = list(range(len(splits)))
    classes, y_encoded = np.unique(y, return_inverse=True)
    used = np.unique(np.concatenate([np.concatenate(s) for s in splits]))
    if verbose:
        print(
            f"{task}: {len(used)} epochs of {len(np.unique(groups[used]))} subjects, "
            f"{len(epochs.ch_names)} channels at {epochs.info['sfreq']:g} Hz, "
            f"classes {[str(c) for c in classes]}; {len(splits)} folds "
            f"({_protocol_name(protocol, cv)}); {choice.note}",
            flush=True,
        )
    rows = []
    weight_files = choice.by_kind()
    for fold, (train, test) in zip(fold_names, splits, strict=True):
        for name in models:
            _seed_everything(seed + fold)
            model = build_model(
                name, weight_files, settings, seed + fold, epochs.info["sfreq"]
            )
            rows.append(_score(model, name, fold, epochs, y_encoded, train, test))
            if verbose:
                print(
                    f"  fold {fold} {name:<22} accuracy {rows[-1]['accuracy']:.3f} "
                    f"balanced accuracy {rows[-1]['balanced_accuracy']:.3f} "
                    f"({rows[-1]['fit_seconds']:.0f} s)",
                    flush=True,
                )
    scores = pd.DataFrame(rows)
    elapsed = time.perf_counter() - started
    paper = PAPER_BALANCED_ACCURACY.get(task) if protocol == "paper" else None
    summary = summarise(scores, None if paper is None else {PAPER_MODEL: paper})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out / "scores.csv", index=False)
    summary.to_csv(out / "summary.csv")
    config = dict(
        task=task,
        protocol=protocol,
        cv=None if protocol == "paper" else str(cv),
        folds=fold_names,
        subjects=sorted(np.unique(groups[used]).tolist()),
        models=list(models),
        seed=seed,
        max_windows=max_windows,
        settings=asdict(settings),
        recipes={"neurorvq": NEURORVQ_RECIPE, "baselines": BASELINE_RECIPE},
        weights=choice.to_dict(),
        paper_balanced_accuracy=paper,
        n_epochs=int(len(used)),
        classes=[str(c) for c in classes],
        wall_time_s=elapsed,
    )
    (out / "config.json").write_text(json.dumps(config, indent=1))
    fig = plot_scores(
        scores,
        title=f"{task}: balanced accuracy per fold",
        chance=1 / len(classes),
        paper=None if paper is None else {PAPER_MODEL: paper},
    )
    fig.savefig(out / "scores.png", dpi=120)
    if verbose:
        print()
        print(format_table(summary))
        print(
            f"\n{choice.note}\nwall time {elapsed / 60:.1f} min; results in {out}",
            flush=True,
        )
    return scores


def _needed_subjects(split_spec):
    """Subjects of the kept folds (validation or training), sorted by number."""
    return sorted({s for f in split_spec for s in f["test"] + f["train"]}, key=_number)


def _protocol_name(protocol, cv):
    if protocol == "paper":
        return "paper: published folds of Lee et al. 2025, last epoch scored"
    return f"groupkfold: {cv}"


def _score(model, name, fold, epochs, y, train, test):
    """Fit on ``train``, score the final model on ``test``: one row of scores."""
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(epochs[train], y[train])
        predictions = np.asarray(model.predict(epochs[test])).astype(int)
    return dict(
        model=name,
        fold=fold,
        accuracy=accuracy_score(y[test], predictions),
        balanced_accuracy=balanced_accuracy_score(y[test], predictions),
        fit_seconds=time.perf_counter() - t0,
        n_train=len(train),
        n_test=len(test),
    )


def describe_benchmark(
    task,
    *,
    subjects=None,
    models=None,
    protocol=None,
    folds=None,
    cv="groupkfold",
    n_splits=10,
    data_path=None,
    settings: BenchmarkSettings | None = None,
    weights="auto",
) -> str:
    """What :func:`run_benchmark` would do, without downloading or loading data.

    Parameters are those of :func:`run_benchmark`. The published weights are
    looked for on disk (:func:`~mne_neurorvq.weights.fetch_weights` with
    ``download=False``), nothing else is read.

    Returns
    -------
    str
        The task, its data source, the subjects, the folds, the models and
        their recipes, the weights, and what a run would download.

    Examples
    --------
    >>> text = describe_benchmark("motor", weights="none")
    >>> print(text.splitlines()[3])
      subjects: 14 (highgamma_s01 ... highgamma_s14)
    """
    protocol = _check_protocol(task, protocol)
    models = DEFAULT_MODELS[protocol] if models is None else tuple(models)
    settings = BenchmarkSettings() if settings is None else settings
    info = TASKS[task]
    choice = resolve_weights(weights, models, download=False)
    lines = [
        f"task {task}: {info.description}",
        f"  data: {info.source}" + (f" (folder {data_path})" if data_path else ""),
        f"  epochs: {info.epochs}, 200 Hz",
    ]
    if protocol == "paper":
        spec = paper_splits(task, subjects, folds)
        needed = _needed_subjects(spec)
        lines.append(f"  subjects: {len(needed)} ({needed[0]} ... {needed[-1]})")
        lines.append(
            f"  folds: {len(spec)} of 10 published folds (Lee et al., MLSP 2025); "
            "the model after its last epoch is scored"
        )
        lines += [
            f"    fold {f['fold']}: validation {', '.join(f['test'])}; "
            f"training {len(f['train'])} subjects"
            for f in spec
        ]
    else:
        chosen = "all" if subjects is None else ", ".join(map(str, subjects))
        lines.append(f"  subjects: {chosen}")
        splits = {
            "groupkfold": f"GroupKFold, {n_splits} folds of subjects (seeded shuffle)",
            "loso": "leave one subject out",
        }.get(str(cv), f"the splits of {cv}")
        lines.append(f"  folds: {splits}")
    lines.append("  models:")
    lines += [f"    {name}: {_recipe(name, settings)}" for name in models]
    lines.append(f"  weights: {_weights_line(choice)}")
    downloads = [f"the {task} recordings of these subjects ({info.source})"]
    downloads += [f"weights {name}" for name in choice.missing if choice.mode != "auto"]
    lines.append(
        "  a run would download what is not on disk yet: " + "; ".join(downloads)
    )
    if task in PAPER_BALANCED_ACCURACY:
        lines.append(
            f"  NeuroRVQ paper: balanced accuracy {PAPER_BALANCED_ACCURACY[task]:.3f}"
        )
    lines.append("  (dry run: nothing was downloaded or loaded)")
    return "\n".join(lines)


def _recipe(name, s):
    if name == "neurorvq_finetune":
        r = NEURORVQ_RECIPE
        return (
            f"fine-tuned {s.finetune_epochs} epochs ({s.warmup_epochs} warm-up), "
            f"AdamW lr {r['lr']:g}, weight decay {r['weight_decay']:g}, layer decay "
            f"{r['layer_decay']:g}, batch {s.batch_size}, precision {s.precision}"
        )
    if name in BASELINES:
        return (
            f"braindecode {BASELINES[name]}, {s.baseline_epochs} epochs, AdamW lr "
            f"{BASELINE_RECIPE['lr']:g}, weight decay "
            f"{BASELINE_RECIPE['weight_decay']:g}, cosine schedule, batch "
            f"{s.baseline_batch_size}"
        )
    if name == "neurorvq_embedding_lr":
        return "frozen NeuroRVQ embedding, standardised, logistic regression"
    if name == "neurorvq_tokens_lr":
        return "NeuroRVQ token histograms, standardised, logistic regression"
    return "log band power per channel, standardised, logistic regression"


def _weights_line(choice):
    if not choice.needed:
        return "none needed"
    found = [f"{name} at {path}" for name, path in choice.files.items()]
    if choice.mode == "none":
        return "--weights none: NeuroRVQ models trained inside each fold"
    if choice.mode == "auto":
        if choice.missing:
            return (
                f"--weights auto: {', '.join(choice.missing)} not on disk, so the "
                "NeuroRVQ models would be trained inside each fold"
            )
        return "--weights auto: published files on disk: " + "; ".join(found)
    missing = ", ".join(choice.missing)
    if choice.mode == "download":
        return (
            f"--weights download: on disk: {'; '.join(found) or 'none'}; "
            f"to download: {missing or 'none'}"
        )
    state = f"missing in that folder: {missing}" if missing else "all found"
    return f"--weights {choice.mode}: {'; '.join(found) or 'no file found'} ({state})"


def summarise(scores, paper=None):
    """Mean and standard deviation of the scores per model.

    Parameters
    ----------
    scores : pandas.DataFrame
        Per-fold scores (:func:`run_benchmark`); an ``accuracy`` column is
        summarised too when present.
    paper : dict | None
        Published balanced accuracy per model, added as a ``paper`` column.

    Returns
    -------
    pandas.DataFrame
        Per model: ``mean``, ``std`` and ``count`` of the balanced accuracy,
        ``accuracy`` and ``accuracy_std`` when available, ``fit_seconds``
        (total) and ``paper`` when given.

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
    by_model = scores.groupby("model", sort=False)
    table = by_model["balanced_accuracy"].agg(["mean", "std", "count"])
    if "accuracy" in scores:
        table["accuracy"] = by_model["accuracy"].mean()
        table["accuracy_std"] = by_model["accuracy"].std()
    table["fit_seconds"] = by_model["fit_seconds"].sum()
    if paper is not None:
        table["paper"] = [paper.get(name, np.nan) for name in table.index]
    return table


def format_table(summary) -> str:
    """The summary as a text table: model, scores, folds, time (and the paper).

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
    bandpower_lr                   0.650 +- 0.071      2       2 s
    """
    accuracy = "accuracy" in summary
    paper = "paper" in summary
    header = f"{'model':<24}"
    header += f" {'accuracy':>16}" if accuracy else ""
    header += f" {'balanced accuracy':>20} {'folds':>6} {'fit time':>9}"
    header += f" {'paper':>6}" if paper else ""
    lines = [header, "-" * len(header)]
    for name, row in summary.iterrows():
        line = f"{name:<24}"
        if accuracy:
            line += f" {_mean_std(row['accuracy'], row['accuracy_std']):>16}"
        line += (
            f" {_mean_std(row['mean'], row['std']):>20} "
            f"{int(row['count']):>6} {row['fit_seconds']:>7.0f} s"
        )
        if paper:
            line += f" {row['paper']:>6.3f}" if not np.isnan(row["paper"]) else ""
        lines.append(line)
    if paper:
        lines.append("paper: balanced accuracy of the NeuroRVQ paper (fine-tuned)")
    return "\n".join(lines)


def _mean_std(mean, std):
    return f"{mean:.3f} +- {0.0 if np.isnan(std) else std:.3f}"


def plot_scores(scores, title="", chance=0.5, paper=None, show=False):
    """Per-fold balanced accuracy of every model (dots) and the mean (bar).

    Parameters
    ----------
    scores : pandas.DataFrame
        Per-fold scores (:func:`run_benchmark`).
    title : str
        Figure title.
    chance : float
        Chance level drawn as a dashed line (``1 / n_classes``).
    paper : dict | None
        Published balanced accuracy per model, drawn as a cross.
    show : bool
        Show the figure.

    Returns
    -------
    matplotlib.figure.Figure

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
    for i, name in enumerate(names):
        if paper and name in paper:
            ax.scatter(paper[name], i, color="C3", marker="x", s=60, zorder=4)
    if paper:
        ax.scatter([], [], color="C3", marker="x", label="paper")
    ax.axvline(
        chance, color="C3", lw=1, ls="--", label=f"chance ({round(1 / chance)} classes)"
    )
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
