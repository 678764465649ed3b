"""Load and save NeuroRVQ checkpoints in the authors' key layout.

The published files (``NeuroRVQ_EEG_tokenizer_v1.pt``,
``NeuroRVQ_EEG_foundation_model_v1.pt``) are plain ``torch.save(state_dict)``
files whose keys are exactly those of :class:`NeuroRVQTokenizerModel` and of
:class:`NeuroRVQFoundation` built with ``pretraining=True``, so no key
conversion is needed. ``.safetensors`` files and pretrained folders
(``model.safetensors`` + ``config.json``, ``mne_neurorvq.nn.hub``) are read
too, in this layout or braindecode's. Loading is strict: a missing,
unexpected or mis-shaped key is an error that names it.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from mne.utils import logger

from .config import MODALITIES, FoundationConfig, TokenizerConfig
from .foundation import NeuroRVQFoundation
from .hub import (  # noqa: F401 (published_state_dict, save_checkpoint: API)
    is_safetensors_source,
    published_state_dict,
    read_pretrained,
    save_checkpoint,
)
from .tokenizer import NeuroRVQTokenizerModel

#: Keys of the foundation checkpoint used only by masked-token pre-training.
PRETRAINING_KEY_PATTERN = re.compile(r"^(mask_token|norm_pre\.|head_pre_\d+\.)")
#: Keys of a fine-tuned foundation model that the published file does not have.
CLASSIFIER_KEY_PATTERN = re.compile(r"^(fc_norm|head)\.")


class CheckpointError(ValueError):
    """A checkpoint does not match the model it is loaded into.

    Examples
    --------
    >>> import torch
    >>> try:
    ...     load_tokenizer({"encoder.cls_token": torch.zeros(1, 1, 200)})
    ... except CheckpointError as err:
    ...     print("not a tokenizer checkpoint")
    not a tokenizer checkpoint
    """


def read_state_dict(source) -> dict[str, torch.Tensor]:
    """Read a state dict safely (``weights_only=True``, on CPU).

    Parameters
    ----------
    source : str | Path | Mapping
        A published name (see :data:`mne_neurorvq.weights.PUBLISHED_WEIGHTS`),
        a ``.pt`` file written by ``torch.save(state_dict)``, a
        ``.safetensors`` file or a folder holding ``model.safetensors`` (this
        package's key layout or braindecode's), or a state dict.

    Returns
    -------
    dict of str to Tensor

    Examples
    --------
    >>> state = read_state_dict("neurorvq-eeg-tokenizer-v1")  # doctest: +SKIP
    >>> state["quantize_1.layers.0.embedding.weight"].shape  # doctest: +SKIP
    torch.Size([8192, 128])
    """
    return read_checkpoint(source)[0]


def read_checkpoint(source) -> tuple[dict[str, torch.Tensor], dict | None]:
    """Read a state dict (see :func:`read_state_dict`) and its recorded config.

    Returns
    -------
    state : dict of str to Tensor
    recorded : dict | None
        The ``config.json`` of a safetensors source (model type, modality,
        configuration...); None for ``.pt`` files and state dicts.
    """
    recorded = None
    if isinstance(source, Mapping):
        state = dict(source)
    elif is_safetensors_source(source):
        state, recorded = read_pretrained(source)
    else:
        from ..weights import PUBLISHED_WEIGHTS, fetch_weights

        if isinstance(source, str) and source in PUBLISHED_WEIGHTS:
            source = fetch_weights(source)
        path = Path(source).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"No checkpoint file at {path}")
        try:
            state = _load_file(path)
        except pickle.UnpicklingError as err:
            raise CheckpointError(
                f"{path} holds objects other than tensors and plain containers, "
                "which are not loaded for safety (torch.load weights_only=True): "
                f"{str(err).splitlines()[0]}"
            ) from None
        if not isinstance(state, Mapping):
            raise CheckpointError(
                f"{path} holds a {type(state).__name__}, expected a state dict "
                "(a mapping from key to tensor)"
            )
        state = dict(state)
    bad = [key for key, value in state.items() if not isinstance(value, torch.Tensor)]
    if bad:
        raise CheckpointError(
            "A state dict maps keys to tensors; these keys hold other objects: "
            + ", ".join(f"{k!r} ({type(state[k]).__name__})" for k in bad[:10])
        )
    return state, recorded


def _recorded_config(recorded: dict | None, config_class, modality=None):
    """The configuration a safetensors source recorded (None if none)."""
    if not recorded or "config" not in recorded:
        return None
    values = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in recorded["config"].items()
    }
    try:
        config = config_class.from_dict(values)
    except (TypeError, ValueError) as err:
        raise CheckpointError(
            f"The checkpoint's config.json does not describe a {config_class.__name__}"
            f" ({recorded.get('model_type', 'no model_type')}): {err}"
        ) from None
    check_modality(config, modality)
    return config


def _load_file(path: Path):
    """``torch.load`` on CPU with ``weights_only``, memory-mapped when possible.

    Memory mapping reads a tensor's pages only when they are used, so tensors
    that inference never touches (the codebooks' EMA sums, the decoder when
    only tokenizing) cost no memory; files in the legacy (non-zip) format are
    read whole.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as err:
        if "mmap" not in str(err):
            raise
        return torch.load(path, map_location="cpu", weights_only=True)


