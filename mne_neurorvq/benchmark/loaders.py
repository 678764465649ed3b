"""Load a benchmark task as (epochs at 200 Hz, labels, subjects), protocol applied.

Every loader reads one subject at a time, cuts its recordings into 200 Hz
trials with :func:`~mne_neurorvq.benchmark.cut_trials` and frees them before
the next subject, so memory holds the trials of all subjects plus the
recordings of one. ``performance/loader_memory.py`` measures the peak.

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
import functools
import gc
import os
import re
import warnings
from dataclasses import replace

import mne
import numpy as np
from mne.utils import logger, use_log_level

from ..channels import bipolar_active_electrode
from ..datasets._paths import CONFIG_KEY, data_root
from ..datasets.eegbci import EYES_RUNS, _read_runs
from ..datasets.eegmat import LABELS as EEGMAT_LABELS
from ..datasets.eegmat import eegmat_files, read_eegmat_raw
from .protocol import TASKS
from .trials import cut_trials

#: MOABB dataset class of the tasks it serves.
MOABB_DATASETS = {"motor": "Schirrmeister2017", "erp": "Lee2019_ERP"}
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
    task = TASKS[task]
    if subjects is None:
        return list(task.subjects)
    if isinstance(subjects, (str, int, np.integer)):
        subjects = [subjects]
    return [task.subject_number(s) for s in subjects]


def _quiet(loader):
    """MNE's ``verbose``, except that None means warnings only (quiet loads)."""

    @functools.wraps(loader)
    def wrapper(*args, verbose=None, **kwargs):
        level = "warning" if verbose is None else verbose
        with use_log_level(level):
            return loader(*args, verbose=level, **kwargs)

    return wrapper


def _one_at_a_time(items, task, verbose):
    """Subjects, one at a time, behind a progress bar (hidden when quiet).

    After each subject the garbage collector runs: readers leave reference
    cycles (the EEGLAB reader's copy of the file's data among them) that
    would otherwise live on while the next subject is read.
    """
    from tqdm.auto import tqdm

    quiet = logger.level > 20 or len(items) < 2  # 20: logging.INFO
    for item in tqdm(items, desc=f"{task}: subjects", unit="subject", disable=quiet):
        yield item
        gc.collect()


def _root(path):
    """The data root when the user named one (argument or config), else None."""
    if path is not None or mne.get_config(CONFIG_KEY):
        return data_root(path)
    return None


class _Trials:
    """Trials of several recordings, stacked once at the end."""

    def __init__(self, task, max_windows=None):
        self.task = TASKS[task]
        self.max_windows = max_windows
        self.data, self.codes, self.groups, self.info = [], [], [], None

    def add(self, epochs, subject):
        data = epochs.get_data(copy=False)[: self.max_windows]
        if not len(data):
            return
        self.info = epochs.info if self.info is None else self.info
        if epochs.ch_names != self.info["ch_names"]:
            raise ValueError(
                f"Subject {subject!r} has channels {epochs.ch_names}, the first "
                f"recording {self.info['ch_names']}; the trials cannot be stacked"
            )
        self.data.append(np.asarray(data, dtype=np.float64))
        self.codes.append(epochs.events[: len(data), 2])
        self.groups += [self.task.subject_id(subject)] * len(data)

    def stack(self, verbose):
        import pandas as pd

        if not self.data:
            raise ValueError(f"No trials found for task {self.task.name!r}")
        codes = np.concatenate(self.codes)
        # into one array, freeing each recording's trials as they are copied:
        # the peak is the trials plus one recording's, not twice the trials
        data = np.empty((len(codes),) + self.data[0].shape[1:])
        start = 0
        while self.data:
            part = self.data.pop(0)
            data[start : start + len(part)] = part
            start += len(part)
            del part
        labels = np.array([self.task.classes[c] for c in codes])
        events = np.column_stack(
            [np.arange(len(codes)) * self.task.n_times, np.zeros_like(codes), codes]
        )
        present = sorted(set(codes.tolist()))
        epochs = mne.EpochsArray(
            data,
            self.info,
            events=events,
            tmin=self.task.tmin,
            event_id={self.task.classes[c]: c for c in present},
            metadata=pd.DataFrame({"subject": self.groups, "label": labels}),
            verbose=verbose,
        )
        return epochs, labels, np.array(self.groups)


def _whole_recording(raw, label):
    """Annotate ``raw`` as one span of ``label`` (fixed-length tasks)."""
    duration = raw.n_times / raw.info["sfreq"]
    raw.set_annotations(mne.Annotations([0.0], [duration], [label]))
    return raw


