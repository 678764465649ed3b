"""The plan of a benchmark run: task, subjects, folds, models, units of work.

One :class:`BenchmarkPlan` serves both the run and ``--dry-run``: the dry
run prints :meth:`BenchmarkPlan.describe` of the very plan a run executes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .folds import _number, paper_splits
from .models import (
    BASELINE_RECIPE,
    BASELINES,
    DEFAULT_MODELS,
    MODELS,
    NEURORVQ_RECIPE,
    BenchmarkSettings,
    WeightsChoice,
    resolve_weights,
)
from .protocol import Task, get_task
from .splits import make_splits
from .store import TrialStore
from .trials import PROTOCOL_VERSION

#: Protocols: the published folds of the task's fold file, or splits of subjects.
PROTOCOLS = ("paper", "groupkfold")


@dataclass(frozen=True)
class Unit:
    """One unit of work: a model fitted and scored on one fold of a task.

    Examples
    --------
    >>> Unit("eyes", 3, "eegnet").name
    '3-eegnet'
    """

    task: str
    fold: int
    model: str

    @property
    def name(self) -> str:
        """File stem of the unit (``OUT/units/<fold>-<model>.json``)."""
        return f"{self.fold}-{self.model}"


@dataclass
class BenchmarkPlan:
    """Everything a benchmark run does, decided before any data is read.

    Attributes
    ----------
    task : Task
        The task.
    protocol : ``"paper"`` | ``"groupkfold"``
        The task's published folds, or splits of subjects (``cv``).
    cv : str | None
        ``"groupkfold"``, ``"loso"`` or a JSON file of splits (groupkfold).
    folds : list of dict
        Per fold: ``fold`` (its number), ``test`` and ``train`` (subject
        identifiers).
    models : tuple of str
        The models, in the order of the table.
    settings : BenchmarkSettings
        Training sizes.
    seed : int
        Random seed (fold ``k`` uses ``seed + k``).
    max_windows : int | None
        At most this many trials per recording.
    weights : WeightsChoice
        The NeuroRVQ weights.
    data_path : str | None
        Data folder of the task's loader.
    store : TrialStore
        Where the trials are kept.

    Examples
    --------
    >>> plan = make_plan("eyes", subjects=[1, 2], models=["bandpower_lr"],
    ...                  weights="none", cache="bench-cache")
    >>> plan.subjects, [f["fold"] for f in plan.folds]
    (['physionet_S001', 'physionet_S002'], [3, 9])
    >>> print(plan.describe().splitlines()[-2])  # doctest: +ELLIPSIS
      a run would download what is not on disk yet: the eyes recordings of ...
    """

    task: Task
    protocol: str
    cv: str | None
    folds: list
    models: tuple
    settings: BenchmarkSettings
    seed: int
    max_windows: int | None
    weights: WeightsChoice
    data_path: str | None = None
    store: TrialStore = field(default_factory=TrialStore)

    @property
    def subjects(self) -> list:
        """Every subject of the kept folds (validation or training), sorted."""
        ids = {s for f in self.folds for s in f["test"] + f["train"]}
        return sorted(ids, key=lambda s: _number(str(s)))

    @property
    def units(self) -> list[Unit]:
        """The units: every model on every fold."""
        return [
            Unit(self.task.name, f["fold"], model)
            for f in self.folds
            for model in self.models
        ]

    def fold(self, number) -> dict:
        """The fold numbered ``number``."""
        return next(f for f in self.folds if f["fold"] == number)

    @property
    def fingerprint(self) -> str:
        """Hash of what decides a unit's score, except its fold and model.

        Unit files of another plan (other subjects, settings, seed, weights,
        windows) are never taken for this plan's.
        """
        text = json.dumps(
            dict(
                task=self.task.name,
                task_fingerprint=self.task.fingerprint,
                protocol_version=PROTOCOL_VERSION,
                folds=self.folds,
                settings=asdict(self.settings),
                seed=self.seed,
                max_windows=self.max_windows,
                weights=self.weights.to_dict()["files"],
            ),
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def config(self) -> dict:
        """JSON-ready description of the run (``config.json``)."""
        return dict(
            task=self.task.name,
            protocol=self.protocol,
            cv=self.cv,
            folds=[f["fold"] for f in self.folds],
            subjects=self.subjects,
            models=list(self.models),
            seed=self.seed,
            max_windows=self.max_windows,
            settings=asdict(self.settings),
            recipes={"neurorvq": NEURORVQ_RECIPE, "baselines": BASELINE_RECIPE},
            weights=self.weights.to_dict(),
            paper_balanced_accuracy=self.paper_balanced_accuracy,
            classes=list(self.task.classes),
            store=str(self.store.root),
            plan_fingerprint=self.fingerprint,
        )

    @property
    def paper_balanced_accuracy(self) -> float | None:
        """The NeuroRVQ paper's figure, under the paper protocol."""
        return self.task.paper_balanced_accuracy if self.protocol == "paper" else None

    def describe(self, out_dir=None) -> str:
        """What the run does: data, subjects, folds, models, weights, units.

        ``out_dir``: count the units already finished there (skipped by a run).
        """
        task, subjects = self.task, self.subjects
        lines = [
            f"task {task.name}: {task.description}",
            f"  data: {task.source}"
            + (f" (folder {self.data_path})" if self.data_path else ""),
            f"  epochs: {task.epochs}, 200 Hz",
            f"  subjects: {len(subjects)} ({subjects[0]} ... {subjects[-1]})",
        ]
        if self.protocol == "paper":
            lines.append(
                f"  folds: {len(self.folds)} of 10 published folds (Lee et al., "
                "MLSP 2025); the model after its last epoch is scored"
            )
        else:
            kind = {
                "groupkfold": "GroupKFold of subjects (seeded shuffle)",
                "loso": "leave one subject out",
            }.get(str(self.cv), f"the splits of {self.cv}")
            lines.append(f"  folds: {len(self.folds)}, {kind}")
        lines += [
            f"    fold {f['fold']}: validation {', '.join(map(str, f['test']))}; "
            f"training {len(f['train'])} subjects"
            for f in self.folds
        ]
        lines.append("  models:")
        lines += [f"    {name}: {_recipe(name, self.settings)}" for name in self.models]
        lines.append(f"  weights: {_weights_line(self.weights)}")
        stored = sum(
            self.store.entry(task, s, self.max_windows) is not None for s in subjects
        )
        lines.append(
            f"  trial store: {self.store.root} ({stored} of {len(subjects)} "
            "subjects cut already)"
        )
        units = self.units
        line = f"  units: {len(units)} ({len(self.folds)} folds x {len(self.models)} "
        line += "models)"
        if out_dir is not None:
            done = len(finished_units(self, out_dir))
            line += f", {done} finished in {out_dir} (skipped)"
        lines.append(line)
        downloads = []
        if stored < len(subjects):
            downloads.append(
                f"the {task.name} recordings of the {len(subjects) - stored} subjects "
                "not in the store, where they are not on disk (see data)"
            )
        if self.weights.mode != "auto":
            downloads += [f"weights {name}" for name in self.weights.missing]
        lines.append(
            "  a run would download what is not on disk yet: "
            + ("; ".join(downloads) or "nothing")
        )
        if self.paper_balanced_accuracy is not None:
            lines.append(
                "  NeuroRVQ paper: balanced accuracy "
                f"{self.paper_balanced_accuracy:.3f}"
            )
        return "\n".join(lines)