def _shapes_only(module_class, *args, **kwargs) -> dict:
    """State dict of a model built on the meta device (shapes, no memory)."""
    with torch.device("meta"):
        return module_class(*args, **kwargs).state_dict()


def _count(state, pattern) -> int:
    regex = re.compile(pattern)
    return len({m.group(1) for key in state if (m := regex.match(key))})


def _shape(state, key):
    if key not in state:
        raise CheckpointError(f"Cannot infer the configuration: key {key!r} is missing")
    return tuple(state[key].shape)


def _shared_config(state, prefix) -> dict:
    embed_dim = _shape(state, f"{prefix}cls_token")[-1]
    conv_out = _shape(state, f"{prefix}patch_embed.conv1_1.weight")[0]
    head_dim = _shape(state, f"{prefix}blocks.0.attn.q_norm.weight")[0]
    hidden = _shape(state, f"{prefix}blocks.0.mlp.fc1.weight")[0]
    n_scales = _count(state, rf"^{re.escape(prefix)}patch_embed\.conv1_(\d+)\.")
    kernels = {
        f"stage{stage}_kernels": tuple(
            _shape(state, f"{prefix}patch_embed.conv{stage}_{s}.weight")[-1]
            for s in range(1, n_scales + 1)
        )
        for stage in (1, 2)
    }
    n_electrodes = _shape(state, f"{prefix}pos_embed")[0] - 1
    return dict(
        embed_dim=embed_dim,
        n_electrodes=n_electrodes,
        n_patches=_shape(state, f"{prefix}time_embed")[0],
        conv_channels=conv_out,
        patch_size=embed_dim * 8 // conv_out,
        num_heads=embed_dim // head_dim,
        mlp_ratio=hidden / embed_dim,
        n_scales=n_scales,
        modality=_modality_of(n_electrodes, kernels),
        **kernels,
    )


def _modality_of(n_electrodes: int, kernels: dict) -> str:
    """The modality whose channel vocabulary has ``n_electrodes`` names.

    The vocabulary sizes of the presets differ (EEG 104, ECG 15, EMG 16,
    PPG 1), so the rows of ``pos_embed`` name the modality; the convolution
    kernels read from the file must then be the modality's (its first
    ``n_scales`` kernels). The levels are not checked: they are a free choice
    of each trained model (the presets' 8, or 16 for EMG, are the published
    models').
    """
    for name, preset in MODALITIES.items():
        if preset.vocabulary_size == n_electrodes:
            n_scales = len(kernels["stage1_kernels"])
            expected = {
                "stage1_kernels": tuple(preset.stage1_kernels[:n_scales]),
                "stage2_kernels": tuple(preset.stage2_kernels[:n_scales]),
            }
            if expected != kernels:
                raise CheckpointError(
                    f"The checkpoint's pos_embed has {n_electrodes + 1} rows (the "
                    f"{name.upper()} channel vocabulary), but its conv kernels "
                    f"{kernels} are not {name.upper()}'s {expected}"
                )
            return name
    known = ", ".join(
        f"{name} {preset.vocabulary_size + 1}" for name, preset in MODALITIES.items()
    )
    raise CheckpointError(
        f"Cannot infer the modality: pos_embed has {n_electrodes + 1} rows (a "
        f"vocabulary of {n_electrodes} channels), but the modalities have {known} "
        f"rows (conv kernels in the file: {kernels})"
    )


