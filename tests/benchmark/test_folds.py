import json
import re
from fnmatch import fnmatch
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from mne_neurorvq.benchmark import (
    make_splits,
    paper_folds,
    paper_splits,
    select_subjects,
)
from mne_neurorvq.benchmark.folds import FOLD_FILES, PAPER_TASKS, paper_subjects

ROOT = Path(__file__).resolve().parents[2]
SHARED_SPLITS = ROOT.parent / "shared" / "benchmark-splits"
SIZES = {"motor": 14, "erp": 54, "memory": 65, "sleep": 78, "eyes": 103}
FORMS = {
    "motor": r"highgamma_s\d\d",
    "erp": r"[1-9]\d?",
    "memory": r"pavlov_sub-\d\d\d",
    "sleep": r"physionet_sleepedf_\d\d",
    "eyes": r"physionet_S\d\d\d",
}


@pytest.mark.parametrize("task", PAPER_TASKS)
def test_paper_folds_are_the_published_folds(task):
    folds = paper_folds(task)
    assert len(folds) == 10 and all(folds)
    subjects = [s for fold in folds for s in fold]
    assert len(subjects) == len(set(subjects)) == SIZES[task]  # disjoint
    assert all(re.fullmatch(FORMS[task], s) for s in subjects)
    assert sorted(paper_subjects(task)) == sorted(subjects)
    shared = SHARED_SPLITS / FOLD_FILES[task]
    if shared.is_file():  # the copy in the package is the published file
        published = json.loads(shared.read_text())
        assert folds == [published[str(i)] for i in range(10)]


def test_fold_files_are_package_data():
    """pyproject's package-data puts every fold file, the paper's table and the
    attribution in."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["mne_neurorvq.benchmark"]
    data = files("mne_neurorvq.benchmark") / "data"
    names = sorted(p.name for p in data.iterdir())
    assert set(FOLD_FILES.values()) | {"README.md", "paper-table.csv"} == set(names)
    for name in names:
        assert any(fnmatch(f"data/{name}", p) for p in patterns), name
    readme = (data / "README.md").read_text()
    assert "dbb87b9" in readme and "paper-table.csv" in readme
    assert "arXiv 2510.13068" in readme  # the table's attribution


def test_select_subjects_by_identifier_or_number():
    assert select_subjects("motor", [7, "highgamma_s01"]) == [
        "highgamma_s01",
        "highgamma_s07",
    ]
    assert select_subjects("erp", ["15", 3]) == ["3", "15"]
    assert select_subjects("memory", [39]) == ["pavlov_sub-039"]
    assert select_subjects("sleep", [4]) == ["physionet_sleepedf_04"]
    assert len(select_subjects("eyes")) == 103
    with pytest.raises(ValueError, match="Subject 88 is in no fold of the 'eyes'"):
        select_subjects("eyes", [88])  # eegmmidb S088 is not in the benchmark
    with pytest.raises(ValueError, match="folds exist for the tasks"):
        paper_folds("eegmat")


def test_paper_splits_keep_folds_with_both_sides():
    splits = paper_splits("motor")
    assert [s["fold"] for s in splits] == list(range(10))
    for split in splits:
        assert len(split["test"]) + len(split["train"]) == 14
        assert not set(split["test"]) & set(split["train"])
    # three subjects: fold 0 validates s01 and s13, fold 9 validates s02
    splits = paper_splits("motor", subjects=[1, 2, 13])
    assert [(s["fold"], s["test"]) for s in splits] == [
        (0, ["highgamma_s01", "highgamma_s13"]),
        (9, ["highgamma_s02"]),
    ]
    assert splits[0]["train"] == ["highgamma_s02"]
    assert [s["fold"] for s in paper_splits("erp", folds=[4, 2])] == [4, 2]
    assert paper_splits("motor", subjects=[1], folds=[0]) == []  # nobody trains
    with pytest.raises(ValueError, match="numbered 0-9"):
        paper_splits("motor", folds=[10])


def test_make_splits_from_paper_folds():
    groups = np.repeat(["highgamma_s01", "highgamma_s02", "highgamma_s13"], 3)
    (train, test), (train9, test9) = make_splits(
        groups, paper_splits("motor", [1, 2, 13])
    )
    assert test.tolist() == [0, 1, 2, 6, 7, 8] and train.tolist() == [3, 4, 5]
    assert test9.tolist() == [3, 4, 5] and train9.tolist() == [0, 1, 2, 6, 7, 8]
    with pytest.raises(ValueError, match=r"Subjects \['highgamma_s01'\] are in"):
        make_splits(groups, [{"train": ["highgamma_s01"], "test": ["highgamma_s01"]}])
    with pytest.raises(ValueError, match="Fold 0 has 3 training and 0 test"):
        make_splits(groups, [{"train": ["highgamma_s01"], "test": ["highgamma_s05"]}])
