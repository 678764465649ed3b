"""EEG channel names: the vocabulary, cleaning, matching, bipolar names.

Map recording channel names onto the NeuroRVQ channel vocabulary.

NeuroRVQ gives every token a spatial index: the position of its channel in a
fixed list of 104 lower-case electrode names (:data:`CHANNEL_VOCABULARY`). The
list, including its odd entries (``p08``, ``eog``, ``loc``, ``roc``, ``sp1``,
``sp2``), is part of the published checkpoints, so it must not be reordered.

Recordings name their channels in many ways (``'EEG Fp1'``, ``'Fc5.'``,
``'FP1-REF'``). :func:`clean_channel_name` turns such a name into the form used
by the vocabulary, and :func:`match_channels` / :func:`match_info` decide which
channels of a recording are used and at which vocabulary index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from mne import Info
from mne.utils import _check_option, _validate_type, logger, verbose

from .._warnings import warn
from ..modalities import EEG_VOCABULARY

#: The 104 channel names of the NeuroRVQ checkpoints, in checkpoint order
#: (the EEG record's vocabulary, :mod:`mne_neurorvq.modalities`). A channel's
#: spatial index is its position here (``'a1'`` is 0).
CHANNEL_VOCABULARY: tuple[str, ...] = EEG_VOCABULARY

_VOCABULARY_INDEX = {name: index for index, name in enumerate(CHANNEL_VOCABULARY)}

#: ``EEG `` / ``EEG-`` / ``EEG_`` prefixes (EDF exports, EEGMAT, TUH).
_EEG_PREFIX = re.compile(r"^eeg[ _-]+")
#: Reference suffixes of referential montages (``FP1-REF``, ``C3-A2``, ...).
_REFERENCE_SUFFIXES = ("-ref", "-le", "-re", "-ar", "-avg", "-m1", "-m2", "-a1", "-a2")
#: Suffixes that name an ear or mastoid electrode rather than a reference scheme.
_EAR_MASTOID_SUFFIXES = ("-m1", "-m2", "-a1", "-a2")
#: Ear and mastoid electrodes: a difference of two of them is a reference channel.
_EAR_MASTOID_ELECTRODES = ("a1", "a2", "m1", "m2")

_ON_UNKNOWN_OPTIONS = ("ignore", "warn", "raise")
_N_VOCABULARY_EXAMPLES = 8


def clean_channel_name(name: str) -> str:
    """Convert a recording's channel name to the NeuroRVQ vocabulary form.

    The rules, applied in this order:

    1. strip surrounding white space and lower-case;
    2. strip a leading ``EEG`` prefix followed by a space, ``-`` or ``_``;
    3. strip the trailing dots of BCI2000 names (``'Fc5.'``, ``'Cz..'``);
    4. strip one reference suffix (``-REF``, ``-LE``, ``-RE``, ``-AR``, ``-AVG``,
       ``-M1``, ``-M2``, ``-A1``, ``-A2``), but only when what remains is a
       vocabulary name, and never from a difference of two ear/mastoid
       electrodes: ``'EEG A2-A1'`` stays ``'a2-a1'``, which is not in the
       vocabulary, so this reference channel is not mistaken for ``a2``.

    Legacy 10-20 names are kept as they are (``'T3'`` gives ``'t3'``): the
    vocabulary holds ``t3``-``t6`` as well as ``t7``, ``t8``, ``p7`` and ``p8``.

    Parameters
    ----------
    name : str
        The channel name as stored in the recording.

    Returns
    -------
    clean_name : str
        The cleaned name. It is a vocabulary name only when the channel can be
        used; check with ``clean_name in CHANNEL_VOCABULARY``.

    Examples
    --------
    >>> clean_channel_name("EEG Fp1")
    'fp1'
    >>> clean_channel_name("Cz..")
    'cz'
    >>> clean_channel_name("EEG FP1-REF")
    'fp1'
    >>> clean_channel_name("EEG A2-A1")
    'a2-a1'
    """
    _validate_type(name, str, "name")
    clean_name = _EEG_PREFIX.sub("", name.strip().lower())
    clean_name = clean_name.rstrip(".").strip()
    return _strip_reference_suffix(clean_name)


def _strip_reference_suffix(clean_name: str) -> str:
    """Strip a reference suffix when that leaves a vocabulary name."""
    for suffix in _REFERENCE_SUFFIXES:
        if not clean_name.endswith(suffix):
            continue
        electrode = clean_name[: -len(suffix)]
        is_ear_difference = (
            suffix in _EAR_MASTOID_SUFFIXES and electrode in _EAR_MASTOID_ELECTRODES
        )
        if electrode in _VOCABULARY_INDEX and not is_ear_difference:
            return electrode
    return clean_name


@dataclass(frozen=True, eq=False)
class ChannelMatch:
    """Which channels of a recording NeuroRVQ uses, and at which indices.

    Returned by :func:`match_channels` and :func:`match_info`. The arrays are
    read-only.

    Attributes
    ----------
    picks : ndarray of int64, shape (n_used,)
        Indices, into the channel list that was matched, of the channels used,
        in input order. Use them to select the data: ``data[:, match.picks]``.
    ch_names : tuple of str
        The original names of the channels used, in input order.
    clean_names : tuple of str
        The vocabulary names of the channels used (see
        :func:`clean_channel_name`).
    vocab_idx : ndarray of int64, shape (n_used,)
        Each used channel's index in :data:`CHANNEL_VOCABULARY`: the spatial
        index of its tokens.
    unmatched : tuple of (str, str)
        ``(original name, reason)`` for every channel that is not used.

    Examples
    --------
    >>> from mne_neurorvq.channels import match_channels
    >>> names, types = ["EEG Cz", "EEG Oz", "ECG"], ["eeg", "eeg", "ecg"]
    >>> match = match_channels(names, types, verbose=False)
    >>> match.n_channels, match.clean_names, match.unmatched_names
    (2, ('cz', 'oz'), ('ECG',))
    """

    picks: np.ndarray
    ch_names: tuple[str, ...]
    clean_names: tuple[str, ...]
    vocab_idx: np.ndarray
    unmatched: tuple[tuple[str, str], ...]

    @property
    def n_channels(self) -> int:
        """Number of channels used."""
        return len(self.ch_names)

    @property
    def unmatched_names(self) -> tuple[str, ...]:
        """Original names of the channels that are not used."""
        return tuple(name for name, _ in self.unmatched)


@verbose
def match_channels(
    ch_names: Sequence[str],
    ch_types: Sequence[str] | None = None,
    on_unknown: str = "ignore",
    *,
    verbose=None,
) -> ChannelMatch:
    """Match channel names to the NeuroRVQ channel vocabulary.

    Each name is cleaned with :func:`clean_channel_name`. A channel is used
    when its type is ``'eeg'`` (or ``ch_types`` is None) and its cleaned name
    is in :data:`CHANNEL_VOCABULARY`. Channels of another type (ECG, EOG,
    misc, stim, ...) are always left out without a message; EEG channels whose
    name is not in the vocabulary are handled according to ``on_unknown``.

    Parameters
    ----------
    ch_names : sequence of str
        The channel names of the recording, e.g. ``epochs.ch_names``.
    ch_types : sequence of str | None
        The channel type of each name, e.g. ``epochs.get_channel_types()``.
        If None, every channel is treated as EEG.
    on_unknown : ``'ignore'`` | ``'warn'`` | ``'raise'``
        What to do with EEG channels whose name is not in the vocabulary:
        leave them out silently (logged at info level), leave them out with a
        warning, or raise a ``ValueError`` that lists them.
    verbose : bool | str | int | None
        Control verbosity of the logging output (MNE's convention). At info
        level the channels left out are logged with their reasons.

    Returns
    -------
    match : ChannelMatch
        The channels used (``picks``, ``ch_names``, ``clean_names``,
        ``vocab_idx``) and those left out (``unmatched``, with reasons).

    Raises
    ------
    ValueError
        If no channel matches the vocabulary, if two channels clean to the same
        vocabulary name, or if ``on_unknown='raise'`` and some EEG channels are
        not in the vocabulary.

    Examples
    --------
    >>> names = ["EEG Fp1", "EEG Cz", "EEG A2-A1", "ECG ECG"]
    >>> match = match_channels(names, verbose=False)
    >>> match.clean_names
    ('fp1', 'cz')
    >>> match.picks.tolist(), match.vocab_idx.tolist()
    ([0, 1], [55, 36])
    >>> match.unmatched_names
    ('EEG A2-A1', 'ECG ECG')
    """
    ch_names, ch_types = _check_names_and_types(ch_names, ch_types)
    _check_option("on_unknown", on_unknown, _ON_UNKNOWN_OPTIONS)

    picks, clean_names, unmatched, unknown_eeg = [], [], [], []
    for index, (name, ch_type) in enumerate(zip(ch_names, ch_types, strict=True)):
        clean_name = clean_channel_name(name)
        if ch_type != "eeg":
            unmatched.append((name, f"not an EEG channel (type {ch_type!r})"))
        elif clean_name not in _VOCABULARY_INDEX:
            reason = f"not in the NeuroRVQ vocabulary (cleaned to {clean_name!r})"
            unmatched.append((name, reason))
            unknown_eeg.append(name)
        else:
            picks.append(index)
            clean_names.append(clean_name)

    if not picks:
        raise ValueError(_no_match_message(ch_names, ch_types))
    _check_no_duplicates([ch_names[pick] for pick in picks], clean_names)
    _handle_unknown(unknown_eeg, on_unknown)
    return _channel_match(ch_names, picks, clean_names, _VOCABULARY_INDEX, unmatched)


def _channel_match(ch_names, picks, clean_names, index_of, unmatched) -> ChannelMatch:
    """The :class:`ChannelMatch` of a matching; logs the channels left out."""
    if unmatched:
        left_out = "; ".join(f"{name!r}: {reason}" for name, reason in unmatched)
        logger.info(f"NeuroRVQ: not using {len(unmatched)} channel(s): {left_out}.")
    return ChannelMatch(
        picks=_read_only_int64(picks),
        ch_names=tuple(ch_names[pick] for pick in picks),
        clean_names=tuple(clean_names),
        vocab_idx=_read_only_int64([index_of[name] for name in clean_names]),
        unmatched=tuple(unmatched),
    )


@verbose
def match_info(info: Info, on_unknown: str = "ignore", *, verbose=None) -> ChannelMatch:
    """Match the channels of an :class:`mne.Info` to the NeuroRVQ vocabulary.

    Same as :func:`match_channels` with the channel names and types of
    ``info``: only channels of type ``'eeg'`` can be used. Set the type of
    non-EEG channels that are stored as EEG first, e.g.
    ``raw.set_channel_types({"ECG ECG": "ecg"})``.

    Parameters
    ----------
    info : mne.Info
        The measurement info, e.g. ``epochs.info``.
    on_unknown : ``'ignore'`` | ``'warn'`` | ``'raise'``
        What to do with EEG channels whose name is not in the vocabulary (see
        :func:`match_channels`).
    verbose : bool | str | int | None
        Control verbosity of the logging output (MNE's convention).

    Returns
    -------
    match : ChannelMatch
        The channels used and those left out. ``match.picks`` indexes
        ``info["ch_names"]``.

    Examples
    --------
    >>> import mne
    >>> info = mne.create_info(["Fp1", "Cz", "ECG"], 200.0, ["eeg", "eeg", "ecg"])
    >>> match_info(info, verbose=False).clean_names
    ('fp1', 'cz')
    """
    _validate_type(info, Info, "info", "mne.Info")
    return match_channels(
        info["ch_names"], info.get_channel_types(), on_unknown=on_unknown
    )


def _check_names_and_types(
    ch_names: Sequence[str], ch_types: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    """Validate the names and types and return them as lists."""
    _validate_type(ch_names, (list, tuple), "ch_names", "list or tuple of str")
    for name in ch_names:
        _validate_type(name, str, "each channel name")
    if ch_types is None:
        return list(ch_names), ["eeg"] * len(ch_names)
    _validate_type(ch_types, (list, tuple), "ch_types", "list or tuple of str or None")
    if len(ch_types) != len(ch_names):
        raise ValueError(
            "ch_types must have one entry per channel name: expected "
            f"{len(ch_names)} types, got {len(ch_types)}."
        )
    return list(ch_names), list(ch_types)


def _no_match_message(ch_names: list[str], ch_types: list[str]) -> str:
    """Explain that no channel matched the vocabulary."""
    n_eeg = sum(ch_type == "eeg" for ch_type in ch_types)
    examples = ", ".join(CHANNEL_VOCABULARY[:_N_VOCABULARY_EXAMPLES])
    return (
        "None of the channels matches the NeuroRVQ channel vocabulary: expected at "
        f"least one EEG channel named like {examples}, ... (104 names, see "
        f"mne_neurorvq.channels.CHANNEL_VOCABULARY), got {len(ch_names)} channels "
        f"({n_eeg} of type 'eeg'): {ch_names}. Rename the channels with "
        "mne.rename_channels or set their types with set_channel_types."
    )


def _check_no_duplicates(used_names: list[str], clean_names: list[str]) -> None:
    """Raise if two used channels clean to the same vocabulary name."""
    first_name_of = {}
    for name, clean_name in zip(used_names, clean_names, strict=True):
        if clean_name in first_name_of:
            raise ValueError(
                "Each vocabulary channel may be used only once, but channels "
                f"{first_name_of[clean_name]!r} and {name!r} both map to "
                f"{clean_name!r}. Drop or rename one of them."
            )
        first_name_of[clean_name] = name


def _handle_unknown(unknown_eeg: list[str], on_unknown: str) -> None:
    """Warn or raise about EEG channels that are not in the vocabulary."""
    if not unknown_eeg or on_unknown == "ignore":
        return
    message = (
        f"{len(unknown_eeg)} EEG channel(s) are not in the NeuroRVQ channel "
        f"vocabulary and cannot be used: {unknown_eeg}. Rename them to vocabulary "
        "names with mne.rename_channels, set their type if they are not scalp EEG "
        "(set_channel_types), or drop them (drop_channels)."
    )
    if on_unknown == "raise":
        raise ValueError(message)
    warn(message + " Pass on_unknown='ignore' to leave them out silently.")


def _read_only_int64(values: list[int]) -> np.ndarray:
    """Return a read-only int64 array of ``values``."""
    array = np.asarray(values, dtype=np.int64)
    array.setflags(write=False)
    return array


# ------------------------------------------------------- bipolar derivations


def bipolar_active_electrode(name: str) -> str:
    """The active (first) electrode of a bipolar channel, e.g. ``'Fpz'``.

    A bipolar derivation ``X-Y`` (``'EEG Fpz-Cz'`` of Sleep-EDF) records the
    potential of electrode ``X`` against electrode ``Y``. It has no place of
    its own in the vocabulary, so :func:`clean_channel_name` and
    :func:`match_channels` never use it. This function is the explicit rule
    for recordings that only have such channels: call it (and rename the
    channel) when it is acceptable to treat the derivation as its active
    electrode ``X``, whose spatial index its tokens then get. Nothing in this
    package applies it implicitly; the Sleep-EDF loader of
    :mod:`mne_neurorvq.benchmark` does, and says so.

    The rule: strip the ``EEG`` prefix and BCI2000 dots as
    :func:`clean_channel_name` does, split the name at its one ``-``, and
    require both sides to be vocabulary electrodes, not two ear/mastoid
    electrodes (``'A2-A1'`` is a reference channel, not a derivation of
    ``A2``).

    Parameters
    ----------
    name : str
        The channel name, e.g. ``'EEG Fpz-Cz'``.

    Returns
    -------
    electrode : str
        The active electrode as spelled in ``name`` (``'Fpz'``); its
        :func:`clean_channel_name` is in :data:`CHANNEL_VOCABULARY`.

    Raises
    ------
    ValueError
        If ``name`` is not a bipolar derivation of two vocabulary electrodes.

    Examples
    --------
    >>> bipolar_active_electrode("EEG Fpz-Cz")
    'Fpz'
    >>> bipolar_active_electrode("EEG Pz-Oz")
    'Pz'
    """
    _validate_type(name, str, "name")
    stripped = re.sub(r"^eeg[ _-]+", "", name.strip(), flags=re.IGNORECASE)
    parts = stripped.rstrip(".").split("-")
    clean = [part.strip().lower() for part in parts]
    is_ear_difference = all(part in _EAR_MASTOID_ELECTRODES for part in clean)
    if (
        len(parts) != 2
        or not all(part in _VOCABULARY_INDEX for part in clean)
        or is_ear_difference
    ):
        raise ValueError(
            f"{name!r} is not a bipolar derivation of two NeuroRVQ vocabulary "
            "electrodes (expected a name like 'EEG Fpz-Cz'; ear/mastoid "
            "differences such as 'A2-A1' are reference channels)."
        )
    return parts[0].strip()
