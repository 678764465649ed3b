"""Typed configurations of the NeuroRVQ tokenizer and foundation model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..modalities import MODALITIES, Modality

#: Kernel widths of the two convolution stages of the four temporal branches
#: (patch embedding): branch s uses ``STAGE1_KERNELS[s]`` then ``STAGE2_KERNELS[s]``.
STAGE1_KERNELS = (21, 15, 9, 5)
STAGE2_KERNELS = (9, 7, 5, 3)
#: Average-pool widths of stage 1 and stage 2 (over time).
POOL_WIDTHS = (2, 4)


#: The modality records (:mod:`mne_neurorvq.modalities`): one per modality,
#: read by the configurations below (``ModalityPreset`` is the record's class).
ModalityPreset = Modality


def _check_modality(modality) -> ModalityPreset:
    if modality not in MODALITIES:
        raise ValueError(
            f"modality must be one of {sorted(MODALITIES)}, got {modality!r}"
        )
    return MODALITIES[modality]


def modality_values(modality: str) -> dict:
    """Configuration fields that a modality fixes (sizes, levels, kernels).

    Examples
    --------
    >>> modality_values("ppg")["patch_size"], modality_values("ppg")["n_patches"]
    (80, 12)
    """
    preset = _check_modality(modality)
    return dict(
        modality=preset.name,
        patch_size=preset.patch_size,
        n_patches=preset.n_patches,
        n_electrodes=preset.vocabulary_size,
        embed_dim=preset.patch_size,  # 8 conv channels x P / 8
        n_levels=preset.n_levels,
        stage1_kernels=preset.stage1_kernels,
        stage2_kernels=preset.stage2_kernels,
    )


@dataclass(frozen=True)
class _BaseConfig:
    """Fields shared by the tokenizer and the foundation model."""

    #: Samples per patch; a patch is one second, so this is also the model's
    #: sampling rate in Hz.
    patch_size: int = 200
    #: Rows of the temporal embedding: the most tokens a sample may have.
    n_patches: int = 256
    #: Size of the channel vocabulary (``pos_embed`` has one row more).
    n_electrodes: int = 104
    #: Model width D. Must equal ``conv_channels * patch_size // 8``.
    embed_dim: int = 200
    num_heads: int = 10
    mlp_ratio: float = 4.0
    #: Output channels of each temporal convolution.
    conv_channels: int = 8
    #: Groups of the GroupNorm after each temporal convolution.
    conv_groups: int = 4
    #: Number of temporal branches (frequency scales).
    n_scales: int = 4
    #: Residual quantiser levels per scale.
    n_levels: int = 8
    drop_rate: float = 0.0
    attn_drop_rate: float = 0.0
    drop_path_rate: float = 0.0
    #: Standard deviation scale of the weight initialisation of fresh models.
    init_scale: float = 0.001
    #: Signal modality (:data:`mne_neurorvq.modalities.MODALITIES`): fixes the
    #: channel vocabulary and the sampling rate; build whole presets with
    #: ``for_modality``.
    modality: str = "eeg"
    #: Kernel widths of the two convolution stages of the branches (one per
    #: scale); None: the modality's. Padding is ``kernel // 2``.
    stage1_kernels: tuple[int, ...] | None = None
    stage2_kernels: tuple[int, ...] | None = None

    def __post_init__(self):
        pool = POOL_WIDTHS[0] * POOL_WIDTHS[1]
        if self.patch_size % pool:
            raise ValueError(
                f"patch_size must be a multiple of {pool}, got {self.patch_size}"
            )
        expected = self.conv_channels * self.patch_size // pool
        if self.embed_dim != expected:
            raise ValueError(
                "embed_dim must equal conv_channels * patch_size // "
                f"{pool} = {expected} (the flattened temporal-conv output), got "
                f"{self.embed_dim}"
            )
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim ({self.embed_dim}) must be divisible by num_heads "
                f"({self.num_heads})"
            )
        if not 1 <= self.n_scales <= len(STAGE1_KERNELS):
            raise ValueError(
                f"n_scales must be between 1 and {len(STAGE1_KERNELS)}, got "
                f"{self.n_scales}"
            )
        preset = _check_modality(self.modality)
        if self.n_electrodes != preset.vocabulary_size:
            raise ValueError(
                f"n_electrodes must be {preset.vocabulary_size} for modality "
                f"{self.modality!r} (its channel vocabulary), got "
                f"{self.n_electrodes}; use {type(self).__name__}.for_modality("
                f"{self.modality!r})"
            )
        for stage in (1, 2):
            name = f"stage{stage}_kernels"
            kernels = getattr(self, name)
            kernels = getattr(preset, name) if kernels is None else kernels
            kernels = tuple(int(k) for k in kernels)
            if len(kernels) < self.n_scales or min(kernels, default=0) < 1:
                raise ValueError(
                    f"{name} must give a positive width for each of the "
                    f"{self.n_scales} scales, got {kernels}"
                )
            object.__setattr__(self, name, kernels[: self.n_scales])
        if self.conv_channels % self.conv_groups:
            raise ValueError(
                f"conv_channels ({self.conv_channels}) must be divisible by "
                f"conv_groups ({self.conv_groups})"
            )

    @property
    def sfreq(self) -> float:
        """Sampling rate (Hz) the model expects.

        A patch lasts as long as in the modality's preset (EEG: 1 s, so the
        rate is the patch size; ECG and EMG: 0.2 s; PPG: 0.8 s).
        """
        preset = MODALITIES[self.modality]
        return float(self.patch_size / preset.patch_seconds)

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.embed_dim // self.num_heads

    @property
    def n_tokens_per_patch(self) -> int:
        """Discrete tokens per patch: one per scale and level."""
        return self.n_scales * self.n_levels

    @classmethod
    def for_modality(cls, modality: str = "eeg", **changes):
        """Return the modality's configuration, with some fields changed.

        Examples
        --------
        >>> from mne_neurorvq.nn import TokenizerConfig
        >>> config = TokenizerConfig.for_modality("ecg")
        >>> config.patch_size, config.n_patches, config.sfreq
        (40, 600, 200.0)
        """
        return cls(**{**modality_values(modality), **changes})

    def replace(self, **changes):
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Return the configuration as a plain dictionary."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict):
        """Build a configuration from :meth:`to_dict` output.

        Unknown keys raise a :class:`TypeError` that names them.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise TypeError(f"Unknown {cls.__name__} field(s): {unknown}")
        return cls(**values)


