"""Run the subject-independent benchmark: trials in the store, units of work, results.

A run makes its plan (:func:`~mne_neurorvq.benchmark.plan.make_plan`), cuts
the subjects missing from the trial store, runs every unit not finished yet
(in this process or on Dask), and rebuilds ``scores.csv``, ``summary.csv``,
``scores.png`` and ``config.json`` from the unit files.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np

from .dispatch import execute, local_threads
from .plan import finished_units, make_plan
from .units import make_jobs, read_units, write_atomic

#: The model whose figure the NeuroRVQ paper reports.
PAPER_MODEL = "neurorvq_finetune"


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
    settings=None,
    weights="auto",
    cache=None,
    workers=None,
    scheduler=None,
    scheduler_file=None,
    verbose=True,
):
    """Cross-validate every model with subject-independent splits, unit by unit.

    Each subject's trials are cut once into the trial store (``cache``);
    each (fold, model) unit then reads them from there and writes
    ``out_dir/units/<fold>-<model>.json`` when it finishes. Running the same
    call again skips the finished units, so a killed run resumes where it
    stopped. The tables and the figure are rebuilt from the unit files.

    Parameters
    ----------
    task : str | Task
        A registered task (:data:`~mne_neurorvq.benchmark.TASKS`,
        :func:`~mne_neurorvq.benchmark.register_task`).
    subjects : list of int or str | None
        Subjects to use (default: all of the task). Under the paper protocol,
        identifiers of the fold files or their numbers (see
        :func:`~mne_neurorvq.benchmark.select_subjects`); folds left without
        a selected validation or training subject are skipped.
    models : list of str | None
        Models of :data:`~mne_neurorvq.benchmark.MODELS` (default: those of
        the protocol).
    protocol : ``"paper"`` | ``"groupkfold"`` | None
        The task's published folds (default for tasks with a fold file) or
        splits of subjects by ``cv``.
    folds : list of int | None
        Run only these folds.
    cv : ``"groupkfold"`` | ``"loso"`` | path
        Splits of the groupkfold protocol (a JSON file of
        ``[{"train": [...], "test": [...]}]`` subject lists).
    n_splits : int
        Folds of GroupKFold.
    seed : int
        Random seed; fold ``k`` uses ``seed + k``.
    out_dir : str | Path
        Folder of the unit files and results.
    data_path : str | Path | None
        Data folder of the task's loader.
    max_windows : int | None
        At most this many trials per recording.
    settings : BenchmarkSettings | None
        Training sizes (default: the published recipes).
    weights : ``"auto"`` | ``"download"`` | ``"none"`` | path
        NeuroRVQ weights (see :func:`~mne_neurorvq.benchmark.resolve_weights`).
    cache : str | Path | None
        Folder of the trial store (default: ``benchmark`` in the package's
        cache, ``MNE_NEURORVQ_CACHE``).
    workers : int | None
        Run the units on a local Dask cluster of this many processes (one
        GPU each when GPUs are visible).
    scheduler, scheduler_file : str | None
        Run the units on an existing Dask cluster (its address or scheduler
        file). Without ``workers``, ``scheduler`` and ``scheduler_file`` the
        units run one after another in this process.
    verbose : bool
        Progress bars (on a terminal), the table at the end and where the
        files are.

    Returns
    -------
    pandas.DataFrame
        One row per finished unit: model, fold, accuracy, balanced accuracy,
        fit seconds, n_train, n_test.

    Examples
    --------
    >>> scores = run_benchmark("eyes", subjects=range(1, 5), max_windows=6,
    ...                        models=["bandpower_lr"], weights="none",
    ...                        cache="cache", out_dir="A")  # doctest: +SKIP
    """
    started = time.perf_counter()
    plan = make_plan(
        task,
        subjects=subjects,
        models=models,
        protocol=protocol,
        folds=folds,
        cv=cv,
        n_splits=n_splits,
        seed=seed,
        max_windows=max_windows,
        settings=settings,
        weights=weights,
        data_path=data_path,
        cache=cache,
    )
    out = Path(out_dir)
    done = finished_units(plan, out)
    todo = [u for u in plan.units if u.name not in done]
    bars = None if verbose else False
    if verbose:
        print(
            f"{plan.task.name}: {len(plan.subjects)} subjects, {len(plan.folds)} "
            f"folds, {len(plan.models)} models: {len(plan.units)} units"
            + (f", {len(done)} finished already (skipped)" if done else "")
            + f"; {plan.weights.note}",
            flush=True,
        )
    write_atomic(out / "config.json", json.dumps(plan.config(), indent=1))
    failed = []
    if todo:
        entries = plan.store.fill(
            plan.task,
            plan.subjects,
            path=data_path,
            max_windows=max_windows,
            verbose=bars,
        )
        by_id = dict(zip(plan.subjects, entries, strict=True))
        threads = local_threads(workers) if workers is not None else None
        jobs = make_jobs(plan, by_id, out, todo, threads=threads)
        for job, _, error in execute(
            jobs,
            workers=workers,
            scheduler=scheduler,
            scheduler_file=scheduler_file,
            verbose=bars,
        ):
            if error is not None:
                failed.append((job.unit.name, error))
                print(f"unit {job.unit.name} failed: {error!r}", flush=True)
    scores = write_results(out)
    if verbose:
        summary = summarize(scores, _paper(plan.paper_balanced_accuracy))
        print()
        print(format_table(summary))
        elapsed = time.perf_counter() - started
        print(
            f"\n{plan.weights.note}\nwall time {elapsed / 60:.1f} min; "
            f"{len(scores)} of {len(plan.units)} units in {out / 'units'}; "
            f"tables and figure in {out}",
            flush=True,
        )
    if failed:
        names = ", ".join(name for name, _ in failed)
        raise RuntimeError(
            f"{len(failed)} units failed ({names}); the others are saved: run "
            "the same command again to retry them"
        ) from failed[0][1]
    return scores


def _paper(figure):
    return None if figure is None else {PAPER_MODEL: figure}


def collect_scores(out_dir):
    """The scores of every finished unit of a run folder, in the plan's order.

    Returns
    -------
    pandas.DataFrame
        One row per unit file: model, fold, accuracy, balanced_accuracy,
        fit_seconds, n_train, n_test, seed.

    Examples
    --------
    >>> scores = collect_scores("neurorvq-benchmark")  # doctest: +SKIP
    >>> scores.groupby("model")["balanced_accuracy"].mean()  # doctest: +SKIP
    """
    import pandas as pd

    out = Path(out_dir)
    config = json.loads((out / "config.json").read_text())
    records = read_units(out)
    columns = [
        "model",
        "fold",
        "accuracy",
        "balanced_accuracy",
        "fit_seconds",
        "n_train",
        "n_test",
        "seed",
    ]
    rows = [{c: r[c] for c in columns} for r in records]
    scores = pd.DataFrame(rows, columns=columns)
    order = {name: i for i, name in enumerate(config["models"])}
    scores["_order"] = scores["model"].map(order).fillna(len(order))
    scores = scores.sort_values(["fold", "_order"]).drop(columns="_order")
    return scores.reset_index(drop=True)


def write_results(out_dir):
    """Rebuild ``scores.csv``, ``summary.csv`` and ``scores.png`` from the units."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    config = json.loads((out / "config.json").read_text())
    scores = collect_scores(out)
    scores.to_csv(out / "scores.csv", index=False)
    if not len(scores):
        return scores
    paper = _paper(config.get("paper_balanced_accuracy"))
    summarize(scores, paper).to_csv(out / "summary.csv")
    fig = plot_scores(
        scores,
        title=f"{config['task']}: balanced accuracy per fold",
        chance=1 / len(config["classes"]),
        paper=paper,
    )
    fig.savefig(out / "scores.png", dpi=120)
    plt.close(fig)
    return scores