# ------------------------------------------------------------ local: EEGMAT


@_quiet
def load_eegmat_task(
    subjects=None,
    *,
    path=None,
    max_windows=None,
    download=True,
    verbose=None,
):
    """EEGMAT rest vs arithmetic: 4 s windows with the protocol.

    Parameters
    ----------
    subjects : list of int | None
        Subjects 0-35 (None: all available locally, or all when downloading).
    path : str | Path | None
        Folder of the EDF files (see :func:`mne_neurorvq.datasets.eegmat_files`).
    max_windows : int | None
        At most this many windows per recording.
    download : bool
        Download missing files from PhysioNet.
    verbose : bool | str | int | None
        MNE verbosity (None: warnings only).

    Returns
    -------
    epochs : mne.EpochsArray
        19 EEG channels at 200 Hz, 800 samples.
    y : ndarray of str
        ``"rest"`` or ``"arithmetic"``.
    groups : ndarray of int
        Subject numbers.

    Examples
    --------
    >>> epochs, y, groups = load_eegmat_task([0, 1])  # doctest: +SKIP
    """
    trials = _Trials("eegmat", max_windows)
    for subject, condition, fname in eegmat_files(subjects, path, download):
        raw = _whole_recording(
            read_eegmat_raw(fname, verbose=verbose), EEGMAT_LABELS[condition]
        )
        trials.add(cut_trials(raw, "eegmat", copy=False, verbose=verbose), subject)
    return trials.stack(verbose)


# ------------------------------------------------------------ eyes: eegmmidb


@_quiet
def load_eyes_task(subjects=None, *, path=None, max_windows=None, verbose=None):
    """Eyes open vs closed: 4 s windows of eegmmidb runs 1 and 2.

    Parameters
    ----------
    subjects : list of int or str | None
        Subject numbers (1-109) or identifiers (``"physionet_S007"``); None:
        the 103 subjects of the paper's fold file ``eyes.txt``.
    path : str | Path | None
        Folder containing ``MNE-eegbci-data`` (default ``MNE_NEURORVQ_DATA``,
        else MNE's eegbci folder); missing runs are downloaded by
        :func:`mne.datasets.eegbci.load_data` (1.3 MB each).
    max_windows : int | None
        At most this many windows per run.
    verbose : bool | str | int | None
        MNE verbosity (None: warnings only).

    Returns
    -------
    epochs : mne.EpochsArray
        64 EEG channels (standard 10-05 names) at 200 Hz, 800 samples.
    y : ndarray of str
        ``"eyes_closed"`` (code 0, run 2) or ``"eyes_open"`` (code 1, run 1).
    groups : ndarray of str
        ``"physionet_S001"``-style identifiers.

    Examples
    --------
    >>> epochs, y, groups = load_eyes_task([1, 2])  # doctest: +SKIP
    >>> sorted(set(groups))  # doctest: +SKIP
    ['physionet_S001', 'physionet_S002']
    """
    trials = _Trials("eyes", max_windows)
    numbers = _subjects("eyes", subjects)
    for subject in _one_at_a_time(numbers, "eyes", verbose):
        raws = _read_runs(subject, EYES_RUNS, path, verbose)
        for run, raw in zip(EYES_RUNS, raws, strict=True):
            mne.datasets.eegbci.standardize(raw)
            _whole_recording(raw, EYES_RUNS[run])
            trials.add(cut_trials(raw, "eyes", copy=False, verbose=verbose), subject)
    return trials.stack(verbose)


# ------------------------------------------------------------- MOABB tasks


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


