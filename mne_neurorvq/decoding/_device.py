"""Where and in which precision the estimators' models run.

``device`` and ``precision`` mean the same in every estimator: ``"auto"``
resolves in ``fit`` (into ``device_`` and ``precision_``) and the parameter
itself is never changed.
"""

from __future__ import annotations

import contextlib

import torch
from mne.utils import _check_option, _validate_type

from ..nn._tuning import native_bf16

PRECISIONS = ("float32", "bf16", "auto")


def resolve_device(device) -> torch.device:
    """The torch device of ``device`` (``"auto"``: CUDA when available, else CPU)."""
    _validate_type(device, (str, torch.device), "device", "'auto', str or torch.device")
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(
            "device must be 'auto' or a torch device such as 'cpu', 'cuda' or "
            f"'cuda:1', got {device!r}."
        ) from None
    if not device_available(resolved):
        raise ValueError(
            f"device={device!r} is not available on this machine; use "
            "device='auto' (CUDA when available, else CPU) or device='cpu'."
        )
    return resolved


def device_available(device: torch.device) -> bool:
    """Whether ``device`` exists on this machine."""
    device = torch.device(device)
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False
        return device.index is None or device.index < torch.cuda.device_count()
    if device.type == "mps":
        return torch.backends.mps.is_available()
    return True  # other backends: let torch report problems


def bf16_native(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively (not emulated).

    CUDA devices of compute capability 8.0 or newer; CPUs with AVX512-BF16
    or AMX (see :func:`mne_neurorvq.nn._tuning.native_bf16`).
    """
    return native_bf16(device)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"float32"`` or ``"bf16"``: ``precision`` with ``"auto"`` decided."""
    _check_option("precision", precision, PRECISIONS)
    if precision == "auto":
        return "bf16" if bf16_native(device) else "float32"
    return precision


def autocast(precision: str, device: torch.device):
    """Context running the forward pass in ``precision`` (resolved) on ``device``."""
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
