"""Transformer blocks and the token-sequence encoder shared by all NeuroRVQ parts.

Pre-norm blocks with q/v bias, a per-head LayerNorm on queries
and keys (shared by the heads of a block), optional layer scale, and a cls
token that gets spatial row 0 of ``pos_embed``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._chunks import inference_chunks
from ._compile import compiled_blocks
from ._tuning import CANDIDATES, autocast_tag
from .config import _BaseConfig


def as_index_tensor(values, device=None) -> torch.Tensor:
    """Channel indices as an int64 tensor (copies read-only NumPy arrays)."""
    if isinstance(values, torch.Tensor):
        return values.to(device=device, dtype=torch.long)
    return torch.tensor(np.array(values, dtype=np.int64), device=device)


def token_indices(
    chan_idx: torch.Tensor, n_patches: int, max_patches: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the spatial and temporal index of every token.

    Tokens are channel-major: token ``j = n * A + a`` is patch ``a`` of channel
    ``n``. Its spatial index is the channel's vocabulary index; its temporal
    index is right-aligned, ``max_patches - A + a``, so that the last patch of
    every sample gets index ``max_patches - 1``.

    Parameters
    ----------
    chan_idx : Tensor of int64, shape (N,) or (B, N)
        Vocabulary index of each channel.
    n_patches : int
        Patches per channel (A).
    max_patches : int
        Rows of the temporal embedding (256 in the published model).

    Returns
    -------
    spatial : Tensor of int64, shape (N*A,) or (B, N*A)
    temporal : Tensor of int64, shape (N*A,)

    Examples
    --------
    >>> import torch
    >>> spatial, temporal = token_indices(torch.tensor([3, 7]), 2, 256)
    >>> spatial.tolist(), temporal.tolist()
    ([3, 3, 7, 7], [254, 255, 254, 255])
    """
    if n_patches > max_patches:
        raise ValueError(
            f"A sample has {n_patches} patches per channel but the model has only "
            f"{max_patches} temporal positions; split it into windows first."
        )
    n_chans = chan_idx.shape[-1]
    if n_chans * n_patches > max_patches:
        raise ValueError(
            f"{n_chans} channels x {n_patches} patches = {n_chans * n_patches} "
            f"tokens exceed the model's limit of {max_patches} tokens per sample; "
            "split the epoch into windows (mne_neurorvq.preprocessing.plan_windows)."
        )
    spatial = chan_idx.repeat_interleave(n_patches, dim=-1)
    temporal = torch.arange(
        max_patches - n_patches, max_patches, device=chan_idx.device
    ).repeat(n_chans)
    return spatial, temporal


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch per sample in training."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply stochastic depth (identity in eval mode or when ``p`` is 0)."""
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        return x * x.new_empty(shape).bernoulli_(keep).div_(keep)


