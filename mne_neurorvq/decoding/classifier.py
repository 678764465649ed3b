"""NeuroRVQClassifier: fine-tune the NeuroRVQ foundation model with skorch.

Importing this module imports braindecode (and so torchaudio, once
:func:`mne_neurorvq._braindecode.import_braindecode` has checked that it loads
beside this torch); the package exposes the class lazily so that
``import mne_neurorvq`` stays light.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Mapping
from os import PathLike

import numpy as np
import torch
import torch.nn.functional as F
from mne.utils import _check_option, _validate_type, warn
from skorch.callbacks import Callback
from torch import nn

from .._braindecode import import_braindecode
from ..nn import FoundationConfig, NeuroRVQFoundation
from ..nn.checkpoints import load_foundation
from ..preprocessing import PATCH_SIZE, crop_to_patches, prepare_array
from ._base import (
    _check_finite,
    _device_available,
    _match_input,
    _read_input,
    _resolve_device,
)

EEGClassifier = import_braindecode().EEGClassifier

_PRECISIONS = ("auto", "float32", "bf16")


# ---------------------------------------------------------------- recipe parts


def class_weights(y_encoded: np.ndarray, n_classes: int) -> np.ndarray:
    """Class weights proportional to ``1 / count``, summing to ``n_classes``.

    Examples
    --------
    >>> class_weights(np.array([0, 0, 0, 1]), 2)
    array([0.5, 1.5])
    """
    counts = np.bincount(y_encoded, minlength=n_classes).astype(float)
    if (counts == 0).any():
        missing = np.flatnonzero(counts == 0).tolist()
        raise ValueError(f"Classes {missing} have no training sample.")
    weights = 1.0 / counts
    return weights * n_classes / weights.sum()


def layer_decay_scales(module: nn.Module, decay: float) -> dict[str, float]:
    """Learning-rate multiplier of every parameter tensor (authors' recipe).

    With ``n`` the number of named parameter tensors of the reference
    fine-tuning model, tensor ``i`` (0-based, definition order) gets
    ``decay ** (n - i)``, except ``head.*`` and ``fc_norm.*`` (full rate).
    The reference model also holds ``2 * n_scales`` unused ``fc_norm_s``
    tensors after the blocks, which count in ``n``; this module does not
    build them, so they are added to the count.
    """
    names = [name for name, _ in module.named_parameters()]
    n_scales = getattr(getattr(module, "config", None), "n_scales", 4)
    n_params = len(names) + 2 * n_scales
    return {
        name: 1.0 if name.startswith(("head.", "fc_norm.")) else decay ** (n_params - i)
        for i, name in enumerate(names)
    }


def schedule_factor(step: int, n_batches: int, max_epochs: int, warmup_epochs: int):
    """Learning-rate factor at optimiser step ``step`` (authors' recipe).

    Linear warm-up from 0.1 to 1 over ``warmup_epochs`` epochs, then linear
    decay to 0.1 over the remaining epochs; with fewer than
    ``warmup_epochs + 1`` epochs, a single warm-up over all steps.
    """
    total = max(1, n_batches * max_epochs)
    if max_epochs <= warmup_epochs:
        return 0.1 + 0.9 * min(step / total, 1.0)
    warm = n_batches * warmup_epochs
    if step < warm:
        return 0.1 + 0.9 * step / warm
    decay = max(1, total - warm)
    return 1.0 - 0.9 * min((step - warm) / decay, 1.0)


class WarmupLinearSchedule(Callback):
    """Per-batch warm-up then linear-decay schedule of every parameter group."""

    def __init__(self, warmup_epochs: int = 4):
        self.warmup_epochs = warmup_epochs

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Count the batches of an epoch and set the first rates."""
        self.n_batches_ = max(1, math.ceil(len(X) / net.batch_size))
        self.step_ = 0
        self.max_epochs_ = net.max_epochs
        self._apply(net)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        """Advance one step after every training batch."""
        if training:
            self.step_ += 1
            self._apply(net)

    def _apply(self, net):
        factor = schedule_factor(
            self.step_, self.n_batches_, self.max_epochs_, self.warmup_epochs
        )
        for group in net.optimizer_.param_groups:
            group["lr"] = group["base_lr"] * factor


class WeightedBCEWithLogitsLoss(nn.BCEWithLogitsLoss):
    """Binary cross-entropy on one logit, each sample weighted by its class weight."""

    def __init__(self, class_weight=None):
        super().__init__()
        self.register_buffer(
            "class_weight",
            torch.ones(2) if class_weight is None else torch.as_tensor(class_weight),
        )

    def forward(self, logits, target):
        """Mean of ``w[y] * BCE(logit, y)`` over the batch."""
        target = target.long()
        weight = self.class_weight.to(logits.dtype)[target]
        return F.binary_cross_entropy_with_logits(
            logits.reshape(-1), target.to(logits.dtype), weight=weight
        )


def _bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


# ---------------------------------------------------------------- estimator


class NeuroRVQClassifier(EEGClassifier):
    """Fine-tune the NeuroRVQ foundation model as a scikit-learn classifier.

    A :class:`braindecode.EEGClassifier` (skorch) whose module is
    :class:`mne_neurorvq.nn.NeuroRVQFoundation`, with the authors'
    fine-tuning recipe as defaults: AdamW (learning rate 5e-4, weight decay
    1e-2), batch 32, 20 epochs, per-batch linear warm-up over 4 epochs from
    0.1x then linear decay to 0.1x, layer-wise learning-rate decay 0.975,
    class-weighted loss (one logit with weighted binary cross-entropy for two
    classes), and bf16 autocast where the device supports it.

    Input is read like the NeuroRVQ transformers: an :class:`mne.Epochs`, a
    list of :class:`mne.Epochs`, or an array with ``ch_names``, ``sfreq`` and
    ``units``. Channels and sampling rate are inferred anew in every
    :meth:`fit` (kept in ``ch_names_``, ``input_chans_``...) and passed to the
    module when it is built, never written back into the parameters: a clone
    refitted on another montage just works.

    Parameters
    ----------
    weights : str | path-like | dict | None
        Foundation-model weights: a published name, a checkpoint path or a
        state dict; None trains from a fresh model built from ``config``.
    config : FoundationConfig | None
        Model configuration when ``weights`` is None (default: published).
    freeze_encoder : bool
        Train only the final norm and the head (linear probing).
    ch_names, sfreq : list of str | None, float | None
        Channel names and sampling rate of array input.
    units : ``"V"`` | ``"mV"`` | ``"uV"``
        Unit of array input (Epochs are read in uV).
    recipe : None | ``"authors"`` | ``"benchmark"``
        Filtering before the model (see
        :func:`mne_neurorvq.preprocessing.prepare_array`).
    clip : float | None
        Clip limit in uV (None: the recipe's default).
    on_unknown : ``"ignore"`` | ``"warn"`` | ``"raise"``
        EEG channels outside the NeuroRVQ vocabulary.
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
    precision : ``"auto"`` | ``"float32"`` | ``"bf16"``
        Autocast precision of the forward pass; ``"auto"`` uses bf16 where the
        device supports it (CUDA with bf16, CPUs with AVX512-BF16/AMX).
    device : ``"auto"`` | str
        Torch device; ``"auto"`` picks CUDA when available. Resolved into
        ``device_``.
    random_state : int | None
        Seed of the head initialisation and of the batch order.
    train_split : callable | None
        skorch's validation split (none by default: all data train).
    callbacks : list | None
        Extra skorch callbacks.
    verbose : int
        skorch's verbosity (0 silences the per-epoch table).
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
    module_ : NeuroRVQFoundation
        The fine-tuned model.

    Examples
    --------
    >>> from sklearn.model_selection import GroupKFold, cross_val_score
    >>> clf = NeuroRVQClassifier(weights="neurorvq-eeg-foundation-v1", max_epochs=5)
    >>> scores = cross_val_score(clf, epochs, y, groups=subjects,
    ...                          cv=GroupKFold(5))  # doctest: +SKIP
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
        precision="auto",
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
        _check_option("precision", self.precision, _PRECISIONS)
        _check_option("class_weight", self.class_weight, ("balanced", None))
        _check_option("units", self.units, ("V", "mV", "uV", "µV", "μV"))
        if not 0 < self.layer_decay <= 1:
            raise ValueError(f"layer_decay must be in (0, 1], got {self.layer_decay}")

    def _prepare_X(self, X, fitting: bool) -> np.ndarray:
        """Read ``X``, match its channels, return model input (float32 uV, 200 Hz)."""
        inp = _read_input(X, self.ch_names, self.sfreq, self.units)
        if fitting:
            match, self.picks_ = _match_input(inp, self.on_unknown)
            self.input_ch_names_ = list(inp.ch_names)
            self.ch_names_ = list(match.ch_names)
            self.input_chans_ = np.array(match.vocab_idx, dtype=np.int64)
            self.sfreq_ = inp.sfreq
            self.n_features_in_ = len(inp.ch_names)
        elif inp.ch_names != self.input_ch_names_:
            raise ValueError(
                "X has other channels than those NeuroRVQClassifier was fitted on: "
                f"expected {self.input_ch_names_}, got {inp.ch_names}."
            )
        data = inp.get_data(self.picks_)
        _check_finite(data, self.ch_names_)
        with warnings.catch_warnings():
            if inp.from_epochs:  # read in uV already; unit advice does not apply
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
        if self.weights is None:
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
        with torch.autocast(
            self.device_.type, dtype=torch.bfloat16, enabled=self.use_bf16_
        ):
            out = self.module_(x, **fit_params)
        if out.shape[-1] == 1:  # binary: one logit, as skorch's BCE expects
            out = out[..., 0]
        return out.float()

    def get_loss(self, y_pred, y_true, *args, **kwargs):
        """Loss of a batch on the fitted device."""
        y_true = torch.as_tensor(y_true, device=self.device_)
        return self.criterion_(y_pred, y_true)

    # ------------------------------------------------------------ public API
    def fit(self, X, y, **fit_params):
        """Fine-tune on ``X`` (Epochs, list of Epochs or array) and labels ``y``.

        Parameters
        ----------
        X : mne.Epochs | list of mne.Epochs | ndarray
            Training epochs; arrays of shape (n_epochs, n_channels, n_times).
        y : array-like, shape (n_epochs,)
            Class labels.
        **fit_params : dict
            Passed to skorch.

        Returns
        -------
        self : NeuroRVQClassifier
        """
        self._check_params()
        if y is None:
            raise ValueError("NeuroRVQClassifier needs labels y to fit.")
        y = np.asarray(y)
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
        self.device_ = _resolve_device(self.device)
        self.use_bf16_ = self.precision == "bf16" or (
            self.precision == "auto" and _bf16_supported(self.device_)
        )
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

    def predict_proba(self, X):
        """Class probabilities, shape (n_epochs, n_classes)."""
        if isinstance(X, torch.utils.data.Dataset):  # skorch's own scoring
            return super().predict_proba(X)
        return super().predict_proba(self._prepare_X(X, fitting=False))

    def predict(self, X):
        """Predicted class labels, shape (n_epochs,).

        (skorch's internal validation scoring passes a prepared
        :class:`torch.utils.data.Dataset` and gets encoded labels 0..C-1.)
        """
        encoded = self.predict_proba(X).argmax(axis=1)
        if isinstance(X, torch.utils.data.Dataset):
            return encoded
        return self.classes_[encoded]

    def decision_function(self, X):
        """Logits: shape (n_epochs,) for two classes, else (n_epochs, n_classes)."""
        data = self._prepare_X(X, fitting=False)
        logits = self.forward(data, training=False)
        return logits.detach().cpu().numpy()

    def __sklearn_is_fitted__(self):
        return hasattr(self, "module_") and hasattr(self, "label_classes_")

    # ------------------------------------------------------------ pickling
    def __setstate__(self, state):
        requested = state.get("device", "auto")
        fitted_on = state.get("device_")
        target = torch.device("cpu")
        if fitted_on is not None and _device_available(fitted_on):
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
            self.use_bf16_ = self.use_bf16_ and _bf16_supported(target)
