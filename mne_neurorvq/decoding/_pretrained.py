"""``save_pretrained`` / ``from_pretrained`` of the estimators: no pickle.

A fitted estimator is written as a pretrained folder
(:mod:`mne_neurorvq.nn.hub`): ``model.safetensors`` holds the model's tensors
and ``config.json`` the model's configuration, the estimator's parameters
(those JSON can hold), what ``fit`` learnt about the input (channels, rate,
classes, preprocessing) and the package version. The folder is what
``huggingface_hub.upload_folder`` pushes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..nn.config import FoundationConfig, TokenizerConfig
from ..nn.hub import read_pretrained, save_pretrained
from ..preprocessing import PreprocessingSteps

#: Fitted attributes of the classifier kept in ``config.json``.
_CLASSIFIER_FITTED = (
    "input_ch_names_",
    "ch_names_",
    "input_chans_",
    "picks_",
    "sfreq_",
    "n_features_in_",
    "class_weight_",
    "precision_",
)
_CONFIGS = {"FoundationConfig": FoundationConfig, "TokenizerConfig": TokenizerConfig}


def _jsonable(value):
    """``value`` as JSON can hold it; None for what it cannot."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, PathLike):
        return str(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and type(value).__name__ in _CONFIGS:
        return {"__config__": type(value).__name__, **_jsonable(value.to_dict())}
    return None


def _from_json(value):
    if isinstance(value, dict) and "__config__" in value:
        values = {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in value.items()
            if k != "__config__"
        }
        return _CONFIGS[value["__config__"]].from_dict(values)
    return value


def estimator_params(estimator) -> dict:
    """The parameters of ``estimator`` that JSON can hold (others are left out).

    A state dict given as ``weights`` is left out (the folder holds the model).
    """
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        if name == "weights" and isinstance(value, Mapping):
            continue
        converted = _jsonable(value)
        if converted is not None or value is None:
            params[name] = converted
    return params


def _preprocessing_json(steps: PreprocessingSteps | None):
    return None if steps is None else _jsonable(dataclasses.asdict(steps))


def _preprocessing(values) -> PreprocessingSteps | None:
    if values is None:
        return None
    return PreprocessingSteps(**dict(values, operations=tuple(values["operations"])))


def save_classifier(clf, folder) -> Path:
    """Write a fitted :class:`NeuroRVQClassifier` into ``folder``."""
    check_is_fitted(clf)
    classes = np.asarray(clf.classes_)
    fitted = {name: _jsonable(getattr(clf, name)) for name in _CLASSIFIER_FITTED}
    extra = {
        "estimator": type(clf).__name__,
        "params": estimator_params(clf),
        "fitted": dict(
            fitted,
            classes=classes.tolist(),
            classes_dtype=classes.dtype.str if classes.dtype != object else "object",
            preprocessing=_preprocessing_json(getattr(clf, "preprocessing_", None)),
        ),
    }
    return save_pretrained(clf.module_, folder, extra=extra)


def _read_estimator(cls, folder) -> tuple[dict, dict]:
    from ..nn.checkpoints import CheckpointError

    state, recorded = read_pretrained(folder)
    name = (recorded or {}).get("estimator")
    if name != cls.__name__:
        what = f"a {name}" if name else "no fitted estimator"
        raise CheckpointError(
            f"{folder} holds {what}, not a {cls.__name__} (written by "
            f"{cls.__name__}.save_pretrained)."
        )
    return state, recorded


def load_classifier(cls, folder, **params):
    """A fitted classifier of class ``cls`` from ``folder`` (see save_classifier).

    ``params`` override the saved parameters (e.g. ``device``).
    """
    import torch

    from ..nn.foundation import NeuroRVQFoundation
    from ._device import resolve_device, resolve_precision

    state, recorded = _read_estimator(cls, folder)
    saved = {k: _from_json(v) for k, v in recorded["params"].items()}
    clf = cls(**{**saved, **params})
    fitted = recorded["fitted"]
    for name in _CLASSIFIER_FITTED:
        setattr(clf, name, fitted[name])
    clf.input_chans_ = np.asarray(clf.input_chans_, dtype=np.int64)
    clf.picks_ = np.asarray(clf.picks_, dtype=np.int64)
    clf.class_weight_ = np.asarray(clf.class_weight_, dtype=np.float64)
    clf.label_classes_ = np.asarray(fitted["classes"], dtype=fitted["classes_dtype"])
    clf.preprocessing_ = _preprocessing(fitted["preprocessing"])
    clf.device_ = resolve_device(clf.device)
    if "precision" in params or fitted["precision_"] is None:
        clf.precision_ = resolve_precision(clf.precision, clf.device_)
    config = FoundationConfig.from_dict(
        {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in recorded["config"].items()
        }
    )
    module = NeuroRVQFoundation(
        config=config,
        n_outputs=recorded["n_outputs"],
        chan_idx=clf.input_chans_,
        n_chans=len(clf.input_chans_),
        sfreq=config.sfreq,
    )
    module.load_state_dict(state, strict=True)
    # handed to initialize_module (skorch refuses modules set outside it)
    clf.__dict__["_restored_module"] = module.to(torch.device(clf.device_))
    with clf._skorch_device():
        clf.initialize()
    clf.module_.eval()
    return clf


def save_transformer(estimator, folder) -> Path:
    """Write a fitted NeuroRVQ transformer's model and parameters into ``folder``."""
    check_is_fitted(estimator)
    extra = {
        "estimator": type(estimator).__name__,
        "params": estimator_params(estimator),
        "fitted": {
            "modality": estimator.modality_,
            "input_ch_names": list(estimator.input_ch_names_),
            "ch_names": list(estimator.ch_names_),
            "sfreq": estimator.sfreq_,
            "preprocessing": _preprocessing_json(estimator.preprocessing_),
        },
    }
    return save_pretrained(estimator.model_, folder, extra=extra)


def load_transformer(cls, folder, **params):
    """An estimator of class ``cls`` whose weights are the model in ``folder``.

    The saved parameters are restored (``params`` override them) and
    ``weights`` is the folder: :meth:`fit` loads the model (it never trains
    again) and records the channels of the data it is given.
    """
    _, recorded = _read_estimator(cls, folder)
    saved = {k: _from_json(v) for k, v in recorded["params"].items()}
    return cls(**{**saved, "weights": str(Path(folder)), **params})
