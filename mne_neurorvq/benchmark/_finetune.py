"""NeuroRVQ fine-tuning that reads its trials from the store, batch by batch.

Imported lazily (it imports braindecode through the classifier).
"""

from __future__ import annotations

import numpy as np

from ..decoding._input import match_input, read_input
from ..decoding.classifier import NeuroRVQClassifier
from ..preprocessing import PATCH_SIZE, prepare_array
from .protocol import SFREQ
from .streaming import TrialDataset


class StoreClassifier(NeuroRVQClassifier):
    """:class:`~mne_neurorvq.decoding.NeuroRVQClassifier` on a :class:`TrialDataset`.

    The store's trials are at 200 Hz in volts: each batch is read from the
    memory-maps, its channels picked (those of the NeuroRVQ vocabulary),
    scaled to microvolts and cropped to whole 1 s patches, which is what
    the classifier's own preparation does to an array at 200 Hz. Anything
    else (Epochs, arrays) is read as by the parent class.
    """

    def _labels(self, X, y) -> np.ndarray:
        if not isinstance(X, TrialDataset):
            return super()._labels(X, y)
        y = np.asarray(X.labels if y is None else y)
        if len(y) != len(X):
            raise ValueError(f"y has {len(y)} labels but X has {len(X)} trials.")
        return y

    def _prepare_X(self, X, fitting: bool):
        if not isinstance(X, TrialDataset):
            return super()._prepare_X(X, fitting)
        probe = np.zeros((1, len(X.ch_names), PATCH_SIZE), dtype=np.float32)
        inp = read_input(probe, X.ch_names, SFREQ, "V")
        if fitting:
            match, self.picks_ = match_input(inp, self.on_unknown)
            self.input_ch_names_ = list(inp.ch_names)
            self.ch_names_ = list(match.ch_names)
            self.input_chans_ = np.array(match.vocab_idx, dtype=np.int64)
            self.sfreq_ = SFREQ
            self.n_features_in_ = len(inp.ch_names)
            _, self.preprocessing_ = prepare_array(
                probe, SFREQ, units="V", recipe=self.recipe, verbose=False
            )
        elif X.ch_names != self.input_ch_names_:
            raise ValueError(
                "The trials have other channels than those the classifier was "
                f"fitted on: expected {self.input_ch_names_}, got {X.ch_names}."
            )
        if self.recipe is not None:
            raise ValueError("Trials of the store are read with recipe=None only")
        n_times = (X.shape[2] // PATCH_SIZE) * PATCH_SIZE
        return TrialDataset(X.entries, picks=self.picks_, scale=1e6, n_times=n_times)
