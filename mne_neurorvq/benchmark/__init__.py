"""Subject-independent benchmarks: tasks, trial store, units of work, report."""

from .features import LogBandPower
from .folds import PAPER_BALANCED_ACCURACY, paper_folds, paper_splits, select_subjects
from .loaders import SubjectTrials, load_task, subject_trials
from .models import MODELS, BenchmarkSettings, build_model, resolve_weights
from .plan import BenchmarkPlan, Unit, make_plan
from .protocol import PAPER_TASKS, TASKS, Task, get_task, preprocess_raw, register_task
from .report import paper_table, report
from .run import (
    collect_scores,
    describe_benchmark,
    format_table,
    plot_scores,
    run_benchmark,
    summarise,
    summarize,
)
from .splits import make_splits
from .store import StoreEntry, TrialStore
from .streaming import TrialDataset
from .trials import cut_trials, task_channels

__all__ = [
    "MODELS",
    "PAPER_BALANCED_ACCURACY",
    "PAPER_TASKS",
    "TASKS",
    "BenchmarkPlan",
    "BenchmarkSettings",
    "LogBandPower",
    "StoreEntry",
    "SubjectTrials",
    "Task",
    "TrialDataset",
    "TrialStore",
    "Unit",
    "build_model",
    "collect_scores",
    "cut_trials",
    "describe_benchmark",
    "format_table",
    "get_task",
    "load_task",
    "make_plan",
    "make_splits",
    "paper_folds",
    "paper_splits",
    "paper_table",
    "plot_scores",
    "preprocess_raw",
    "register_task",
    "report",
    "resolve_weights",
    "run_benchmark",
    "select_subjects",
    "subject_trials",
    "summarise",
    "summarize",
    "task_channels",
]
