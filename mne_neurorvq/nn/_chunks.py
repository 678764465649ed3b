"""Batches split into chunks along the first axis for CPU inference."""

from __future__ import annotations

import torch


def inference_chunks(x: torch.Tensor, cpu_size: int) -> tuple[torch.Tensor, ...]:
    """Split ``x`` along its first axis for the computation that follows.

    In CPU inference (no gradient) the chunks hold ``cpu_size`` rows each, so
    that the intermediates of a large batch stay in cache; otherwise (GPU,
    training) ``x`` stays one piece. An empty ``x`` gives one empty piece.

    Examples
    --------
    >>> import torch
    >>> x = torch.zeros(5, 3)
    >>> with torch.no_grad():
    ...     [len(part) for part in inference_chunks(x, 2)]
    [2, 2, 1]
    >>> [len(part) for part in inference_chunks(x, 2)]  # gradients on: one piece
    [5]
    """
    chunk = max(x.shape[0], 1)  # split() refuses 0 (an empty batch)
    if x.device.type == "cpu" and not torch.is_grad_enabled():
        chunk = cpu_size
    return x.split(chunk)