def _describe(config) -> str:
    return (
        f"{config.modality.upper()} (pos_embed {config.n_electrodes + 1} rows, "
        f"patch size {config.patch_size}, {config.n_patches} temporal positions, "
        f"conv kernels {config.stage1_kernels} / {config.stage2_kernels}, "
        f"{config.n_levels} levels)"
    )


def check_modality(config, modality: str | None) -> None:
    """Raise :class:`CheckpointError` unless ``config`` is of ``modality``.

    Parameters
    ----------
    config : TokenizerConfig | FoundationConfig
        The configuration of a checkpoint (e.g. inferred from its shapes).
    modality : str | None
        The modality asked for; None accepts any.

    Examples
    --------
    >>> from mne_neurorvq.nn import TokenizerConfig
    >>> check_modality(TokenizerConfig.tiny(), "eeg")
    >>> check_modality(TokenizerConfig.tiny(), "ecg")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mne_neurorvq.nn.checkpoints.CheckpointError: The checkpoint holds ... EEG ...
    """
    if modality is None or config.modality == modality:
        return
    if modality not in MODALITIES:
        raise ValueError(
            f"modality must be one of {sorted(MODALITIES)} or None, got {modality!r}"
        )
    wanted = type(config).for_modality(modality)
    raise CheckpointError(
        f"The checkpoint holds a model for {_describe(config)}, but "
        f"modality={modality!r} needs {_describe(wanted)}"
    )


def infer_tokenizer_config(
    state: Mapping[str, torch.Tensor], modality: str | None = None
) -> TokenizerConfig:
    """Infer a :class:`TokenizerConfig` from the tensors' shapes.

    The modality comes from the rows of ``pos_embed`` (the size of its channel
    vocabulary), the kernels from the convolutions' widths and the levels from
    the quantiser keys. With ``modality`` given, a checkpoint of another
    modality raises a :class:`CheckpointError` naming the difference.

    Examples
    --------
    >>> from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig
    >>> state = NeuroRVQTokenizerModel(TokenizerConfig.tiny()).state_dict()
    >>> infer_tokenizer_config(state) == TokenizerConfig.tiny()
    True
    """
    shared = _shared_config(state, "encoder.")
    n_code, code_dim = _shape(state, "quantize_1.layers.0.embedding.weight")
    config = TokenizerConfig(
        **shared,
        encoder_depth=_count(state, r"^encoder\.blocks\.(\d+)\."),
        decoder_depth=_count(state, r"^decoder\.blocks\.(\d+)\."),
        n_code=n_code,
        code_dim=code_dim,
        n_levels=_count(state, r"^quantize_1\.layers\.(\d+)\."),
        init_values=1e-5 if "encoder.blocks.0.gamma_1" in state else 0.0,
    )
    check_modality(config, modality)
    return config


def infer_foundation_config(
    state: Mapping[str, torch.Tensor], vocab_size: int | None = None
) -> FoundationConfig:
    """Infer a :class:`FoundationConfig` from the tensors' shapes.

    The number of levels and the vocabulary size come from the pre-training
    heads; without them (an encoder-only file) ``vocab_size`` (default 8192)
    and 8 levels are assumed.

    Examples
    --------
    >>> from mne_neurorvq.nn import FoundationConfig, NeuroRVQFoundation
    >>> model = NeuroRVQFoundation(config=FoundationConfig.tiny(), pretraining=True)
    >>> infer_foundation_config(model.state_dict()) == FoundationConfig.tiny()
    True
    """
    shared = _shared_config(state, "")
    n_heads = _count(state, r"^head_pre_(\d+)\.")
    if n_heads:
        shared["n_levels"] = n_heads // shared["n_scales"]
        vocab_size = _shape(state, "head_pre_1.weight")[0]
    values = dict(shared, depth=_count(state, r"^blocks\.(\d+)\."))
    if vocab_size is not None:
        values["vocab_size"] = vocab_size
    values["init_values"] = 1e-5 if "blocks.0.gamma_1" in state else 0.0
    return FoundationConfig(**values)