@dataclass(frozen=True)
class TokenizerConfig(_BaseConfig):
    """Configuration of the NeuroRVQ tokenizer.

    The defaults are the published model (``NeuroRVQ_EEG_tokenizer_v1.pt``).

    Examples
    --------
    >>> from mne_neurorvq.nn import TokenizerConfig
    >>> TokenizerConfig().n_code
    8192
    >>> TokenizerConfig.tiny().encoder_depth
    1
    """

    encoder_depth: int = 12
    decoder_depth: int = 3
    #: Codes per codebook (K).
    n_code: int = 8192
    #: Width of a code vector (C).
    code_dim: int = 128
    #: EMA decay of the codebook update.
    decay: float = 0.99
    #: Weight of the commitment term of every level.
    beta: float = 1.0
    #: Rounds of cosine k-means for the codebook initialisation.
    kmeans_iters: int = 10
    #: Layer-scale init of the blocks; 0 disables layer scale (published: 0).
    init_values: float = 0.0

    @classmethod
    def published(cls, modality: str = "eeg") -> TokenizerConfig:
        """Return the configuration of a published tokenizer.

        ``modality``: ``"eeg"`` (default), ``"ecg"``, ``"ppg"`` or ``"emg"``.
        """
        return cls.for_modality(modality)

    @classmethod
    def tiny(cls, **changes) -> TokenizerConfig:
        """Return a small configuration for tests and quick experiments.

        ``modality=...`` among the changes starts from that modality's preset.
        """
        values = dict(
            modality_values(changes.get("modality", "eeg")),
            encoder_depth=1,
            decoder_depth=1,
            num_heads=4,
            n_code=64,
            code_dim=16,
            n_levels=2,
        )
        values.update(changes)
        return cls(**values)


@dataclass(frozen=True)
class FoundationConfig(_BaseConfig):
    """Configuration of the NeuroRVQ foundation model.

    The defaults are the published model
    (``NeuroRVQ_EEG_foundation_model_v1.pt``).

    Examples
    --------
    >>> from mne_neurorvq.nn import FoundationConfig
    >>> FoundationConfig().depth, FoundationConfig().vocab_size
    (12, 8192)
    """

    depth: int = 12
    #: Codes per codebook of the tokenizer whose tokens are predicted.
    vocab_size: int = 8192
    #: Layer-scale init of the blocks (published: 1e-5).
    init_values: float = 1e-5

    @property
    def embedding_dim(self) -> int:
        """Width of the pooled embedding: one D-wide vector per scale."""
        return self.n_scales * self.embed_dim

    @classmethod
    def published(cls) -> FoundationConfig:
        """Return the configuration of the published foundation model."""
        return cls()

    @classmethod
    def tiny(cls, **changes) -> FoundationConfig:
        """Return a small configuration matching :meth:`TokenizerConfig.tiny`."""
        values = dict(
            modality_values(changes.get("modality", "eeg")),
            depth=1,
            num_heads=4,
            vocab_size=64,
            n_levels=2,
        )
        values.update(changes)
        return cls(**values)

    @classmethod
    def for_tokenizer(cls, tokenizer: TokenizerConfig, **changes):
        """Return a foundation configuration that predicts ``tokenizer``'s tokens."""
        shared = {
            f.name: getattr(tokenizer, f.name) for f in dataclasses.fields(_BaseConfig)
        }
        shared["vocab_size"] = tokenizer.n_code
        shared.update(changes)
        return cls(**shared)
