"""A reference-style NeuroRVQ baseline: plain eager PyTorch, written from the spec.

This is NOT the authors' code (CC BY-NC, not available here) and copies
nothing from it or from braindecode's port. It computes the published model
from ``shared/spec/neurorvq.md`` in the way the authors' LaBraM / BEiT-derived
code is publicly known to be organised, with none of this package's
optimisations, so that ``versus_reference.py`` can time our models against it
in the same process:

- temporal convolutions: per branch ``nn.Conv2d`` -> ``nn.GroupNorm`` ->
  ``nn.GELU`` -> ``nn.AvgPool2d((1, w))`` twice, over the whole batch viewed
  as one image (B, 1, N*A, P), no chunking;
- transformer blocks (timm / BEiT style): one ``qkv`` linear with
  ``cat(q_bias, 0, v_bias)`` as bias, q / k LayerNorm per head, EXPLICIT
  attention ``softmax(q * scale @ k^T) @ v`` (no SDPA), ``proj``, MLP with
  exact GELU, layer scale when present; the four branches run one after the
  other through the shared blocks;
- residual quantiser: per level ``F.normalize`` of the residual, the FULL
  squared-distance matrix ``|z|^2 + |e|^2 - 2 z e^T`` of all tokens of the
  batch against all codes at once, ``argmin``, the straight-through output
  ``z + (q - z)``; the per-level usage buffer ``cluster_size`` is updated by
  EMA in eval mode too, as the spec says (with ``bincount``).

Where the spec leaves the organisation open (e.g. how the branches are
batched, how the code counts are formed), the cheaper plain choice is taken,
so the baseline is, if anything, faster than a literal port. Only the
inference paths exist: ``ReferenceTokenizer.tokenize`` and
``ReferenceFoundation.embed``. Both load the published state dicts (keys of
``shared/fixtures/upstream-parity/upstream_manifest.json``), strictly for the
keys they use; the decoder and the pre-training heads are left out.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from mne_neurorvq.nn.checkpoints import (
    infer_foundation_config,
    infer_tokenizer_config,
    read_state_dict,
)
from mne_neurorvq.nn.config import POOL_WIDTHS, STAGE1_KERNELS, STAGE2_KERNELS

#: Checkpoint keys that the inference paths do not use.
TOKENIZER_UNUSED = ("decoder.", "decode_task_layer_")
FOUNDATION_UNUSED = ("mask_token", "norm_pre.", "head_pre_")


# ------------------------------------------------------------------ blocks


class TemporalConv(nn.Module):
    """The four-branch temporal convolution (spec section 2)."""

    def __init__(self, n_scales, out_chans=8, groups=4):
        super().__init__()
        self.n_scales = n_scales
        for s in range(1, n_scales + 1):
            k1, k2 = STAGE1_KERNELS[s - 1], STAGE2_KERNELS[s - 1]
            setattr(
                self, f"conv1_{s}", nn.Conv2d(1, out_chans, (1, k1), 1, (0, k1 // 2))
            )
            setattr(self, f"norm1_{s}", nn.GroupNorm(groups, out_chans))
            setattr(
                self,
                f"conv2_{s}",
                nn.Conv2d(out_chans, out_chans, (1, k2), 1, (0, k2 // 2)),
            )
            setattr(self, f"norm2_{s}", nn.GroupNorm(groups, out_chans))
        self.gelu = nn.GELU()
        self.pool1 = nn.AvgPool2d((1, POOL_WIDTHS[0]))
        self.pool2 = nn.AvgPool2d((1, POOL_WIDTHS[1]))

    def forward(self, x):
        """(B, N*A, P) -> list over branches of (B, N*A, D)."""
        x = x.unsqueeze(1)  # (B, 1, N*A, P)
        outputs = []
        for s in range(1, self.n_scales + 1):
            y = getattr(self, f"conv1_{s}")(x)
            y = self.pool1(self.gelu(getattr(self, f"norm1_{s}")(y)))
            y = getattr(self, f"conv2_{s}")(y)
            y = self.pool2(self.gelu(getattr(self, f"norm2_{s}")(y)))
            # (B, C, N*A, T) -> (B, N*A, T*C): time outer, conv channel inner
            outputs.append(y.permute(0, 2, 3, 1).flatten(2))
        return outputs


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.q_norm = nn.LayerNorm(head_dim, eps=1e-6)
        self.k_norm = nn.LayerNorm(head_dim, eps=1e-6)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias)
        qkv = qkv.reshape(B, N, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = self.q_norm(q)
        k = self.k_norm(k)
        q = q * self.scale
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, init_values):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        if init_values > 0:
            self.gamma_1 = nn.Parameter(init_values * torch.ones(dim))
            self.gamma_2 = nn.Parameter(init_values * torch.ones(dim))
        else:
            self.gamma_1 = self.gamma_2 = None

    def forward(self, x):
        if self.gamma_1 is None:
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))
        x = x + self.gamma_1 * self.attn(self.norm1(x))
        return x + self.gamma_2 * self.mlp(self.norm2(x))


class Transformer(nn.Module):
    """cls token, spatial / temporal tables, temporal convolution, blocks."""

    def __init__(self, config, depth, fc_norms):
        super().__init__()
        dim = config.embed_dim
        self.n_scales = config.n_scales
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(config.n_electrodes + 1, dim))
        self.time_embed = nn.Parameter(torch.zeros(config.n_patches, dim))
        self.patch_embed = TemporalConv(
            config.n_scales, config.conv_channels, config.conv_groups
        )
        self.blocks = nn.ModuleList(
            Block(dim, config.num_heads, config.mlp_ratio, config.init_values)
            for _ in range(depth)
        )
        if fc_norms:
            for s in range(1, config.n_scales + 1):
                setattr(self, f"fc_norm_{s}", nn.LayerNorm(dim))
        self.fc_norms = fc_norms

    def forward(self, x, input_chans, input_times):
        """(B, N*A, P) -> list over branches of (B, N*A, D), cls dropped."""
        batch = x.shape[0]
        chans = torch.cat((torch.zeros_like(input_chans[:, :1]), input_chans), dim=1)
        pos = self.pos_embed[chans]  # (1, T+1, D)
        times = self.time_embed[input_times]  # (1, T, D)
        outputs = []
        for s, branch in enumerate(self.patch_embed(x), start=1):
            cls = self.cls_token.expand(batch, -1, -1)
            h = torch.cat((cls, branch), dim=1) + pos
            h[:, 1:] = h[:, 1:] + times
            for block in self.blocks:
                h = block(h)
            h = h[:, 1:]
            if self.fc_norms:
                h = getattr(self, f"fc_norm_{s}")(h)
            outputs.append(h)
        return outputs


# --------------------------------------------------------------- quantiser


class Codebook(nn.Module):
    def __init__(self, n_code, code_dim):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_code, code_dim), requires_grad=False)
        self.cluster_size = nn.Parameter(torch.zeros(n_code), requires_grad=False)
        self.embed_avg = nn.Parameter(
            torch.zeros(n_code, code_dim), requires_grad=False
        )
        self.register_buffer("initted", torch.zeros(1))


class QuantizerLevel(nn.Module):
    def __init__(self, n_code, code_dim, decay=0.99):
        super().__init__()
        self.decay = decay
        self.embedding = Codebook(n_code, code_dim)
        self.register_buffer("cluster_size", torch.zeros(n_code))

    def forward(self, residual):
        """Residual (B, C, N, A) -> straight-through output (B, C, N, A), indices."""
        if not bool(self.embedding.initted):
            raise RuntimeError("codebook not initialised (the baseline has no k-means)")
        z = residual.permute(0, 2, 3, 1)  # (B, N, A, C)
        z = F.normalize(z, p=2, dim=-1)
        z_flat = z.reshape(-1, z.shape[-1])
        codes = self.embedding.weight
        d = (
            z_flat.pow(2).sum(dim=1, keepdim=True)
            + codes.pow(2).sum(dim=1)
            - 2 * z_flat @ codes.t()
        )
        indices = torch.argmin(d, dim=1)
        q = F.embedding(indices, codes).view(z.shape)
        with torch.no_grad():  # the usage EMA, updated in eval mode too
            bins = torch.bincount(indices, minlength=codes.shape[0]).to(codes.dtype)
            self.cluster_size.mul_(self.decay).add_(bins, alpha=1 - self.decay)
        out = z + (q - z).detach()
        return out.permute(0, 3, 1, 2), indices


class ResidualQuantizer(nn.Module):
    def __init__(self, n_levels, n_code, code_dim):
        super().__init__()
        self.layers = nn.ModuleList(
            QuantizerLevel(n_code, code_dim) for _ in range(n_levels)
        )

    def forward(self, x):
        """(B, C, N, A) -> quantised sum (B, C, N, A), indices (L, B*N*A)."""
        quantized = torch.zeros_like(x)
        residual = x
        all_indices = []
        for layer in self.layers:
            out, indices = layer(residual)
            residual = residual - out
            quantized = quantized + out
            all_indices.append(indices)
        return quantized, torch.stack(all_indices)


# ------------------------------------------------------------------ models


def index_tensors(chan_idx, n_patches, table_size):
    """Spatial and temporal index (1, N*A) of every token, channel-major."""
    chan_idx = torch.as_tensor(chan_idx, dtype=torch.long).reshape(-1)
    input_chans = chan_idx.repeat_interleave(n_patches)
    times = torch.arange(table_size - n_patches, table_size)
    input_times = times.repeat(chan_idx.numel())
    return input_chans[None], input_times[None]


def _patches(x, patch_size):
    """(B, N, A*P) or (B, N, A, P) -> (B, N*A, P), and A."""
    batch, n_chans = x.shape[:2]
    patches = x.reshape(batch, n_chans, -1, patch_size)
    return patches.reshape(batch, -1, patch_size), patches.shape[2]


def _load(model, state, unused):
    state = {k: v for k, v in state.items() if not k.startswith(unused)}
    model.load_state_dict(state, strict=True)
    return model.eval()


class ReferenceTokenizer(nn.Module):
    """Tokenizer encoder, code-space heads and residual quantisers."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.encoder = Transformer(config, config.encoder_depth, fc_norms=True)
        for s in range(1, config.n_scales + 1):
            dim = config.embed_dim
            head = nn.Sequential(
                nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, config.code_dim)
            )
            setattr(self, f"encode_task_layer_{s}", head)
            setattr(
                self,
                f"quantize_{s}",
                ResidualQuantizer(config.n_levels, config.n_code, config.code_dim),
            )

    @classmethod
    def from_state_dict(cls, source):
        state = read_state_dict(source) if not isinstance(source, Mapping) else source
        return _load(cls(infer_tokenizer_config(state)), state, TOKENIZER_UNUSED)

    def encode(self, x, chan_idx):
        """Features (S x (B, N*A, D)) and code-space maps (S x (B, C, N, A))."""
        patches, n_patches = _patches(x, self.config.patch_size)
        batch, n_chans = x.shape[:2]
        input_chans, input_times = index_tensors(
            chan_idx, n_patches, self.config.n_patches
        )
        features = self.encoder(patches, input_chans, input_times)
        maps = []
        for s, feature in enumerate(features, start=1):
            h = getattr(self, f"encode_task_layer_{s}")(feature)
            maps.append(h.reshape(batch, n_chans, n_patches, -1).permute(0, 3, 1, 2))
        return features, maps

    def quantize(self, maps):
        """Per branch: quantised sum (B, C, N, A) and indices (L, B*N*A)."""
        return [getattr(self, f"quantize_{s}")(m) for s, m in enumerate(maps, 1)]

    def tokenize(self, x, chan_idx):
        """Tokens (S, L, B, N*A), the fixture's layout."""
        batch = x.shape[0]
        _, maps = self.encode(x, chan_idx)
        indices = torch.stack([idx for _, idx in self.quantize(maps)])
        return indices.reshape(*indices.shape[:2], batch, -1)