@_quiet
def load_moabb_task(
    name,
    subjects=None,
    *,
    path=None,
    max_windows=None,
    dataset=None,
    verbose=None,
):
    """Motor (High Gamma) or ERP (KU / OpenBMI) trials through MOABB.

    MOABB downloads the recordings on first use and sets their trial
    annotations; each run is then cut with
    :func:`~mne_neurorvq.benchmark.cut_trials`: High Gamma 0-4 s after the
    cue without its 5 non-EEG and 50 non-10-20 channels, KU ERP -0.2 to
    0.8 s around each stimulus. Subjects are loaded one at a time (MOABB
    returns all runs of a subject at once): the peak is about twice a
    subject's recordings in float64, about 7 GiB for a High Gamma subject
    (``performance/loader_memory.py``), on top of the trials kept: about 6 GiB
    for the 14 High Gamma subjects and about 41 GiB for the 54 KU ERP
    subjects (8,280 trials of 62 x 200 samples each), the largest task.

    Parameters
    ----------
    name : ``"motor"`` | ``"erp"``
        The task.
    subjects : list of int or str | None
        Subject numbers or fold-file identifiers (``"highgamma_s03"``,
        ``"15"``); None: all 14 / 54.
    path : str | Path | None
        Folder under which MOABB keeps the data set (its
        ``MNE_DATASETS_<CODE>_PATH`` is pointed there for the call; default
        ``MNE_NEURORVQ_DATA``, else MOABB's own setting, ``MNE_DATA``).
    max_windows : int | None
        At most this many trials per run.
    dataset : moabb.datasets.base.BaseDataset | None
        The MOABB data set to read (default: ``Schirrmeister2017()`` or
        ``Lee2019_ERP()``); one whose annotations carry the same event names.
    verbose : bool | str | int | None
        MNE verbosity (None: warnings only).

    Returns
    -------
    epochs : mne.EpochsArray
        At 200 Hz (800 or 200 samples).
    y : ndarray of str
        Motor: ``"no_action"``, ``"left_fist"``, ``"right_fist"``,
        ``"both_feet"`` (codes 0-3); ERP: ``"nontarget"`` (0), ``"target"``
        (1).
    groups : ndarray of str
        ``"highgamma_s01"`` / ``"1"``-style identifiers.

    Examples
    --------
    >>> epochs, y, groups = load_moabb_task("erp", [1])  # doctest: +SKIP
    """
    if name not in MOABB_DATASETS:
        raise ValueError(f"MOABB serves tasks {sorted(MOABB_DATASETS)}, not {name!r}")
    if dataset is None:
        moabb_datasets = _require("moabb.datasets", name)
        dataset = getattr(moabb_datasets, MOABB_DATASETS[name])()
    task = TASKS[name]
    # MOABB puts each annotation at the cue + the data set's interval start
    shift = float(dataset.interval[0])
    shifted = replace(task, tmin=task.tmin - shift, tmax=task.tmax - shift)
    trials = _Trials(name, max_windows)
    numbers = _subjects(name, subjects)
    for subject in _one_at_a_time(numbers, name, verbose):
        with _moabb_path(dataset.code, path), warnings.catch_warnings():
            warnings.filterwarnings("ignore", _MONTAGE_WARNING, FutureWarning)
            sessions = dataset.get_data(subjects=[subject])[subject]
        for runs in sessions.values():
            for run in list(runs):
                epochs = cut_trials(
                    runs.pop(run), shifted, task.event_id, copy=False, verbose=verbose
                )
                trials.add(epochs, subject)
        del sessions
    return trials.stack(verbose)


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


@_quiet
def load_memory_task(
    subjects=None, *, path=None, max_windows=None, download=True, verbose=None
):
    """Pavlov 2022 memory vs control: 14-18 s after each 13-digit trial cue.

    OpenNeuro ds003838 (snapshot 1.0.2, the benchmark's): the
    ``task-memory`` EEG of each subject (EEGLAB, 63 channels, 1000 Hz, about
    2 h) is downloaded with openneuro-py when it is not on disk, read with
    mne-bids (``trial_type`` of ``events.tsv`` as annotations) and reduced to
    its 13-digit trials (the first digit's onset is the cue) before the next
    subject is read. The peak is about twice the subject's recording in
    float64: about 7 GiB for a real 2 h subject (measured on stand-ins and
    scaled, ``performance/loader_memory.py``), whatever the number of subjects;
    the trials kept are 0.2 % of a recording.

    Parameters
    ----------
    subjects : list of int or str | None
        Subject numbers or identifiers (``"pavlov_sub-039"``); None: the 65
        subjects of the paper's fold file ``pavlov.txt``.
    path : str | Path | None
        Folder holding (or to receive) the ``ds003838`` BIDS folder (default
        ``MNE_NEURORVQ_DATA``, else ``MNE_DATA``).
    max_windows : int | None
        At most this many trials per subject.
    download : bool
        Download missing subjects (about 1.5 GB each).
    verbose : bool | str | int | None
        MNE verbosity (None: warnings only).

    Returns
    -------
    epochs : mne.EpochsArray
        At 200 Hz, 800 samples.
    y : ndarray of str
        ``"control"`` (code 0) or ``"memory"`` (code 1).
    groups : ndarray of str
        ``"pavlov_sub-039"``-style identifiers.

    Examples
    --------
    >>> epochs, y, groups = load_memory_task(["pavlov_sub-039"])  # doctest: +SKIP
    """
    mne_bids = _require("mne_bids", "memory")
    root = data_root(path) / PAVLOV_DATASET
    trials = _Trials("memory", max_windows)
    numbers = _subjects("memory", subjects)
    for subject in _one_at_a_time(numbers, "memory", verbose):
        bids_path = _fetch_pavlov(subject, root, download)
        raw = mne_bids.read_raw_bids(
            bids_path, extra_params=dict(preload=True), verbose=verbose
        )
        gc.collect()  # the EEGLAB reader's copy of the data, in a reference cycle
        epochs = cut_trials(_pavlov_trials(raw), "memory", copy=False, verbose=verbose)
        del raw
        trials.add(epochs, subject)
    return trials.stack(verbose)


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


