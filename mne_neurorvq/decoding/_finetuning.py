"""The authors' fine-tuning recipe as skorch parts (used by NeuroRVQClassifier).

Class weights, layer-wise learning-rate decay, the warm-up then linear-decay
schedule and the weighted binary loss on one logit. Importing this module
imports skorch, not braindecode.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from skorch.callbacks import Callback
from torch import nn


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
