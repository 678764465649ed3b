"""Fourier targets, signal reconstruction and the tokenizer's loss terms."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def standardize_per_sample(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Standardise every sample over all its non-batch values.

    The mean and the unbiased variance (clamped at 1e-8) are taken over all
    values of a sample.

    Returns
    -------
    standardized : Tensor, same shape as ``x``
    mean, std : Tensor, shape (B, 1, ..., 1)
    """
    dims = tuple(range(1, x.ndim))
    mean = x.mean(dim=dims, keepdim=True)
    std = x.var(dim=dims, keepdim=True).clamp(min=1e-8).sqrt()
    return (x - mean) / std, mean, std


@dataclass
class FourierTargets:
    """Fourier targets of a batch of patches, each of shape (B, N, A, P).

    ``amplitude`` is ``log1p(|FFT|)`` standardised per sample with
    ``amplitude_mean`` and ``amplitude_std`` (shape (B, 1, 1, 1)); ``sin`` and
    ``cos`` are those of the FFT angle.
    """

    amplitude: torch.Tensor
    sin: torch.Tensor
    cos: torch.Tensor
    amplitude_mean: torch.Tensor
    amplitude_std: torch.Tensor


def fourier_targets(patches: torch.Tensor) -> FourierTargets:
    """Compute the amplitude and phase targets of ``patches`` (B, N, A, P).

    Examples
    --------
    >>> import torch
    >>> targets = fourier_targets(torch.randn(2, 3, 4, 200))
    >>> targets.amplitude.shape
    torch.Size([2, 3, 4, 200])
    """
    # The spectrum is computed in float64: the phase of the near-empty bins of
    # band-limited EEG is ill-conditioned, and float32 FFT kernels differ
    # between CPUs by up to 3e-3 there (float64 stays within 4e-4 of the
    # reference's float32 targets on the parity fixtures).
    spectrum = torch.fft.fft(patches.double(), dim=-1)
    dtype = patches.dtype if patches.is_floating_point() else torch.float32
    dtype = torch.float32 if dtype == torch.float64 else dtype
    log_amplitude = torch.log1p(spectrum.abs().to(dtype))
    amplitude, mean, std = standardize_per_sample(log_amplitude)
    angle = spectrum.angle()
    sin, cos = torch.sin(angle).to(dtype), torch.cos(angle).to(dtype)
    return FourierTargets(amplitude, sin, cos, mean, std)


def reconstruct_signal(
    amplitude: torch.Tensor,
    sin: torch.Tensor,
    cos: torch.Tensor,
    amplitude_mean: torch.Tensor,
    amplitude_std: torch.Tensor,
) -> torch.Tensor:
    """Rebuild patches from predicted standardised log-amplitude and phase.

    The amplitude is un-standardised with the given per-sample statistics,
    ``expm1``-ed, combined with the phase, and inverse-FFT-ed per patch
    (real part kept).

    Parameters
    ----------
    amplitude, sin, cos : Tensor, shape (B, T, P)
    amplitude_mean, amplitude_std : Tensor, broadcastable to (B, 1, 1)

    Returns
    -------
    Tensor, shape (B, T, P)
    """
    # at least float32: the decoder's outputs are bfloat16 under autocast,
    # which torch.complex and the FFT do not take
    dtype = torch.promote_types(amplitude.dtype, torch.float32)
    amplitude, sin, cos = amplitude.to(dtype), sin.to(dtype), cos.to(dtype)
    magnitude = torch.expm1(amplitude * amplitude_std + amplitude_mean)
    spectrum = torch.complex(magnitude * cos, magnitude * sin)
    return torch.fft.ifft(spectrum, dim=-1).real


def phase_loss(
    sin_pred: torch.Tensor,
    cos_pred: torch.Tensor,
    sin_target: torch.Tensor,
    cos_target: torch.Tensor,
) -> torch.Tensor:
    """Phase loss: 1 - mean cosine similarity of the phase 2-vectors + circle term."""
    pred = torch.stack((cos_pred, sin_pred), dim=-1)
    target = torch.stack((cos_target, sin_target), dim=-1)
    similarity = F.cosine_similarity(pred, target, dim=-1, eps=1e-8).mean()
    circle = (sin_pred.pow(2) + cos_pred.pow(2) - 1).pow(2).mean()
    return 1 - similarity + 0.1 * circle
