"""Batches split into chunks along the first axis for CPU inference."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._tuning import CANDIDATES, overrides, tuned


def inference_chunks(
    x: torch.Tensor, name: str, shape: str, run: Callable[[int], object]
) -> tuple[torch.Tensor, ...]:
    """Split ``x`` along its first axis for the computation that follows.

    In CPU inference (no gradient) of more rows than the smallest candidate
    of setting ``name``, the chunks hold the rows that setting gives
    (:func:`mne_neurorvq.nn._tuning.tuned`: measured once per machine with
    ``run``, or fixed by ``MNE_NEURORVQ_CPU_TUNING``), so that the
    intermediates of a large batch stay in cache; otherwise (GPU, training,
    a small batch) nothing is measured and ``x`` stays one piece. An empty
    ``x`` gives one empty piece.

    Examples
    --------
    >>> import os, torch
    >>> os.environ["MNE_NEURORVQ_CPU_TUNING"] = "sequences=2"
    >>> x = torch.zeros(5, 3)
    >>> with torch.no_grad():
    ...     [len(part) for part in inference_chunks(x, "sequences", "doc", None)]
    [2, 2, 1]
    >>> [len(part) for part in inference_chunks(x, "sequences", "doc", None)]
    [5]
    >>> del os.environ["MNE_NEURORVQ_CPU_TUNING"]
    """
    return x.split(inference_chunk_size(x, name, shape, run))


def inference_chunk_size(
    x: torch.Tensor, name: str, shape: str, run: Callable[[int], object]
) -> int:
    """Rows per chunk of ``x`` (see :func:`inference_chunks`)."""
    rows = max(x.shape[0], 1)  # split() refuses 0 (an empty batch)
    if x.device.type != "cpu" or torch.is_grad_enabled():
        return rows
    if name not in overrides() and rows <= min(CANDIDATES[name]):
        return rows
    return max(1, tuned(name, shape, run))
