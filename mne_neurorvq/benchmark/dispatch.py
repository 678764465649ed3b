"""Where units run: in this process, on a local Dask cluster, or an existing one.

The same function, :func:`~mne_neurorvq.benchmark.units.run_unit`, runs every
unit; Dask (``dask.distributed``) only decides where. ``workers=N`` starts a
``LocalCluster`` of N worker processes (one thread each; one GPU each when
GPUs are visible, through the worker resource ``GPU``); ``scheduler`` (an
address) or ``scheduler_file`` connects to a running cluster, e.g. one of
dask-jobqueue's ``SLURMCluster`` or ``PBSCluster``, or Kubernetes.
"""

from __future__ import annotations

import contextlib
import logging
import os

from .._progress import progress
from .units import run_unit

_DASK_EXTRA = 'pip install "mne-neurorvq[benchmark]"'


def _distributed():
    try:
        import distributed
    except ImportError as err:
        raise ImportError(
            f"Running units on Dask needs dask.distributed: {_DASK_EXTRA}"
        ) from err
    return distributed


def local_threads(workers: int) -> int:
    """Threads of torch per local worker: the CPU cores shared out (at least 1)."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@contextlib.contextmanager
def dask_client(workers=None, scheduler=None, scheduler_file=None):
    """A ``distributed.Client``: a new local cluster or an existing scheduler.

    Parameters
    ----------
    workers : int | None
        Start a ``LocalCluster`` of this many worker processes on 127.0.0.1.
    scheduler : str | None
        Address of a running scheduler (``tcp://host:8786``).
    scheduler_file : str | None
        Scheduler file of a running cluster (``dask scheduler
        --scheduler-file``, dask-jobqueue, dask-mpi).

    Yields
    ------
    distributed.Client
    """
    distributed = _distributed()
    if sum(x is not None for x in (workers, scheduler, scheduler_file)) != 1:
        raise ValueError("Give exactly one of workers, scheduler, scheduler_file")
    if scheduler is not None or scheduler_file is not None:
        with distributed.Client(
            scheduler, scheduler_file=scheduler_file, timeout="60s"
        ) as client:
            yield client
        return
    if int(workers) < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    gpus = _gpu_count()
    with (
        distributed.LocalCluster(
            n_workers=int(workers),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit=0,  # a unit is bounded by design; never kill it
            resources={"GPU": 1} if gpus else None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def execute(jobs, *, workers=None, scheduler=None, scheduler_file=None, verbose=None):
    """Run the jobs; yield ``(job, record, error)`` as each unit finishes.

    Without ``workers``, ``scheduler`` or ``scheduler_file`` the units run
    one after another in this process. A unit that fails yields its error
    (the others go on); one progress bar counts the units.
    """
    jobs = list(jobs)
    bar = progress(range(len(jobs)), "units", verbose)
    ticks = iter(bar)
    if workers is None and scheduler is None and scheduler_file is None:
        for job in jobs:
            try:
                yield job, run_unit(job), None
            except Exception as err:  # noqa: BLE001 (reported, others go on)
                yield job, None, err
            next(ticks, None)
        bar.close()
        return
    distributed = _distributed()
    with dask_client(workers, scheduler, scheduler_file) as client:
        needs_gpu = any(
            "GPU" in (w.get("resources") or {})
            for w in client.scheduler_info()["workers"].values()
        )
        futures = {
            client.submit(
                run_unit,
                job,
                key=f"neurorvq-unit-{job.unit.task}-{job.unit.name}-{os.getpid()}",
                pure=False,
                resources={"GPU": 1} if needs_gpu else None,
            ): job
            for job in jobs
        }
        for future in distributed.as_completed(futures):
            job = futures[future]
            try:
                yield job, future.result(), None
            except Exception as err:  # noqa: BLE001 (reported, others go on)
                yield job, None, err
            next(ticks, None)
    bar.close()
