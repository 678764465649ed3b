"""Read a benchmark task's recordings and cut them into trials, one subject at a time.

Each task's loader (``Task.loader``: ``eyes_recordings``, ``moabb_recordings``...)
only yields one subject's continuous recordings with their trial annotations;
one shared loop, :func:`subject_trials`, cuts them into 200 Hz trials with
:func:`~mne_neurorvq.benchmark.cut_trials`. The trial store
(:mod:`mne_neurorvq.benchmark.store`) writes each subject's trials to disk;
:func:`load_task` stacks them into one ``Epochs`` in memory (small tasks).
``performance/loader_memory.py`` measures the peak of one subject.

Labels (``y``) are the label names of the task (``TASKS[name].classes``, in
the order of the protocol's integer codes); ``epochs.events[:, 2]`` holds the
codes themselves and ``epochs.event_id`` maps names to codes. Subjects
(``groups``) are the identifiers of the paper's fold files for the five
paper tasks (``"highgamma_s01"``, ``"15"``, ``"pavlov_sub-039"``,
``"physionet_sleepedf_04"``, ``"physionet_S007"``) and subject numbers for
EEGMAT.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import mne
import numpy as np
from mne.utils import use_log_level

from ..channels import bipolar_active_electrode
from ..datasets._paths import CONFIG_KEY, data_root
from ..datasets.eegbci import EYES_RUNS, _read_runs
from ..datasets.eegmat import LABELS as EEGMAT_LABELS
from ..datasets.eegmat import eegmat_files, read_eegmat_raw
from .protocol import TASKS, get_task
from .trials import cut_trials

#: OpenNeuro data set and snapshot of the memory task (the benchmark's 1.0.2).
PAVLOV_DATASET, PAVLOV_TAG = "ds003838", "1.0.2"
#: Wake is kept only this long (s) before the first and after the last sleep.
WAKE_MARGIN = 30 * 60.0
_BENCHMARK_EXTRA = 'pip install "mne-neurorvq[benchmark]"'
#: MOABB 1.7 asks MNE for a montage name that MNE 1.13 deprecates.
_MONTAGE_WARNING = "Montage name 'standard_10"


def _require(module, task):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as err:
        raise ImportError(
            f"The {task!r} task needs {module.split('.')[0]}: {_BENCHMARK_EXTRA} "
            "(and internet for the first download)."
        ) from err


def _subjects(task, subjects):
    """The data set's subject numbers of ``subjects`` (default: the task's)."""
    task = get_task(task)
    if subjects is None:
        return list(task.subjects)
    if isinstance(subjects, (str, int, np.integer)):
        subjects = [subjects]
    return [task.subject_number(s) for s in subjects]


def _root(path):
    """The data root when the user named one (argument or config), else None."""
    if path is not None or mne.get_config(CONFIG_KEY):
        return data_root(path)
    return None


@dataclass
class SubjectTrials:
    """The trials of one subject, cut by the protocol.

    Attributes
    ----------
    data : ndarray, shape (n_trials, n_channels, n_times)
        The trials in volts at 200 Hz.
    codes : ndarray of int, shape (n_trials,)
        The protocol's integer code of each trial (``task.classes[code]``).
    ch_names : list of str
        The channels.
    info : mne.Info | None
        The measurement info of the cut trials.
    sources : list of dict
        The files read: ``path``, ``size`` (bytes), ``mtime``.

    Examples
    --------
    >>> trials = subject_trials("eyes", 1, max_windows=4)  # doctest: +SKIP
    >>> trials.data.shape, trials.ch_names[:2]  # doctest: +SKIP
    ((8, 64, 800), ['Fc5', 'Fc3'])
    """

    data: np.ndarray
    codes: np.ndarray
    ch_names: list
    info: object = None
    sources: list = field(default_factory=list)


def _sources(raw):
    """Files behind a recording, with size and modification time."""
    found = []
    for name in getattr(raw, "filenames", ()) or ():
        if name is None or not Path(name).is_file():
            continue
        stat = Path(name).stat()
        found.append(dict(path=str(name), size=stat.st_size, mtime=stat.st_mtime))
    return found


def subject_trials(
    task,
    subject,
    *,
    path=None,
    max_windows=None,
    dtype=np.float32,
    verbose=None,
    **kwargs,
) -> SubjectTrials:
    """Cut every recording of one subject into the protocol's trials.

    The one loop of every task: the task's loader yields the subject's
    recordings (:meth:`Task.recordings`), each is cut with
    :func:`~mne_neurorvq.benchmark.cut_trials` and freed.

    Parameters
    ----------
    task : str | Task
        A registered task.
    subject : int | str
        A subject number of the data set or its fold-file identifier.
    path : str | Path | None
        Data folder (the loader's ``path``).
    max_windows : int | None
        At most this many trials per recording.
    dtype : numpy dtype
        Of the trials kept (float32, as the store keeps them).
    verbose : bool | str | int | None
        MNE verbosity (None: warnings only).
    **kwargs
        Passed to the loader (``download``, ``dataset``...).

    Returns
    -------
    SubjectTrials

    Examples
    --------
    >>> trials = subject_trials("eyes", 1, max_windows=4)  # doctest: +SKIP
    >>> trials.data.shape  # doctest: +SKIP
    (8, 64, 800)
    """
    task = get_task(task)
    number = task.subject_number(subject)
    level = "warning" if verbose is None else verbose
    parts, codes, ch_names, info, sources = [], [], None, None, []
    with use_log_level(level):
        for raw, shift in task.recordings(number, path=path, verbose=level, **kwargs):
            sources += _sources(raw)
            window = (
                task
                if not shift
                else replace(task, tmin=task.tmin - shift, tmax=task.tmax - shift)
            )
            epochs = cut_trials(raw, window, task.event_id, copy=False, verbose=level)
            del raw
            data = epochs.get_data(copy=False)[:max_windows]
            if not len(data):
                continue
            if ch_names is None:
                ch_names, info = list(epochs.ch_names), epochs.info
            elif epochs.ch_names != ch_names:
                raise ValueError(
                    f"Subject {subject!r} has recordings with channels "
                    f"{epochs.ch_names} and {ch_names}; the trials cannot be stacked"
                )
            parts.append(data.astype(dtype))
            codes.append(epochs.events[: len(data), 2])
            del epochs
    gc.collect()  # readers leave reference cycles holding a recording
    if not parts:
        raise ValueError(f"No trials found for subject {subject!r} of {task.name!r}")
    return SubjectTrials(
        np.concatenate(parts), np.concatenate(codes), ch_names, info, sources
    )


def _stack(task, per_subject, verbose):
    """One EpochsArray (float64, as MNE keeps it) of several subjects' trials."""
    import pandas as pd

    task = get_task(task)
    first = per_subject[0][1]
    for subject, trials in per_subject[1:]:
        if trials.ch_names != first.ch_names:
            raise ValueError(
                f"Subject {subject!r} has channels {trials.ch_names}, the first "
                f"{first.ch_names}; the trials cannot be stacked"
            )
    codes = np.concatenate([t.codes for _, t in per_subject])
    groups = [
        task.subject_id(subject)
        for subject, trials in per_subject
        for _ in range(len(trials.codes))
    ]
    data = np.empty((len(codes),) + first.data.shape[1:])
    start = 0
    for _, trials in per_subject:
        data[start : start + len(trials.codes)] = trials.data
        start += len(trials.codes)
        trials.data = None  # freed as it is copied
    labels = np.array([task.classes[c] for c in codes])
    events = np.column_stack(
        [np.arange(len(codes)) * task.n_times, np.zeros_like(codes), codes]
    )
    present = sorted(set(codes.tolist()))
    epochs = mne.EpochsArray(
        data,
        first.info,
        events=events,
        tmin=task.tmin,
        event_id={task.classes[c]: c for c in present},
        metadata=pd.DataFrame({"subject": groups, "label": labels}),
        verbose=verbose,
    )
    return epochs, labels, np.array(groups)


def _whole_recording(raw, label):
    """Annotate ``raw`` as one span of ``label`` (fixed-length tasks)."""
    duration = raw.n_times / raw.info["sfreq"]
    raw.set_annotations(mne.Annotations([0.0], [duration], [label]))
    return raw


# ----------------------------------------------------------------- loaders
# Each yields one subject's continuous recordings, annotated with its trials
# (Task.loader); subject_trials cuts them.


def eegmat_recordings(task, subject, *, path=None, verbose=None, download=True):
    """EEGMAT: the rest and the arithmetic recording, each one labelled span.

    ``path``: the folder of the EDF files (see
    :func:`mne_neurorvq.datasets.eegmat_files`); missing files are downloaded
    from PhysioNet unless ``download=False``.
    """
    for _, condition, fname in eegmat_files([subject], path, download):
        raw = read_eegmat_raw(fname, verbose=verbose)
        yield _whole_recording(raw, EEGMAT_LABELS[condition])


def eyes_recordings(task, subject, *, path=None, verbose=None):
    """Runs 1 (eyes open) and 2 (eyes closed) of eegmmidb, each one labelled span.

    ``path``: the folder containing ``MNE-eegbci-data`` (default
    ``MNE_NEURORVQ_DATA``, else MNE's eegbci folder); missing runs are
    downloaded by :func:`mne.datasets.eegbci.load_data` (1.3 MB each).
    Channels get their standard 10-05 names.
    """
    raws = _read_runs(subject, EYES_RUNS, path, verbose)
    for run in EYES_RUNS:
        raw = raws.pop(0)
        mne.datasets.eegbci.standardize(raw)
        yield _whole_recording(raw, EYES_RUNS[run])


@contextlib.contextmanager
def _moabb_path(code, path):
    """Point MOABB's ``MNE_DATASETS_<CODE>_PATH`` at ``path`` for one call.

    Set in the environment (which ``mne.get_config`` reads first), so the
    user's MNE configuration file is left as it is.
    """
    root = _root(path)
    key = f"MNE_DATASETS_{code.upper()}_PATH"
    if root is None:
        yield
        return
    root.mkdir(parents=True, exist_ok=True)
    old = os.environ.get(key)
    os.environ[key] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def moabb_recordings(
    task, subject, *, path=None, verbose=None, moabb_dataset=None, dataset=None
):
    """Motor (High Gamma) or ERP (KU / OpenBMI) runs through MOABB.

    MOABB downloads the recordings on first use and sets their trial
    annotations, each ``dataset.interval[0]`` seconds after its cue (yielded
    as the shift). MOABB returns all runs of a subject at once: the peak is
    about twice a subject's recordings in float64, about 7 GiB for a High
    Gamma subject (``performance/loader_memory.py``).

    ``path``: the folder under which MOABB keeps the data set (its
    ``MNE_DATASETS_<CODE>_PATH`` is pointed there during the call); ``dataset``:
    a MOABB data set to read instead of ``moabb.datasets.<moabb_dataset>()``,
    one whose annotations carry the same event names.
    """
    if dataset is None:
        moabb_datasets = _require("moabb.datasets", task.name)
        dataset = getattr(moabb_datasets, moabb_dataset)()
    shift = float(dataset.interval[0])
    with _moabb_path(dataset.code, path), warnings.catch_warnings():
        warnings.filterwarnings("ignore", _MONTAGE_WARNING, FutureWarning)
        sessions = dataset.get_data(subjects=[subject])[subject]
    for runs in sessions.values():
        for run in list(runs):
            yield runs.pop(run), shift


# -------------------------------------------------------- Pavlov 2022 memory

#: First digit of a 13-digit sequence in ds003838's ``trial_type``, e.g.
#: "memory 01/13 correct: memorize digit 1 (first) in 13 digit sequence;
#: correctly recalled" or "control 01/13: listen to digit 1 (first) in 13
#: digit sequence" (read from ``sub-032_task-memory_events.tsv`` of the
#: OpenNeuro snapshot). Its onset is the trial's cue.
_PAVLOV_CUE = re.compile(r"^(memory|control) 01/13\b")


def _pavlov_bids_path(subject, root):
    mne_bids = _require("mne_bids", "memory")
    return mne_bids.BIDSPath(
        subject=f"{subject:03d}",
        task="memory",
        datatype="eeg",
        suffix="eeg",
        extension=".set",
        root=root,
    )


def _fetch_pavlov(subject, root, download):
    """The subject's task-memory EEG files, downloaded with openneuro-py if absent.

    openneuro-py always talks to https://openneuro.org, so the download step
    is skipped (and the network never touched) when the files are there.
    """
    bids_path = _pavlov_bids_path(subject, root)
    events = bids_path.copy().update(suffix="events", extension=".tsv")
    if bids_path.fpath.is_file() and events.fpath.is_file():
        return bids_path
    if not download:
        raise FileNotFoundError(
            f"{bids_path.fpath} is missing and download=False; get it with "
            f"openneuro-py: openneuro.download(dataset={PAVLOV_DATASET!r}, "
            f"tag={PAVLOV_TAG!r}, target_dir=...)"
        )
    openneuro = _require("openneuro", "memory")
    openneuro.download(
        dataset=PAVLOV_DATASET,
        tag=PAVLOV_TAG,
        target_dir=root,
        include=[f"sub-{subject:03d}/eeg/sub-{subject:03d}_task-memory_*"],
    )
    return bids_path


def _pavlov_trials(raw):
    """Keep one annotation per 13-digit trial: ``"memory"`` or ``"control"``."""
    keep = [
        (a["onset"], match.group(1))
        for a in raw.annotations
        if (match := _PAVLOV_CUE.match(a["description"]))
    ]
    onsets = [onset for onset, _ in keep]
    raw.set_annotations(
        mne.Annotations(
            onsets,
            [0.0] * len(keep),
            [label for _, label in keep],
            orig_time=raw.annotations.orig_time,
        )
    )
    return raw


def memory_recordings(task, subject, *, path=None, verbose=None, download=True):
    """Pavlov 2022 (OpenNeuro ds003838 1.0.2): the task-memory EEG, 13-digit trials.

    The subject's EEGLAB recording (63 channels, 1000 Hz, about 2 h) is
    downloaded with openneuro-py when it is not on disk (``download=True``),
    read with mne-bids (``trial_type`` of ``events.tsv`` as annotations) and
    reduced to one ``"memory"`` / ``"control"`` annotation per 13-digit trial
    (the first digit's onset is the cue). The peak is about twice the
    recording in float64, about 7 GiB for a real subject
    (``performance/loader_memory.py``). ``path``: the folder holding (or to
    receive) the ``ds003838`` BIDS folder.
    """
    mne_bids = _require("mne_bids", "memory")
    root = data_root(path) / PAVLOV_DATASET
    bids_path = _fetch_pavlov(subject, root, download)
    raw = mne_bids.read_raw_bids(
        bids_path, extra_params=dict(preload=True), verbose=verbose
    )
    gc.collect()  # the EEGLAB reader's copy of the data, in a reference cycle
    yield _pavlov_trials(raw)


# ------------------------------------------------------------ Sleep-EDF


def _trim_wake(annotations, margin=WAKE_MARGIN):
    """Cut the wake annotations to ``margin`` s before and after sleep."""
    sleep = [
        a for a in annotations if a["description"] in dict(TASKS["sleep"].annotations)
    ]
    asleep = [a for a in sleep if a["description"] != "Sleep stage W"]
    if not asleep:
        return annotations[:0]
    start = min(a["onset"] for a in asleep) - margin
    stop = max(a["onset"] + a["duration"] for a in asleep) + margin
    onsets, durations, descriptions = [], [], []
    for a in sleep:
        onset, end = a["onset"], a["onset"] + a["duration"]
        if a["description"] == "Sleep stage W":
            onset, end = max(onset, start), min(end, stop)
        if end > onset:
            onsets.append(onset)
            durations.append(end - onset)
            descriptions.append(a["description"])
    return mne.Annotations(
        onsets, durations, descriptions, orig_time=annotations.orig_time
    )


def _read_night(psg, hypnogram, verbose):
    """One night: the EEG channels, named by their active electrode, staged."""
    raw = mne.io.read_raw_edf(psg, preload=False, verbose=verbose)
    eeg = [ch for ch in raw.ch_names if ch.startswith("EEG ")]
    raw.pick(eeg)
    # Explicit rule of mne_neurorvq.channels: "EEG Fpz-Cz" -> "Fpz", "EEG Pz-Oz"
    # -> "Pz" (the derivation's active electrode)
    raw.rename_channels({ch: bipolar_active_electrode(ch) for ch in eeg})
    raw.set_annotations(mne.read_annotations(hypnogram), emit_warning=False)
    raw.set_annotations(_trim_wake(raw.annotations), emit_warning=False)
    return raw


def sleep_recordings(task, subject, *, path=None, verbose=None):
    """Sleep-EDF sleep cassette: both nights of a subject, staged, wake trimmed.

    One night for subjects 13, 36 and 52, which have only one; from
    :func:`mne.datasets.sleep_physionet.age.fetch_data` (missing nights are
    downloaded, ``path``: the folder holding ``physionet-sleep-data``). The
    EEG channels only, ``EEG Fpz-Cz`` and ``EEG Pz-Oz`` renamed ``Fpz`` and
    ``Pz`` by :func:`mne_neurorvq.channels.bipolar_active_electrode`; wake
    kept 30 min before the first and after the last sleep epoch.
    """
    from mne.datasets.sleep_physionet.age import fetch_data

    root = _root(path)
    nights = fetch_data(
        [subject],
        recording=(1, 2),
        path=None if root is None else str(root),
        on_missing="ignore",
        verbose=verbose,
    )
    for psg, hypnogram in nights:
        yield _read_night(psg, hypnogram, verbose)


# ------------------------------------------------------------ in memory


def load_task(
    name, subjects=None, *, path=None, max_windows=None, verbose=None, **kwargs
):
    """Load a task's trials into one ``Epochs`` in memory, protocol applied.

    Subjects are read and cut one at a time (:func:`subject_trials`) and
    stacked at the end. For the large tasks (KU ERP: about 41 GiB of trials
    in float64) run the benchmark instead, which keeps the trials on disk
    (:class:`~mne_neurorvq.benchmark.TrialStore`).

    Parameters
    ----------
    name : str | Task
        A registered task (``"eegmat"``, ``"eyes"``, ``"motor"``, ``"erp"``,
        ``"memory"``, ``"sleep"`` or one of :func:`register_task`).
    subjects : list of int or str | None
        Subject numbers of the data set or (paper tasks) the fold files'
        identifiers; None: the task's benchmark subjects.
    path : str | Path | None
        Data folder (``--data-path``; default ``MNE_NEURORVQ_DATA``, else each
        data set's own MNE / MOABB setting).
    max_windows : int | None
        At most this many trials per recording.
    verbose : bool | str | int | None
        MNE verbosity (None: warnings only); at ``"info"`` a progress bar
        runs over subjects.
    **kwargs
        Passed to the task's loader (e.g. ``download`` for EEGMAT and memory,
        ``dataset`` for motor and ERP).

    Returns
    -------
    epochs : mne.EpochsArray
        The trials at 200 Hz; ``epochs.events[:, 2]`` holds the protocol's
        integer codes, ``epochs.metadata`` the subject and label.
    y : ndarray of str
        Label names, ``task.classes[code]``.
    groups : ndarray
        Subject of each trial: the fold files' identifier strings for the
        paper tasks, subject numbers (int) for EEGMAT.

    Examples
    --------
    >>> epochs, y, groups = load_task("eegmat", subjects=[0, 1])  # doctest: +SKIP
    >>> epochs.info["sfreq"]  # doctest: +SKIP
    200.0
    """
    from .._progress import progress

    task = get_task(name)
    numbers = _subjects(task, subjects)
    per_subject = []
    for number in progress(numbers, f"{task.name}: subjects", verbose or False):
        trials = subject_trials(
            task,
            number,
            path=path,
            max_windows=max_windows,
            dtype=np.float64,
            verbose=verbose,
            **kwargs,
        )
        per_subject.append((number, trials))
    return _stack(task, per_subject, "warning" if verbose is None else verbose)
