"""Subject-independent benchmarks: protocol, loaders, splits, models, runner."""

from .features import LogBandPower
from .loaders import load_task
from .models import MODELS, BenchmarkSettings, build_model
from .protocol import TASKS, preprocess_raw
from .run import format_table, plot_scores, run_benchmark, summarise
from .splits import make_splits
from .trials import cut_trials, task_channels

__all__ = [
    "MODELS",
    "TASKS",
    "BenchmarkSettings",
    "LogBandPower",
    "build_model",
    "cut_trials",
    "format_table",
    "load_task",
    "make_splits",
    "plot_scores",
    "preprocess_raw",
    "run_benchmark",
    "summarise",
    "task_channels",
]
