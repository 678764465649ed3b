"""Codebook usage of a training run: perplexity, used share, dead codes.

The tracker lives in the trainer, not in the model: the model's state dict
keeps the published layout, and the statistics still survive a resume
because the trainer stores :meth:`CodebookUsage.state_dict` in its
checkpoints.
"""

from __future__ import annotations

import torch

from .distributed import all_reduce_sum

__all__ = ["CodebookUsage", "code_counts", "usage_statistics"]


def code_counts(tokens: torch.Tensor, n_code: int) -> torch.Tensor:
    """Count how often every code is chosen, per scale and level.

    Parameters
    ----------
    tokens : Tensor of int64, shape (S, L, ...)
        Code indices (e.g. ``TokenizerOutput.tokens``, (S, L, B, T)).
    n_code : int
        Codes per codebook (K).

    Returns
    -------
    Tensor of int64, shape (S, L, K)
    """
    n_scales, n_levels = tokens.shape[:2]
    flat = tokens.reshape(n_scales * n_levels, -1).long()
    offsets = torch.arange(n_scales * n_levels, device=flat.device) * n_code
    counts = torch.bincount(
        (flat + offsets[:, None]).reshape(-1), minlength=n_scales * n_levels * n_code
    )
    return counts.reshape(n_scales, n_levels, n_code)


def usage_statistics(counts: torch.Tensor) -> dict[str, torch.Tensor]:
    """Perplexity and share of used codes from code counts.

    Parameters
    ----------
    counts : Tensor, shape (..., K)
        How often each code was chosen.

    Returns
    -------
    dict
        ``perplexity`` (``exp`` of the entropy of the code distribution: 1
        when a single code is used, K when all are used equally),
        ``used_share`` (codes chosen at least once / K) and ``n_used``, each of
        shape ``counts.shape[:-1]``.

    Examples
    --------
    >>> import torch
    >>> stats = usage_statistics(torch.tensor([[5.0, 5.0, 0.0, 0.0]]))
    >>> stats["perplexity"].tolist(), stats["used_share"].tolist()
    ([2.0], [0.5])
    """
    counts = counts.double()
    total = counts.sum(dim=-1, keepdim=True).clamp(min=1)
    p = counts / total
    entropy = -(p * torch.where(p > 0, p.log(), torch.zeros_like(p))).sum(dim=-1)
    used = (counts > 0).sum(dim=-1)
    return {
        "perplexity": entropy.exp(),
        "used_share": used.double() / counts.shape[-1],
        "n_used": used,
    }


class CodebookUsage:
    """Per-level codebook usage over a training run.

    After each step, :meth:`update` adds the step's code counts (summed over
    processes when torch.distributed runs, so every process agrees) to the
    epoch's counts and records, per code, the last step that used it. A code
    is *dead* when no step used it during the last ``dead_after`` steps.

    Parameters
    ----------
    n_scales, n_levels, n_code : int
        Shape of the tokenizer's codebooks (S, L, K).
    dead_after : int
        Steps without use after which a code counts as dead.

    Examples
    --------
    >>> usage = CodebookUsage(n_scales=1, n_levels=1, n_code=4, dead_after=2)
    >>> usage.update(torch.tensor([[[0, 0, 1]]]), step=1).tolist()  # (S, L, K)
    [[[2, 1, 0, 0]]]
    >>> usage.update(torch.tensor([[[1, 0, 1]]]), step=2).tolist()
    [[[1, 2, 0, 0]]]
    >>> usage.dead().tolist()  # codes 2 and 3 unused for 2 steps
    [[[False, False, True, True]]]
    >>> usage.summary()
    {'perplexity': [[2.0]], 'used_share': [[0.5]], 'dead': [[2]]}
    """

    def __init__(self, n_scales: int, n_levels: int, n_code: int, dead_after: int):
        if dead_after < 1:
            raise ValueError(f"dead_after must be positive, got {dead_after}")
        self.shape = (n_scales, n_levels, n_code)
        self.dead_after = int(dead_after)
        self.epoch_counts = torch.zeros(self.shape, dtype=torch.int64)
        #: Step (1-based) that last used each code; 0: none yet.
        self.last_used = torch.zeros(self.shape, dtype=torch.int64)
        self.step = 0

    def update(self, tokens: torch.Tensor, step: int) -> torch.Tensor:
        """Record the tokens of optimizer step ``step`` (1-based).

        Parameters
        ----------
        tokens : Tensor of int64, shape (S, L, ...)
        step : int

        Returns
        -------
        counts : Tensor of int64, shape (S, L, K)
            The step's counts, all processes together.
        """
        counts = code_counts(tokens.detach(), self.shape[-1])
        counts = all_reduce_sum(counts).cpu()
        self.epoch_counts += counts
        self.last_used[counts > 0] = int(step)
        self.step = int(step)
        return counts

    def dead(self, step: int | None = None) -> torch.Tensor:
        """Boolean mask (S, L, K) of the codes unused in the last ``dead_after`` steps.

        At the first ``dead_after - 1`` steps no code is dead yet.
        """
        step = self.step if step is None else int(step)
        return (step - self.last_used) >= self.dead_after

    def revive(self, mask: torch.Tensor, step: int):
        """Mark the codes of ``mask`` as used at ``step`` (after a restart)."""
        self.last_used[mask.cpu()] = int(step)

    def summary(self) -> dict[str, list]:
        """Statistics of the current epoch, per scale and level.

        Returns
        -------
        dict
            ``perplexity``, ``used_share`` (codes used this epoch / K) and
            ``dead`` (number of dead codes now), each a nested list (S, L).
        """
        stats = usage_statistics(self.epoch_counts)
        return {
            "perplexity": stats["perplexity"].tolist(),
            "used_share": stats["used_share"].tolist(),
            "dead": self.dead().sum(dim=-1).tolist(),
        }

    def reset_epoch(self):
        """Start counting a new epoch (dead-code history is kept)."""
        self.epoch_counts.zero_()

    def state_dict(self) -> dict:
        """Tensors and integers to checkpoint."""
        return {
            "epoch_counts": self.epoch_counts.clone(),
            "last_used": self.last_used.clone(),
            "step": self.step,
            "dead_after": self.dead_after,
        }

    def load_state_dict(self, state: dict):
        """Restore :meth:`state_dict` output."""
        if tuple(state["last_used"].shape) != self.shape:
            raise ValueError(
                f"Usage state of shape {tuple(state['last_used'].shape)} does not "
                f"match codebooks {self.shape}"
            )
        self.epoch_counts = state["epoch_counts"].clone()
        self.last_used = state["last_used"].clone()
        self.step = int(state["step"])
        self.dead_after = int(state["dead_after"])