class Attention(nn.Module):
    """Multi-head self-attention with q/v bias and per-head q/k LayerNorm.

    The key gets no bias. ``q_norm`` and ``k_norm`` normalise each head's
    ``head_dim`` values with one set of weights shared by all heads; the
    ``head_dim ** -0.5`` scale is applied after the norms.
    """

    def __init__(self, dim: int, num_heads: int, attn_drop: float = 0.0):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_norm = nn.LayerNorm(self.head_dim, eps=1e-6)
        self.k_norm = nn.LayerNorm(self.head_dim, eps=1e-6)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend over the token axis of ``x`` (B, T, D)."""
        return self.proj(self.heads(x))

    def heads(self, x: torch.Tensor) -> torch.Tensor:
        """The attention of every head before ``proj``, (B, T, D)."""
        batch, n_tokens, dim = x.shape
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias)
        qkv = qkv.reshape(batch, n_tokens, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.unbind(2)  # (B, T, H, head_dim) each
        q, k = self.q_norm(q), self.k_norm(k)
        # heads as views (B, H, T, head_dim) of token-major tensors: SDPA's
        # output follows the query's layout, so the reshape below is free
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2),
            k.transpose(1, 2),
            v.transpose(1, 2),
            dropout_p=self.attn_drop if self.training else 0.0,
            scale=self.head_dim**-0.5,
        )
        return out.transpose(1, 2).reshape(batch, n_tokens, dim)


class Mlp(nn.Module):
    """Two-layer perceptron with exact GELU."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the MLP."""
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Block(nn.Module):
    """Pre-norm transformer block with optional layer scale (``gamma_1/2``)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        init_values: float = 0.0,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ):
        super().__init__()
        if init_values > 0:
            self.gamma_1 = nn.Parameter(torch.full((dim,), float(init_values)))
            self.gamma_2 = nn.Parameter(torch.full((dim,), float(init_values)))
        else:
            self.gamma_1 = self.gamma_2 = None
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = Attention(dim, num_heads, attn_drop)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x`` (B, T, D)."""
        attn = self.attn(self.norm1(x))
        if self.gamma_1 is not None:
            attn = self.gamma_1 * attn
        x = x + self.drop_path(attn)
        mlp = self.mlp(self.norm2(x))
        if self.gamma_2 is not None:
            mlp = self.gamma_2 * mlp
        return x + self.drop_path(mlp)

    def forward_(self, x: torch.Tensor) -> torch.Tensor:
        """Inference in place: apply the block to ``x`` (B, T, D), overwriting it.

        Bit-identical to :meth:`forward` (eval mode, no gradient, no
        autocast): the same products, with the layer scale, GELU and the
        residual additions applied in place, so that no new tensor is
        allocated for them (tokens must not depend on the gradient mode).
        """
        attn = self.attn(self.norm1(x))
        if self.gamma_1 is not None:
            attn.mul_(self.gamma_1)
        x.add_(attn)
        hidden = self.mlp.fc1(self.norm2(x))
        mlp = self.mlp.fc2(torch.ops.aten.gelu_(hidden))
        if self.gamma_2 is not None:
            mlp.mul_(self.gamma_2)
        return x.add_(mlp)


