"""The downstream protocol of the NeuroRVQ paper's benchmark.

NeuroRVQ's downstream table uses the benchmark of "Assessing the Capabilities
of Large Brainwave Foundation Models" (MLSP 2025): resample to 200 Hz,
band-pass 0.5-45 Hz, common average reference, task epochs, 10-fold
subject-independent splits, balanced accuracy. The preprocessing runs on the
continuous recordings (so the 0.5 Hz high-pass has room), then epochs are cut.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mne
import numpy as np

#: Sampling rate, band and reference of the protocol.
SFREQ = 200.0
L_FREQ, H_FREQ = 0.5, 45.0


def preprocess_raw(raw: mne.io.BaseRaw, verbose=None) -> mne.io.BaseRaw:
    """Apply the protocol to a continuous recording (in place, returned).

    EEG channels only, resampled to 200 Hz, band-passed 0.5-45 Hz (MNE's
    default zero-phase FIR), re-referenced to the common average.

    Examples
    --------
    >>> raw = mne.io.read_raw_edf("rec.edf", preload=True)  # doctest: +SKIP
    >>> raw = preprocess_raw(raw)  # doctest: +SKIP
    """
    raw.pick("eeg", exclude="bads")
    if raw.info["sfreq"] != SFREQ:
        raw.resample(SFREQ, verbose=verbose)
    raw.filter(L_FREQ, H_FREQ, verbose=verbose)
    raw.set_eeg_reference("average", projection=False, verbose=verbose)
    return raw


#: High Gamma channels removed before the average reference: the 5 non-EEG
#: channels and the 50 channels outside the 10-20 system listed by the benchmark.
HGD_EXCLUDED_CHANNELS = (
    "EOGh EOGv EMG_RH EMG_LH EMG_RF "
    "AFF1 AFF2 FFC5h FFC3h FFC4h FFC6h FCC5h FCC3h FCC4h FCC6h CCP5h CCP3h CCP4h "
    "CCP6h CPP5h CPP3h CPP4h CPP6h PPO1 PPO2 I1 I2 AFp3h AFp4h AFF5h AFF6h FFT7h "
    "FFC1h FFC2h FFT8h FTT7h FCC1h FCC2h FTT8h CCP1h CCP2h TTP8h TPP7h CPP1h CPP2h "
    "PPO9h PPO5h PPO6h PPO10h POO9h POO3h POO4h POO10h OI1h OI2h"
).split()


@dataclass(frozen=True)
class Task:
    """One benchmark task of the protocol.

    Attributes
    ----------
    name : str
        Task name used on the command line.
    description : str
        What is classified.
    epochs : str
        The epoch definition of the protocol.
    source : str
        What is downloaded: data set, host, approximate size.
    loader : str | callable
        The function that reads one subject (``"module:function"`` or the
        function itself): ``loader(task, subject, *, path, verbose, **kwargs)``
        yields the subject's continuous recordings, each an ``mne.io.Raw``
        whose annotations mark the trials (or spans) of ``annotations``, or a
        ``(raw, shift)`` pair when each annotation sits ``shift`` seconds after
        the cue. It cuts nothing: one shared loop
        (:func:`~mne_neurorvq.benchmark.subject_trials`) cuts every
        recording with :func:`~mne_neurorvq.benchmark.cut_trials`.
    classes : tuple of str
        The labels, in the order of the protocol's integer codes (the label
        ``classes[k]`` has code ``k``).
    annotations : tuple of (str, str)
        ``(annotation description, label)``: which annotations of a recording
        are trials (or, with ``chunk``, spans cut into windows) of which label.
    tmin, tmax : float
        The trial window in seconds relative to each event; ``tmax`` is
        excluded, so a trial has ``(tmax - tmin) * 200`` samples.
    chunk : float | None
        None for cue-locked trials (one per annotation onset); else windows of
        ``chunk`` seconds tiling each annotation (fixed-length windows).
    exclude : tuple of str
        Channels removed before the average reference.
    dataset : str
        The data set (publication).
    n_subjects : int | None
        Subjects of the paper's benchmark (None: not part of it).
    fold_file : str | None
        The published folds: the name of a fold file shipped with the
        package (``mne_neurorvq/benchmark/data``) or the path of a file in the
        same format (JSON, fold number -> validation subjects), if any.
    paper_balanced_accuracy : float | None
        Balanced accuracy of the fine-tuned NeuroRVQ in the NeuroRVQ paper.
    loader_kwargs : tuple of (str, object)
        Keyword arguments of the loader that the task fixes (the MOABB data
        set of motor and ERP).
    subjects : tuple of int
        The data set's own subject numbers of the benchmark (the subjects of
        the fold file), the default of the task's loader.
    subject_format : str | None
        How a subject number becomes the fold files' identifier
        (``subject_format.format(number)``); None: the number itself.

    Examples
    --------
    >>> task = TASKS["erp"]
    >>> task.classes, task.tmin, task.tmax
    (('nontarget', 'target'), -0.2, 0.8)
    >>> task.event_id
    {'NonTarget': 0, 'Target': 1}
    """

    name: str
    description: str
    epochs: str
    source: str
    loader: str
    classes: tuple[str, ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    tmin: float = 0.0
    tmax: float = 4.0
    chunk: float | None = None
    exclude: tuple[str, ...] = ()
    dataset: str = ""
    n_subjects: int | None = None
    fold_file: str | None = None
    subjects: tuple[int, ...] = ()
    subject_format: str | None = None
    paper_balanced_accuracy: float | None = None
    loader_kwargs: tuple[tuple[str, object], ...] = field(default=())

    def recordings(self, subject, *, path=None, verbose=None, **kwargs):
        """The continuous recordings of one subject, from the task's loader.

        Yields ``(raw, shift)``: a recording whose annotations mark the
        trials and the seconds between each cue and its annotation.
        """
        loader = resolve_loader(self.loader)
        options = dict(self.loader_kwargs) | kwargs
        for item in loader(self, subject, path=path, verbose=verbose, **options):
            yield item if isinstance(item, tuple) else (item, 0.0)

    @property
    def fingerprint(self) -> str:
        """Short hash of what decides the trials (window, labels, channels).

        Part of the trial store's key, so that a changed task definition
        never reads trials cut under the old one.
        """
        cut = dict(
            classes=self.classes,
            annotations=self.annotations,
            tmin=self.tmin,
            tmax=self.tmax,
            chunk=self.chunk,
            exclude=self.exclude,
        )
        text = json.dumps(cut, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    @property
    def event_id(self) -> dict[str, int]:
        """Annotation description -> the protocol's integer code of its label."""
        return {desc: self.classes.index(label) for desc, label in self.annotations}

    def subject_id(self, subject):
        """The fold files' identifier of a subject number (or identifier)."""
        number = self.subject_number(subject)
        return (
            number
            if self.subject_format is None
            else self.subject_format.format(number)
        )

    def subject_number(self, subject) -> int:
        """The data set's subject number of an identifier (or number)."""
        if isinstance(subject, str) and self.subject_format is not None:
            for number in self.subjects:
                if self.subject_format.format(number) == subject:
                    return number
        if isinstance(subject, (int, np.integer)) and not isinstance(subject, bool):
            if self.subjects and int(subject) not in self.subjects:
                raise ValueError(
                    f"Subject {subject} is not a subject of the {self.name!r} "
                    f"benchmark; expected one of {list(self.subjects)}"
                )
            return int(subject)
        expected = (
            f"an int or an identifier like {self.subject_id(self.subjects[0])!r}"
            if self.subjects and self.subject_format
            else "an int"
        )
        raise ValueError(
            f"Unknown subject {subject!r} for task {self.name!r}: expected {expected}"
        )

    @property
    def n_times(self) -> int:
        """Samples per trial at 200 Hz."""
        return round((self.tmax - self.tmin) * SFREQ)