def check_state_dict(
    state: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Tensor],
    what: str,
    optional: re.Pattern | None = None,
):
    """Raise :class:`CheckpointError` unless ``state`` matches ``expected``.

    Parameters
    ----------
    state : Mapping
        The checkpoint.
    expected : Mapping
        The model's own state dict.
    what : str
        Name of the model, for messages.
    optional : re.Pattern | None
        Model keys that the checkpoint may lack (they keep their fresh values).

    Examples
    --------
    >>> import torch
    >>> expected = {"weight": torch.zeros(2, 3)}
    >>> check_state_dict({"weight": torch.zeros(2, 3)}, expected, "MyModel")
    >>> wrong = {"weight": torch.zeros(3, 2)}
    >>> check_state_dict(wrong, expected, "MyModel")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mne_neurorvq.nn.checkpoints.CheckpointError: Checkpoint does not match MyModel: ...
    """
    missing = [
        k for k in expected if k not in state and not (optional and optional.match(k))
    ]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in state
        if k in expected and state[k].shape != expected[k].shape
    ]
    problems = []
    for label, keys in (
        ("missing", missing),
        ("unexpected", unexpected),
        ("wrong shape", wrong),
    ):
        if keys:
            shown = ", ".join(keys[:8]) + (
                f" ... ({len(keys)} in all)" if len(keys) > 8 else ""
            )
            problems.append(f"{label} key(s): {shown}")
    if problems:
        raise CheckpointError(
            f"Checkpoint does not match {what}: " + "; ".join(problems)
        )


def load_tokenizer_state_dict(
    source, config: TokenizerConfig | None = None, modality: str | None = None
) -> dict:
    """Read a tokenizer state dict and check it against ``config`` (or inferred).

    ``modality`` (``"eeg"``, ``"ecg"``, ``"ppg"``, ``"emg"``) refuses a
    checkpoint of another modality with a message naming the difference.

    Examples
    --------
    >>> from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig
    >>> state = NeuroRVQTokenizerModel(TokenizerConfig.tiny()).state_dict()
    >>> len(load_tokenizer_state_dict(state)) == len(state)
    True
    """
    state, recorded = read_checkpoint(source)
    if config is None:
        config = _recorded_config(recorded, TokenizerConfig, modality)
    if config is None:
        config = infer_tokenizer_config(state, modality)
    else:
        check_modality(config, modality)
    expected = _shapes_only(NeuroRVQTokenizerModel, config)
    check_state_dict(state, expected, f"NeuroRVQTokenizerModel({config})")
    return state


def load_foundation_state_dict(
    source, config: FoundationConfig | None = None, pretraining: bool = False
) -> dict:
    """Read and validate a foundation-model state dict.

    Pre-training keys (``mask_token``, ``norm_pre.*``, ``head_pre_*``) are
    recognised: kept with ``pretraining=True`` (then required), dropped with a
    log message otherwise. Classification keys (``fc_norm.*``, ``head.*``) are
    optional.

    Examples
    --------
    >>> from mne_neurorvq.nn import FoundationConfig, NeuroRVQFoundation
    >>> model = NeuroRVQFoundation(config=FoundationConfig.tiny(), pretraining=True)
    >>> state = load_foundation_state_dict(model.state_dict(), pretraining=True)
    >>> "mask_token" in state
    True
    """
    state, recorded = read_checkpoint(source)
    if config is None:
        config = _recorded_config(recorded, FoundationConfig)
    config = infer_foundation_config(state) if config is None else config
    pretraining_keys = [k for k in state if PRETRAINING_KEY_PATTERN.match(k)]
    if not pretraining and pretraining_keys:
        logger.info(
            f"Dropping {len(pretraining_keys)} pre-training tensors (mask_token, "
            "norm_pre, head_pre_*) not used for encoding or fine-tuning."
        )
        state = {k: v for k, v in state.items() if k not in pretraining_keys}
    expected = _shapes_only(NeuroRVQFoundation, config=config, pretraining=pretraining)
    if "head.weight" in state and "head.weight" not in expected:
        n_outputs = state["head.weight"].shape[0]
        expected = _shapes_only(
            NeuroRVQFoundation,
            n_outputs=n_outputs,
            config=config,
            pretraining=pretraining,
        )
    check_state_dict(
        state,
        expected,
        f"NeuroRVQFoundation(pretraining={pretraining}, {config})",
        optional=CLASSIFIER_KEY_PATTERN,
    )
    return state


