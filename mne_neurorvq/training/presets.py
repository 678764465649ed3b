"""Named model sizes for training: ``tiny``, ``small`` and ``published``.

- ``tiny``: for tests and smoke runs (seconds per epoch on a laptop).
- ``small``: a CPU-sized tokenizer (and foundation model) that learns real
  EEG in minutes on a few cores: model width 100 (4 convolution channels per
  branch), 2 encoder blocks, 1 decoder block, 4 scales x 4 levels of 512
  codes of width 32.
- ``published``: the configuration of the published checkpoints (76 M
  parameters; needs a GPU).

A JSON file with :class:`~mne_neurorvq.nn.TokenizerConfig` (or
:class:`~mne_neurorvq.nn.FoundationConfig`) fields can be given instead.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..nn.config import FoundationConfig, TokenizerConfig

__all__ = ["PRESETS", "foundation_preset", "tokenizer_preset"]

#: Names understood by :func:`tokenizer_preset` and :func:`foundation_preset`.
PRESETS = ("tiny", "small", "published")

_SMALL_TOKENIZER = dict(
    conv_channels=4,
    embed_dim=100,
    num_heads=5,
    encoder_depth=2,
    decoder_depth=1,
    n_code=512,
    code_dim=32,
    n_levels=4,
)
#: Foundation depth of each preset.
_FOUNDATION_DEPTH = {"tiny": 1, "small": 4, "published": 12}


def _read_json(path) -> dict:
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(
            f"Unknown configuration {str(path)!r}: use one of {PRESETS} or a JSON file"
        )
    values = json.loads(path.read_text())
    if "config" in values and isinstance(values["config"], dict):
        values = values["config"]  # a run.json / describe() output
    return values


def tokenizer_preset(name_or_path: str, **changes) -> TokenizerConfig:
    """Tokenizer configuration of a preset name or a JSON file.

    Parameters
    ----------
    name_or_path : str
        ``'tiny'``, ``'small'``, ``'published'`` or a JSON file of fields.
    **changes
        Fields to override.

    Returns
    -------
    TokenizerConfig

    Examples
    --------
    >>> tokenizer_preset("small").embed_dim
    100
    """
    if name_or_path == "tiny":
        return TokenizerConfig.tiny(**changes)
    if name_or_path == "small":
        # the modality's sizes (EEG by default) at half the published width
        modality = changes.pop("modality", "eeg")
        small = dict(_SMALL_TOKENIZER)
        patch = TokenizerConfig.for_modality(modality).patch_size
        small["embed_dim"] = small["conv_channels"] * patch // 8
        return TokenizerConfig.for_modality(modality, **{**small, **changes})
    if name_or_path == "published":
        return TokenizerConfig().replace(**changes)
    return TokenizerConfig.from_dict({**_read_json(name_or_path), **changes})


def foundation_preset(
    name_or_path: str, tokenizer: TokenizerConfig, **changes
) -> FoundationConfig:
    """Foundation configuration of a preset (or JSON file) for ``tokenizer``.

    A preset shares the tokenizer's encoder sizes (width, heads, convolution
    channels) and predicts its tokens (scales, levels, vocabulary); only the
    depth differs. A JSON file gives the fields directly (the vocabulary,
    scales and levels are taken from the tokenizer when absent).

    Parameters
    ----------
    name_or_path : str
    tokenizer : TokenizerConfig
    **changes
        Fields to override.

    Returns
    -------
    FoundationConfig

    Examples
    --------
    >>> from mne_neurorvq.nn import TokenizerConfig
    >>> config = foundation_preset("tiny", TokenizerConfig.tiny())
    >>> config.depth, config.vocab_size, config.n_scales, config.n_levels
    (1, 64, 4, 2)
    """
    if name_or_path in _FOUNDATION_DEPTH:
        values = {"depth": _FOUNDATION_DEPTH[name_or_path], **changes}
        return FoundationConfig.for_tokenizer(tokenizer, **values)
    values = _read_json(name_or_path)
    for key, value in (
        ("vocab_size", tokenizer.n_code),
        ("n_scales", tokenizer.n_scales),
        ("n_levels", tokenizer.n_levels),
    ):
        values.setdefault(key, value)
    return FoundationConfig.from_dict({**values, **changes})