def resolve_loader(loader) -> Callable:
    """The loader function of a task (``"module:function"`` or a callable)."""
    if callable(loader):
        return loader
    module, _, name = str(loader).partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(
            f"Task loader {loader!r} is not an importable 'module:function'"
        ) from err


def _same(*labels):
    return tuple((label, label) for label in labels)


_LOADERS = "mne_neurorvq.benchmark.loaders:"

#: The registry of tasks by name: the paper's five, in its table's order, then
#: EEGMAT; :func:`register_task` adds more.
TASKS = {
    t.name: t
    for t in (
        Task(
            "motor",
            "executed movement, 4 classes (High Gamma dataset, 14 subjects)",
            "0-4 s after the cue",
            "MOABB Schirrmeister2017: 28 EDF files (train and test run of 14 "
            "subjects, 133 channels at 500 Hz, about 29 h), from GIN "
            "(web.gin.g-node.org/robintibor/high-gamma-dataset) or MOABB's "
            "NEMAR mirror nm000172; about 18.5 GB",
            _LOADERS + "moabb_recordings",
            classes=("no_action", "left_fist", "right_fist", "both_feet"),
            annotations=(
                ("rest", "no_action"),
                ("left_hand", "left_fist"),
                ("right_hand", "right_fist"),
                ("feet", "both_feet"),
            ),
            tmin=0.0,
            tmax=4.0,
            exclude=tuple(HGD_EXCLUDED_CHANNELS),
            dataset="Schirrmeister et al. 2017, High-Gamma Dataset",
            n_subjects=14,
            fold_file="hgd.txt",
            subjects=tuple(range(1, 15)),
            subject_format="highgamma_s{:02d}",
            paper_balanced_accuracy=0.700,
            loader_kwargs=(("moabb_dataset", "Schirrmeister2017"),),
        ),
        Task(
            "erp",
            "target vs non-target (KU/OpenBMI ERP speller, 54 subjects)",
            "-0.2 to 0.8 s around the stimulus",
            "MOABB Lee2019_ERP: 108 MATLAB files (2 sessions of 54 subjects, "
            "offline and online runs, 62 EEG channels at 1000 Hz) from GigaDB "
            "100542 (ftp.cngb.org) or MOABB's NEMAR mirror nm000323 (58 h of "
            "recordings, 38.6 GB there); about 40 GB",
            _LOADERS + "moabb_recordings",
            classes=("nontarget", "target"),
            annotations=(("NonTarget", "nontarget"), ("Target", "target")),
            tmin=-0.2,
            tmax=0.8,
            dataset="Lee et al. 2019, OpenBMI ERP",
            n_subjects=54,
            fold_file="kuerp.txt",
            subjects=tuple(range(1, 55)),
            subject_format="{:d}",
            paper_balanced_accuracy=0.876,
            loader_kwargs=(("moabb_dataset", "Lee2019_ERP"),),
        ),
        Task(
            "memory",
            "memory vs control, 13-digit trials (Pavlov 2022, 65 subjects)",
            "14-18 s after the first digit of each 13-digit sequence",
            "OpenNeuro ds003838 (openneuro.org, via openneuro-py): the task-memory "
            "EEG of 65 subjects (EEGLAB .set, 63 channels at 1000 Hz, about 2 h "
            "and 1.5 GB each), about 100 GB",
            _LOADERS + "memory_recordings",
            classes=("control", "memory"),
            annotations=_same("control", "memory"),
            tmin=14.0,
            tmax=18.0,
            dataset="Pavlov et al. 2022, EEG and pupillometry in the digit span task",
            n_subjects=65,
            fold_file="pavlov.txt",
            subjects=tuple(s for s in range(32, 99) if s not in (37, 66)),
            subject_format="pavlov_sub-{:03d}",
            paper_balanced_accuracy=0.574,
        ),
        Task(
            "sleep",
            "sleep stages W, S1-S4, R (Sleep-EDF sleep cassette, 78 subjects)",
            "30 s epochs; wake only 30 min before and after sleep",
            "PhysioNet Sleep-EDF Expanded 1.0.0, sleep-cassette "
            "(physionet.org/physiobank/database/sleep-edfx/sleep-cassette) via "
            "mne.datasets.sleep_physionet: 153 nights of 78 subjects, a PSG and a "
            "hypnogram EDF each, about 7 GB",
            _LOADERS + "sleep_recordings",
            classes=("W", "S1", "S2", "S3", "S4", "R"),
            annotations=(
                ("Sleep stage W", "W"),
                ("Sleep stage 1", "S1"),
                ("Sleep stage 2", "S2"),
                ("Sleep stage 3", "S3"),
                ("Sleep stage 4", "S4"),
                ("Sleep stage R", "R"),
            ),
            tmin=0.0,
            tmax=30.0,
            chunk=30.0,
            dataset="Kemp et al. 2000, Sleep-EDF Expanded (sleep cassette)",
            n_subjects=78,
            fold_file="sleepedf.txt",
            subjects=tuple(s for s in range(83) if s not in (39, 68, 69, 78, 79)),
            subject_format="physionet_sleepedf_{:02d}",
            paper_balanced_accuracy=0.728,
        ),
        Task(
            "eyes",
            "eyes open vs closed (eegmmidb runs 1-2, 103 subjects)",
            "fixed 4 s windows of runs 1 (eyes open) and 2 (eyes closed)",
            "PhysioNet eegmmidb 1.0.0 (physionet.org/files/eegmmidb/1.0.0) via "
            "mne.datasets.eegbci: runs 1 and 2 of 103 subjects, 206 EDF files of "
            "1.3 MB, about 260 MB",
            _LOADERS + "eyes_recordings",
            classes=("eyes_closed", "eyes_open"),
            annotations=_same("eyes_closed", "eyes_open"),
            chunk=4.0,
            dataset="Schalk et al. 2004, PhysioNet EEG Motor Movement/Imagery",
            n_subjects=103,
            fold_file="eyes.txt",
            subjects=tuple(
                s for s in range(1, 110) if s not in (88, 89, 92, 100, 104, 106)
            ),
            subject_format="physionet_S{:03d}",
            paper_balanced_accuracy=0.869,
        ),
        Task(
            "eegmat",
            "rest vs mental arithmetic (EEGMAT, 36 subjects)",
            "fixed 4 s windows",
            "PhysioNet eegmat 1.0.0 (physionet.org/files/eegmat/1.0.0): 72 EDF "
            "files, about 190 MB (local folder or download)",
            _LOADERS + "eegmat_recordings",
            classes=("rest", "arithmetic"),
            annotations=_same("rest", "arithmetic"),
            chunk=4.0,
            dataset="Zyma et al. 2019, EEG during mental arithmetic",
            subjects=tuple(range(36)),
        ),
    )
}


