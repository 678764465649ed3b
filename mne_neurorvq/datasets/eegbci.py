"""PhysioNet EEG Motor Movement/Imagery (eegmmidb) through ``mne.datasets.eegbci``.

109 subjects, 64 channels (10-10, BCI2000 names such as ``Fc5.``), 160 Hz.
Runs 1 and 2 are one-minute baselines with eyes open and closed; runs 4, 8
and 12 are motor imagery of the left or right fist.

Licence: Open Data Commons Attribution License v1.0 (ODC-By 1.0). Cite:
G. Schalk, D. J. McFarland, T. Hinterberger, N. Birbaumer, J. R. Wolpaw.
"BCI2000: A General-Purpose Brain-Computer Interface (BCI) System." *IEEE
Transactions on Biomedical Engineering* 51(6):1034-1043, 2004; and PhysioNet.
"""

from __future__ import annotations

import mne

from .._progress import progress, quiet
from ._labelled import labelled_epochs
from ._paths import data_root

EYES_RUNS = {1: "eyes_open", 2: "eyes_closed"}
IMAGERY_RUNS = (4, 8, 12)
IMAGERY_LABELS = {"T1": "left_fist", "T2": "right_fist"}


def _read_runs(subject, runs, path, verbose):
    from mne.datasets import eegbci

    kwargs = dict(update_path=False)
    root = data_root(path)
    if path is not None or mne.get_config("MNE_NEURORVQ_DATA"):
        kwargs["path"] = str(root)
    fnames = eegbci.load_data(
        subjects=subject, runs=list(runs), verbose=verbose, **kwargs
    )
    return [mne.io.read_raw_edf(f, preload=True, verbose=verbose) for f in fnames]


def _stack(epochs_list, labels, groups, verbose):
    data = [e.get_data(copy=False) for e in epochs_list]
    return labelled_epochs(data, epochs_list[0].info, labels, groups, quiet(verbose))


def load_eegbci_eyes(subjects=(1, 2), *, window: float = 4.0, path=None, verbose=None):
    """Eyes open vs closed: fixed-length windows of runs 1 and 2.

    Parameters
    ----------
    subjects : list of int
        Subjects (1-109).
    window : float
        Window length in seconds (the benchmark protocol uses 4 s).
    path : str | Path | None
        Folder containing ``MNE-eegbci-data`` (default: ``MNE_NEURORVQ_DATA``,
        else MNE's own eegbci folder; missing files are downloaded by MNE).
    verbose : bool | str | int | None
        MNE verbosity of the reading and epoching of every run; None means
        warnings only. A progress bar over the subjects is shown on a
        terminal unless ``verbose`` (MNE's level when None) is above info.

    Returns
    -------
    epochs : mne.EpochsArray
        64 channels, 160 Hz, volts, BCI2000 channel names.
    y : ndarray of str
        ``"eyes_open"`` or ``"eyes_closed"``.
    groups : ndarray of int
        Subject of each window.

    Examples
    --------
    >>> epochs, y, groups = load_eegbci_eyes([1, 2])  # doctest: +SKIP
    >>> sorted(set(y))  # doctest: +SKIP
    ['eyes_closed', 'eyes_open']
    """
    epochs_list, labels, groups = [], [], []
    for subject in progress(subjects, "eegbci eyes", verbose):
        raws = _read_runs(subject, EYES_RUNS, path, quiet(verbose))
        for run, raw in zip(EYES_RUNS, raws, strict=True):
            raw.set_annotations(None)
            epochs = mne.make_fixed_length_epochs(
                raw, window, preload=True, verbose=quiet(verbose)
            )
            epochs_list.append(epochs)
            labels += [EYES_RUNS[run]] * len(epochs)
            groups += [subject] * len(epochs)
    return _stack(epochs_list, labels, groups, verbose)


def load_eegbci_imagery(
    subjects=(1, 2), *, tmin=0.0, tmax=4.0, path=None, verbose=None
):
    """Left vs right fist motor imagery (runs 4, 8, 12), cue-locked epochs.

    Returns epochs of ``tmax - tmin`` seconds from each ``T1``/``T2`` cue, the
    labels ``"left_fist"``/``"right_fist"`` and the subjects.

    Examples
    --------
    >>> epochs, y, groups = load_eegbci_imagery([1])  # doctest: +SKIP
    >>> epochs.info["sfreq"], sorted(set(y))  # doctest: +SKIP
    (160.0, ['left_fist', 'right_fist'])
    """
    epochs_list, labels, groups = [], [], []
    for subject in progress(subjects, "eegbci imagery", verbose):
        for raw in _read_runs(subject, IMAGERY_RUNS, path, quiet(verbose)):
            events, event_id = mne.events_from_annotations(raw, verbose=quiet(verbose))
            wanted = {k: v for k, v in event_id.items() if k in IMAGERY_LABELS}
            n_times = round((tmax - tmin) * raw.info["sfreq"])
            epochs = mne.Epochs(
                raw,
                events,
                wanted,
                tmin,
                tmin + (n_times - 1) / raw.info["sfreq"],
                baseline=None,
                preload=True,
                verbose=quiet(verbose),
            )
            code_to_label = {v: IMAGERY_LABELS[k] for k, v in wanted.items()}
            epochs_list.append(epochs)
            labels += [code_to_label[c] for c in epochs.events[:, 2]]
            groups += [subject] * len(epochs)
    return _stack(epochs_list, labels, groups, verbose)
