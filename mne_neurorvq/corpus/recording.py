"""One recording through the tokenizer estimator, and back through its decoder."""

from __future__ import annotations

import warnings

import numpy as np

from ..nn.config import MODALITIES
from ..preprocessing import MODALITY_UNITS

__all__ = ["decode_tokens", "tokenize_raw"]

#: What ``weights=None`` stands for: the published tokenizer of the modality
#: (the estimator's default).
PUBLISHED_DEFAULT = "neurorvq-eeg-tokenizer-v1"
_VOLTS_PER_UNIT = {"uV": 1e-6, "mV": 1e-3, None: 1.0}
_CHANNEL_TYPES = {"eeg": "eeg", "ecg": "ecg", "emg": "emg", "ppg": "misc"}


def tokenize_raw(
    raw,
    weights=None,
    *,
    modality="eeg",
    recipe=None,
    segment_seconds: float = 600.0,
    channel_map=None,
    device="cpu",
    batch_size: int = 32,
    verbose=False,
):
    """Tokens of a continuous recording, exactly as the tokenizer gives them.

    The recording is cut into consecutive segments of ``segment_seconds``
    (the last one shorter; a tail shorter than one patch is dropped). Each
    segment becomes an :class:`mne.EpochsArray` of one epoch and goes through
    :class:`mne_neurorvq.decoding.NeuroRVQTokenizer` (channel matching, units,
    recipe, resampling and the windowing by the token budget of the
    estimator); the segments' tokens are concatenated along time. A
    recording no longer than ``segment_seconds`` is thus one epoch.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (need not be preloaded: segments are read one by one).
    weights : str | path-like | None
        Tokenizer weights; None: the published tokenizer of the modality.
    modality : ``"eeg"`` | ``"ecg"`` | ``"emg"`` | ``"ppg"`` | ``"auto"``
        See :class:`~mne_neurorvq.decoding.NeuroRVQTokenizer`.
    recipe : None | ``"authors"`` | ``"benchmark"``
        Filtering recipe of the estimator.
    segment_seconds : float
        Longest stretch given to the estimator at once (memory bound).
    channel_map : dict of str to str | None
        Vocabulary names of some channels, by their name in the recording
        (see :class:`~mne_neurorvq.decoding.NeuroRVQTokenizer`). Names the
        recording does not have are ignored: one map serves a whole corpus.
    device, batch_size, verbose
        Passed to the estimator.

    Returns
    -------
    tokens : ndarray of uint16, shape (n_channels, n_patches, n_scales, n_levels)
    tokenizer : NeuroRVQTokenizer
        The fitted estimator of the first segment (``ch_names_``,
        ``input_chans_``, ``modality_``, ``model_.config``).

    Examples
    --------
    >>> import mne
    >>> raw = mne.io.read_raw_edf("sub-01_eeg.edf")  # doctest: +SKIP
    >>> tokens, tokenizer = tokenize_raw(raw)  # doctest: +SKIP
    >>> tokens.dtype, tokens.shape  # 19 channels, 60 s  # doctest: +SKIP
    (dtype('uint16'), (19, 60, 4, 8))
    """
    import mne

    from ..decoding import NeuroRVQTokenizer

    channel_map = _present(channel_map, raw.ch_names)
    sfreq = float(raw.info["sfreq"])
    step = max(int(round(segment_seconds * sfreq)), 1)
    fitted: dict[int, NeuroRVQTokenizer] = {}
    first, pieces = None, []
    for start in range(0, raw.n_times, step):
        stop = min(start + step, raw.n_times)
        if first is not None:
            preset = MODALITIES[first.modality_]
            if round((stop - start) * preset.sfreq / sfreq) < preset.patch_size:
                break  # a tail shorter than one patch, as the estimator crops
        data = raw.get_data(start=start, stop=stop)
        epochs = mne.EpochsArray(data[np.newaxis], raw.info, verbose=False)
        tokenizer = fitted.get(stop - start)
        if tokenizer is None:
            tokenizer = NeuroRVQTokenizer(
                PUBLISHED_DEFAULT if weights is None else weights,
                modality=modality,
                recipe=recipe,
                channel_map=channel_map,
                device=device,
                batch_size=batch_size,
                verbose=verbose,
            )
            tokens = tokenizer.fit_transform(epochs)
            fitted[stop - start] = tokenizer
        else:
            tokens = tokenizer.transform(epochs)
        first = first or tokenizer
        config = tokenizer.model_.config
        pieces.append(
            tokens.reshape(
                len(tokenizer.ch_names_), -1, config.n_scales, config.n_levels
            )
        )
    tokens = np.concatenate(pieces, axis=1)
    if tokens.size and (tokens.min() < 0 or tokens.max() > np.iinfo(np.uint16).max):
        raise ValueError("Token indices do not fit in uint16.")
    return tokens.astype(np.uint16), first


