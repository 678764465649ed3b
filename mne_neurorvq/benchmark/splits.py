"""Subject-independent splits: GroupKFold, leave-one-subject-out, or a file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut


def make_splits(groups, kind="groupkfold", n_splits=10, seed=0):
    """Train/test index pairs in which no subject is on both sides.

    Parameters
    ----------
    groups : array-like of int or str, shape (n_epochs,)
        Subject of every epoch.
    kind : ``"groupkfold"`` | ``"loso"`` | path | list of dict
        GroupKFold over subjects (shuffled with ``seed``), leave one subject
        out, or given folds: a list ``[{"train": [subjects], "test": [...]}]``
        (e.g. :func:`~mne_neurorvq.benchmark.paper_splits`) or a JSON file
        holding one.
    n_splits : int
        Folds of GroupKFold (at most the number of subjects).
    seed : int
        Seed of the subject shuffle.

    Returns
    -------
    list of tuple of ndarray
        ``(train_indices, test_indices)`` per fold.

    Examples
    --------
    >>> splits = make_splits([0, 0, 1, 1, 2, 2], "loso")
    >>> [test.tolist() for _, test in splits]
    [[0, 1], [2, 3], [4, 5]]
    """
    groups = np.asarray(groups)
    subjects = np.unique(groups)
    if kind == "loso":
        splits = list(LeaveOneGroupOut().split(groups, groups=groups))
    elif kind == "groupkfold":
        n_splits = min(n_splits, len(subjects))
        if n_splits < 2:
            raise ValueError(f"Need at least 2 subjects, got {subjects.tolist()}")
        # shuffle subjects reproducibly, then assign folds
        order = np.random.default_rng(seed).permutation(subjects)
        relabel = {s: i for i, s in enumerate(order)}
        shuffled = np.array([relabel[g] for g in groups])
        splits = list(GroupKFold(n_splits).split(groups, groups=shuffled))
    else:
        folds = kind if isinstance(kind, list) else json.loads(Path(kind).read_text())
        splits = [
            (
                np.flatnonzero(np.isin(groups, f["train"])),
                np.flatnonzero(np.isin(groups, f["test"])),
            )
            for f in folds
        ]
    for i, (train, test) in enumerate(splits):
        if not (len(train) and len(test)):
            raise ValueError(
                f"Fold {i} has {len(train)} training and {len(test)} test epochs: "
                "its subjects are not among the groups"
            )
        shared = set(groups[train]) & set(groups[test])
        if shared:
            shared = sorted(s.item() for s in shared)
            raise ValueError(f"Subjects {shared} are in train and test")
    return splits