#: The five tasks of the paper's table, in its order.
PAPER_TASKS = tuple(
    name for name, task in TASKS.items() if task.paper_balanced_accuracy is not None
)


def register_task(task: Task, *, replace: bool = False) -> Task:
    """Add a task to the registry, so the benchmark, the store and the CLI know it.

    Parameters
    ----------
    task : Task
        The task: its name, classes, window, loader and (optionally) fold
        file. Its loader yields each subject's continuous recordings with
        annotations (see :class:`Task`); the benchmark cuts them into trials,
        stores them and runs every model on them.
    replace : bool
        Replace a registered task of the same name (otherwise an error).

    Returns
    -------
    Task
        The registered task.

    Examples
    --------
    >>> def my_recordings(task, subject, *, path=None, verbose=None):
    ...     raw = mne.io.read_raw_brainvision(f"{path}/sub-{subject}.vhdr")
    ...     yield raw  # annotations "left", "right" mark the trials
    >>> register_task(Task("mylab", "left vs right", "0-4 s after the cue",
    ...                    "our lab's recordings", my_recordings,
    ...                    classes=("left", "right"),
    ...                    annotations=(("left", "left"), ("right", "right")),
    ...                    subjects=(1, 2, 3)))  # doctest: +SKIP
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be a Task, got {type(task).__name__}")
    if not task.classes or not task.annotations:
        raise ValueError(f"Task {task.name!r} needs classes and annotations")
    unknown = {label for _, label in task.annotations} - set(task.classes)
    if unknown:
        raise ValueError(
            f"Task {task.name!r}: annotation labels {sorted(unknown)} are not among "
            f"its classes {list(task.classes)}"
        )
    if task.name in TASKS and not replace and TASKS[task.name] != task:
        raise ValueError(
            f"A task named {task.name!r} is registered already; pass replace=True"
        )
    TASKS[task.name] = task
    return task


def get_task(task) -> Task:
    """The registered :class:`Task` of a name (a Task is returned as is).

    Examples
    --------
    >>> get_task("eyes").fold_file
    'eyes.txt'
    """
    if isinstance(task, Task):
        return task
    if not isinstance(task, str):
        raise TypeError(f"task must be a task name or a Task, got {task!r}")
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; tasks are {sorted(TASKS)}")
    return TASKS[task]


def fold_file_path(task: Task) -> Path | None:
    """Where the task's fold file is (package data or the path given)."""
    if task.fold_file is None:
        return None
    path = Path(task.fold_file).expanduser()
    if path.is_absolute():
        return path
    from importlib.resources import files

    return Path(str(files(__package__) / "data" / task.fold_file))
