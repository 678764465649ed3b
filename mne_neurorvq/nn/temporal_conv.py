"""Multi-scale temporal convolution: the patch embedding."""

from __future__ import annotations

import torch
from torch import nn

from ._chunks import inference_chunks
from ._tuning import CANDIDATES
from .config import POOL_WIDTHS, _BaseConfig


def average_pool_time(x: torch.Tensor, width: int) -> torch.Tensor:
    """Average non-overlapping windows of ``width`` samples on the last axis.

    The same values as ``nn.AvgPool2d((1, width))`` (a trailing remainder is
    dropped), computed from strided views: several times faster on CPU.

    Examples
    --------
    >>> import torch
    >>> average_pool_time(torch.arange(8.0).reshape(1, 8), 2)
    tensor([[0.5000, 2.5000, 4.5000, 6.5000]])
    """
    n_windows = x.shape[-1] // width
    x = x[..., : n_windows * width]
    if width == 2:
        # (a + b) * 0.5 is exactly (a + b) / 2
        return (x[..., 0::2] + x[..., 1::2]) * 0.5
    return x.unflatten(-1, (n_windows, width)).mean(dim=-1)


class MultiScaleTemporalConv(nn.Module):
    """Embed every patch at four temporal scales.

    The patches of a sample are viewed as one image ``(1, N*A, P)`` and passed
    through ``n_scales`` parallel branches of two convolution stages each
    (conv -> GroupNorm -> exact GELU -> average pool). Each branch gives one
    ``embed_dim``-wide vector per patch, flattened with time outer and
    convolution channel inner.

    GroupNorm statistics cover all patches of a sample, so a patch's embedding
    depends on the other patches of its epoch (as in the published model).

    The branches run in the dtype of the weights even under
    :func:`torch.autocast`: rounding the raw EEG and the convolutions to bf16
    caused most of bf16's token changes (identical tokens on real EEG rose
    from 96.6 to 99.4 % with this module in float32), for about 5 % of the
    embedding's FLOPs.

    Parameters
    ----------
    config : TokenizerConfig | FoundationConfig
        Model configuration.

    Notes
    -----
    Submodules are named ``conv{stage}_{branch}`` and ``norm{stage}_{branch}``
    (1-based), the key layout of the published checkpoints.

    Examples
    --------
    >>> import torch
    >>> from mne_neurorvq.nn import MultiScaleTemporalConv, TokenizerConfig
    >>> conv = MultiScaleTemporalConv(TokenizerConfig())
    >>> conv(torch.randn(2, 12, 200)).shape  # 2 samples of 12 patches
    torch.Size([4, 2, 12, 200])
    """

    def __init__(self, config: _BaseConfig):
        super().__init__()
        self.n_scales = config.n_scales
        channels = config.conv_channels
        # kernels per modality (config.stage{1,2}_kernels), padded by k // 2:
        # an even kernel lengthens the sequence by one sample, which the
        # following average pool drops (as the authors' EMG model)
        stages = ((1, config.stage1_kernels), (2, config.stage2_kernels))
        for stage, kernels in stages:
            for branch in range(1, self.n_scales + 1):
                kernel = kernels[branch - 1]
                in_channels = 1 if stage == 1 else channels
                conv = nn.Conv2d(
                    in_channels,
                    channels,
                    kernel_size=(1, kernel),
                    padding=(0, kernel // 2),
                )
                norm = nn.GroupNorm(config.conv_groups, channels)
                self.add_module(f"conv{stage}_{branch}", conv)
                self.add_module(f"norm{stage}_{branch}", norm)
        self.act = nn.GELU()
        self.pool_widths = POOL_WIDTHS

    def branch(self, patches: torch.Tensor, scale: int) -> torch.Tensor:
        """Run one branch.

        Parameters
        ----------
        patches : Tensor, shape (B, T, P)
            The T = N*A patches of every sample.
        scale : int
            0-based branch index.

        Returns
        -------
        Tensor, shape (B, T, D)
        """
        x = patches.unsqueeze(1)
        for stage, width in enumerate(self.pool_widths, start=1):
            x = getattr(self, f"conv{stage}_{scale + 1}")(x)
            x = getattr(self, f"norm{stage}_{scale + 1}")(x)
            x = average_pool_time(self.act(x), width)
        # (B, channels, T, time) -> (B, T, time * channels), channel inner
        return x.permute(0, 2, 3, 1).flatten(2)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """Embed patches at every scale.

        Parameters
        ----------
        patches : Tensor, shape (B, T, P)

        Returns
        -------
        Tensor, shape (S, B, T, D)
            In the dtype of the weights (float32 unless the model was cast).
        """
        patches = patches.to(self.conv1_1.weight.dtype)
        # CPU inference in chunks of samples, of the size measured fastest on
        # this machine (mne_neurorvq.nn._tuning): GroupNorm works on each
        # sample alone, so chunks give the same embedding up to float
        # rounding (oneDNN may pick another algorithm for another batch size)
        with torch.autocast(patches.device.type, enabled=False):
            chunks = inference_chunks(
                patches, "samples", self._shape(patches), self._timer(patches)
            )
            parts = [self._branches(part) for part in chunks]
        return torch.cat(parts, dim=1)

    def _shape(self, patches: torch.Tensor) -> str:
        """What the speed of a chunk of samples depends on."""
        kernels = [
            getattr(self, f"conv{stage}_{branch + 1}").kernel_size[1]
            for stage in (1, 2)
            for branch in range(self.n_scales)
        ]
        return (
            f"{patches.shape[1]} patches x {patches.shape[2]}, "
            f"{self.conv1_1.out_channels} channels, kernels {kernels}, "
            f"{patches.dtype}"
        )

    def _timer(self, patches: torch.Tensor):
        """Runs the branches over the same samples in chunks of a size."""

        def run(size: int):
            work = max(CANDIDATES["samples"])
            index = torch.arange(work, device=patches.device) % patches.shape[0]
            for part in patches[index].split(size):
                self._branches(part)

        return run

    def _branches(self, patches: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.branch(patches, s) for s in range(self.n_scales)])