def describe_benchmark(task, *, out_dir=None, **kwargs) -> str:
    """What :func:`run_benchmark` would do, without downloading or loading data.

    Parameters are those of :func:`run_benchmark` (the plan is the run's:
    :func:`~mne_neurorvq.benchmark.plan.make_plan`). The published weights
    are looked for on disk (:func:`~mne_neurorvq.weights.fetch_weights` with
    ``download=False``), the trial store and ``out_dir`` are looked at,
    nothing else is read.

    Returns
    -------
    str
        The task, its data source, the subjects, the folds, the models and
        their recipes, the weights, the store, the units (and those finished
        in ``out_dir``), and what a run would download.

    Examples
    --------
    >>> text = describe_benchmark("motor", weights="none")
    >>> print(text.splitlines()[3])
      subjects: 14 (highgamma_s01 ... highgamma_s14)
    """
    for key in ("workers", "scheduler", "scheduler_file", "verbose"):
        kwargs.pop(key, None)
    plan = make_plan(task, download=False, **kwargs)
    return plan.describe(out_dir) + "\n  (dry run: nothing was downloaded or loaded)"


def summarise(scores, paper=None):
    """Deprecated spelling of :func:`summarize` (removed in a later release).

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"model": ["eegnet"], "fold": [0],
    ...                        "balanced_accuracy": [0.5], "fit_seconds": [1.0]})
    >>> summarise(scores)  # doctest: +SKIP
    FutureWarning: summarise is deprecated, use summarize (American spelling)
    """
    warnings.warn(
        "summarise is deprecated, use summarize (American spelling)",
        FutureWarning,
        stacklevel=2,
    )
    return summarize(scores, paper)


def summarize(scores, paper=None):
    """Mean and standard deviation of the scores per model.

    Parameters
    ----------
    scores : pandas.DataFrame
        Per-fold scores (:func:`run_benchmark`); an ``accuracy`` column is
        summarized too when present.
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
    >>> summarize(scores)["mean"].round(3).to_dict()
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
    >>> print(format_table(summarize(scores)))
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
