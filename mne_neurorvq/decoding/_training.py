"""Self-supervised training inside ``fit`` (``weights=None``).

A :class:`~mne_neurorvq.decoding.NeuroRVQTokenizer` without weights learns its
codebooks from the epochs given to ``fit``; a
:class:`~mne_neurorvq.decoding.NeuroRVQEmbedder` without weights trains a
tokenizer and then pre-trains a foundation model on its tokens. Labels are
never used, so this runs inside cross-validation folds without leakage.
"""

from __future__ import annotations

import tempfile

import numpy as np

from ..nn.checkpoints import (
    PRETRAINING_KEY_PATTERN,
    load_foundation,
    published_state_dict,
)
from ..preprocessing import MAX_TOKENS, PATCH_SIZE

#: Training settings used unless ``train_params`` overrides them: sized so that
#: a few hundred epochs train in about a minute on two CPU cores.
DEFAULT_TRAIN_PARAMS = {
    "epochs": 10,
    "batch_size": 32,
    "lr": 1e-3,
    "progress": False,
    "verbose": False,
}
#: Configuration preset used when ``config`` is None.
DEFAULT_PRESET = "small"


def _dataset(
    data: np.ndarray,
    chan_idx: np.ndarray,
    patch_size: int = PATCH_SIZE,
    max_tokens: int = MAX_TOKENS,
):
    from ..training import WindowDataset

    n_channels, n_times = data.shape[1:]
    n_patches = min(n_times // patch_size, max_tokens // n_channels)
    if (patch_size, max_tokens) == (PATCH_SIZE, MAX_TOKENS):
        return WindowDataset.from_arrays(data, chan_idx=chan_idx, seconds=n_patches)
    # other modalities: windows of n_patches patches, as prepared
    length = n_patches * patch_size
    n_windows = n_times // length
    windows = data[..., : n_windows * length].reshape(
        data.shape[0], n_channels, n_windows, length
    )
    windows = windows.transpose(0, 2, 1, 3).reshape(-1, n_channels, length)
    return WindowDataset(
        [(windows, chan_idx)], patch_size=patch_size, max_tokens=max_tokens
    )


def _trainer_kwargs(train_params, random_state, verbose):
    params = dict(DEFAULT_TRAIN_PARAMS)
    if verbose:
        params.update(progress=True, verbose=True)
    params.update(train_params or {})
    params["seed"] = 0 if random_state is None else int(random_state)
    return params


def _fit(task, data, chan_idx, train_params, device, random_state, verbose):
    """Train ``task`` on the epochs in a temporary folder; the fit result."""
    from ..training import Trainer

    config = getattr(task, "config", None)
    sizes = (
        {}
        if config is None
        else dict(patch_size=config.patch_size, max_tokens=config.n_patches)
    )
    with tempfile.TemporaryDirectory(prefix=f"neurorvq-{task.name}-") as out:
        return Trainer(
            task,
            _dataset(data, chan_idx, **sizes),
            out,
            device=device,
            **_trainer_kwargs(train_params, random_state, verbose),
        ).fit()


def train_tokenizer(
    data,
    chan_idx,
    config,
    train_params,
    device,
    random_state,
    verbose,
    modality="eeg",
):
    """Train a tokenizer on prepared epochs (float32, the modality's unit/rate).

    Returns the model in eval mode on ``device``.
    """
    from ..training import TokenizerTraining, tokenizer_preset

    if config is None:
        config = tokenizer_preset(DEFAULT_PRESET, modality=modality)
    task = TokenizerTraining(config)
    result = _fit(task, data, chan_idx, train_params, device, random_state, verbose)
    return result.model.to(device).eval()


def train_foundation(
    tokenizer, data, chan_idx, config, train_params, device, random_state, verbose
):
    """Pre-train a foundation model on ``tokenizer``'s tokens of ``data``.

    Returns the encoder (no pre-training heads) in eval mode on ``device``.
    """
    from ..training import PretrainingTask, foundation_preset

    if config is None:
        config = foundation_preset(DEFAULT_PRESET, tokenizer=tokenizer.config)
    task = PretrainingTask(tokenizer, config)
    result = _fit(task, data, chan_idx, train_params, device, random_state, verbose)
    state = {
        key: value
        for key, value in published_state_dict(result.model).items()
        if not PRETRAINING_KEY_PATTERN.match(key)
    }
    return load_foundation(state, config=result.model.config, device=device)


def check_train_params(train_params):
    """Validate ``train_params`` (a dict of TrainingConfig fields or None)."""
    if train_params is None:
        return
    from ..training import TrainingConfig

    if not isinstance(train_params, dict):
        raise TypeError(
            f"train_params must be a dict or None, got {type(train_params).__name__}"
        )
    TrainingConfig(**{**DEFAULT_TRAIN_PARAMS, **train_params})  # names the bad key
