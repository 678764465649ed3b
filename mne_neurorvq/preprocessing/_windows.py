"""Patches and windows: cut epochs to the model's patch and token budget."""

from __future__ import annotations

import math

import numpy as np
from mne.utils import _validate_type

from .._warnings import warn
from ._units import MAX_TOKENS, PATCH_SIZE

# ---------------------------------------------------------- patches, windows


def crop_to_patches(data, patch_size: int = PATCH_SIZE) -> tuple[np.ndarray, int]:
    """Crop the time axis to a whole number of patches.

    Trailing samples that do not fill a patch are dropped, with a warning that
    says how many.

    Parameters
    ----------
    data : ndarray, shape (..., n_times)
        The data at the model rate (``patch_size`` samples per second).
    patch_size : int
        Samples per patch (200: one second at 200 Hz).

    Returns
    -------
    cropped : ndarray, shape (..., n_patches * patch_size)
        A view of ``data`` without the trailing samples.
    n_patches : int
        Number of patches per channel.

    Raises
    ------
    ValueError
        If ``data`` hold less than one patch.

    Examples
    --------
    >>> import numpy as np
    >>> cropped, n_patches = crop_to_patches(np.zeros((2, 3, 800)))
    >>> cropped.shape, n_patches
    ((2, 3, 800), 4)
    """
    _validate_type(patch_size, "int", "patch_size")
    if patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer, got {patch_size}.")
    data = np.asarray(data)
    n_times = data.shape[-1] if data.ndim else 0
    n_patches = n_times // patch_size
    if n_patches < 1:
        raise ValueError(
            f"Epochs must hold at least one patch of {patch_size} samples (1 s at "
            f"{patch_size} Hz), got {n_times} samples "
            f"({n_times / patch_size:g} s at {patch_size} Hz). Use longer epochs."
        )
    n_dropped = n_times - n_patches * patch_size
    if n_dropped:
        warn(
            f"Dropping the last {n_dropped} samples ({n_dropped / patch_size:g} s) "
            f"of each epoch: {n_times} samples are not a whole number of "
            f"{patch_size}-sample patches; {n_patches} patches are kept.",
        )
    return data[..., : n_patches * patch_size], n_patches


def plan_windows(
    n_channels: int, n_patches: int, max_tokens: int = MAX_TOKENS
) -> list[tuple[int, int]]:
    """Split an epoch's patches into windows that respect the token limit.

    A sample may hold at most ``max_tokens`` tokens (channels x patches), so a
    window holds at most ``max_patches = max_tokens // n_channels`` patches.
    The rule: use the fewest windows that fit,
    ``n_windows = ceil(n_patches / max_patches)``, and balance their lengths:
    every window gets ``n_patches // n_windows`` patches and the first
    ``n_patches % n_windows`` windows one more. Windows are contiguous, do not
    overlap and cover every patch, so nothing is cropped. For example 30
    patches of 19 channels (at most 13 per window) give 3 windows of 10
    patches, not 13, 13 and 4.

    Each window is passed to the model as a sample of its own (its temporal
    indices are right-aligned within the window). The estimators combine the
    windows of an epoch as follows: tokens are concatenated along time, in
    window order; embeddings are the average of the window embeddings,
    weighted by each window's number of patches.

    Parameters
    ----------
    n_channels : int
        Number of channels used.
    n_patches : int
        Number of patches per channel in the epoch.
    max_tokens : int
        Most tokens per sample (256 for the published models).

    Returns
    -------
    windows : list of (int, int)
        Patch ranges ``[start, stop)``, in order.

    Raises
    ------
    ValueError
        If ``n_channels > max_tokens``: one patch of every channel would
        already exceed the limit.

    Examples
    --------
    >>> plan_windows(19, 30)
    [(0, 10), (10, 20), (20, 30)]
    >>> plan_windows(64, 4)
    [(0, 4)]
    """
    for value, name in (
        (n_channels, "n_channels"),
        (n_patches, "n_patches"),
        (max_tokens, "max_tokens"),
    ):
        _validate_type(value, "int", name)
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}.")
    if n_channels > max_tokens:
        raise ValueError(
            f"Too many channels: {n_channels} channels give {n_channels} tokens per "
            f"patch, more than the model's limit of {max_tokens} tokens per sample. "
            f"Use at most {max_tokens} channels."
        )
    max_patches = max_tokens // n_channels
    n_windows = math.ceil(n_patches / max_patches)
    base_length, n_longer = divmod(n_patches, n_windows)
    windows, start = [], 0
    for window in range(n_windows):
        stop = start + base_length + (window < n_longer)
        windows.append((start, stop))
        start = stop
    return windows