def decode_tokens(
    tokens,
    ch_names,
    modality,
    weights,
    *,
    segment_patches=None,
    channel_map=None,
    device="cpu",
    verbose=False,
):
    """Rebuild a recording from its tokens, segment by segment.

    Each segment of ``segment_patches`` patches (the segments of
    :func:`tokenize_raw`) is decoded with
    :meth:`mne_neurorvq.decoding.NeuroRVQTokenizer.inverse_transform` (one
    epoch; every window standardised).

    Parameters
    ----------
    tokens : array-like of int, shape (n_channels, n_patches, n_scales, n_levels)
    ch_names : list of str
        The channels (original names, matched again to the vocabulary).
    modality : str
        The modality of the tokens.
    weights : str | path-like
        The tokenizer that made them.
    segment_patches : int | None
        Patches per segment (None: one segment).
    channel_map : dict of str to str | None
        The mapping the tokens were made with (see :func:`tokenize_raw`).
    device : str
    verbose : bool | str | int | None

    Returns
    -------
    raw : mne.io.RawArray
        Standardised reconstruction at the model rate, in SI units.

    Examples
    --------
    >>> tokens, tokenizer = tokenize_raw(raw)  # doctest: +SKIP
    >>> rebuilt = decode_tokens(
    ...     tokens, tokenizer.ch_names_, "eeg", "tokenizer.pt"
    ... )  # doctest: +SKIP
    >>> rebuilt.info["sfreq"]  # doctest: +SKIP
    200.0
    """
    import mne

    from ..decoding import NeuroRVQTokenizer

    channel_map = _present(channel_map, ch_names)
    tokens = np.asarray(tokens, dtype=np.int64)
    n_channels, n_patches = tokens.shape[:2]
    preset = MODALITIES[modality]
    step = int(segment_patches or n_patches)
    fitted: dict[int, NeuroRVQTokenizer] = {}
    pieces = []
    for start in range(0, n_patches, step):
        part = tokens[:, start : start + step]
        length = part.shape[1]
        tokenizer = fitted.get(length)
        if tokenizer is None:
            tokenizer = NeuroRVQTokenizer(
                weights,
                modality=modality,
                ch_names=list(ch_names),
                sfreq=preset.sfreq,
                units=MODALITY_UNITS[modality] or "V",
                channel_map=channel_map,
                device=device,
                verbose=verbose,
            )
            zeros = np.zeros((1, n_channels, length * preset.patch_size))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # no amplitude to check
                tokenizer.fit(zeros)
            if tokenizer.ch_names_ != list(ch_names):
                raise ValueError(
                    f"The channels {ch_names} do not all match the {modality} "
                    f"vocabulary again (matched: {tokenizer.ch_names_})."
                )
            fitted[length] = tokenizer
        pieces.append(tokenizer.inverse_transform(part.reshape(1, -1))[0])
    data = np.concatenate(pieces, axis=1).astype(np.float64)
    info = mne.create_info(
        list(ch_names), preset.sfreq, _CHANNEL_TYPES[modality], verbose=False
    )
    scale = _VOLTS_PER_UNIT[MODALITY_UNITS[modality]]
    return mne.io.RawArray(data * scale, info, verbose=False)


def _present(channel_map, ch_names) -> dict | None:
    """The part of ``channel_map`` that names channels of this recording."""
    names = set(ch_names)
    present = {k: v for k, v in (channel_map or {}).items() if k in names}
    return present or None
