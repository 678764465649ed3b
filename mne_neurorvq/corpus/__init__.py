"""Token corpora: tokenize a BIDS data set or a folder into a token store.

:func:`tokenize_corpus` (or ``mne-neurorvq tokenize-corpus``) writes every
recording's tokens to a Zarr v3 store with a Parquet index, resumably and
sharded over ``torchrun`` processes; :class:`TokenStore` reads it back
(tokens, index, decoded signals), and
:class:`mne_neurorvq.training.TokenWindowDataset` feeds it to pre-training.

- :mod:`~mne_neurorvq.corpus.discovery`: the recordings of a data set.
- :mod:`~mne_neurorvq.corpus.recording`: one recording through the
  tokenizer estimator, and back through its decoder.
- :mod:`~mne_neurorvq.corpus.store`: the store layout, atomic commits,
  :class:`TokenStore`.
- :mod:`~mne_neurorvq.corpus.sharding`: shares of the recordings per process.
- :mod:`~mne_neurorvq.corpus.writer`: the resumable, sharded run.
"""

from importlib import import_module

#: Public names and the submodule that defines them (imported on first use,
#: so that the command line stays light).
_LAZY = {
    "Recording": "discovery",
    "find_corpus_recordings": "discovery",
    "decode_tokens": "recording",
    "tokenize_raw": "recording",
    "TokenStore": "store",
    "CorpusSummary": "writer",
    "tokenize_corpus": "writer",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