class TokenTransformer(nn.Module):
    """Token-sequence encoder: cls token, spatial and temporal tables, blocks.

    Subclasses add their own patch embedding and output layers through
    :meth:`_build_patch_embed` and :meth:`_build_output`, called in the order
    of the published checkpoints' key layout.

    Parameters
    ----------
    config : TokenizerConfig | FoundationConfig
        Model configuration.
    depth : int
        Number of blocks.
    init_values : float
        Layer-scale init; 0 disables layer scale.
    mask_token : bool
        Whether to create the learned ``mask_token`` of masked pre-training.
    """

    def __init__(
        self,
        config: _BaseConfig,
        depth: int,
        init_values: float,
        mask_token: bool = False,
    ):
        super().__init__()
        dim = config.embed_dim
        self.config = config
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(config.n_electrodes + 1, dim))
        self.time_embed = nn.Parameter(torch.zeros(config.n_patches, dim))
        if mask_token:
            self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        else:
            self.mask_token = None
        self._build_patch_embed()
        self.pos_drop = nn.Dropout(config.drop_rate)
        rates = torch.linspace(0, config.drop_path_rate, depth, device="cpu").tolist()
        self.blocks = nn.ModuleList(
            Block(
                dim,
                config.num_heads,
                config.mlp_ratio,
                init_values=init_values,
                drop=config.drop_rate,
                attn_drop=config.attn_drop_rate,
                drop_path=rate,
            )
            for rate in rates
        )
        self._build_output()

    def _build_patch_embed(self):
        """Create the patch embedding (subclasses)."""

    def _build_output(self):
        """Create the output layers (subclasses)."""

    def init_weights(self, generator: torch.Generator | None = None):
        """Initialise a fresh model (truncated normal, std 0.02).

        Linear weights, the cls, mask, spatial and temporal tables get a
        truncated normal; biases zero; norms one/zero. The output projections
        of block ``i`` are divided by ``sqrt(2 * (i + 1))`` (BEiT/LaBraM style).
        """
        for name, param in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(param)
            elif param.ndim == 1:
                # LayerNorm / GroupNorm weights and layer-scale vectors
                if ".gamma_" not in name:
                    nn.init.ones_(param)
            else:
                with torch.no_grad():
                    param.copy_(_trunc_normal(param.shape, 0.02, generator))
        with torch.no_grad():
            for index, block in enumerate(self.blocks, start=1):
                block.attn.proj.weight.div_((2.0 * index) ** 0.5)
                block.mlp.fc2.weight.div_((2.0 * index) ** 0.5)

    def run_blocks(
        self,
        embeddings: torch.Tensor,
        spatial: torch.Tensor,
        temporal: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Add the cls token and the embeddings, then apply the blocks.

        The scales are stacked into the batch so that the shared blocks run
        once over all of them; in CPU inference (no gradient) the stacked
        sequences go through the blocks in chunks (every sequence is computed
        on its own; chunks keep the intermediates of large batches in cache)
        of the size measured fastest on this machine for this shape
        (``mne_neurorvq.nn._tuning``).

        Parameters
        ----------
        embeddings : Tensor, shape (S, B, T, D)
            Token embeddings of every scale.
        spatial : Tensor of int64, shape (T,) or (B, T)
            Vocabulary index of each token's channel (row of ``pos_embed``).
        temporal : Tensor of int64, shape (T,)
            Row of ``time_embed`` of each token.
        mask : Tensor of bool, shape (B, T) | None
            Tokens replaced by ``mask_token`` (pre-training only).

        Returns
        -------
        Tensor, shape (S, B, T + 1, D)
            Output of the last block; index 0 of the token axis is the cls token.
        """
        n_scales, batch, n_tokens, dim = embeddings.shape
        x = embeddings
        if mask is not None:
            if self.mask_token is None:
                raise RuntimeError("This model has no mask_token (pre-training off).")
            weight = mask.unsqueeze(-1).to(x.dtype)
            x = x * (1 - weight) + self.mask_token * weight
        x = x.reshape(n_scales * batch, n_tokens, dim)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        cls_index = spatial.new_zeros(spatial.shape[:-1] + (1,))
        pos = self.pos_embed[torch.cat((cls_index, spatial), dim=-1)]
        if pos.ndim == 3:  # one channel set per sample
            pos = pos.repeat(n_scales, 1, 1)
        x = x + pos
        x = torch.cat((x[:, :1], x[:, 1:] + self.time_embed[temporal]), dim=1)
        x = self.pos_drop(x)
        chunks = inference_chunks(
            x, "sequences", self._block_shape(x), self._block_timer(x)
        )
        outputs = [self._apply_blocks(part) for part in chunks]
        if any(out is not part for out, part in zip(outputs, chunks, strict=True)):
            x = torch.cat(outputs)  # else the chunks were computed in place
        return x.reshape(n_scales, batch, n_tokens + 1, dim)

    def _block_shape(self, x: torch.Tensor) -> str:
        """What the speed of a chunk through the blocks depends on."""
        attn, mlp = self.blocks[0].attn, self.blocks[0].mlp
        return (
            f"{x.shape[1]} tokens x {x.shape[2]}, {attn.num_heads} heads, "
            f"mlp {mlp.fc1.out_features}, {x.dtype}, {autocast_tag()}"
        )

    def _block_timer(self, x: torch.Tensor):
        """Runs the first block over the same sequences in chunks of a size."""
        block = self.blocks[0]

        def run(size: int):
            work = max(CANDIDATES["sequences"])
            sample = x[torch.arange(work, device=x.device) % x.shape[0]]
            in_place = _in_place_inference(self, sample)  # as _apply_blocks
            for part in sample.split(size):
                block.forward_(part) if in_place else block(part)

        return run

    def _apply_blocks(self, x: torch.Tensor) -> torch.Tensor:
        compiled = compiled_blocks(self, self.blocks)  # opt-in, see _compile
        if compiled is not None:
            out = compiled(x)
            if out is not None:  # None: the compiler failed (warned once)
                return out
        if _in_place_inference(self, x):
            # x is this module's own intermediate (run_blocks made it)
            for block in self.blocks:
                x = block.forward_(x)
            return x
        for block in self.blocks:
            x = block(x)
        return x


def _in_place_inference(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether the blocks may run in place on ``x`` (:meth:`Block.forward_`).

    Eval mode, no gradient, no autocast, contiguous ``x`` in the weights'
    dtype.
    """
    return (
        not module.training
        and not torch.is_grad_enabled()
        and not torch.is_autocast_enabled(x.device.type)
        and x.is_contiguous()
        and x.dtype == module.cls_token.dtype
    )


def _trunc_normal(shape, std, generator):
    values = torch.empty(shape)
    nn.init.trunc_normal_(values, std=std, a=-2 * std, b=2 * std, generator=generator)
    return values
