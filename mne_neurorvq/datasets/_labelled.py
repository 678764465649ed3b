"""Stack labelled windows into one ``mne.EpochsArray`` with subject metadata."""

from __future__ import annotations

import mne
import numpy as np


def labelled_epochs(data, info, labels, subjects, verbose=None):
    """Windows of several recordings as one EpochsArray, labels and subjects.

    Parameters
    ----------
    data : list of ndarray, shape (n_i, n_channels, n_times)
        The windows of each recording (same channels and length).
    info : mne.Info
        Measurement info shared by all windows.
    labels, subjects : list
        One label and one subject per window, in order.
    verbose : bool | str | int | None
        MNE verbosity.

    Returns
    -------
    epochs : mne.EpochsArray
        With ``metadata`` columns ``subject`` and ``label``.
    y : ndarray
        The labels.
    groups : ndarray
        The subjects (for ``GroupKFold``).
    """
    import pandas as pd

    metadata = pd.DataFrame({"subject": subjects, "label": labels})
    epochs = mne.EpochsArray(
        np.concatenate(data), info, metadata=metadata, verbose=verbose
    )
    return epochs, np.array(labels), np.array(subjects)
