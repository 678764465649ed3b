"""One record per signal modality: everything that differs between EEG, ECG...

The four published NeuroRVQ tokenizers (EEG, ECG, PPG, EMG) share one
architecture and differ in the values of a :class:`Modality` record: the model
rate, patch size, token budget, levels, convolution kernels, channel
vocabulary, the unit of the model input, the MNE channel types read, the
typical amplitude statistics of the decoder and the names of the published
weights. The configurations (``mne_neurorvq.nn.config``), the channel
matching (:mod:`mne_neurorvq.channels`), the preparation
(:mod:`mne_neurorvq.preprocessing`), the checkpoints' checks and the estimators
read :data:`MODALITIES` instead of comparing names, so adding a modality is
adding one record with :func:`register_modality`.

This module imports neither torch nor MNE.

Examples
--------
>>> from mne_neurorvq.modalities import MODALITIES
>>> ecg = MODALITIES["ecg"]
>>> ecg.sfreq, ecg.patch_size, ecg.units, ecg.vocabulary[:3]
(200.0, 40, 'mV', ('avf', 'avl', 'avr'))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["MODALITIES", "Modality", "register_modality"]

#: The 104 channel names of the NeuroRVQ EEG checkpoints, in checkpoint order.
#: A channel's spatial index is its position here (``'a1'`` is 0).
EEG_VOCABULARY: tuple[str, ...] = tuple(
    """
    a1 a2 af3 af4 af7 af8 afz c1 c2 c3 c4 c5 c6 ccp1 ccp2 ccp3 ccp4 ccp5 ccp6 ccp7
    ccp8 cfc1 cfc2 cfc3 cfc4 cfc5 cfc6 cfc7 cfc8 cp1 cp2 cp3 cp4 cp5 cp6 cpz cz eog
    f1 f10 f2 f3 f4 f5 f6 f7 f8 f9 fc1 fc2 fc3 fc4 fc5 fc6 fcz fp1 fp2 fpz ft7 ft8
    fz iz loc o1 o2 oz p08 p1 p10 p2 p3 p4 p5 p6 p7 p8 p9 po1 po10 po2 po3 po4 po7
    po8 po9 poz pz roc sp1 sp2 t1 t10 t2 t3 t4 t5 t6 t7 t8 t9 tp10 tp7 tp8 tp9
    """.split()
)
#: Kernel widths of the two convolution stages of the four temporal branches
#: of the EEG, ECG models.
_EEG_KERNELS = ((21, 15, 9, 5), (9, 7, 5, 3))


@dataclass(frozen=True)
class Modality:
    """What the authors' code fixes for one signal modality.

    Every convolution is padded by ``kernel // 2`` samples on each side: even
    kernels (EMG's 8 and 4) lengthen the sequence by one sample, which the
    following average pool drops.

    Attributes
    ----------
    name : str
        ``"eeg"``, ``"ecg"``, ``"ppg"``, ``"emg"`` (or a registered one).
    sfreq : float
        Sampling rate of the model input in Hz.
    patch_size : int
        Samples per patch (P; also the model width D with 8 conv channels).
    n_patches : int
        Rows of the temporal embedding: the most tokens per sample.
    n_levels : int
        Residual quantiser levels per scale of the published model.
    stage1_kernels, stage2_kernels : tuple of int
        Kernel widths of the two convolutions of the four temporal branches.
    vocabulary : tuple of str
        Channel names, in checkpoint order (``pos_embed`` has one row more).
    units : str | None
        Unit of the model input (``"uV"``, ``"mV"``), None for values used
        as given (PPG).
    ch_types : tuple of str
        MNE channel types whose channels the modality uses.
    amplitude_stats : tuple of float
        Typical (mean, std) of ``log1p(|FFT|)`` of a patch, used when the
        decoder rebuilds a signal from tokens alone.
    published : dict of str to str
        Names of the published weights, by kind (``"tokenizer"``,
        ``"foundation"``).
    recipes : tuple
        The preprocessing recipes that exist for the modality.
    plausible_amplitude : tuple of float | None
        Range of the typical amplitude (median standard deviation, in
        ``units``) outside which the data are said to be in the wrong unit;
        None: no check.

    Examples
    --------
    >>> MODALITIES["emg"].n_levels, MODALITIES["emg"].stage1_paddings
    (16, (25, 8, 4, 2))
    """

    name: str
    sfreq: float
    patch_size: int
    n_patches: int
    n_levels: int
    stage1_kernels: tuple[int, ...]
    stage2_kernels: tuple[int, ...]
    vocabulary: tuple[str, ...] = field(repr=False)
    units: str | None = None
    ch_types: tuple[str, ...] = ()
    amplitude_stats: tuple[float, float] = (0.0, 1.0)
    published: dict = field(default_factory=dict, compare=False)
    recipes: tuple = (None,)
    plausible_amplitude: tuple[float, float] | None = None

    @property
    def vocabulary_size(self) -> int:
        """Number of channel names (``pos_embed`` has one row more)."""
        return len(self.vocabulary)

    @property
    def stage1_paddings(self) -> tuple[int, ...]:
        """Paddings of the first convolutions (``kernel // 2``)."""
        return tuple(k // 2 for k in self.stage1_kernels)

    @property
    def stage2_paddings(self) -> tuple[int, ...]:
        """Paddings of the second convolutions (``kernel // 2``)."""
        return tuple(k // 2 for k in self.stage2_kernels)

    @property
    def patch_seconds(self) -> float:
        """Duration of one patch in seconds."""
        return self.patch_size / self.sfreq


def _published(name: str, foundation: bool) -> dict:
    names = {"tokenizer": f"neurorvq-{name}-tokenizer-v1"}
    if foundation:
        names["foundation"] = f"neurorvq-{name}-foundation-v1"
    return names


#: The modality records, by name (``upstream-parity-multimodal/README.md``).
#: Amplitude statistics: EEG, the median over EEGMAT Subject00-23 (4 s
#: windows, 0.5-45 Hz band-pass, 19 channels, ``performance/amplitude_stats.py``);
#: ECG, the ECG lead of the same recordings (mV, 200 Hz, unfiltered); PPG and
#: EMG: ASSUMED, the synthetic inputs of the multimodal parity fixture. Units:
#: ECG in mV (the authors feed PTB-XL's raw signal, in mV); EMG in mV
#: (ASSUMED: the authors' EMG preprocessing was not recovered); PPG as given
#: (the authors' PPG example uses BIDMC's normalised PLETH).
MODALITIES: dict[str, Modality] = {
    record.name: record
    for record in (
        Modality(
            "eeg",
            200.0,
            200,
            256,
            8,
            *_EEG_KERNELS,
            vocabulary=EEG_VOCABULARY,
            units="uV",
            ch_types=("eeg",),
            amplitude_stats=(2.60, 1.52),
            published=_published("eeg", True),
            recipes=(None, "authors", "benchmark"),
            plausible_amplitude=(1e-2, 1e4),
        ),
        Modality(
            "ecg",
            200.0,
            40,
            600,
            8,
            *_EEG_KERNELS,
            vocabulary=tuple("avf avl avr i ii iii v1 v2 v3 v4 v5 v6 vx vy vz".split()),
            units="mV",
            ch_types=("ecg",),
            amplitude_stats=(0.20, 0.30),
            published=_published("ecg", True),
        ),
        Modality(
            "ppg",
            100.0,
            80,
            12,
            8,
            (41, 31, 17, 9),
            (17, 13, 9, 5),
            vocabulary=("ppg_c1",),
            units=None,
            ch_types=("bio", "misc"),
            amplitude_stats=(0.35, 0.58),
            published=_published("ppg", False),
            recipes=(None, "authors"),
        ),
        Modality(
            "emg",
            1000.0,
            200,
            256,
            16,
            (51, 17, 8, 5),
            (25, 9, 4, 3),
            # lexicographic, as the authors'
            vocabulary=tuple(sorted(f"c{index}" for index in range(1, 17))),
            units="mV",
            ch_types=("emg",),
            amplitude_stats=(0.40, 0.37),
            published=_published("emg", True),
        ),
    )
}


def register_modality(record: Modality) -> Modality:
    """Add a modality: every part of the package reads it from then on.

    Parameters
    ----------
    record : Modality
        The new modality; its name must not be taken, and its vocabulary size
        must differ from the others' (checkpoints are recognised by it).

    Returns
    -------
    record : Modality

    Examples
    --------
    >>> toy = Modality("toy", 100.0, 50, 16, 2, (5, 3), (3, 3),  # doctest: +SKIP
    ...                vocabulary=("t1", "t2"), units="mV", ch_types=("misc",))
    >>> register_modality(toy)  # doctest: +SKIP
    """
    if not isinstance(record, Modality):
        raise TypeError(f"record must be a Modality, got {type(record).__name__}")
    if record.name in MODALITIES:
        raise ValueError(f"A modality named {record.name!r} exists already.")
    sizes = {m.vocabulary_size: m.name for m in MODALITIES.values()}
    if record.vocabulary_size in sizes:
        raise ValueError(
            f"The vocabulary of {record.name!r} has {record.vocabulary_size} names, "
            f"as {sizes[record.vocabulary_size]!r}'s: checkpoints are told apart "
            "by their vocabulary size."
        )
    MODALITIES[record.name] = record
    return record


class FieldView(Mapping):
    """``{modality: getattr(record, field)}``, always current (read-only).

    The dictionaries of one field (``MODALITY_UNITS``, ``MODALITY_VOCABULARIES``
    ...) kept for compatibility are views of the records, so a registered
    modality appears in them too.

    Examples
    --------
    >>> FieldView("units")["ecg"]
    'mV'
    """

    def __init__(self, field_name: str):
        self._field = field_name

    def __getitem__(self, key):
        return getattr(MODALITIES[key], self._field)

    def __iter__(self):
        return iter(MODALITIES)

    def __len__(self):
        return len(MODALITIES)

    def __repr__(self):
        return repr(dict(self))
