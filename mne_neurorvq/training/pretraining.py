"""Masked-token pre-training of the foundation model.

A frozen tokenizer turns every window into tokens (S scales x L levels per
patch). Each step masks exactly ``round(T * mask_ratio)`` of the ``T`` patches
of every window at random, the foundation model predicts the tokens of the
masked patches from the others and, in a second (symmetric) pass with the
complementary mask, the tokens of the other patches; the loss is
:func:`mne_neurorvq.nn.foundation.pretraining_loss` (mean over the S*L heads of
the cross-entropy of each pass, summed over the two passes).

Reported: masked-token accuracy per scale and level (argmax of each head at
the masked patches of the first pass), and as a reference the accuracy of
always predicting the most frequent token of that head on the same batch or
evaluation set.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from ..nn.checkpoints import load_foundation, load_tokenizer, save_checkpoint
from ..nn.config import FoundationConfig
from ..nn.foundation import NeuroRVQFoundation
from ..nn.tokenizer import NeuroRVQTokenizerModel
from .engine import StepOutput, TrainingTask
from .sampler import derive_seed

__all__ = [
    "PretrainingTask",
    "masked_token_accuracy",
    "most_frequent_token_accuracy",
    "random_mask",
    "tokens_for_pretraining",
]

#: File name of the pre-trained foundation model in the output folder.
FOUNDATION_NAME = "foundation.pt"


def random_mask(
    batch: int,
    n_tokens: int,
    ratio: float = 0.5,
    generator: torch.Generator | None = None,
    device=None,
) -> torch.Tensor:
    """Mask exactly ``round(n_tokens * ratio)`` random tokens of every sample.

    The count is kept between 1 and ``n_tokens - 1`` (both passes of the
    symmetric pre-training need tokens to predict).

    Parameters
    ----------
    batch, n_tokens : int
    ratio : float
        Share of masked tokens.
    generator : torch.Generator | None
        CPU generator of the draw.
    device : torch.device | None
        Device of the result.

    Returns
    -------
    Tensor of bool, shape (batch, n_tokens)

    Examples
    --------
    >>> mask = random_mask(3, 10, 0.5, torch.Generator().manual_seed(0))
    >>> mask.sum(dim=1).tolist()
    [5, 5, 5]
    """
    if not 0 < ratio < 1:
        raise ValueError(f"mask ratio must be in (0, 1), got {ratio}")
    if n_tokens < 2:
        raise ValueError("Masked pre-training needs at least 2 tokens per sample")
    n_masked = min(max(round(n_tokens * ratio), 1), n_tokens - 1)
    scores = torch.rand(batch, n_tokens, generator=generator)
    ranks = scores.argsort(dim=1).argsort(dim=1)
    return (ranks < n_masked).to(device)


def tokens_for_pretraining(tokenizer, x, chan_idx) -> torch.Tensor:
    """The frozen tokenizer's tokens laid out for the pre-training heads.

    Parameters
    ----------
    tokenizer : NeuroRVQTokenizerModel
        In eval mode.
    x : Tensor, shape (B, N, A * P)
    chan_idx : Tensor of int64, shape (N,)

    Returns
    -------
    Tensor of int64, shape (S, L, B, N * A)
        Token ``j = n * A + a`` of every window, per scale and level.
    """
    tokens = tokenizer.tokenize(x, chan_idx)  # (B, N, A, S, L)
    batch = tokens.shape[0]
    return tokens.permute(3, 4, 0, 1, 2).reshape(*tokens.shape[3:], batch, -1)


def _targets(tokens, mask):
    return tokens.reshape(-1, *tokens.shape[2:])[:, mask]  # (H, M)


def masked_token_accuracy(logits_masked, tokens, mask) -> torch.Tensor:
    """Accuracy of each head at the masked tokens.

    Parameters
    ----------
    logits_masked : Tensor, shape (H, M, V)
        First output of
        :meth:`~mne_neurorvq.nn.NeuroRVQFoundation.forward_pretraining`.
    tokens : Tensor of int64, shape (S, L, B, T)
    mask : Tensor of bool, shape (B, T)

    Returns
    -------
    Tensor, shape (H,)
        Share of masked tokens whose argmax prediction is right, in [0, 1].

    Examples
    --------
    One scale of two levels (H = 2 heads), one window of 5 patches of which
    the first 4 are masked, and predictions as one-hot logits over 4 codes:

    >>> tokens = torch.tensor([[[[3, 3, 3, 1, 0]], [[0, 1, 2, 3, 3]]]])
    >>> mask = torch.tensor([[True, True, True, True, False]])
    >>> predicted = torch.tensor([[3, 3, 3, 3], [0, 1, 0, 0]])  # (H, M)
    >>> logits = torch.nn.functional.one_hot(predicted, 4).float()  # (H, M, V)
    >>> masked_token_accuracy(logits, tokens, mask).tolist()
    [0.75, 0.5]
    """
    correct = logits_masked.argmax(dim=-1) == _targets(tokens, mask)
    return correct.float().mean(dim=1)


def most_frequent_token_accuracy(tokens, mask) -> torch.Tensor:
    """Accuracy of always predicting each head's most frequent masked token.

    Parameters
    ----------
    tokens : Tensor of int64, shape (S, L, B, T)
    mask : Tensor of bool, shape (B, T)

    Returns
    -------
    Tensor, shape (H,)

    Examples
    --------
    >>> tokens = torch.tensor([[[[3, 3, 3, 1, 0]], [[0, 1, 2, 3, 3]]]])  # (1, 2, 1, 5)
    >>> mask = torch.tensor([[True, True, True, True, False]])
    >>> most_frequent_token_accuracy(tokens, mask).tolist()
    [0.75, 0.25]
    """
    targets = _targets(tokens, mask)
    return torch.stack([t.bincount().max() for t in targets]).float() / max(
        targets.shape[1], 1
    )


class _MaskedPrediction(nn.Module):
    """Wrapper whose ``forward`` is the pre-training pass (for DDP)."""

    def __init__(self, model: NeuroRVQFoundation, recompute_heads: bool = True):
        super().__init__()
        self.model = model
        self.recompute_heads = recompute_heads

    def forward(self, x, mask, tokens, chan_idx):
        return self.model.pretraining_losses(
            x, mask, tokens, chan_idx, recompute=self.recompute_heads
        )


class PretrainingTask(TrainingTask):
    """Masked-token pre-training of a foundation model on a frozen tokenizer.

    Parameters
    ----------
    tokenizer : NeuroRVQTokenizerModel | str | Path
        The tokenizer (or its checkpoint) whose tokens are predicted; it is
        frozen and used in eval mode.
    config : FoundationConfig | None
        Foundation configuration; default
        ``FoundationConfig.for_tokenizer(tokenizer.config)`` (12 blocks).
        Its ``vocab_size``, ``n_scales``, ``n_levels`` and ``patch_size`` must
        match the tokenizer.
    mask_ratio : float
        Share of the patches masked in the first pass.
    init : str | Path | Mapping | None
        Start from these foundation weights (with pre-training heads).
    recompute_heads : bool
        Recompute each prediction head's logits in the backward pass instead
        of keeping the logits of all 32 heads (published model, batch 8: a
        step peaks at 8.2 instead of 12.5 GB on CPU, for about a quarter more
        work in the heads). Same loss and gradients either way.

    Examples
    --------
    >>> from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig
    >>> tokenizer = NeuroRVQTokenizerModel(TokenizerConfig.tiny())
    >>> task = PretrainingTask(tokenizer, mask_ratio=0.5)
    >>> task.config.vocab_size
    64
    """

    name = "foundation"

    def __init__(
        self,
        tokenizer,
        config: FoundationConfig | None = None,
        *,
        mask_ratio: float = 0.5,
        init=None,
        recompute_heads: bool = True,
    ):
        if not isinstance(tokenizer, NeuroRVQTokenizerModel):
            tokenizer = load_tokenizer(tokenizer)
        self.tokenizer = tokenizer.eval().requires_grad_(False)
        self._init_task(tokenizer.config, config, mask_ratio, init, recompute_heads)

    def _init_task(self, tok, config, mask_ratio, init, recompute_heads):
        """Check the configurations against the tokenizer's; set the fields."""
        self.tokenizer_config = tok
        if config is None:
            config = FoundationConfig.for_tokenizer(tok)
        for name, expected in (
            ("vocab_size", tok.n_code),
            ("n_scales", tok.n_scales),
            ("n_levels", tok.n_levels),
            ("patch_size", tok.patch_size),
        ):
            if getattr(config, name) != expected:
                raise ValueError(
                    f"Foundation config has {name}={getattr(config, name)} but the "
                    f"tokenizer needs {expected}"
                )
        if not 0 < mask_ratio < 1:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
        self.config = config
        self.mask_ratio = float(mask_ratio)
        self.init = init
        self.recompute_heads = bool(recompute_heads)
        self.model = None
        self.seed = 0
        self._reset_epoch()

    def _reset_epoch(self):
        self._correct = None
        self._baseline = None
        self._n_masked = 0

    # ------------------------------------------------------------------ set-up
    def build(self, seed: int) -> NeuroRVQFoundation:
        """Create the foundation model with its pre-training heads."""
        self.seed = int(seed)
        if self.init is not None:
            model = load_foundation(self.init, self.config, pretraining=True)
        else:
            model = NeuroRVQFoundation(config=self.config, pretraining=True)
            model.init_weights(torch.Generator().manual_seed(derive_seed(seed, "init")))
        # fc_norm and head serve fine-tuning only: freeze them so that every
        # trainable parameter gets a gradient (DistributedDataParallel needs it)
        model.fc_norm.requires_grad_(False)
        model.head.requires_grad_(False)
        self.model = model.train()
        self._wrapper = _MaskedPrediction(model, self.recompute_heads)
        return model

    def setup(self, ctx, seed: int):
        """Move the frozen tokenizer to the training device."""
        self.tokenizer.to(ctx.device)

    def train_module(self) -> nn.Module:
        """The wrapper whose ``forward`` runs both masked passes."""
        return self._wrapper

    def _tokens(self, batch):
        with torch.autocast(batch.x.device.type, enabled=False):
            return tokens_for_pretraining(self.tokenizer, batch.x, batch.chan_idx)

    # ------------------------------------------------------------------ steps
    def training_step(self, module, batch, step, ctx) -> StepOutput:
        """Mask, predict both passes, cross-entropy."""
        tokens = self._tokens(batch)
        generator = torch.Generator().manual_seed(
            derive_seed(self.seed, "mask", ctx.rank, step)
        )
        mask = random_mask(
            tokens.shape[2], tokens.shape[3], self.mask_ratio, generator, tokens.device
        )
        ce_m, ce_s, hits = module(batch.x, mask, tokens, batch.chan_idx)
        loss = ce_m.mean() + ce_s.mean()
        n_masked = int(mask.sum())
        with torch.no_grad():
            accuracy = hits.float() / max(n_masked, 1)
            baseline = most_frequent_token_accuracy(tokens, mask)
        metrics = {
            "loss": loss.detach(),
            "ce_masked": ce_m.mean().detach(),
            "ce_symmetric": ce_s.mean().detach(),
            "accuracy": accuracy.mean(),
        }
        extras = {"accuracy": accuracy, "baseline": baseline, "n_masked": n_masked}
        return StepOutput(loss, metrics, extras)

    def after_step(self, output, step, ctx):
        """Accumulate the epoch's masked accuracy and baseline per head."""
        n = output.extras["n_masked"]
        correct = output.extras["accuracy"].detach().cpu().double() * n
        baseline = output.extras["baseline"].detach().cpu().double() * n
        if self._correct is None:
            self._correct, self._baseline = correct, baseline
        else:
            self._correct += correct
            self._baseline += baseline
        self._n_masked += n

    def _per_scale(self, per_head):
        per_level = per_head.reshape(self.config.n_scales, self.config.n_levels)
        return per_level

    def epoch_summary(self) -> dict:
        """Masked accuracy and per-batch baseline, per scale and level."""
        if self._correct is None:
            return {}
        acc = self._per_scale(self._correct / self._n_masked)
        base = self._per_scale(self._baseline / self._n_masked)
        summary = {
            "accuracy": acc.tolist(),
            "baseline": base.tolist(),
            "accuracy_per_scale": acc.mean(dim=1).tolist(),
            "baseline_per_scale": base.mean(dim=1).tolist(),
        }
        self._reset_epoch()
        return summary

    @torch.no_grad()
    def evaluate(self, batches, ctx, autocast) -> dict:
        """Masked accuracy on held-out windows, with fixed masks.

        The baseline predicts, per head, the most frequent token of the whole
        evaluation set's masked positions.

        Returns
        -------
        dict
            ``loss``; ``accuracy`` and ``baseline`` per scale and level (S, L);
            ``accuracy_per_scale`` and ``baseline_per_scale`` (S,);
            ``n_masked`` per head.
        """
        n_heads = self.config.n_tokens_per_patch
        vocab = self.config.vocab_size
        correct = torch.zeros(n_heads, dtype=torch.float64)
        histogram = torch.zeros(n_heads, vocab, dtype=torch.float64)
        loss_sum, n_windows, n_masked = 0.0, 0, 0
        for index, batch in enumerate(batches):
            tokens = self._tokens(batch)
            generator = torch.Generator().manual_seed(
                derive_seed(self.seed, "eval-mask", index)
            )
            mask = random_mask(
                tokens.shape[2],
                tokens.shape[3],
                self.mask_ratio,
                generator,
                tokens.device,
            )
            with autocast:
                ce_m, ce_s, hits = self.model.pretraining_losses(
                    batch.x, mask, tokens, batch.chan_idx
                )
            loss = ce_m.mean() + ce_s.mean()
            targets = _targets(tokens, mask)
            correct += hits.cpu().double()
            offsets = torch.arange(n_heads, device=targets.device)[:, None] * vocab
            histogram += (
                torch.bincount((targets + offsets).flatten(), minlength=n_heads * vocab)
                .reshape(n_heads, vocab)
                .cpu()
                .double()
            )
            loss_sum += float(loss) * len(batch.x)
            n_windows += len(batch.x)
            n_masked += targets.shape[1]
        acc = self._per_scale(correct / max(n_masked, 1))
        base = self._per_scale(histogram.max(dim=1).values / max(n_masked, 1))
        return {
            "loss": loss_sum / max(n_windows, 1),
            "accuracy": acc.tolist(),
            "baseline": base.tolist(),
            "accuracy_per_scale": acc.mean(dim=1).tolist(),
            "baseline_per_scale": base.mean(dim=1).tolist(),
            "n_masked": n_masked,
            "n_windows": n_windows,
        }

    @staticmethod
    def format_summary(entry: dict) -> str:
        """Masked accuracy vs baseline per scale (train, and eval if any)."""
        text = ""
        for label, part in (("train", entry.get("usage")), ("eval", entry.get("eval"))):
            if part and "accuracy_per_scale" in part:
                pairs = zip(
                    part["accuracy_per_scale"], part["baseline_per_scale"], strict=True
                )
                text += f" | {label} acc/base per scale " + " ".join(
                    f"{a:.3f}/{b:.3f}" for a, b in pairs
                )
        return text

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """The epoch's accuracy accumulators."""
        return {
            "correct": self._correct,
            "baseline": self._baseline,
            "n_masked": self._n_masked,
        }

    def load_state_dict(self, state: dict):
        """Restore the accuracy accumulators."""
        self._correct = state["correct"]
        self._baseline = state["baseline"]
        self._n_masked = int(state["n_masked"])

    def describe(self) -> dict:
        """Foundation and tokenizer configurations, mask ratio."""
        return {
            "config": self.config.to_dict(),
            "tokenizer_config": self.tokenizer_config.to_dict(),
            "mask_ratio": self.mask_ratio,
        }

    def save_model(self, out_dir) -> Path:
        """Write ``foundation.pt`` (published layout, pre-training heads included)."""
        out_dir = Path(out_dir)
        path = save_checkpoint(self.model, out_dir / FOUNDATION_NAME)
        (out_dir / "foundation_config.json").write_text(
            json.dumps(self.config.to_dict(), indent=2)
        )
        return path
