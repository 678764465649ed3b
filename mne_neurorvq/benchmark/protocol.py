"""The downstream protocol of the NeuroRVQ paper's benchmark.

NeuroRVQ's downstream table uses the benchmark of "Assessing the Capabilities
of Large Brainwave Foundation Models" (MLSP 2025): resample to 200 Hz,
band-pass 0.5-45 Hz, common average reference, task epochs, 10-fold
subject-independent splits, balanced accuracy. The preprocessing runs on the
continuous recordings (so the 0.5 Hz high-pass has room), then epochs are cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import mne

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
        Where the data come from (and whether they are local here).
    loader : str
        The function that loads it (``module:function``).
    """

    name: str
    description: str
    epochs: str
    source: str
    loader: str


TASKS = {
    t.name: t
    for t in (
        Task(
            "eegmat",
            "rest vs mental arithmetic (EEGMAT, 36 subjects)",
            "fixed 4 s windows",
            "PhysioNet eegmat (local folder or download)",
            "mne_neurorvq.benchmark.loaders:load_eegmat_task",
        ),
        Task(
            "eyes",
            "eyes open vs closed (eegmmidb runs 1-2, 109 subjects)",
            "fixed 4 s windows",
            "PhysioNet eegmmidb via mne.datasets.eegbci",
            "mne_neurorvq.benchmark.loaders:load_eyes_task",
        ),
        Task(
            "motor",
            "motor imagery/execution (High Gamma dataset, 14 subjects)",
            "0-4 s after the cue",
            "braindecode/MOABB Schirrmeister2017 (download)",
            "mne_neurorvq.benchmark.loaders:load_moabb_task",
        ),
        Task(
            "erp",
            "target vs non-target (KU/OpenBMI ERP, 54 subjects)",
            "-0.2 to 0.8 s around the stimulus",
            "MOABB Lee2019_ERP (download)",
            "mne_neurorvq.benchmark.loaders:load_moabb_task",
        ),
        Task(
            "memory",
            "memory load (Pavlov 2022, 86 subjects)",
            "14-18 s after the cue",
            "OpenNeuro ds003838 (no loader yet)",
            "mne_neurorvq.benchmark.loaders:load_memory_task",
        ),
        Task(
            "sleep",
            "sleep stages (Sleep-EDF, 78 subjects)",
            "30 s epochs",
            "mne.datasets.sleep_physionet (download)",
            "mne_neurorvq.benchmark.loaders:load_sleep_task",
        ),
    )
}
