"""Subject-independent benchmarks: protocol, loaders, folds, models, runner."""

from .features import LogBandPower
from .folds import PAPER_BALANCED_ACCURACY, paper_folds, paper_splits, select_subjects
from .loaders import load_task
from .models import MODELS, BenchmarkSettings, build_model, resolve_weights
from .protocol import TASKS, preprocess_raw
from .run import (
    describe_benchmark,
    format_table,
    plot_scores,
    run_benchmark,
    summarise,
)
from .splits import make_splits
from .trials import cut_trials, task_channels

__all__ = [
    "MODELS",
    "PAPER_BALANCED_ACCURACY",
    "TASKS",
    "BenchmarkSettings",
    "LogBandPower",
    "build_model",
    "cut_trials",
    "describe_benchmark",
    "format_table",
    "load_task",
    "make_splits",
    "paper_folds",
    "paper_splits",
    "plot_scores",
    "preprocess_raw",
    "resolve_weights",
    "run_benchmark",
    "select_subjects",
    "summarise",
    "task_channels",
]