class ReferenceFoundation(Transformer):
    """Foundation model in encoding mode: the 800-wide embedding."""

    def __init__(self, config):
        super().__init__(config, config.depth, fc_norms=False)
        self.config = config
        # fresh, in no checkpoint: weight 1, bias 0
        self.fc_norm = nn.LayerNorm(config.n_scales * config.embed_dim)

    @classmethod
    def from_state_dict(cls, source):
        state = read_state_dict(source) if not isinstance(source, Mapping) else source
        state = {k: v for k, v in state.items() if not k.startswith(FOUNDATION_UNUSED)}
        model = cls(infer_foundation_config(state))
        state.update({f"fc_norm.{k}": v for k, v in model.fc_norm.state_dict().items()})
        return _load(model, state, FOUNDATION_UNUSED)

    def pooled(self, x, chan_idx):
        """Mean over tokens of the concatenated branch outputs, (B, S*D)."""
        patches, n_patches = _patches(x, self.config.patch_size)
        input_chans, input_times = index_tensors(
            chan_idx, n_patches, self.config.n_patches
        )
        features = self(patches, input_chans, input_times)
        return torch.cat(features, dim=-1).mean(dim=1)

    def embed(self, x, chan_idx):
        """The published embedding (B, S*D)."""
        return self.fc_norm(self.pooled(x, chan_idx))
