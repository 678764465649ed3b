"""Scikit-learn estimators built on NeuroRVQ.

- :class:`NeuroRVQTokenizer`: discrete tokens (or code vectors) of every
  1 s patch, and reconstruction from tokens;
- :class:`NeuroRVQEmbedder`: foundation-model embeddings;
- :class:`TokenHistogram`: normalised token counts, fixed-size features;
- :class:`NeuroRVQClassifier`: fine-tuning of the foundation model
  (braindecode/skorch), imported on first use so that importing this module
  never imports braindecode.

Input contract
--------------
Every estimator reads its input ``X`` the same way
(``mne_neurorvq.decoding._input``; see also the guide page on formats):

- an :class:`mne.Epochs` (any :class:`mne.BaseEpochs`): channel names, types
  and sampling rate come from ``epochs.info``; the data are read in microvolts
  with ``epochs.get_data(picks=..., units="uV")`` (MNE stores volts);
  channels marked bad are not used;
- a list (or tuple) of :class:`mne.Epochs` sharing the same channels and
  sampling rate. This is what scikit-learn's cross-validation hands over when
  it indexes an Epochs object (``sklearn.utils._safe_indexing`` returns a list
  of one-epoch Epochs). Their data are read and stacked directly; the Epochs
  are never concatenated with :func:`mne.concatenate_epochs`;
- a braindecode windows dataset: a ``BaseConcatDataset`` of ``WindowsDataset``
  (``create_from_mne_epochs``) or ``EEGWindowsDataset``
  (``create_windows_from_events``, ``create_fixed_length_windows``), a
  :class:`torch.utils.data.Subset` of one, or skorch's
  ``SliceDataset(dataset, idx=0)`` of one (what to give scikit-learn's
  cross-validation, which would otherwise index the dataset into tuples
  without channel names): channel names, rate and bad
  channels come from their MNE info, the windows (of one length) are read in
  order, in microvolts, and the classifier takes their targets when ``y`` is
  None. Any other :class:`torch.utils.data.Dataset` is refused with a
  :class:`TypeError` (it carries no channel names, rate or units);
- an array of shape ``(n_epochs, n_channels, n_times)``, in the unit given by
  the ``units`` parameter (``"V"`` by default, as ``epochs.get_data()``
  returns), with the channel names and sampling rate given by the ``ch_names``
  and ``sfreq`` parameters. A 2-D array ``(n_epochs, n_times)`` is read as a
  single channel, ``(n_epochs, 1, n_times)``: MNE's reading of 2-D input as
  ``(n_epochs, n_channels, 1)`` would give epochs of one sample, always
  shorter than the model's 1 s patch, so it could never be used. Arrays must
  hold floating-point numbers: integers are refused (they are usually raw ADC
  counts that need calibration).

Then the channels are matched to the NeuroRVQ vocabulary
(:func:`mne_neurorvq.channels.match_channels`; only EEG channels with a known
name are used), the data are checked (finite values, at least one 1 s patch)
and prepared with :func:`mne_neurorvq.preprocessing.prepare_array` (unit
conversion, optional filtering recipe, resampling to 200 Hz, optional clip).
``fit`` records what it found in attributes ending in ``_``; ``transform``
requires the same input channels, in the same order.

Following MNE, the "features" of a 3-D input are its channels:
``n_features_in_`` is the number of input channels (``X.shape[1]``), whether
or not all of them are used. Epochs longer than the models' 256 tokens
(channels x seconds) are split into balanced windows
(:func:`mne_neurorvq.preprocessing.plan_windows`), never cropped.

The transformers are deterministic (eval mode, no dropout) and run under
:func:`torch.inference_mode`. On a GPU, run scikit-learn's cross-validation
with ``n_jobs=1`` (batching happens inside, and CUDA cannot be used in forked
workers); on CPU, ``n_jobs > 1`` oversubscribes torch's threads unless
``torch.set_num_threads`` is lowered.
"""

from importlib import import_module

from .embedder import NeuroRVQEmbedder
from .histogram import TokenHistogram
from .tokenizer import NeuroRVQTokenizer

__all__ = [
    "NeuroRVQClassifier",
    "NeuroRVQEmbedder",
    "NeuroRVQTokenizer",
    "TokenHistogram",
]

#: Attributes imported on first access (braindecode is heavy).
_LAZY = {"NeuroRVQClassifier": "mne_neurorvq.decoding.classifier"}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mne_neurorvq.decoding' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
