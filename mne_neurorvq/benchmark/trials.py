"""Cut one continuous recording into the protocol's 200 Hz trials.

The protocol of the paper's benchmark, in the order applied here: keep the
task's EEG channels, resample to 200 Hz, band-pass 0.5-45 Hz (MNE's default
zero-phase FIR, on the continuous recording so the 0.5 Hz high-pass has
room), cut the task's window around each event, average reference over the
kept channels of each trial.

The events are read from the annotations *after* resampling, so their sample
numbers are those of the 200 Hz recording (annotations are in seconds). Reading
them at the native rate and cutting the resampled recording with those sample
numbers, as an earlier version of the loaders did, puts every trial at
``native rate / 200`` times its true onset.
"""

from __future__ import annotations

import mne
from mne.utils import _validate_type, verbose

from .protocol import H_FREQ, L_FREQ, SFREQ, Task, get_task

#: Version of the trial cutting (this module): part of the trial store's key,
#: bumped whenever a change here changes the trials.
PROTOCOL_VERSION = 1


def _as_task(task) -> Task:
    if isinstance(task, Task):
        return task
    _validate_type(task, str, "task", "task name or Task")
    return get_task(task)


def task_channels(raw: mne.io.BaseRaw, task) -> list[str]:
    """The channels of ``raw`` that the protocol keeps for ``task``.

    The good channels of type ``'eeg'``, less the task's ``exclude`` list
    (High Gamma: its non-EEG and non-10-20 channels).

    Examples
    --------
    >>> import numpy as np
    >>> info = mne.create_info(["Cz", "EOGh", "AFF1"], 500.0, "eeg")
    >>> raw = mne.io.RawArray(np.zeros((3, 10)), info, verbose=False)
    >>> task_channels(raw, "motor")
    ['Cz']
    """
    task = _as_task(task)
    eeg = mne.pick_types(raw.info, eeg=True, exclude="bads")
    excluded = set(task.exclude)
    return [raw.ch_names[i] for i in eeg if raw.ch_names[i] not in excluded]


def _names_by_code(task: Task, event_id: dict, default: bool) -> dict[str, int]:
    """Epochs' ``event_id``: the task's labels by default, else descriptions."""
    names = {}
    for description, code in event_id.items():
        names.setdefault(code, description)
    if default:
        names = {code: task.classes[code] for code in names}
    return {name: code for code, name in names.items()}


@verbose
def cut_trials(raw, task, event_id=None, *, copy=True, verbose=None) -> mne.Epochs:
    """Apply the benchmark protocol to one continuous recording.

    Keep the task's channels (:func:`task_channels`), resample to 200 Hz,
    band-pass 0.5-45 Hz, read the events from the annotations of the
    resampled recording, cut the task's window around each event (or tile
    each annotation with windows of ``task.chunk`` seconds for the
    fixed-length tasks, sleep and eyes), and average-reference each trial over
    the kept channels.

    Parameters
    ----------
    raw : mne.io.Raw
        A continuous recording with annotations (loaded into memory here if it
        is not yet).
    task : str | Task
        A task of :data:`~mne_neurorvq.benchmark.TASKS` (its window,
        channels and default ``event_id``).
    event_id : dict | None
        Annotation description -> integer code of the trials to cut. None:
        the task's own mapping, ``TASKS[task].event_id``, whose codes are the
        protocol's (``TASKS[task].classes[code]`` is the label). Annotations
        with other descriptions are ignored.
    copy : bool
        Work on a copy of ``raw`` (True) or pick, resample and filter ``raw``
        itself, which saves a copy of the recording in memory (False).
    verbose : bool | str | int | None
        MNE verbosity.

    Returns
    -------
    epochs : mne.Epochs
        At 200 Hz, ``task.n_times`` samples each, starting ``task.tmin``
        seconds from the event; ``epochs.event_id`` maps each label (the
        descriptions when ``event_id`` is given) to its code. Trials that do
        not fit in the recording or overlap a ``BAD`` annotation are dropped.

    Raises
    ------
    ValueError
        If no channel is left or no annotation matches ``event_id``.

    Examples
    --------
    >>> import numpy as np
    >>> info = mne.create_info(["C3", "Cz", "C4"], 1000.0, "eeg")
    >>> rng = np.random.default_rng(0)
    >>> raw = mne.io.RawArray(1e-5 * rng.standard_normal((3, 20000)), info,
    ...                       verbose=False)
    >>> _ = raw.set_annotations(mne.Annotations([5.0, 11.0], [4.0, 4.0],
    ...                                         ["feet", "rest"]))
    >>> epochs = cut_trials(raw, "motor", verbose=False)
    >>> epochs.info["sfreq"], len(epochs.times), epochs.events[:, 2].tolist()
    (200.0, 800, [3, 0])
    >>> epochs.event_id
    {'both_feet': 3, 'no_action': 0}
    """
    _validate_type(raw, mne.io.BaseRaw, "raw", "mne.io.Raw")
    task = _as_task(task)
    default = event_id is None
    event_id = task.event_id if default else dict(event_id)
    descriptions = set(raw.annotations.description)
    if not descriptions & set(event_id):
        raise ValueError(
            f"No annotation of the recording matches {sorted(event_id)}; its "
            f"descriptions are {sorted(descriptions)}"
        )
    picks = task_channels(raw, task)
    if not picks:
        raise ValueError(
            f"No channel of the recording is kept for task {task.name!r}: need "
            f"good 'eeg' channels outside {list(task.exclude)}; got {raw.ch_names}"
        )
    raw = raw.copy() if copy else raw
    raw.pick(picks)
    if raw.info["sfreq"] != SFREQ:
        # a recording not in memory is resampled channel by channel by MNE
        raw.resample(SFREQ, verbose=verbose)
    raw.load_data(verbose=verbose)
    raw.filter(L_FREQ, H_FREQ, verbose=verbose)
    events, found = mne.events_from_annotations(
        raw, event_id=event_id, chunk_duration=task.chunk, verbose=verbose
    )
    names = _names_by_code(task, found, default)
    epochs = mne.Epochs(
        raw,
        events,
        names,
        tmin=task.tmin,
        tmax=task.tmin + (task.n_times - 1) / SFREQ,
        baseline=None,
        preload=True,
        on_missing="ignore",
        verbose=verbose,
    )
    epochs.set_eeg_reference("average", projection=False, verbose=verbose)
    return epochs
