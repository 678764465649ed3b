"""PyTorch implementation of the NeuroRVQ tokenizer and foundation model."""

from .config import FoundationConfig, TokenizerConfig
from .foundation import NeuroRVQFoundation, pretraining_loss
from .quantizer import ResidualVQ, cosine_kmeans
from .temporal_conv import MultiScaleTemporalConv
from .tokenizer import NeuroRVQTokenizerModel, as_patches
from .transformer import token_indices

__all__ = [
    "FoundationConfig",
    "MultiScaleTemporalConv",
    "NeuroRVQFoundation",
    "NeuroRVQTokenizerModel",
    "ResidualVQ",
    "TokenizerConfig",
    "as_patches",
    "cosine_kmeans",
    "pretraining_loss",
    "token_indices",
]
