"""Token corpora: tokenize a BIDS data set or a folder into a token store.

:func:`tokenize_corpus` (or ``mne-neurorvq tokenize-corpus``) writes every
recording's tokens to a Zarr v3 store with a Parquet index, resumably and
sharded over ``torchrun`` processes; :class:`TokenStore` reads it back
(tokens, index, decoded signals), and
:class:`mne_neurorvq.training.TokenWindowDataset` feeds it to pre-training.
"""

from .discovery import Recording, find_corpus_recordings
from .recording import decode_tokens, tokenize_raw
from .store import TokenStore
from .writer import CorpusSummary, tokenize_corpus

__all__ = [
    "CorpusSummary",
    "Recording",
    "TokenStore",
    "decode_tokens",
    "find_corpus_recordings",
    "tokenize_corpus",
    "tokenize_raw",
]
