"""Baseline features: log band power per channel."""

from __future__ import annotations

import numpy as np
from scipy.signal import welch
from sklearn.base import BaseEstimator, TransformerMixin

#: Frequency bands (Hz).
BANDS = {
    "delta": (0.5, 4),
    "theta": (4, 8),
    "alpha": (8, 13),
    "beta": (13, 30),
    "gamma": (30, 45),
}


class LogBandPower(TransformerMixin, BaseEstimator):
    """Log power in the classic EEG bands, per channel (Welch, 1 s segments).

    Parameters
    ----------
    sfreq : float
        Sampling rate of the arrays (Epochs carry their own).

    Examples
    --------
    >>> X = np.random.default_rng(0).standard_normal((4, 3, 800))
    >>> LogBandPower(sfreq=200.0).fit_transform(X).shape
    (4, 15)
    """

    def __init__(self, sfreq=200.0):
        self.sfreq = sfreq

    def fit(self, X, y=None):
        """Record the number of channels."""
        data, _ = self._data(X)
        self.n_features_in_ = data.shape[1]
        return self

    def transform(self, X):
        """Return ``(n_epochs, n_channels * 5)`` log band powers."""
        data, sfreq = self._data(X)
        freqs, psd = welch(data, fs=sfreq, nperseg=min(int(sfreq), data.shape[-1]))
        powers = [
            psd[..., (freqs >= lo) & (freqs < hi)].mean(-1) for lo, hi in BANDS.values()
        ]
        return np.log(np.stack(powers, axis=-1) + 1e-30).reshape(len(data), -1)

    def _data(self, X):
        import mne

        if isinstance(X, list) and X and isinstance(X[0], mne.BaseEpochs):
            return (
                np.concatenate([e.get_data(picks="eeg") for e in X]),
                X[0].info["sfreq"],
            )
        if isinstance(X, mne.BaseEpochs):
            return X.get_data(picks="eeg"), X.info["sfreq"]
        return np.asarray(X, dtype=float), self.sfreq
