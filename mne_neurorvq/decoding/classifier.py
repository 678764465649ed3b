"""NeuroRVQClassifier: fine-tune the NeuroRVQ foundation model with skorch.

Importing this module imports braindecode (and so torchaudio, once
:func:`mne_neurorvq._braindecode.import_braindecode` has checked that it loads
beside this torch); the package exposes the class lazily so that
``import mne_neurorvq`` stays light.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping
from os import PathLike

import numpy as np
import torch
from mne.utils import _check_option, _validate_type
from torch import nn

from .._braindecode import import_braindecode
from .._warnings import warn
from ..nn import FoundationConfig, NeuroRVQFoundation
from ..nn.checkpoints import load_foundation
from ..preprocessing import PATCH_SIZE, crop_to_patches, prepare_array
from ._base import RECIPES, UNITS, _set_read_units
from ._device import (
    PRECISIONS,
    autocast,
    device_available,
    resolve_device,
    resolve_precision,
)
from ._docs import fill_doc
from ._finetuning import (
    WarmupLinearSchedule,
    WeightedBCEWithLogitsLoss,
    class_weights,
    layer_decay_scales,
    schedule_factor,
)
from ._input import (
    check_finite,
    check_fitted_channels,
    match_input,
    read_input,
)

EEGClassifier = import_braindecode().EEGClassifier

__all__ = [
    "NeuroRVQClassifier",
    "WarmupLinearSchedule",
    "WeightedBCEWithLogitsLoss",
    "class_weights",
    "layer_decay_scales",
    "schedule_factor",
]


# ---------------------------------------------------------------- estimator


@fill_doc
class NeuroRVQClassifier(EEGClassifier):
    """Fine-tune the NeuroRVQ foundation model as a scikit-learn classifier.

    A :class:`braindecode.EEGClassifier` (skorch) whose module is
    :class:`mne_neurorvq.nn.NeuroRVQFoundation`, with the authors'
    fine-tuning recipe as defaults: AdamW (learning rate 5e-4, weight decay
    1e-2), batch 32, 20 epochs, per-batch linear warm-up over 4 epochs from
    0.1x then linear decay to 0.1x, layer-wise learning-rate decay 0.975,
    class-weighted loss (one logit with weighted binary cross-entropy for two
    classes). The authors fine-tune under bf16 autocast: pass
    ``precision="auto"`` to do so where the device computes bf16 natively.

    Input is read like the NeuroRVQ transformers (see
    :mod:`mne_neurorvq.decoding`): an :class:`mne.Epochs`, a list of
    :class:`mne.Epochs`, a braindecode windows dataset, or an array with
    ``ch_names``, ``sfreq`` and ``units``. :meth:`fit` takes the targets of a
    braindecode dataset when ``y`` is None, as :class:`braindecode.EEGClassifier`
    does, and :meth:`predict` always returns labels of ``classes_``.
    Channels and sampling rate are inferred anew in every :meth:`fit` (kept in
    ``ch_names_``, ``input_chans_``...) and passed to the module when it is
    built, never written back into the parameters: a clone refitted on another
    montage just works.

    Parameters
    ----------
    %(weights)s
        Default: the published EEG foundation model.
    config : FoundationConfig | None
        Model configuration when ``weights`` is None (default: published).
    freeze_encoder : bool
        Train only the final norm and the head (linear probing).
    %(ch_names)s
    %(sfreq)s
    %(units)s
    %(recipe)s
    %(clip)s
    %(on_unknown)s
    lr : float
        Peak learning rate.
    weight_decay : float
        AdamW weight decay.
    max_epochs : int
        Training epochs.
    batch_size : int
        Training and inference batch size.
    warmup_epochs : int
        Epochs of linear warm-up.
    layer_decay : float
        Layer-wise learning-rate decay (1 disables it).
    class_weight : ``"balanced"`` | None
        Weight classes by inverse frequency, or not at all.
    %(precision)s
    %(device)s
    %(random_state)s
    train_split : callable | None
        skorch's validation split (none by default: all data train).
    callbacks : list | None
        Extra skorch callbacks.
    %(verbose_skorch)s
    **kwargs
        Passed to :class:`skorch.NeuralNet` (e.g. ``iterator_train__num_workers``).

    Attributes
    ----------
    classes_ : ndarray
        Class labels seen in :meth:`fit`.
    ch_names_ : list of str
        Channels used by the model.
    input_chans_ : ndarray of int
        Their vocabulary indices.
    device_ : torch.device
        Device used.
    precision_ : str
        Precision used, ``"float32"`` or ``"bf16"``.
    module_ : NeuroRVQFoundation
        The fine-tuned model.

    Examples
    --------
    >>> from sklearn.model_selection import GroupKFold, cross_val_score
    >>> clf = NeuroRVQClassifier(weights="neurorvq-eeg-foundation-v1", max_epochs=5)
    >>> scores = cross_val_score(clf, epochs, y, groups=subjects,
    ...                          cv=GroupKFold(5))  # doctest: +SKIP

    A braindecode dataset, with its own targets::

        >>> from braindecode.datasets import create_from_mne_epochs
        >>> ds = create_from_mne_epochs([epochs], 640, 640, False)  # doctest: +SKIP
        >>> clf.fit(ds).predict(ds)  # doctest: +SKIP
    """

    def __init__(
        self,
        weights="neurorvq-eeg-foundation-v1",
        *,
        config=None,
        freeze_encoder=False,
        ch_names=None,
        sfreq=None,
        units="V",
        recipe=None,
        clip=None,
        on_unknown="ignore",
        lr=5e-4,
        weight_decay=1e-2,
        max_epochs=20,
        batch_size=32,
        warmup_epochs=4,
        layer_decay=0.975,
        class_weight="balanced",
        precision="float32",
        device="auto",
        random_state=None,
        train_split=None,
        callbacks=None,
        verbose=1,
        **kwargs,
    ):
        self.weights = weights
        self.config = config
        self.freeze_encoder = freeze_encoder
        self.ch_names = ch_names
        self.sfreq = sfreq
        self.units = units
        self.recipe = recipe
        self.clip = clip
        self.on_unknown = on_unknown
        self.weight_decay = weight_decay
        self.warmup_epochs = warmup_epochs
        self.layer_decay = layer_decay
        self.class_weight = class_weight
        self.precision = precision
        self.random_state = random_state
        kwargs.setdefault("iterator_train__drop_last", False)
        super().__init__(
            NeuroRVQFoundation,
            criterion=nn.CrossEntropyLoss,
            optimizer=torch.optim.AdamW,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            callbacks=callbacks,
            device=device,
            verbose=verbose,
            **kwargs,
        )

    #: Fixed by this class (the recipe), hence not parameters.
    _FIXED = ("module", "criterion", "optimizer")

    def _get_param_names(self):
        return [n for n in super()._get_param_names() if n not in self._FIXED]

    # ------------------------------------------------------------ input
    def _check_params(self):
        if self.weights is not None:
            _validate_type(
                self.weights,
                (str, PathLike, Mapping),
                "weights",
                "a published name, a path, a state dict or None",
            )
        _validate_type(
            self.config, (FoundationConfig, None), "config", "FoundationConfig or None"
        )
        _check_option("precision", self.precision, PRECISIONS)
        _check_option("class_weight", self.class_weight, ("balanced", None))
        _check_option("units", self.units, UNITS)
        _check_option("recipe", self.recipe, RECIPES)
        if not 0 < self.layer_decay <= 1:
            raise ValueError(f"layer_decay must be in (0, 1], got {self.layer_decay}")

    def _read(self, X, fitting: bool):
        """Read ``X`` through the input contract; check it against the fit."""
        inp = read_input(X, self.ch_names, self.sfreq, self.units)
        _set_read_units(inp, "eeg")
        if fitting:
            match, self.picks_ = match_input(inp, self.on_unknown)
            self.input_ch_names_ = list(inp.ch_names)
            self.ch_names_ = list(match.ch_names)
            self.input_chans_ = np.array(match.vocab_idx, dtype=np.int64)
            self.sfreq_ = inp.sfreq
            self.n_features_in_ = len(inp.ch_names)
        else:
            check_fitted_channels(inp, self)
        return inp

    def _labels(self, X, y) -> np.ndarray:
        """The labels of ``X``: ``y``, or the targets of a braindecode dataset."""
        inp = read_input(X, self.ch_names, self.sfreq, self.units)
        if y is None:
            if inp.targets is None:
                raise ValueError(
                    "NeuroRVQClassifier needs labels y to fit: pass y, or a "
                    "braindecode dataset whose windows have targets."
                )
            y = inp.targets
        y = np.asarray(y)
        if inp.n_epochs is not None and len(y) != inp.n_epochs:
            raise ValueError(f"y has {len(y)} labels but X has {inp.n_epochs} epochs.")
        return y

    def _prepare_X(self, X, fitting: bool) -> np.ndarray:
        """Read ``X``, match its channels, return model input (float32 uV, 200 Hz)."""
        return self._prepare(self._read(X, fitting), fitting)

    def _prepare(self, inp, fitting: bool) -> np.ndarray:
        data = inp.get_data(self.picks_)
        check_finite(data, self.ch_names_)
        with warnings.catch_warnings():
            if inp.from_mne:  # read in uV already; unit advice does not apply
                warnings.filterwarnings("ignore", message="With units=")
            data, steps = prepare_array(
                data,
                inp.sfreq,
                units=inp.units,
                recipe=self.recipe,
                clip=self.clip,
                verbose=False,
            )
        if data.shape[-1] < PATCH_SIZE:
            raise ValueError(
                f"Epochs must last at least 1 s, got {inp.n_times} samples at "
                f"{inp.sfreq:g} Hz."
            )
        data, _ = crop_to_patches(data, PATCH_SIZE)
        if fitting:
            self.preprocessing_ = steps
        return np.ascontiguousarray(data, dtype=np.float32)

    # ------------------------------------------------------------ skorch hooks
    def _set_signal_args(self, X, y, classes):
        """Do nothing: signal arguments go to the module in :meth:`initialize_module`.

        braindecode writes inferred ``module__*`` parameters with
        ``set_params`` during the first fit and never again, so a refit on
        another montage would keep the old channels. This class keeps the
        inferred values in fitted attributes instead.
        """

    def initialize_module(self):
        """Build (or load) the foundation model for the fitted channels and classes."""
        n_outputs = 1 if len(self.classes_) == 2 else len(self.classes_)
        kwargs = dict(
            n_outputs=n_outputs,
            chan_idx=self.input_chans_,
            n_chans=len(self.input_chans_),
            sfreq=200.0,
        )
        restored = self.__dict__.pop("_restored_module", None)
        if restored is not None:  # from_pretrained
            module = restored
        elif self.weights is None:
            module = NeuroRVQFoundation(config=self.config, **kwargs)
            generator = None
            if self.random_state is not None:
                generator = torch.Generator().manual_seed(int(self.random_state))
            module.init_weights(generator)
        else:
            module = load_foundation(self.weights, config=self.config, **kwargs)
        if self.freeze_encoder:
            for name, param in module.named_parameters():
                param.requires_grad = name.startswith(("head.", "fc_norm."))
        self.module_ = module.to(self.device_).train()
        return self

    def initialize_criterion(self):
        """Class-weighted cross-entropy (binary: one logit, weighted BCE)."""
        n_classes = len(self.classes_)
        weight = torch.as_tensor(self.class_weight_, dtype=torch.float32)
        if n_classes == 2:
            criterion = WeightedBCEWithLogitsLoss(weight)
        else:
            criterion = nn.CrossEntropyLoss(weight=weight)
        self.criterion_ = criterion.to(self.device_)
        return self

    def initialize_optimizer(self, triggered_directly=None):
        """AdamW with one parameter group per tensor (layer-wise decay)."""
        scales = layer_decay_scales(self.module_, self.layer_decay)
        groups = [
            {
                "params": [param],
                "lr": self.lr * scales[name],
                "base_lr": self.lr * scales[name],
                "weight_decay": self.weight_decay,
            }
            for name, param in self.module_.named_parameters()
            if param.requires_grad
        ]
        self.optimizer_ = self.optimizer(groups, lr=self.lr)
        return self

    @property
    def _default_callbacks(self):
        return [
            *super()._default_callbacks,
            ("lr_schedule", WarmupLinearSchedule(self.warmup_epochs)),
        ]

    def infer(self, x, **fit_params):
        """Forward pass under the configured autocast; returns float32 logits."""
        x = torch.as_tensor(x, device=self.device_)
        with autocast(self.precision_, self.device_):
            out = self.module_(x, **fit_params)
        if out.shape[-1] == 1:  # binary: one logit, as skorch's BCE expects
            out = out[..., 0]
        return out.float()

    def get_loss(self, y_pred, y_true, *args, **kwargs):
        """Loss of a batch on the fitted device."""
        y_true = torch.as_tensor(y_true, device=self.device_)
        return self.criterion_(y_pred, y_true)

    # ------------------------------------------------------------ public API
    @fill_doc
    def fit(self, X, y=None, **fit_params):
        """Fine-tune on ``X`` and labels ``y``.

        Parameters
        ----------
        %(input)s
        y : array-like, shape (n_epochs,) | None
            Class labels (any type ``numpy.unique`` sorts); None takes the
            targets of a braindecode dataset ``X``.
        **fit_params : dict
            Passed to skorch.

        Returns
        -------
        self : NeuroRVQClassifier
        """
        self._check_params()
        y = self._labels(X, y)
        self.label_classes_, y_encoded = np.unique(y, return_inverse=True)
        if len(self.label_classes_) < 2:
            raise ValueError(
                f"Need at least 2 classes to fit, got {self.label_classes_.tolist()}"
            )
        n_classes = len(self.label_classes_)
        self.class_weight_ = (
            class_weights(y_encoded, n_classes)
            if self.class_weight == "balanced"
            else np.ones(n_classes)
        )
        self.device_ = resolve_device(self.device)
        self.precision_ = resolve_precision(self.precision, self.device_)
        data = self._prepare_X(X, fitting=True)
        if self.random_state is not None:
            torch.manual_seed(int(self.random_state))
        with self._skorch_device():
            return super().fit(data, y_encoded.astype(np.int64), **fit_params)

    @contextlib.contextmanager
    def _skorch_device(self):
        """Let skorch see the resolved device during fit; restore the parameter.

        skorch moves the module and criterion with ``self.device``, which must
        be a concrete torch device, while this estimator's ``device`` may be
        ``"auto"``. The parameter is restored before :meth:`fit` returns.
        """
        requested = self.device
        self.device = str(self.device_)
        try:
            yield
        finally:
            self.device = requested

    @property
    def classes_(self):
        """Class labels seen in fit."""
        return self.label_classes_

    @fill_doc
    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        %(input)s

        Returns
        -------
        proba : ndarray of float32, shape (n_epochs, n_classes)
            Columns in the order of ``classes_``.
        """
        if _skorch_internal(X):  # skorch's own validation scoring
            return super().predict_proba(X)
        return super().predict_proba(self._prepare_X(X, fitting=False))

    @fill_doc
    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        %(input)s

        Returns
        -------
        labels : ndarray, shape (n_epochs,)
            Labels of ``classes_``. (skorch's internal validation scoring
            passes its own prepared dataset and gets encoded labels
            0..C-1, as it expects.)
        """
        encoded = self.predict_proba(X).argmax(axis=1)
        if _skorch_internal(X):
            return encoded
        return self.classes_[encoded]

    @fill_doc
    def decision_function(self, X):
        """Logits.

        Parameters
        ----------
        %(input)s

        Returns
        -------
        logits : ndarray of float32, shape (n_epochs,) or (n_epochs, n_classes)
            One logit per epoch for two classes (positive: ``classes_[1]``),
            else one per class.
        """
        data = self._prepare_X(X, fitting=False)
        logits = self.forward(data, training=False)
        return logits.detach().cpu().numpy()

    def save_pretrained(self, folder):
        """Write the fitted classifier into ``folder``, without pickle.

        ``model.safetensors`` holds the fine-tuned model; ``config.json`` its
        configuration, the parameters, the channels, classes and
        preprocessing seen in :meth:`fit` and the package version. Push the
        folder to the Hugging Face Hub with ``huggingface_hub.upload_folder``.

        Parameters
        ----------
        folder : str | path-like
            Where to write (created if needed).

        Returns
        -------
        folder : pathlib.Path
        """
        from ._pretrained import save_classifier

        return save_classifier(self, folder)

    @classmethod
    def from_pretrained(cls, folder, **params):
        """Load a classifier written by :meth:`save_pretrained`, ready to predict.

        Parameters
        ----------
        folder : str | path-like
            The folder (e.g. from ``huggingface_hub.snapshot_download``).
        **params
            Parameters overriding the saved ones (e.g. ``device="cpu"``).

        Returns
        -------
        clf : NeuroRVQClassifier
            The fitted classifier.
        """
        from ._pretrained import load_classifier

        return load_classifier(cls, folder, **params)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "module_") and hasattr(self, "label_classes_")

    # ------------------------------------------------------------ pickling
    def __setstate__(self, state):
        requested = state.get("device", "auto")
        fitted_on = state.get("device_")
        target = torch.device("cpu")
        if fitted_on is not None and device_available(fitted_on):
            target = fitted_on
        elif fitted_on is not None:
            warn(
                f"This NeuroRVQClassifier was fitted on {fitted_on}, which is not "
                "available here: it is restored on the CPU.",
            )
        state = dict(state, device=str(target))
        super().__setstate__(state)
        self.device = requested
        if fitted_on is not None:
            self.device_ = target
            if target != fitted_on:
                self.precision_ = resolve_precision(self.precision, target)


def _skorch_internal(X) -> bool:
    """Whether ``X`` is skorch's own dataset (or a subset of it).

    skorch's validation scoring passes those to
    :meth:`NeuroRVQClassifier.predict`.
    """
    from skorch.dataset import Dataset as SkorchDataset

    while isinstance(X, torch.utils.data.Subset):
        X = X.dataset
    return isinstance(X, SkorchDataset)
