"""The NeuroRVQ tokenizer: encoder, residual quantisers, Fourier decoder."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..modalities import MODALITIES, FieldView
from .config import TokenizerConfig
from .fourier import (
    fourier_targets,
    phase_loss,
    reconstruct_signal,
    standardize_per_sample,
)
from .hub import PretrainedMixin
from .quantizer import QuantizerOutput, ResidualVQ
from .temporal_conv import MultiScaleTemporalConv
from .transformer import TokenTransformer, as_index_tensor, token_indices

#: Per-sample mean and standard deviation of ``log1p(|FFT|)`` of 1 s patches of
#: typical scalp EEG in microvolts at 200 Hz, used to un-standardise the
#: predicted amplitude when tokens are decoded without the statistics of the
#: original signal. Measured as the median over EEGMAT Subject00-23 (4 s
#: windows, 0.5-45 Hz band-pass, 19 channels) with
#: ``performance/amplitude_stats.py``.
DEFAULT_AMPLITUDE_STATS = MODALITIES["eeg"].amplitude_stats
#: The same statistics per modality (used when decoding tokens alone), read
#: from the modality records (:mod:`mne_neurorvq.modalities`).
AMPLITUDE_STATS = FieldView("amplitude_stats")


def as_patches(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """View ``x`` as patches.

    Parameters
    ----------
    x : Tensor, shape (B, N, A * P) or (B, N, A, P)
    patch_size : int
        P.

    Returns
    -------
    Tensor, shape (B, N, A, P)

    Examples
    --------
    >>> import torch
    >>> as_patches(torch.zeros(2, 3, 800), 200).shape
    torch.Size([2, 3, 4, 200])
    """
    if x.ndim == 4:
        if x.shape[-1] != patch_size:
            raise ValueError(
                f"Patched input must end with {patch_size} samples per patch, got "
                f"shape {tuple(x.shape)}"
            )
        return x
    if x.ndim != 3:
        raise ValueError(
            f"Expected input of shape (B, N, A*P) or (B, N, A, P), got {tuple(x.shape)}"
        )
    if x.shape[-1] % patch_size or x.shape[-1] == 0:
        raise ValueError(
            f"Input length {x.shape[-1]} is not a positive multiple of the patch "
            f"size {patch_size}; crop or pad to whole patches first."
        )
    return x.reshape(x.shape[0], x.shape[1], -1, patch_size)


class _ScaleNormedTransformer(TokenTransformer):
    """Token transformer whose output gets one LayerNorm per scale (``fc_norm_s``)."""

    def _build_output(self):
        for scale in range(1, self.config.n_scales + 1):
            self.add_module(f"fc_norm_{scale}", nn.LayerNorm(self.config.embed_dim))

    def normed_blocks(self, embeddings, spatial, temporal) -> torch.Tensor:
        """Run the blocks, drop the cls token, apply ``fc_norm_s`` per scale."""
        x = self.run_blocks(embeddings, spatial, temporal)[:, :, 1:]
        return torch.stack(
            [getattr(self, f"fc_norm_{s + 1}")(x[s]) for s in range(x.shape[0])]
        )


class TokenizerEncoder(_ScaleNormedTransformer):
    """Encoder of the tokenizer: multi-scale conv, shared blocks, ``fc_norm_s``."""

    def _build_patch_embed(self):
        self.patch_embed = MultiScaleTemporalConv(self.config)

    def forward(self, patches, spatial, temporal) -> torch.Tensor:
        """Encode ``patches`` (B, T, P) into features (S, B, T, D)."""
        return self.normed_blocks(self.patch_embed(patches), spatial, temporal)


class CodeProjection(nn.Module):
    """1x1 convolution from the code space to the model width."""

    def __init__(self, code_dim: int, embed_dim: int):
        super().__init__()
        self.proj = nn.Conv2d(code_dim, embed_dim, kernel_size=1)

    def forward(self, quantized: torch.Tensor) -> torch.Tensor:
        """Map (B, C, N, A) to (B, N*A, D)."""
        return self.proj(quantized).flatten(2).transpose(1, 2)


class TokenizerDecoder(_ScaleNormedTransformer):
    """Decoder of the tokenizer: per-scale code projection, shared blocks."""

    def _build_patch_embed(self):
        for scale in range(1, self.config.n_scales + 1):
            projection = CodeProjection(self.config.code_dim, self.config.embed_dim)
            self.add_module(f"patch_embed_{scale}", projection)

    def forward(self, quantized, spatial, temporal) -> torch.Tensor:
        """Decode quantised maps (S, B, C, N, A) into features (S, B, T, D)."""
        embeddings = torch.stack(
            [
                getattr(self, f"patch_embed_{s + 1}")(quantized[s])
                for s in range(quantized.shape[0])
            ]
        )
        return self.normed_blocks(embeddings, spatial, temporal)


@dataclass
class DecoderOutput:
    """Predictions of the decoder heads, each (B, N*A, P).

    Examples
    --------
    >>> import torch
    >>> from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig
    >>> model = NeuroRVQTokenizerModel(TokenizerConfig.tiny()).eval()
    >>> model.init_weights(torch.Generator().manual_seed(0))
    >>> chan_idx = torch.tensor([36, 9, 10])
    >>> tokens = model.tokenize(torch.randn(2, 3, 400), chan_idx)
    >>> pred = model.decode(model.lookup_tokens(tokens), chan_idx)
    >>> pred.amplitude.shape  # (B, N * A, P)
    torch.Size([2, 6, 200])
    """

    amplitude: torch.Tensor
    sin: torch.Tensor
    cos: torch.Tensor


@dataclass
class TokenizerOutput:
    """Everything one training or evaluation step of the tokenizer computes.

    Attributes
    ----------
    loss : Tensor
        ``loss_rvq + loss_amplitude + loss_phase + loss_signal``.
    loss_rvq, loss_amplitude, loss_phase, loss_signal : Tensor
        The quantization, spectrum and signal loss terms.
    loss_rvq_per_scale : Tensor, shape (S,)
    std_x, std_recon : Tensor, shape (B, N*A, P)
        Per-sample standardised input and reconstruction.
    tokens : Tensor of int64, shape (S, L, B, N*A)
    usage : Tensor, shape (S, L)
        Distinct codes chosen in the batch / K.

    Examples
    --------
    >>> import torch
    >>> from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig
    >>> model = NeuroRVQTokenizerModel(TokenizerConfig.tiny()).eval()
    >>> model.init_weights(torch.Generator().manual_seed(0))
    >>> out = model(torch.randn(2, 3, 400), torch.tensor([36, 9, 10]))
    >>> out.tokens.shape  # (S, L, B, N * A)
    torch.Size([4, 2, 2, 6])
    """

    loss: torch.Tensor
    loss_rvq: torch.Tensor
    loss_amplitude: torch.Tensor
    loss_phase: torch.Tensor
    loss_signal: torch.Tensor
    loss_rvq_per_scale: torch.Tensor
    std_x: torch.Tensor
    std_recon: torch.Tensor
    tokens: torch.Tensor
    usage: torch.Tensor


def _head(in_dim: int, hidden: int, out_dim: int, act: type, out_tanh: bool):
    layers = [nn.Linear(in_dim, hidden), act(), nn.Linear(hidden, out_dim)]
    if out_tanh:
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class NeuroRVQTokenizerModel(PretrainedMixin, nn.Module):
    """The NeuroRVQ tokenizer as a torch module.

    Its state dict has the key layout of the published
    ``NeuroRVQ_EEG_tokenizer_v1.pt``.

    Parameters
    ----------
    config : TokenizerConfig | None
        Model configuration; the published one when None.

    Notes
    -----
    Shapes: B epochs, N channels, A patches per channel, P samples per patch,
    S scales, L levels, T = N*A tokens. Channels are given by ``chan_idx``,
    their index in :data:`mne_neurorvq.channels.CHANNEL_VOCABULARY`, shape (N,)
    (shared by the batch) or (B, N).

    Examples
    --------
    >>> import torch
    >>> from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig
    >>> model = NeuroRVQTokenizerModel(TokenizerConfig.tiny()).eval()
    >>> model.init_weights(torch.Generator().manual_seed(0))
    >>> x = torch.randn(2, 3, 400)  # 2 epochs, 3 channels, 2 s at 200 Hz
    >>> tokens = model.tokenize(x, torch.tensor([36, 9, 10]))
    >>> tokens.shape  # (B, N, A, S, L)
    torch.Size([2, 3, 2, 4, 2])
    """

    def __init__(self, config: TokenizerConfig | None = None):
        super().__init__()
        config = TokenizerConfig() if config is None else config
        self.config = config
        self.encoder = TokenizerEncoder(
            config, config.encoder_depth, config.init_values
        )
        self.decoder = TokenizerDecoder(
            config, config.decoder_depth, config.init_values
        )
        for scale in range(1, config.n_scales + 1):
            quantizer = ResidualVQ(
                config.n_code,
                config.code_dim,
                config.n_levels,
                decay=config.decay,
                beta=config.beta,
                kmeans_iters=config.kmeans_iters,
            )
            self.add_module(f"quantize_{scale}", quantizer)
        dim = config.embed_dim
        for scale in range(1, config.n_scales + 1):
            head = _head(dim, dim, config.code_dim, nn.Tanh, out_tanh=False)
            self.add_module(f"encode_task_layer_{scale}", head)
        wide = dim * config.n_scales
        P = config.patch_size
        self.decode_task_layer_amplitude = _head(wide, dim, P, nn.GELU, False)
        self.decode_task_layer_angle_sin = _head(wide, dim, P, nn.Tanh, True)
        self.decode_task_layer_angle_cos = _head(wide, dim, P, nn.Tanh, True)

    # ------------------------------------------------------------------ helpers
    @property
    def quantizers(self) -> list[ResidualVQ]:
        """The residual quantiser of every scale."""
        return [
            getattr(self, f"quantize_{s}") for s in range(1, self.config.n_scales + 1)
        ]

    def _indices(self, chan_idx: torch.Tensor, n_patches: int):
        chan_idx = as_index_tensor(chan_idx, self._device())
        return token_indices(chan_idx, n_patches, self.config.n_patches)

    def _device(self):
        return self.encoder.cls_token.device

    @torch.no_grad()
    def init_weights(self, generator: torch.Generator | None = None):
        """Initialise a fresh model, codebooks included (random unit vectors).

        Codebooks get random unit-norm rows and are flagged initialised, so a
        fresh model tokenizes deterministically; training from scratch should
        reset them (:meth:`reset_codebooks`) to use the k-means initialisation.
        """
        self.encoder.init_weights(generator)
        self.decoder.init_weights(generator)
        for name, module in self.named_children():
            if name.startswith(("encode_task", "decode_task")):
                for layer in module:
                    if isinstance(layer, nn.Linear):
                        layer.weight.copy_(_trunc(layer.weight.shape, generator))
                        layer.bias.zero_()
        for quantizer in self.quantizers:
            for codebook in quantizer.codebooks():
                codes = torch.randn(codebook.weight.shape, generator=generator)
                codebook.weight.copy_(torch.nn.functional.normalize(codes, dim=-1))
                codebook.embed_avg.copy_(codebook.weight)
                codebook.initted.fill_(1.0)

    @torch.no_grad()
    def reset_codebooks(self):
        """Zero every codebook and clear ``initted`` (k-means at the next step)."""
        for quantizer in self.quantizers:
            for level in quantizer.layers:
                level.cluster_size.zero_()
                for tensor in (
                    level.embedding.weight,
                    level.embedding.cluster_size,
                    level.embedding.embed_avg,
                    level.embedding.initted,
                ):
                    tensor.zero_()

    # ------------------------------------------------------------------ encoder
    def encoder_features(self, x: torch.Tensor, chan_idx) -> torch.Tensor:
        """Encoder output of every scale, after ``fc_norm_s``.

        Parameters
        ----------
        x : Tensor, shape (B, N, A*P) or (B, N, A, P)
        chan_idx : Tensor of int64, shape (N,) or (B, N)

        Returns
        -------
        Tensor, shape (S, B, N*A, D)
        """
        patches = as_patches(x, self.config.patch_size)
        batch, n_chans, n_patches, size = patches.shape
        spatial, temporal = self._indices(chan_idx, n_patches)
        return self.encoder(patches.reshape(batch, -1, size), spatial, temporal)

    def encode(self, x: torch.Tensor, chan_idx) -> torch.Tensor:
        """Map every patch to the code space of each scale (before quantisation).

        Returns
        -------
        Tensor, shape (S, B, C, N, A)
        """
        patches = as_patches(x, self.config.patch_size)
        batch, n_chans, n_patches, _ = patches.shape
        features = self.encoder_features(patches, chan_idx)
        # the heads into code space stay float32 under autocast, like the
        # nearest-code search after them: cheap, and fewer bf16 token changes
        with torch.autocast(features.device.type, enabled=False):
            features = features.float()
            heads = [
                getattr(self, f"encode_task_layer_{s + 1}")(features[s])
                for s in range(features.shape[0])
            ]
        return torch.stack(
            [
                h.reshape(batch, n_chans, n_patches, -1).permute(0, 3, 1, 2)
                for h in heads
            ]
        )

    def quantize(self, encoded: torch.Tensor, **kwargs) -> list[QuantizerOutput]:
        """Quantise the code-space maps (S, B, C, N, A) of every scale."""
        return [q(encoded[s], **kwargs) for s, q in enumerate(self.quantizers)]

    def tokenize(self, x: torch.Tensor, chan_idx) -> torch.Tensor:
        """Discrete tokens of every patch.

        Parameters
        ----------
        x : Tensor, shape (B, N, A*P) or (B, N, A, P)
            EEG in microvolts at ``config.sfreq``.
        chan_idx : Tensor of int64, shape (N,) or (B, N)

        Returns
        -------
        Tensor of int64, shape (B, N, A, S, L)
            ``tokens[b, n, a, s, l]``: code index of level ``l`` of scale
            ``s`` for patch ``a`` of channel ``n``.
        """
        patches = as_patches(x, self.config.patch_size)
        batch, n_chans, n_patches, _ = patches.shape
        outputs = self.quantize(self.encode(patches, chan_idx), compute_loss=False)
        tokens = torch.stack([out.indices for out in outputs])  # (S, L, B*N*A)
        tokens = tokens.reshape(*tokens.shape[:2], batch, n_chans, n_patches)
        return tokens.permute(2, 3, 4, 0, 1)

    # ------------------------------------------------------------------ decoder
    def decode(self, quantized: torch.Tensor, chan_idx) -> DecoderOutput:
        """Predict log-amplitude and phase from quantised maps (S, B, C, N, A)."""
        n_patches = quantized.shape[-1]
        spatial, temporal = self._indices(chan_idx, n_patches)
        features = self.decoder(quantized, spatial, temporal)
        wide = torch.cat(tuple(features), dim=-1)
        return DecoderOutput(
            self.decode_task_layer_amplitude(wide),
            self.decode_task_layer_angle_sin(wide),
            self.decode_task_layer_angle_cos(wide),
        )

    def lookup_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Quantised maps (S, B, C, N, A) from tokens (B, N, A, S, L)."""
        if tokens.ndim != 5 or tokens.shape[3] != self.config.n_scales:
            raise ValueError(
                "Expected tokens of shape (B, N, A, S, L) with S = "
                f"{self.config.n_scales}, got {tuple(tokens.shape)}"
            )
        codes = [
            quantizer.lookup(tokens[:, :, :, s].permute(3, 0, 1, 2))
            for s, quantizer in enumerate(self.quantizers)
        ]  # each (B, N, A, C)
        return torch.stack(codes).permute(0, 1, 4, 2, 3)

    def decode_tokens(
        self,
        tokens: torch.Tensor,
        chan_idx,
        amplitude_stats: tuple | None = None,
        standardize: bool = True,
    ) -> torch.Tensor:
        """Reconstruct the signal from tokens alone.

        Parameters
        ----------
        tokens : Tensor of int64, shape (B, N, A, S, L)
            As returned by :meth:`tokenize`.
        chan_idx : Tensor of int64, shape (N,) or (B, N)
        amplitude_stats : tuple of (mean, std) | None
            Per-sample statistics of the original ``log1p(|FFT|)``, floats or
            tensors of shape (B,). Tokens do not carry them; when None,
            :data:`AMPLITUDE_STATS` of the modality (typical EEG:
            :data:`DEFAULT_AMPLITUDE_STATS`) is used.
        standardize : bool
            Standardise each reconstructed sample (mean 0, std 1), the domain
            in which the model is trained and evaluated.

        Returns
        -------
        Tensor, shape (B, N, A*P)
        """
        quantized = self.lookup_tokens(tokens)
        batch, n_chans, n_patches = tokens.shape[:3]
        pred = self.decode(quantized, chan_idx)
        if amplitude_stats is None:
            amplitude_stats = AMPLITUDE_STATS[self.config.modality]
        mean, std = amplitude_stats
        mean = torch.as_tensor(
            mean, dtype=pred.amplitude.dtype, device=pred.amplitude.device
        )
        std = torch.as_tensor(
            std, dtype=pred.amplitude.dtype, device=pred.amplitude.device
        )
        mean, std = mean.reshape(-1, 1, 1), std.reshape(-1, 1, 1)
        signal = reconstruct_signal(pred.amplitude, pred.sin, pred.cos, mean, std)
        if standardize:
            signal = standardize_per_sample(signal)[0]
        return signal.reshape(batch, n_chans, -1)

    # ------------------------------------------------------------------ training
    def forward(self, x: torch.Tensor, chan_idx) -> TokenizerOutput:
        """Encode, quantise, decode and compute the loss terms.

        Parameters
        ----------
        x : Tensor, shape (B, N, A*P) or (B, N, A, P)
            EEG in microvolts.
        chan_idx : Tensor of int64, shape (N,) or (B, N)

        Returns
        -------
        TokenizerOutput
        """
        patches = as_patches(x, self.config.patch_size).float()
        batch, n_chans, n_patches, size = patches.shape
        outputs = self.quantize(self.encode(patches, chan_idx))
        quantized = torch.stack([out.quantized for out in outputs])
        pred = self.decode(quantized, chan_idx)
        targets = fourier_targets(patches)
        flat = (batch, n_chans * n_patches, size)
        recon = reconstruct_signal(
            pred.amplitude,
            pred.sin,
            pred.cos,
            targets.amplitude_mean.reshape(-1, 1, 1),
            targets.amplitude_std.reshape(-1, 1, 1),
        )
        std_x = standardize_per_sample(patches.reshape(flat))[0]
        std_recon = standardize_per_sample(recon)[0]
        loss_rvq_per_scale = torch.stack([out.loss for out in outputs])
        loss_rvq = loss_rvq_per_scale.sum()
        loss_amplitude = F.mse_loss(pred.amplitude, targets.amplitude.reshape(flat))
        loss_phase = phase_loss(
            pred.sin, pred.cos, targets.sin.reshape(flat), targets.cos.reshape(flat)
        )
        loss_signal = F.mse_loss(std_x, std_recon)
        return TokenizerOutput(
            loss=loss_rvq + loss_amplitude + loss_phase + loss_signal,
            loss_rvq=loss_rvq,
            loss_amplitude=loss_amplitude,
            loss_phase=loss_phase,
            loss_signal=loss_signal,
            loss_rvq_per_scale=loss_rvq_per_scale,
            std_x=std_x,
            std_recon=std_recon,
            tokens=torch.stack([out.indices for out in outputs]).reshape(
                self.config.n_scales, self.config.n_levels, batch, -1
            ),
            usage=torch.stack([out.usage for out in outputs]),
        )


def _trunc(shape, generator):
    values = torch.empty(shape)
    nn.init.trunc_normal_(values, std=0.02, a=-0.04, b=0.04, generator=generator)
    return values
