"""mne-neurorvq: the NeuroRVQ EEG tokenizer and foundation model for MNE and sklearn.

Importing the package is light: torch models live in :mod:`mne_neurorvq.nn`,
and braindecode (needed only by the classifier) is imported on first use.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mne-neurorvq")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

_LAZY = {
    "NeuroRVQTokenizer": "mne_neurorvq.decoding",
    "NeuroRVQEmbedder": "mne_neurorvq.decoding",
    "NeuroRVQClassifier": "mne_neurorvq.decoding",
    "fetch_weights": "mne_neurorvq.weights",
    "sys_info": "mne_neurorvq.utils",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mne_neurorvq' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