@_quiet
def load_sleep_task(subjects=None, *, path=None, max_windows=None, verbose=None):
    """Sleep-EDF sleep-cassette stages, 6 classes, in 30 s epochs.

    Both nights of each subject (one for subjects 13, 36 and 52, which have
    only one), from :func:`mne.datasets.sleep_physionet.age.fetch_data`; the
    EEG channels only, ``EEG Fpz-Cz`` and ``EEG Pz-Oz`` renamed ``Fpz`` and
    ``Pz`` by :func:`mne_neurorvq.channels.bipolar_active_electrode` (a
    bipolar derivation taken as its active electrode); wake kept only 30 min
    before the first and after the last sleep epoch; ``Sleep stage ?`` and
    ``Movement time`` left out.

    Parameters
    ----------
    subjects : list of int or str | None
        Subject numbers (0-82) or identifiers (``"physionet_sleepedf_04"``);
        None: the 78 subjects of the paper's fold file ``sleepedf.txt``.
    path : str | Path | None
        Folder holding ``physionet-sleep-data`` (default
        ``MNE_NEURORVQ_DATA``, else MNE's ``PHYSIONET_SLEEP_PATH``); missing
        nights are downloaded by MNE.
    max_windows : int | None
        At most this many epochs per night.
    verbose : bool | str | int | None
        MNE verbosity (None: warnings only).

    Returns
    -------
    epochs : mne.EpochsArray
        2 channels (``Fpz``, ``Pz``) at 200 Hz, 6000 samples.
    y : ndarray of str
        ``"W"``, ``"S1"``, ``"S2"``, ``"S3"``, ``"S4"``, ``"R"`` (codes 0-5).
    groups : ndarray of str
        ``"physionet_sleepedf_04"``-style identifiers.

    Examples
    --------
    >>> epochs, y, groups = load_sleep_task([0, 13])  # doctest: +SKIP
    """
    from mne.datasets.sleep_physionet.age import fetch_data

    root = _root(path)
    trials = _Trials("sleep", max_windows)
    numbers = _subjects("sleep", subjects)
    for subject in _one_at_a_time(numbers, "sleep", verbose):
        nights = fetch_data(
            [subject],
            recording=(1, 2),
            path=None if root is None else str(root),
            on_missing="ignore",
            verbose=verbose,
        )
        for psg, hypnogram in nights:
            raw = _read_night(psg, hypnogram, verbose)
            trials.add(cut_trials(raw, "sleep", copy=False, verbose=verbose), subject)
    return trials.stack(verbose)


# ------------------------------------------------------------ dispatch

_LOADERS = {
    "eegmat": load_eegmat_task,
    "eyes": load_eyes_task,
    "memory": load_memory_task,
    "sleep": load_sleep_task,
}


def load_task(
    name, subjects=None, *, path=None, max_windows=None, verbose=None, **kwargs
):
    """Load task ``name`` of :data:`~mne_neurorvq.benchmark.TASKS`, protocol applied.

    Parameters
    ----------
    name : str
        ``"eegmat"``, ``"eyes"``, ``"motor"``, ``"erp"``, ``"memory"`` or
        ``"sleep"``.
    subjects : list of int or str | None
        Subject numbers of the data set or (paper tasks) the fold files'
        identifiers; None: the task's benchmark subjects (EEGMAT: all).
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
        Label names, ``TASKS[name].classes[code]``.
    groups : ndarray
        Subject of each trial: the fold files' identifier strings for the
        paper tasks, subject numbers (int) for EEGMAT.

    Examples
    --------
    >>> epochs, y, groups = load_task("eegmat", subjects=[0, 1])  # doctest: +SKIP
    >>> epochs.info["sfreq"]  # doctest: +SKIP
    200.0
    """
    if name not in TASKS:
        raise ValueError(f"Unknown task {name!r}; tasks are {sorted(TASKS)}")
    kwargs.update(path=path, max_windows=max_windows, verbose=verbose)
    if name in MOABB_DATASETS:
        return load_moabb_task(name, subjects, **kwargs)
    return _LOADERS[name](subjects, **kwargs)
