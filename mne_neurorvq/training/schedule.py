"""Learning-rate schedules stepped once per optimizer step."""

from __future__ import annotations

import math

import torch

__all__ = ["SCHEDULES", "LRFactor", "build_scheduler"]

#: Schedule names understood by :func:`build_scheduler`.
SCHEDULES = ("cosine", "linear", "constant")


class LRFactor:
    """Multiplier of the base learning rate at a given step.

    Linear warm-up from ``warmup_start`` to 1 over ``warmup_steps`` steps,
    then, over the remaining steps up to ``total_steps``:

    - ``'cosine'``: half a cosine from 1 down to ``min_ratio``;
    - ``'linear'``: a straight line from 1 down to ``min_ratio`` (the authors'
      fine-tuning recipe uses warm-up from 0.1 and decay to 0.1);
    - ``'constant'``: 1.

    Steps past ``total_steps`` keep the last value. A picklable object (not a
    lambda), so schedulers built from it have a plain ``state_dict``.

    Examples
    --------
    >>> factor = LRFactor("cosine", total_steps=10, warmup_steps=2)
    >>> [round(factor(s), 3) for s in (0, 1, 2, 10)]
    [0.5, 1.0, 1.0, 0.0]
    """

    def __init__(
        self,
        kind: str = "cosine",
        total_steps: int = 1,
        warmup_steps: int = 0,
        min_ratio: float = 0.0,
        warmup_start: float = 0.0,
    ):
        if kind not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {kind!r}")
        if total_steps < 1 or warmup_steps < 0:
            raise ValueError(
                f"Need total_steps >= 1 and warmup_steps >= 0, got {total_steps} "
                f"and {warmup_steps}"
            )
        self.kind = kind
        self.total_steps = int(total_steps)
        self.warmup_steps = int(min(warmup_steps, total_steps))
        self.min_ratio = float(min_ratio)
        self.warmup_start = float(warmup_start)

    def __call__(self, step: int) -> float:
        """Factor of the learning rate used by optimizer step ``step`` (0-based)."""
        if step < self.warmup_steps:
            progress = (step + 1) / self.warmup_steps
            return self.warmup_start + (1 - self.warmup_start) * progress
        if self.kind == "constant":
            return 1.0
        remaining = self.total_steps - self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / max(1, remaining - 1))
        if self.kind == "linear":
            return 1 - (1 - self.min_ratio) * progress
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (
            1 + math.cos(math.pi * progress)
        )


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    kind: str = "cosine",
    total_steps: int = 1,
    warmup_steps: int = 0,
    min_ratio: float = 0.0,
    warmup_start: float = 0.0,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Return a per-step :class:`~torch.optim.lr_scheduler.LambdaLR`.

    See :class:`LRFactor` for the shapes. Call ``scheduler.step()`` after
    every ``optimizer.step()``.

    Examples
    --------
    >>> optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> scheduler = build_scheduler(
    ...     optimizer, "linear", total_steps=4, warmup_steps=1, min_ratio=0.1
    ... )
    >>> lrs = []
    >>> for _ in range(4):
    ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> lrs
    [0.1, 0.1, 0.055, 0.01]
    """
    factor = LRFactor(kind, total_steps, warmup_steps, min_ratio, warmup_start)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
