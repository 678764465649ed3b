"""Map recording channel names onto the NeuroRVQ channel vocabulary.

NeuroRVQ gives every token a spatial index: the position of its channel in a
fixed list of 104 lower-case electrode names (:data:`CHANNEL_VOCABULARY`). The
list, including its odd entries (``p08``, ``eog``, ``loc``, ``roc``, ``sp1``,
``sp2``), is part of the published checkpoints, so it must not be reordered.

Recordings name their channels in many ways (``'EEG Fp1'``, ``'Fc5.'``,
``'FP1-REF'``). :func:`clean_channel_name` turns such a name into the form used
by the vocabulary, and :func:`match_channels` / :func:`match_info` decide which
channels of a recording are used and at which vocabulary index.
"""

from ._eeg import (
    CHANNEL_VOCABULARY,
    ChannelMatch,
    bipolar_active_electrode,
    clean_channel_name,
    match_channels,
    match_info,
)
from ._modalities import (
    MODALITY_CH_TYPES,
    MODALITY_VOCABULARIES,
    clean_modality_channel_name,
    infer_modality,
    match_modality_channels,
)

__all__ = [
    "CHANNEL_VOCABULARY",
    "MODALITY_CH_TYPES",
    "MODALITY_VOCABULARIES",
    "ChannelMatch",
    "bipolar_active_electrode",
    "clean_channel_name",
    "clean_modality_channel_name",
    "infer_modality",
    "match_channels",
    "match_info",
    "match_modality_channels",
]
