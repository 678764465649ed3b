"""Weights in the Hugging Face format: ``model.safetensors`` + ``config.json``.

A *pretrained folder* holds ``model.safetensors`` (the tensors, no pickle) and
``config.json`` (what the tensors are: the model class, its configuration,
its modality and the package version; fitted estimators add their channels,
classes and preprocessing). It is what :func:`huggingface_hub.upload_folder`
pushes and what :func:`huggingface_hub.snapshot_download` fetches;
:func:`save_pretrained` writes one, :func:`from_pretrained` reads one, and
every loader of the package (:func:`mne_neurorvq.nn.load_tokenizer`,
:func:`mne_neurorvq.nn.load_foundation`, the estimators' ``weights=``) accepts
a folder or a single ``.safetensors`` file.

Two key layouts are read: this package's (the authors' published one) and
braindecode's, which names the transformer MLP layers ``mlp.0`` / ``mlp.2``
(``mlp.fc1`` / ``mlp.fc2`` here) and holds no pre-training tensors
(``mask_token``, ``norm_pre.*``, ``head_pre_*``). :func:`to_braindecode_layout`
and :func:`from_braindecode_layout` rename between them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

import torch

#: File names of a pretrained folder (Hugging Face's).
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
#: Metadata key of a ``.safetensors`` file holding ``config.json``'s content.
METADATA_KEY = "mne_neurorvq"
#: Keys used only by masked-token pre-training (braindecode's layout has none).
_PRETRAINING_KEY = re.compile(r"^(mask_token|norm_pre\.|head_pre_\d+\.)")
#: Keys of a fine-tuned foundation model that the published file does not have.
_CLASSIFIER_KEY = re.compile(r"^(fc_norm|head)\.")
_OURS_TO_BRAINDECODE = ((".mlp.fc1.", ".mlp.0."), (".mlp.fc2.", ".mlp.2."))


def to_braindecode_layout(state: Mapping[str, torch.Tensor]) -> dict:
    """Rename a state dict into braindecode's key layout.

    ``mlp.fc1`` / ``mlp.fc2`` become ``mlp.0`` / ``mlp.2`` and the
    pre-training tensors are left out.

    Examples
    --------
    >>> import torch
    >>> state = {"blocks.0.mlp.fc1.weight": torch.zeros(1), "mask_token": torch.zeros(1)}
    >>> list(to_braindecode_layout(state))
    ['blocks.0.mlp.0.weight']
    """  # noqa: E501
    out = {}
    for key, value in state.items():
        if _PRETRAINING_KEY.match(key):
            continue
        for ours, theirs in _OURS_TO_BRAINDECODE:
            key = key.replace(ours, theirs)
        out[key] = value
    return out


def from_braindecode_layout(state: Mapping[str, torch.Tensor]) -> dict:
    """Rename a state dict from braindecode's key layout into this package's.

    Keys already in this package's layout are kept as they are.

    Examples
    --------
    >>> import torch
    >>> list(from_braindecode_layout({"blocks.0.mlp.2.bias": torch.zeros(1)}))
    ['blocks.0.mlp.fc2.bias']
    """
    out = {}
    for key, value in state.items():
        for ours, theirs in _OURS_TO_BRAINDECODE:
            key = key.replace(theirs, ours)
        out[key] = value
    return out


def is_safetensors_source(source) -> bool:
    """Whether ``source`` is a ``.safetensors`` file or a pretrained folder."""
    if isinstance(source, Mapping) or source is None:
        return False
    path = Path(source).expanduser()
    return path.suffix == ".safetensors" or path.is_dir()


def read_pretrained(source) -> tuple[dict, dict | None]:
    """Read the tensors (this package's layout) and config of a safetensors source.

    Parameters
    ----------
    source : str | Path
        A ``.safetensors`` file (its config, if any, is read from its
        metadata or from a ``config.json`` beside it) or a folder holding
        ``model.safetensors`` (and ``config.json``).

    Returns
    -------
    state : dict of str to Tensor
        The tensors, renamed from braindecode's layout when needed.
    config : dict | None
        The content of ``config.json``, None when there is none.

    Examples
    --------
    >>> import tempfile, torch
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_safetensors({"w": torch.ones(2)}, f"{folder}/m.safetensors",
    ...                              config={"kind": "demo"})
    ...     state, config = read_pretrained(path)
    >>> state["w"].tolist(), config
    ([1.0, 1.0], {'kind': 'demo'})
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(source).expanduser()
    if path.is_dir():
        folder, path = path, path / WEIGHTS_NAME
        if not path.is_file():
            raise FileNotFoundError(
                f"No {WEIGHTS_NAME} in the folder {folder} (a pretrained folder "
                f"holds {WEIGHTS_NAME} and {CONFIG_NAME}, as save_pretrained "
                "writes them)."
            )
    elif not path.is_file():
        raise FileNotFoundError(f"No checkpoint file at {path}")
    state = from_braindecode_layout(load_file(str(path), device="cpu"))
    config = None
    beside = path.with_name(CONFIG_NAME)
    if beside.is_file():
        config = json.loads(beside.read_text())
    else:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        if METADATA_KEY in metadata:
            config = json.loads(metadata[METADATA_KEY])
    return state, config


def write_safetensors(state: Mapping[str, torch.Tensor], path, config=None) -> Path:
    """Write ``state`` to a ``.safetensors`` file atomically.

    ``config`` (a JSON-able dict) is stored in the file's metadata too, so a
    lone file knows what it holds.

    Examples
    --------
    >>> import tempfile, torch
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_safetensors({"w": torch.zeros(3)}, f"{folder}/m.safetensors")
    ...     path.name
    'm.safetensors'
    """
    from safetensors.torch import save_file

    tensors = {
        key: value.detach().to("cpu").contiguous() for key, value in state.items()
    }
    metadata = {"format": "pt"}
    if config is not None:
        metadata[METADATA_KEY] = json.dumps(config, sort_keys=True)
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return _atomic(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def write_config(config: dict, folder) -> Path:
    """Write ``config.json`` into ``folder`` atomically."""
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    return _atomic(Path(folder) / CONFIG_NAME, lambda tmp: Path(tmp).write_text(text))


def _atomic(path: Path, write) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def model_config(model) -> dict:
    """``config.json`` content describing a NeuroRVQ torch model."""
    from .. import __version__

    return {
        "model_type": type(model).__name__,
        "modality": model.config.modality,
        "config": _jsonable(model.config.to_dict()),
        "n_outputs": getattr(model, "n_outputs", None),
        "mne_neurorvq_version": __version__,
    }


def _jsonable(value):
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def save_pretrained(model, folder, *, layout: str = "mne-neurorvq", extra=None):
    """Write ``model`` as a pretrained folder (``model.safetensors`` + config).

    Parameters
    ----------
    model : NeuroRVQTokenizerModel | NeuroRVQFoundation
        The model.
    folder : str | Path
        The folder (created if needed); existing files of the same names are
        replaced atomically.
    layout : ``"mne-neurorvq"`` | ``"braindecode"``
        Key layout of the tensors: this package's (everything, loadable
        strictly here), or braindecode's (renamed MLP keys, no pre-training
        tensors; foundation models).
    extra : dict | None
        More ``config.json`` entries (fitted estimators' channels...).

    Returns
    -------
    folder : Path

    Examples
    --------
    >>> import tempfile
    >>> from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig
    >>> model = NeuroRVQTokenizerModel(TokenizerConfig.tiny())
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = save_pretrained(model, folder)
    ...     from_pretrained(folder).config == model.config
    True
    """
    if layout not in ("mne-neurorvq", "braindecode"):
        raise ValueError(
            f"layout must be 'mne-neurorvq' or 'braindecode', got {layout!r}"
        )
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    if layout == "braindecode":
        state = to_braindecode_layout(state)
    config = dict(model_config(model), layout=layout, **(extra or {}))
    write_safetensors(state, folder / WEIGHTS_NAME, config)
    write_config(config, folder)
    return folder


def from_pretrained(folder, device="cpu", **module_kwargs):
    """Load the torch model of a pretrained folder (or ``.safetensors`` file).

    The class comes from ``config.json``'s ``model_type``; without a config,
    use :func:`mne_neurorvq.nn.load_tokenizer` or
    :func:`mne_neurorvq.nn.load_foundation`, which infer it from the shapes.

    Examples
    --------
    >>> import tempfile
    >>> from mne_neurorvq.nn import NeuroRVQFoundation, FoundationConfig
    >>> model = NeuroRVQFoundation(config=FoundationConfig.tiny())
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = save_pretrained(model, folder, layout="braindecode")
    ...     type(from_pretrained(folder)).__name__
    'NeuroRVQFoundation'
    """
    from .checkpoints import CheckpointError, load_foundation, load_tokenizer

    _, config = read_pretrained(folder)
    kind = (config or {}).get("model_type")
    if kind == "NeuroRVQTokenizerModel":
        return load_tokenizer(folder, device=device)
    if kind == "NeuroRVQFoundation":
        if config.get("n_outputs") is not None:
            module_kwargs.setdefault("n_outputs", config["n_outputs"])
        return load_foundation(folder, device=device, **module_kwargs)
    raise CheckpointError(
        f"{folder} has no {CONFIG_NAME} naming its model_type "
        "(NeuroRVQTokenizerModel or NeuroRVQFoundation): load it with "
        "load_tokenizer or load_foundation."
    )


class PretrainedMixin:
    """``save_pretrained`` / ``from_pretrained`` for the NeuroRVQ torch models."""

    def save_pretrained(self, folder, *, layout: str = "mne-neurorvq"):
        """Write ``model.safetensors`` + ``config.json`` into ``folder``.

        See :func:`mne_neurorvq.nn.hub.save_pretrained`.
        """
        return save_pretrained(self, folder, layout=layout)

    @classmethod
    def from_pretrained(cls, folder, device="cpu", **module_kwargs):
        """Load a model written by :meth:`save_pretrained` (or a safetensors file).

        See :func:`mne_neurorvq.nn.hub.from_pretrained`.
        """
        from .checkpoints import load_foundation, load_tokenizer

        if cls.__name__ == "NeuroRVQTokenizerModel":
            return load_tokenizer(folder, device=device)
        return load_foundation(folder, device=device, **module_kwargs)


# ------------------------------------------------- the published .pt layout


def published_state_dict(model) -> dict[str, torch.Tensor]:
    """State dict of ``model`` in the published layout (CPU tensors).

    For a foundation model the fresh classification parts (``fc_norm``,
    ``head``) are left out, so the result has exactly the published file's keys.

    Examples
    --------
    >>> from mne_neurorvq.nn import FoundationConfig, NeuroRVQFoundation
    >>> model = NeuroRVQFoundation(n_outputs=2, config=FoundationConfig.tiny())
    >>> "head.weight" in model.state_dict()
    True
    >>> "head.weight" in published_state_dict(model)
    False
    """
    from .foundation import NeuroRVQFoundation

    state = model.state_dict()
    if isinstance(model, NeuroRVQFoundation):
        state = {k: v for k, v in state.items() if not _CLASSIFIER_KEY.match(k)}
    return {k: v.detach().cpu() for k, v in state.items()}


def save_checkpoint(model_or_state, path) -> Path:
    """Write a checkpoint in the published layout, atomically.

    Parameters
    ----------
    model_or_state : nn.Module | Mapping
        A NeuroRVQ module (see :func:`published_state_dict`) or a state dict.
    path : str | Path
        Destination; written to a temporary file in the same folder first, then
        renamed, so an interrupted save never leaves a truncated file. A path
        ending in ``.safetensors`` is written with safetensors, the model's
        configuration and modality in the file's metadata (a module only).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig
    >>> from mne_neurorvq.nn.checkpoints import load_tokenizer
    >>> model = NeuroRVQTokenizerModel(TokenizerConfig.tiny())
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = save_checkpoint(model, Path(folder) / "tokenizer.pt")
    ...     load_tokenizer(path).config == model.config
    True
    """
    if isinstance(model_or_state, torch.nn.Module):
        state = published_state_dict(model_or_state)
    else:
        state = dict(model_or_state)
    path = Path(path).expanduser()
    if path.suffix == ".safetensors":
        config = None
        if isinstance(model_or_state, torch.nn.Module):
            config = model_config(model_or_state)
        return write_safetensors(state, path, config)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