def finished_units(plan: BenchmarkPlan, out_dir) -> dict:
    """Unit name -> record of this plan's units finished in ``out_dir``.

    Raises
    ------
    ValueError
        If ``out_dir`` holds unit files of another plan.
    """
    folder = Path(out_dir) / "units"
    names = {u.name for u in plan.units}
    done = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        record = json.loads(path.read_text())
        if record.get("plan_fingerprint") != plan.fingerprint:
            raise ValueError(
                f"{path} is a unit of another run (other task, subjects, settings, "
                "seed, weights or windows): use another --out folder"
            )
        if path.stem in names:
            done[path.stem] = record
    return done


def _check_protocol(task: Task, protocol):
    if protocol is None:
        return "paper" if task.fold_file else "groupkfold"
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if protocol == "paper" and not task.fold_file:
        raise ValueError(
            f"The paper protocol needs a fold file; task {task.name!r} has none: "
            "use protocol='groupkfold'."
        )
    return protocol


def _subject_folds(task, subjects, cv, n_splits, seed, folds):
    """GroupKFold / leave-one-out / given splits of subjects."""
    numbers = (
        list(task.subjects)
        if subjects is None
        else [task.subject_number(s) for s in subjects]
    )
    ids = np.array([task.subject_id(n) for n in numbers])
    splits = make_splits(ids, cv, n_splits, seed)
    kept = range(len(splits)) if folds is None else folds
    return [
        {
            "fold": k,
            "test": ids[splits[k][1]].tolist(),
            "train": ids[splits[k][0]].tolist(),
        }
        for k in kept
    ]


def make_plan(
    task,
    *,
    subjects=None,
    models=None,
    protocol=None,
    folds=None,
    cv="groupkfold",
    n_splits=10,
    seed=0,
    max_windows=None,
    settings: BenchmarkSettings | None = None,
    weights="auto",
    data_path=None,
    cache=None,
    download=True,
) -> BenchmarkPlan:
    """Decide what a run does; parameters are those of :func:`run_benchmark`.

    ``download=False`` (a dry run) looks for the published weights on disk
    only.

    Examples
    --------
    >>> plan = make_plan("eyes", subjects=[1, 2], models=["bandpower_lr"],
    ...                  weights="none")
    >>> [unit.name for unit in plan.units]
    ['3-bandpower_lr', '9-bandpower_lr']
    """
    task = get_task(task)
    protocol = _check_protocol(task, protocol)
    models = DEFAULT_MODELS[protocol] if models is None else tuple(models)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"Unknown models {unknown}; models are {list(MODELS)}")
    if protocol == "paper":
        chosen = paper_splits(task.name, subjects, folds)
        if not chosen:
            raise ValueError(
                f"No fold of the {task.name!r} task has both validation and "
                f"training subjects among {subjects}."
            )
        cv = None
    else:
        chosen = _subject_folds(task, subjects, cv, n_splits, seed, folds)
        cv = str(cv)
    return BenchmarkPlan(
        task=task,
        protocol=protocol,
        cv=cv,
        folds=chosen,
        models=models,
        settings=BenchmarkSettings() if settings is None else settings,
        seed=seed,
        max_windows=max_windows,
        weights=resolve_weights(weights, models, download=download),
        data_path=None if data_path is None else str(data_path),
        store=TrialStore(cache),
    )


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
        return "frozen NeuroRVQ embedding, standardized, logistic regression"
    if name == "neurorvq_tokens_lr":
        return "NeuroRVQ token histograms, standardized, logistic regression"
    return "log band power per channel, standardized, logistic regression"


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