def load_tokenizer(
    source,
    config: TokenizerConfig | None = None,
    device="cpu",
    modality: str | None = None,
):
    """Build a :class:`NeuroRVQTokenizerModel` from a checkpoint, in eval mode.

    Parameters
    ----------
    source : str | Path | Mapping
        Checkpoint file or state dict.
    config : TokenizerConfig | None
        Expected configuration; inferred from the tensors' shapes when None.
    device : str | torch.device
        Where to put the model.
    modality : str | None
        Expected modality (``"eeg"``, ``"ecg"``, ``"ppg"``, ``"emg"``); a
        checkpoint of another one raises a :class:`CheckpointError` naming
        the difference. None accepts any.

    Examples
    --------
    >>> model = load_tokenizer("neurorvq-eeg-tokenizer-v1")  # doctest: +SKIP
    >>> model.config.n_code  # doctest: +SKIP
    8192

    Any state dict of the layout works, e.g. a fresh tiny model's:

    >>> from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig
    >>> state = NeuroRVQTokenizerModel(TokenizerConfig.tiny()).state_dict()
    >>> load_tokenizer(state).config == TokenizerConfig.tiny()
    True
    """
    from_file = not isinstance(source, Mapping)
    state, recorded = read_checkpoint(source)
    if config is None:
        config = _recorded_config(recorded, TokenizerConfig, modality)
    if config is None:
        config = infer_tokenizer_config(state, modality)
    state = load_tokenizer_state_dict(state, config, modality)
    if from_file:
        # the tensors just read become the parameters (no second copy); those
        # of a caller's state dict are copied, so that training the model
        # never writes into the caller's tensors
        with torch.device("meta"):
            model = NeuroRVQTokenizerModel(config)
        model.load_state_dict(state, strict=True, assign=True)
    else:
        model = NeuroRVQTokenizerModel(config)
        model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def load_foundation(
    source,
    config: FoundationConfig | None = None,
    pretraining: bool = False,
    device="cpu",
    **module_kwargs,
):
    """Build a :class:`NeuroRVQFoundation` from a checkpoint, in eval mode.

    ``module_kwargs`` go to the constructor (``n_outputs``, ``chs_info``...).
    A classification head in the file is loaded when ``n_outputs`` matches.

    Examples
    --------
    >>> model = load_foundation("neurorvq-eeg-foundation-v1")  # doctest: +SKIP
    >>> embedding = model.embed(x, chan_idx)  # doctest: +SKIP

    With a classification head (fresh weights when the file has none):

    >>> from mne_neurorvq.nn import FoundationConfig, NeuroRVQFoundation
    >>> state = NeuroRVQFoundation(config=FoundationConfig.tiny()).state_dict()
    >>> load_foundation(state, n_outputs=2).head
    Linear(in_features=800, out_features=2, bias=True)
    """
    state, recorded = read_checkpoint(source)
    if config is None:
        config = _recorded_config(recorded, FoundationConfig)
    config = infer_foundation_config(state) if config is None else config
    state = load_foundation_state_dict(state, config, pretraining=pretraining)
    model = NeuroRVQFoundation(config=config, pretraining=pretraining, **module_kwargs)
    if "head.weight" in state and (
        model.n_outputs is None or model.head.weight.shape != state["head.weight"].shape
    ):
        state = {k: v for k, v in state.items() if not CLASSIFIER_KEY_PATTERN.match(k)}
    result = model.load_state_dict(state, strict=False)
    leftover = [k for k in result.missing_keys if not CLASSIFIER_KEY_PATTERN.match(k)]
    if leftover or result.unexpected_keys:  # check_state_dict makes this unreachable
        raise CheckpointError(
            f"missing {leftover}, unexpected {result.unexpected_keys}"
        )
    return model.to(device).eval()
