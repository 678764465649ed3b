"""Channel vocabularies and matching of the other modalities (ECG, PPG, EMG)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from mne.utils import _check_option, _validate_type, verbose

from .._warnings import warn
from ..modalities import FieldView
from ._eeg import (
    _ON_UNKNOWN_OPTIONS,
    ChannelMatch,
    _channel_match,
    _check_names_and_types,
    _check_no_duplicates,
    clean_channel_name,
    match_channels,
)

# ------------------------------------------------------------ other modalities
#
# The ECG, PPG and EMG tokenizers have vocabularies of their own (the names of
# the authors' inference modules, ``upstream-parity-multimodal/README.md``).
# This part is self-contained: EEG matching above does not depend on it.

#: Channel vocabulary of each modality, in checkpoint order (a channel's
#: spatial index is its position): a view of the modality records
#: (:mod:`mne_neurorvq.modalities`).
MODALITY_VOCABULARIES = FieldView("vocabulary")
#: MNE channel types whose channels a modality uses (a view of the records).
MODALITY_CH_TYPES = FieldView("ch_types")
#: Prefixes of ECG lead names (``'ECG II'``, ``'Lead II'``, ``'ECG-V1'``,
#: ``'EKG aVR'``, ``'Frank X'``), stripped repeatedly.
_ECG_PREFIX = re.compile(r"^(ecg|ekg|lead|frank)[ _.:-]*")
#: Frank orthogonal leads: ``X``/``Y``/``Z`` are ``vx``/``vy``/``vz``.
_FRANK = {"x": "vx", "y": "vy", "z": "vz"}
#: ECG channel names that name no lead (single-lead recordings).
_ECG_NO_LEAD = ("", "ecg", "ekg")
#: EMG names: an optional ``EMG`` prefix and ``c``/``ch``/``channel`` + number.
_EMG_NAME = re.compile(r"^(?:emg[ _.:-]*)?(?:c|ch|channel)?[ _-]*0*(\d+)$")
#: PPG names: ``PPG``, ``PLETH`` (BIDMC writes ``'PLETH,'``), ``ppg_c1``.
_PPG_NAMES = ("ppg", "pleth", "ppg_c1", "ppg1", "ppg_1", "ppg c1")


def clean_modality_channel_name(name: str, modality: str) -> str:
    """Convert a channel name to the vocabulary form of ``modality``.

    - ``"eeg"``: :func:`clean_channel_name`.
    - ``"ecg"``: lower-case, strip ``ECG``/``EKG``/``Lead``/``Frank``
      prefixes with their separators (``'ECG II'``, ``'Lead II'``,
      ``'ECG-V1'``, ``'EKG_aVR'``), and map the Frank leads ``X``, ``Y``,
      ``Z`` to ``vx``, ``vy``, ``vz``. A name with no lead left (``'ECG'``,
      ``'ECG ECG'``, ``'EKG'``) gives ``''``: say which lead it is (see
      :func:`match_modality_channels`).
    - ``"emg"``: ``c1`` ... ``c16``, from ``'EMG1'``, ``'EMG 3'``, ``'ch7'``,
      ``'C16'`` (leading zeros dropped).
    - ``"ppg"``: ``ppg_c1`` from ``'PPG'``, ``'Pleth'``, ``'PLETH,'``,
      ``'ppg_c1'``.

    Parameters
    ----------
    name : str
        The channel name as stored in the recording.
    modality : ``"eeg"`` | ``"ecg"`` | ``"ppg"`` | ``"emg"``
        The vocabulary to clean for.

    Returns
    -------
    clean_name : str
        The cleaned name; a vocabulary name only when the channel can be used.

    Examples
    --------
    >>> clean_modality_channel_name("ECG II", "ecg")
    'ii'
    >>> clean_modality_channel_name("Lead aVR", "ecg")
    'avr'
    >>> clean_modality_channel_name("Frank X", "ecg")
    'vx'
    >>> clean_modality_channel_name("ECG ECG", "ecg")
    ''
    >>> clean_modality_channel_name("EMG 07", "emg")
    'c7'
    >>> clean_modality_channel_name("PLETH,", "ppg")
    'ppg_c1'
    """
    _validate_type(name, str, "name")
    _check_option("modality", modality, tuple(MODALITY_VOCABULARIES))
    if modality == "eeg":
        return clean_channel_name(name)
    clean_name = name.strip().lower()
    if modality == "ecg":
        previous = None
        while previous != clean_name:
            previous, clean_name = clean_name, _ECG_PREFIX.sub("", clean_name)
        clean_name = clean_name.strip()
        return _FRANK.get(clean_name, clean_name)
    if modality == "emg":
        found = _EMG_NAME.match(clean_name)
        return f"c{int(found.group(1))}" if found else clean_name
    clean_name = clean_name.strip(" ,;.")
    if modality == "ppg":
        return "ppg_c1" if clean_name in _PPG_NAMES else clean_name
    return clean_name  # another modality: lower-case, stripped


@verbose
def match_modality_channels(
    ch_names: Sequence[str],
    ch_types: Sequence[str] | None = None,
    modality: str = "eeg",
    mapping: dict | None = None,
    on_unknown: str = "ignore",
    *,
    verbose=None,
) -> ChannelMatch:
    """Match channels to the vocabulary of one modality.

    A channel is used when its type is one of the modality's MNE types
    (EEG ``eeg``; ECG ``ecg``; EMG ``emg``; PPG ``bio`` or ``misc``) and its
    name, renamed by ``mapping`` and cleaned with
    :func:`clean_modality_channel_name`, is in the modality's vocabulary
    (:data:`MODALITY_VOCABULARIES`). ``ch_types=None`` (arrays) treats every
    channel as of the modality's type. A PPG channel is chosen by name (PPG,
    Pleth, ppg_c1) or explicitly, ``mapping={"my channel": "ppg_c1"}``.

    Single-lead ECG: a channel of type ``ecg`` whose name names no lead
    (``'ECG'``, ``'ECG ECG'`` as in EEGMAT) is an error, because the ECG
    tokenizer embeds each lead differently: say which lead it is, by renaming
    it (``epochs.rename_channels({"ECG ECG": "II"})``) or with
    ``mapping={"ECG ECG": "II"}``.

    Parameters
    ----------
    ch_names : sequence of str
        The channel names.
    ch_types : sequence of str | None
        The MNE type of each channel; None: all of the modality's type.
    modality : ``"eeg"`` | ``"ecg"`` | ``"ppg"`` | ``"emg"``
        The vocabulary to match.
    mapping : dict of str to str | None
        Vocabulary name (in any spelling cleaned by
        :func:`clean_modality_channel_name`) of some channels, by original
        name. Its channels are used whatever their type.
    on_unknown : ``"ignore"`` | ``"warn"`` | ``"raise"``
        What to do with channels of the modality's type whose name is not in
        its vocabulary (see :func:`match_channels`).
    verbose : bool | str | int | None
        Control verbosity of the logging output (MNE's convention).

    Returns
    -------
    match : ChannelMatch
        As :func:`match_channels`; ``vocab_idx`` indexes the modality's
        vocabulary.

    Raises
    ------
    ValueError
        If no channel matches, two channels map to the same name, an ECG
        channel names no lead, or ``on_unknown='raise'`` and some channels of
        the modality's type are not in its vocabulary.

    Examples
    --------
    >>> names = ["EEG Fz", "ECG II", "ECG V1"]
    >>> types = ["eeg", "ecg", "ecg"]
    >>> match = match_modality_channels(names, types, "ecg", verbose=False)
    >>> match.clean_names, match.vocab_idx.tolist()
    (('ii', 'v1'), [4, 6])
    >>> match_modality_channels(
    ...     ["ECG ECG"], ["ecg"], "ecg", mapping={"ECG ECG": "II"}, verbose=False
    ... ).clean_names
    ('ii',)
    """
    _check_option("modality", modality, tuple(MODALITY_VOCABULARIES))
    _check_option("on_unknown", on_unknown, _ON_UNKNOWN_OPTIONS)
    mapping = _check_mapping(mapping, ch_names)
    if modality == "eeg" and not mapping:
        return match_channels(ch_names, ch_types, on_unknown=on_unknown)
    wanted = MODALITY_CH_TYPES[modality]
    if ch_types is None:
        ch_types = [wanted[0]] * len(ch_names)
    ch_names, ch_types = _check_names_and_types(ch_names, ch_types)
    vocabulary = MODALITY_VOCABULARIES[modality]
    index_of = {name: index for index, name in enumerate(vocabulary)}
    picks, clean_names, unmatched, unknown = [], [], [], []
    for index, (name, ch_type) in enumerate(zip(ch_names, ch_types, strict=True)):
        explicit = name in mapping
        clean_name = clean_modality_channel_name(mapping.get(name, name), modality)
        if not explicit and ch_type not in wanted:
            unmatched.append((name, f"not a {modality.upper()} channel ({ch_type!r})"))
        elif modality == "ecg" and clean_name in _ECG_NO_LEAD:
            raise ValueError(_no_lead_message(name))
        elif clean_name not in index_of:
            reason = f"not in the {modality.upper()} vocabulary ({clean_name!r})"
            unmatched.append((name, reason))
            if explicit or modality != "ppg" or ch_type == "bio":
                unknown.append(name)
        else:
            picks.append(index)
            clean_names.append(clean_name)
    if not picks:
        raise ValueError(_no_modality_match_message(ch_names, ch_types, modality))
    _check_no_duplicates([ch_names[pick] for pick in picks], clean_names)
    if unknown and on_unknown != "ignore":
        message = (
            f"{len(unknown)} channel(s) of the {modality.upper()} type are not in "
            f"its vocabulary and cannot be used: {unknown}; the vocabulary is "
            f"{list(vocabulary)}. Rename them (rename_channels) or pass a mapping."
        )
        if on_unknown == "raise":
            raise ValueError(message)
        warn(message)
    return _channel_match(ch_names, picks, clean_names, index_of, unmatched)


def infer_modality(ch_names: Sequence[str], ch_types: Sequence[str] | None = None):
    """The one modality of a set of channels (``modality="auto"``).

    With channel types (Epochs): the modality of the data channels, EEG
    (``eeg``), ECG (``ecg``), EMG (``emg``) or PPG (a ``bio`` or ``misc``
    channel named like PPG); other types (stim, EOG, other misc channels)
    are ignored. Without types (arrays): the one modality whose vocabulary
    holds every name, else the one that holds any. Several or none is an
    error that asks for ``modality=``.

    Parameters
    ----------
    ch_names : sequence of str
        The channel names (bad channels excluded).
    ch_types : sequence of str | None
        Their MNE types; None for arrays.

    Returns
    -------
    modality : str
        ``"eeg"``, ``"ecg"``, ``"ppg"`` or ``"emg"``.

    Examples
    --------
    >>> infer_modality(["II", "V1"], ["ecg", "ecg"])
    'ecg'
    >>> infer_modality([f"c{i}" for i in range(1, 17)])
    'emg'
    """
    has_types = ch_types is not None
    ch_names, ch_types = _check_names_and_types(ch_names, ch_types)
    if has_types:
        found = {}
        for name, ch_type in zip(ch_names, ch_types, strict=True):
            for modality, types in MODALITY_CH_TYPES.items():
                is_ppg = modality != "ppg" or (
                    clean_modality_channel_name(name, "ppg") == "ppg_c1"
                )
                if ch_type in types and is_ppg:
                    found.setdefault(modality, []).append(name)
        return _one_modality(found, "channel types")
    found = {}
    for test in (all, any):
        found = {
            modality: list(ch_names)
            for modality, vocabulary in MODALITY_VOCABULARIES.items()
            if test(
                clean_modality_channel_name(name, modality) in vocabulary
                for name in ch_names
            )
        }
        if found:
            break
    return _one_modality(found, "channel names")


def _one_modality(found: dict, basis: str) -> str:
    if len(found) == 1:
        return next(iter(found))
    if not found:
        raise ValueError(
            f"modality='auto' found no EEG, ECG, EMG or PPG channel by their "
            f"{basis}; pass modality='eeg', 'ecg', 'emg' or 'ppg' (and set the "
            "channel types, e.g. set_channel_types)."
        )
    detail = "; ".join(
        f"{modality}: {names[:4]}{' ...' if len(names) > 4 else ''}"
        for modality, names in found.items()
    )
    raise ValueError(
        f"modality='auto' is ambiguous: by their {basis} the channels belong to "
        f"{len(found)} modalities ({detail}). One estimator serves one modality: "
        f"pass modality= one of {sorted(found)}, or pick the channels first "
        "(e.g. epochs.copy().pick('ecg'))."
    )


def mapping_of_names(mapping, name: str = "mapping") -> dict:
    """``mapping`` (dict of str to str, or None) as a new dict; TypeError else.

    ``name`` is the parameter's name in the messages.
    """
    _validate_type(mapping, (dict, None), name, "dict of str to str or None")
    mapping = dict(mapping or {})
    for key, value in mapping.items():
        _validate_type(key, str, f"each {name} key")
        _validate_type(value, str, f"each {name} value")
    return mapping


def _check_mapping(mapping, ch_names) -> dict:
    mapping = mapping_of_names(mapping)
    missing = [key for key in mapping if key not in ch_names]
    if missing:
        raise ValueError(
            f"mapping names channels that are not in the data: {missing}; the "
            f"channels are {list(ch_names)}."
        )
    return mapping


def _no_lead_message(name: str) -> str:
    leads = "I, II, III, aVR, aVL, aVF, V1-V6, X, Y, Z"
    return (
        f"ECG channel {name!r} does not say which lead it is, and the ECG "
        f"tokenizer embeds every lead differently ({leads}). Say which lead it "
        f"is: rename it, e.g. epochs.rename_channels({{{name!r}: 'II'}}), or pass "
        f"a mapping, e.g. channel_map={{{name!r}: 'II'}} (for a single lead "
        "placed like EEGMAT's, lead II or I are the usual guesses; the "
        "recording's documentation decides)."
    )


def _no_modality_match_message(ch_names, ch_types, modality) -> str:
    vocabulary = MODALITY_VOCABULARIES[modality]
    wanted = MODALITY_CH_TYPES[modality]
    return (
        f"None of the channels matches the {modality.upper()} vocabulary "
        f"{list(vocabulary)[:16]} with an MNE type in {list(wanted)}: got "
        f"{list(ch_names)} of types {sorted(set(ch_types))}. Rename the channels "
        "(rename_channels), set their types (set_channel_types) or pass a mapping."
    )
