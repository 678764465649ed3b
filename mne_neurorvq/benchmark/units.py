"""Run one unit of work (task, fold, model) and record it in its own file.

:func:`run_unit` is the one function that runs a unit, whether it is called
in the driver's process or by a Dask worker (local cluster or an existing
one): it reads the trials from the store, fits and scores the model, and
writes ``OUT/units/<fold>-<model>.json`` atomically (a temporary file, then
``os.replace``), so a killed run loses only its units in flight.
"""

from __future__ import annotations

import json
import os
import platform
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .models import BenchmarkSettings
from .plan import BenchmarkPlan, Unit


@dataclass(frozen=True)
class UnitJob:
    """What a worker needs to run one unit (no data, only paths: it pickles small).

    Attributes
    ----------
    unit : Unit
        The task, fold and model.
    train, test : tuple of str
        Store entry folders of the training and validation subjects.
    weights : dict | None
        Published weight files by kind, or None (in-fold training).
    settings : BenchmarkSettings
        Training sizes.
    seed : int
        Seed of the unit (the plan's seed + the fold).
    path : str
        The unit file to write.
    record : dict
        Fields copied into the unit file (plan fingerprint, weights...).
    threads : int | None
        torch CPU threads of the unit (None: leave as is).
    """

    unit: Unit
    train: tuple
    test: tuple
    weights: dict | None
    settings: BenchmarkSettings
    seed: int
    path: str
    record: dict
    threads: int | None = None


def make_jobs(plan: BenchmarkPlan, entries: dict, out_dir, units, threads=None):
    """The jobs of ``units``; ``entries`` maps subject identifier -> entry."""
    record = dict(
        task=plan.task.name,
        plan_fingerprint=plan.fingerprint,
        weights=plan.weights.to_dict(),
        max_windows=plan.max_windows,
    )
    jobs = []
    for unit in units:
        fold = plan.fold(unit.fold)
        jobs.append(
            UnitJob(
                unit=unit,
                train=tuple(str(entries[s].path) for s in fold["train"]),
                test=tuple(str(entries[s].path) for s in fold["test"]),
                weights=plan.weights.by_kind(),
                settings=plan.settings,
                seed=plan.seed + unit.fold,
                path=str(Path(out_dir) / "units" / f"{unit.name}.json"),
                record=record,
                threads=threads,
            )
        )
    return jobs


def _seed_everything(seed):
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seeds third-party code)
    torch.manual_seed(seed)


def _dask_worker():
    """The Dask worker running this unit, or None in the driver's process."""
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


def _use_devices(threads, worker):
    """Set the unit's torch threads; on a Dask worker, pick its own GPU."""
    import torch

    if threads is not None:
        torch.set_num_threads(int(threads))
    if not torch.cuda.is_available():
        return "cpu"
    name = None if worker is None else worker.name
    if isinstance(name, int):  # LocalCluster workers 0..N-1: one GPU each
        torch.cuda.set_device(name % torch.cuda.device_count())
    return f"cuda:{torch.cuda.current_device()}"


def write_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_unit(job: UnitJob) -> dict:
    """Fit and score one unit; write and return its record.

    Examples
    --------
    >>> record = run_unit(jobs[0])  # doctest: +SKIP
    >>> record["balanced_accuracy"]  # doctest: +SKIP
    0.75
    """
    import torch

    from .. import __version__
    from .fitting import fit_and_score
    from .store import StoreEntry

    worker = _dask_worker()
    device = _use_devices(job.threads, worker)
    _seed_everything(job.seed)
    scores = fit_and_score(
        job.unit.model,
        [StoreEntry(Path(p)) for p in job.train],
        [StoreEntry(Path(p)) for p in job.test],
        weights=job.weights,
        settings=job.settings,
        seed=job.seed,
    )
    record = dict(
        model=job.unit.model,
        fold=job.unit.fold,
        **scores,
        seed=job.seed,
        device=device,
        host=platform.node(),
        worker=None if worker is None else worker.address,
        settings=asdict(job.settings),
        versions={"mne_neurorvq": __version__, "torch": torch.__version__},
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **job.record,
    )
    write_atomic(job.path, json.dumps(record, indent=1))
    return record


def read_units(out_dir) -> list[dict]:
    """Every unit record in ``OUT/units`` (files being written are skipped)."""
    folder = Path(out_dir) / "units"
    if not folder.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
