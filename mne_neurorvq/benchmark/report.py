"""One table across tasks: our runs beside the NeuroRVQ paper's published rows.

``mne-neurorvq report RUN_DIR [RUN_DIR ...] --out DIR`` reads the unit files
of benchmark runs (one or more tasks), and writes ``table.csv``,
``table.md`` and ``table.png``: one row per model, one column per task plus
the mean, balanced accuracy mean +- std over folds, beside the rows of the
paper's table (``data/paper-table.csv``, package data). A task without
results is marked as missing and a task with fewer folds than its protocol
says how many it has; the mean says over how many tasks it is taken.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import numpy as np

from .protocol import PAPER_TASKS, fold_file_path, get_task
from .units import read_units

#: Source column of the rows of the paper's table.
PAPER_SOURCE = "NeuroRVQ paper (arXiv 2510.13068)"


def paper_table():
    """The NeuroRVQ paper's downstream table (balanced accuracy).

    Returns
    -------
    pandas.DataFrame
        Index: model (NeuroGPT, CBraMod, BIOT, MIRepNet, LaBraM, EEGPT,
        NeuroRVQ); per task of :data:`PAPER_TASKS` and ``mean``, a column of
        means and a ``<task>_std`` column (NaN: not reported); ``size``.

    Examples
    --------
    >>> table = paper_table()
    >>> float(table.loc["NeuroRVQ", "mean"]), table.loc["NeuroRVQ", "size"]
    (0.749, '5.9M')
    >>> float(table.loc["NeuroRVQ", "eyes_std"])
    0.026
    """
    import pandas as pd

    raw = pd.read_csv(
        files(__package__) / "data" / "paper-table.csv", dtype=str, index_col=0
    )
    table = pd.DataFrame(index=raw.index)
    for column in [*PAPER_TASKS, "mean"]:
        parts = raw[column].fillna("").str.split("±", expand=True)
        table[column] = pd.to_numeric(parts[0], errors="coerce")
        std = parts[1] if parts.shape[1] > 1 else None
        table[f"{column}_std"] = np.nan if std is None else pd.to_numeric(std)
    table["size"] = raw["size"]
    return table


def _expected_folds(config) -> int:
    """Folds of the task's full protocol (the fold file's), else those planned."""
    if config["protocol"] == "paper":
        try:
            path = fold_file_path(get_task(config["task"]))
            return len(json.loads(path.read_text()))
        except (ValueError, OSError):
            pass
    return len(config["folds"])


def _runs(run_dirs):
    """Per task: (config, unit records), runs of one task merged."""
    runs = {}
    for run_dir in run_dirs:
        folder = Path(run_dir)
        config_path = folder / "config.json"
        if not config_path.is_file():
            raise FileNotFoundError(f"{folder} is not a benchmark run (no config.json)")
        config = json.loads(config_path.read_text())
        records = read_units(folder)
        task = config["task"]
        if task in runs:
            seen = {(r["fold"], r["model"]) for r in runs[task][1]}
            twice = sorted({(r["fold"], r["model"]) for r in records} & seen)
            if twice:
                raise ValueError(
                    f"Two runs hold the same units of task {task!r}: {twice[:3]}"
                )
            records = runs[task][1] + records
        runs[task] = (config, records)
    return runs


def _ours(runs):
    """Our rows: per model and task, mean, std and number of folds."""
    import pandas as pd

    rows = {}
    for task, (config, records) in runs.items():
        expected = _expected_folds(config)
        frame = pd.DataFrame(records)
        if not len(frame):
            continue
        for model, group in frame.groupby("model", sort=False):
            row = rows.setdefault(model, {})
            values = group["balanced_accuracy"].to_numpy()
            row[task] = values.mean()
            row[f"{task}_std"] = values.std(ddof=1) if len(values) > 1 else np.nan
            row[f"{task}_folds"] = f"{len(values)}/{expected}"
    return rows


def report(run_dirs, out_dir="neurorvq-report", *, verbose=True):
    """Merge benchmark runs into the paper's table; write it and a figure.

    Parameters
    ----------
    run_dirs : list of str | Path
        Output folders of :func:`run_benchmark` (``--out``), one or more
        tasks.
    out_dir : str | Path
        Where ``table.csv``, ``table.md`` and ``table.png`` go.
    verbose : bool
        Print the table and where the files are.

    Returns
    -------
    pandas.DataFrame
        One row per model (ours, then the paper's): ``source``, per task the
        mean, ``<task>_std`` and ``<task>_folds`` (``"4/10"``: folds present
        of the protocol's), ``mean`` over the tasks present and
        ``mean_tasks`` (``"1/5"``).

    Examples
    --------
    >>> table = report(["runs/eyes", "runs/erp"], "report")  # doctest: +SKIP
    """
    import pandas as pd

    runs = _runs(run_dirs)
    tasks = [t for t in PAPER_TASKS] + sorted(t for t in runs if t not in PAPER_TASKS)
    ours = _ours(runs)
    rows = []
    for model, cells in ours.items():
        row = {"model": model, "source": "this package"}
        for task in tasks:
            row[task] = cells.get(task, np.nan)
            row[f"{task}_std"] = cells.get(f"{task}_std", np.nan)
            row[f"{task}_folds"] = cells.get(f"{task}_folds", "missing")
        rows.append(row)
    paper = paper_table()
    for model, cells in paper.iterrows():
        row = {"model": model, "source": PAPER_SOURCE}
        for task in tasks:
            row[task] = cells.get(task, np.nan)
            row[f"{task}_std"] = cells.get(f"{task}_std", np.nan)
            row[f"{task}_folds"] = "10/10" if task in PAPER_TASKS else "missing"
            if np.isnan(row[task]):
                row[f"{task}_folds"] = "not reported"
        rows.append(row)
    table = pd.DataFrame(rows)
    columns = [c for c in (tasks) if c in table]
    present = table[columns].notna()
    table["mean"] = table[columns].mean(axis=1, skipna=True)
    table["mean_tasks"] = [f"{n}/{len(PAPER_TASKS)}" for n in present.sum(axis=1)]
    # the paper's mean is its own (over the five tasks it reports)
    is_paper = table["source"] == PAPER_SOURCE
    table.loc[is_paper, "mean"] = paper["mean"].to_numpy()
    table.loc[is_paper & table["mean"].isna(), "mean_tasks"] = "not reported"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "table.csv", index=False)
    text = format_report(table, tasks)
    (out / "table.md").write_text(text + "\n")
    fig = plot_report(table, tasks)
    fig.savefig(out / "table.png", dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    if verbose:
        print(text)
        print(f"\ntable.csv, table.md and table.png in {out}")
    return table


def _cell(row, task) -> str:
    mean, std, folds = row[task], row[f"{task}_std"], row[f"{task}_folds"]
    if np.isnan(mean):
        return "missing" if folds == "missing" else "n/r"
    text = f"{mean:.3f}" + ("" if np.isnan(std) else f" ± {std:.3f}")
    done, _, total = str(folds).partition("/")
    if total and done != total:
        text += f" ({folds} folds)"
    return text


def format_report(table, tasks) -> str:
    """The table as Markdown: one row per model, one column per task, the mean."""
    header = ["model", "source", *tasks, "mean"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        mean = "missing" if np.isnan(row["mean"]) else f"{row['mean']:.3f}"
        if row["mean_tasks"] not in (f"{len(PAPER_TASKS)}/{len(PAPER_TASKS)}",):
            if not np.isnan(row["mean"]) and row["source"] != PAPER_SOURCE:
                mean += f" ({row['mean_tasks']} tasks)"
        cells = [row["model"], row["source"], *[_cell(row, t) for t in tasks], mean]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        "\nBalanced accuracy, mean ± std over folds. missing: no result for that "
        "task; (k/n folds): only k of the protocol's n folds; (k/5 tasks): the "
        "mean of the k tasks present; n/r: not reported in the paper."
    )
    return "\n".join(lines)


def plot_report(table, tasks, show=False):
    """One panel per task (and the mean): every model's balanced accuracy."""
    import matplotlib.pyplot as plt

    panels = [*tasks, "mean"]
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(2.2 * len(panels) + 2, 0.35 * len(table) + 1.5),
        sharey=True,
        layout="constrained",
    )
    labels = [
        f"{m} ({'paper' if s == PAPER_SOURCE else 'ours'})"
        for m, s in zip(table["model"], table["source"], strict=True)
    ]
    colors = ["0.6" if s == PAPER_SOURCE else "C0" for s in table["source"]]
    for ax, column in zip(np.atleast_1d(axes), panels, strict=True):
        values = table[column].to_numpy(dtype=float)
        errors = (
            table[f"{column}_std"].to_numpy(dtype=float)
            if f"{column}_std" in table
            else None
        )
        ax.barh(range(len(table)), np.nan_to_num(values), xerr=errors, color=colors)
        for i in np.flatnonzero(np.isnan(values)):
            ax.text(0.02, i, "missing", va="center", fontsize="x-small")
        ax.set(title=column, xlim=(0, 1))
    axes = np.atleast_1d(axes)
    axes[0].set(yticks=range(len(table)), yticklabels=labels)
    axes[0].invert_yaxis()
    fig.supxlabel("balanced accuracy")
    if show:
        plt.show()
    return fig
