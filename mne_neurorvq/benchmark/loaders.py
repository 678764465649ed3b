"""Load a benchmark task as (epochs at 200 Hz, labels, subjects), protocol applied."""

from __future__ import annotations

import mne

from ..datasets._labelled import labelled_epochs
from ..datasets.eegbci import EYES_RUNS, _read_runs
from ..datasets.eegmat import LABELS as EEGMAT_LABELS
from ..datasets.eegmat import eegmat_files, read_eegmat_raw
from .protocol import TASKS, preprocess_raw

#: MOABB dataset and epoch window of the tasks that need a download.
MOABB_TASKS = {
    "motor": ("Schirrmeister2017", 0.0, 4.0),
    "erp": ("Lee2019_ERP", -0.2, 0.8),
}


def _windows(raw, seconds, label, subject, max_windows, verbose):
    epochs = mne.make_fixed_length_epochs(raw, seconds, preload=True, verbose=verbose)
    data = epochs.get_data(copy=False)
    if max_windows is not None:
        data = data[:max_windows]
    return data, epochs.info, [label] * len(data), [subject] * len(data)


def _labelled(epochs, names, subject):
    """One part for :func:`_stack`: data, info, label per epoch, subject per epoch."""
    labels = [names[code] for code in epochs.events[:, 2]]
    return epochs.get_data(copy=False), epochs.info, labels, [subject] * len(epochs)


def _stack(parts, verbose):
    """Parts of :func:`_windows` / :func:`_labelled` as one labelled EpochsArray."""
    labels = sum((p[2] for p in parts), [])
    groups = sum((p[3] for p in parts), [])
    return labelled_epochs([p[0] for p in parts], parts[0][1], labels, groups, verbose)


def load_eegmat_task(
    subjects=None,
    *,
    window=4.0,
    max_windows=None,
    path=None,
    download=True,
    verbose="error",
):
    """EEGMAT rest vs arithmetic with the protocol (200 Hz, 0.5-45 Hz, CAR).

    Returns
    -------
    epochs : mne.EpochsArray
        19 EEG channels at 200 Hz.
    y : ndarray of str
    groups : ndarray of int
        Subjects.
    """
    parts = []
    for subject, condition, fname in eegmat_files(subjects, path, download):
        raw = preprocess_raw(read_eegmat_raw(fname, verbose=verbose), verbose=verbose)
        parts.append(
            _windows(
                raw, window, EEGMAT_LABELS[condition], subject, max_windows, verbose
            )
        )
    return _stack(parts, verbose)


def load_eyes_task(
    subjects=(1, 2), *, window=4.0, max_windows=None, path=None, verbose="error"
):
    """Eyes open vs closed (eegmmidb runs 1-2) with the protocol."""
    parts = []
    for subject in subjects:
        raws = _read_runs(subject, EYES_RUNS, path, verbose)
        for run, raw in zip(EYES_RUNS, raws, strict=True):
            raw.set_annotations(None)
            mne.datasets.eegbci.standardize(raw)
            raw = preprocess_raw(raw, verbose=verbose)
            parts.append(
                _windows(raw, window, EYES_RUNS[run], subject, max_windows, verbose)
            )
    return _stack(parts, verbose)


def load_moabb_task(name, subjects=None, verbose="error", **kwargs):
    """Motor, ERP and memory tasks through MOABB (needs ``pip install moabb``).

    The datasets are downloaded by MOABB on first use; the protocol is
    applied to the continuous recordings, then the task's epoch window is cut
    around its events.
    """
    try:
        import moabb.datasets as moabb_datasets
    except ImportError as err:
        raise ImportError(
            f"The {name!r} task needs MOABB: pip install moabb (and internet for "
            "the first download)."
        ) from err
    dataset_name, tmin, tmax = MOABB_TASKS[name]
    dataset = getattr(moabb_datasets, dataset_name)()
    subjects = dataset.subject_list if subjects is None else subjects
    parts = []
    for subject, sessions in dataset.get_data(subjects=list(subjects)).items():
        for runs in sessions.values():
            for raw in runs.values():
                events, event_id = mne.events_from_annotations(raw, verbose=verbose)
                raw = preprocess_raw(raw, verbose=verbose)
                epochs = mne.Epochs(
                    raw,
                    events,
                    event_id,
                    tmin,
                    tmax - 1 / 200,
                    baseline=None,
                    preload=True,
                    verbose=verbose,
                )
                names = {v: k for k, v in event_id.items()}
                parts.append(_labelled(epochs, names, subject))
    return _stack(parts, verbose)


def load_sleep_task(subjects=None, verbose="error", **kwargs):
    """Sleep-EDF stages in 30 s epochs (downloaded by MNE)."""
    from mne.datasets.sleep_physionet.age import fetch_data

    subjects = list(range(20)) if subjects is None else list(subjects)
    mapping = {
        "Sleep stage W": "W",
        "Sleep stage 1": "N1",
        "Sleep stage 2": "N2",
        "Sleep stage 3": "N3",
        "Sleep stage 4": "N3",
        "Sleep stage R": "REM",
    }
    parts = []
    for subject, (psg, hyp) in zip(
        subjects, fetch_data(subjects=subjects), strict=True
    ):
        raw = mne.io.read_raw_edf(psg, preload=True, verbose=verbose)
        raw.set_annotations(mne.read_annotations(hyp), emit_warning=False)
        raw = preprocess_raw(raw, verbose=verbose)
        events, event_id = mne.events_from_annotations(
            raw,
            event_id={k: i for i, k in enumerate(mapping)},
            chunk_duration=30.0,
            verbose=verbose,
        )
        epochs = mne.Epochs(
            raw,
            events,
            event_id,
            0,
            30 - 1 / 200,
            baseline=None,
            preload=True,
            on_missing="ignore",
            verbose=verbose,
        )
        names = {v: mapping[k] for k, v in event_id.items()}
        parts.append(_labelled(epochs, names, subject))
    return _stack(parts, verbose)


def load_memory_task(**kwargs):
    """Pavlov 2022 memory task: not available through MNE, MOABB or braindecode."""
    raise NotImplementedError(
        "The memory task (Pavlov et al. 2022, OpenNeuro ds003838, 14-18 s after "
        "the cue) has no loader in MNE, MOABB or braindecode yet; download it "
        "with openneuro-py and read it with mne-bids, then pass the epochs to "
        "mne_neurorvq.benchmark.run_benchmark."
    )


def load_task(name, **kwargs):
    """Load task ``name`` (see :data:`mne_neurorvq.benchmark.protocol.TASKS`).

    Examples
    --------
    >>> epochs, y, groups = load_task("eegmat", subjects=[0, 1])  # doctest: +SKIP
    >>> epochs.info["sfreq"]  # doctest: +SKIP
    200.0
    """
    if name not in TASKS:
        raise ValueError(f"Unknown task {name!r}; tasks are {sorted(TASKS)}")
    if name == "eegmat":
        return load_eegmat_task(**kwargs)
    if name == "eyes":
        return load_eyes_task(**kwargs)
    if name == "sleep":
        return load_sleep_task(**kwargs)
    if name == "memory":
        return load_memory_task(**kwargs)
    return load_moabb_task(name, **kwargs)
