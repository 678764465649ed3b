"""The paper's subject-independent folds and its published figures.

NeuroRVQ's downstream table (arXiv 2510.13068) was measured with the
benchmark of Lee et al., "Assessing the Capabilities of Large Brainwave
Foundation Models" (IEEE MLSP 2025; GitHub ``dykestra/EEG-Benchmarking``,
commit ``dbb87b9``). Its ten folds per task are package data here
(``mne_neurorvq/benchmark/data/*.txt``, copied unchanged): the subjects held
out for validation in each fold; every other subject of the task trains.
"""

from __future__ import annotations

import json
import re

from .protocol import PAPER_TASKS, TASKS, fold_file_path, get_task

#: Fold file (package data) of each paper task, as its protocol names it.
FOLD_FILES = {task: TASKS[task].fold_file for task in PAPER_TASKS}

#: Balanced accuracy of the fine-tuned NeuroRVQ in the NeuroRVQ paper.
PAPER_BALANCED_ACCURACY = {
    task: TASKS[task].paper_balanced_accuracy for task in PAPER_TASKS
}


def _check_task(task):
    record = get_task(task)
    if record.fold_file is None:
        with_folds = [name for name, t in TASKS.items() if t.fold_file]
        raise ValueError(
            f"The paper's folds exist for the tasks {with_folds}, got {record.name!r}."
        )
    return record


def paper_folds(task: str) -> list[list[str]]:
    """The 10 published folds of a paper task: validation subjects per fold.

    Parameters
    ----------
    task : ``"motor"`` | ``"erp"`` | ``"memory"`` | ``"sleep"`` | ``"eyes"``
        Task of the paper's table.

    Returns
    -------
    list of list of str
        For folds 0 to 9, the identifiers of the validation subjects, in the
        form the task's loader uses for its groups (``"highgamma_s01"``,
        ``"15"``, ``"pavlov_sub-039"``, ``"physionet_sleepedf_04"``,
        ``"physionet_S007"``). Every other subject of the task trains.

    Notes
    -----
    The folds are those of Lee et al. (IEEE MLSP 2025), GitHub
    ``dykestra/EEG-Benchmarking`` at commit ``dbb87b9``, folder ``splits/``.

    Examples
    --------
    >>> folds = paper_folds("motor")
    >>> len(folds), folds[0]
    (10, ['highgamma_s01', 'highgamma_s13'])
    >>> sum(len(fold) for fold in paper_folds("eyes"))
    103
    """
    text = fold_file_path(_check_task(task)).read_text()
    content = json.loads(text)
    return [list(content[str(fold)]) for fold in range(len(content))]


def paper_subjects(task: str) -> list[str]:
    """Every subject of a paper task's folds, sorted.

    Examples
    --------
    >>> len(paper_subjects("erp")), paper_subjects("erp")[:3]
    (54, ['1', '2', '3'])
    """
    return sorted((s for fold in paper_folds(task) for s in fold), key=_number)


def _number(identifier: str) -> int:
    return int(re.search(r"(\d+)$", identifier).group(1))


def select_subjects(task: str, subjects=None) -> list[str]:
    """Identifiers of the selected subjects of a paper task.

    Parameters
    ----------
    task : str
        One of ``PAPER_TASKS``.
    subjects : sequence of int or str | None
        Identifiers as in the fold files, or numbers: a number selects the
        subject whose identifier ends in it (``7`` is ``"physionet_S007"`` for
        eyes, ``"highgamma_s07"`` for motor). None selects every subject.

    Returns
    -------
    list of str
        The identifiers, in the order of ``paper_subjects``.

    Examples
    --------
    >>> select_subjects("eyes", [2, "physionet_S001"])
    ['physionet_S001', 'physionet_S002']
    """
    known = paper_subjects(task)
    if subjects is None:
        return known
    by_number = {_number(s): s for s in known}
    wanted = set()
    for subject in subjects:
        if isinstance(subject, str) and subject in known:
            wanted.add(subject)
        elif str(subject).isdigit() and int(subject) in by_number:
            wanted.add(by_number[int(subject)])
        else:
            raise ValueError(
                f"Subject {subject!r} is in no fold of the {task!r} task; its "
                f"subjects are {known[0]!r} ... {known[-1]!r} (or their numbers)."
            )
    return [s for s in known if s in wanted]


def paper_splits(task: str, subjects=None, folds=None) -> list[dict]:
    """The published folds restricted to some subjects, ready for splitting.

    Parameters
    ----------
    task : str
        One of ``PAPER_TASKS``.
    subjects : sequence of int or str | None
        Subjects to use (see :func:`select_subjects`); None uses all.
    folds : sequence of int | None
        Fold numbers (0-9) to keep; None keeps all ten.

    Returns
    -------
    list of dict
        Per kept fold: ``fold`` (its number in the file), ``test`` (its
        selected validation subjects) and ``train`` (every other selected
        subject). A fold left without a selected validation or training
        subject is dropped.

    Examples
    --------
    >>> splits = paper_splits("eyes", subjects=[1, 2])
    >>> [(s["fold"], s["test"], s["train"]) for s in splits]
    [(3, ['physionet_S001'], ['physionet_S002']), (9, ['physionet_S002'], ['physionet_S001'])]
    """  # noqa: E501
    selected = select_subjects(task, subjects)
    all_folds = paper_folds(task)
    numbers = range(len(all_folds)) if folds is None else folds
    splits = []
    for number in numbers:
        if not 0 <= number < len(all_folds):
            raise ValueError(f"Folds are numbered 0-{len(all_folds) - 1}, got {number}")
        test = [s for s in selected if s in all_folds[number]]
        train = [s for s in selected if s not in all_folds[number]]
        if test and train:
            splits.append({"fold": number, "test": test, "train": train})
    return splits
