"""The NeuroRVQ foundation model."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .config import FoundationConfig
from .hub import PretrainedMixin
from .temporal_conv import MultiScaleTemporalConv
from .tokenizer import as_patches
from .transformer import TokenTransformer, as_index_tensor, token_indices


class NeuroRVQFoundation(PretrainedMixin, TokenTransformer):
    """NeuroRVQ foundation model: embeddings, fine-tuning and masked-token pre-training.

    Follows braindecode's ``EEGModuleMixin`` signature, so that
    :class:`braindecode.EEGClassifier` can infer the signal arguments; its
    ``forward`` maps ``(B, n_chans, n_times)`` EEG in microvolts at 200 Hz to
    ``(B, n_outputs)`` logits (or the 800-wide embedding when ``n_outputs`` is
    None or 0).

    Parameters
    ----------
    n_outputs : int | None
        Outputs of the classification head; None or 0 gives an identity head.
    n_chans : int | None
        Number of input channels (inferred from ``chs_info`` when None).
    chs_info : list of dict | None
        Channel descriptions as in ``mne.Info["chs"]``; the names give the
        vocabulary indices of the channels.
    n_times : int | None
        Samples per input window (informative; any multiple of 200 works).
    input_window_seconds : float | None
        Window length in seconds (informative).
    sfreq : float | None
        Sampling rate; must be the model's rate (200 Hz) when given.
    config : FoundationConfig | None
        Model configuration; the published one when None.
    pretraining : bool
        Build the masked pre-training parts (``mask_token``, ``norm_pre`` and
        the ``head_pre_*`` heads), as in the published checkpoint.
    chan_idx : array-like of int | None
        Vocabulary index of each channel; overrides ``chs_info``.

    Examples
    --------
    >>> import torch
    >>> from mne_neurorvq.nn import FoundationConfig, NeuroRVQFoundation
    >>> model = NeuroRVQFoundation(config=FoundationConfig.tiny()).eval()
    >>> x = torch.randn(2, 3, 800)  # 2 epochs, 3 channels, 4 s at 200 Hz
    >>> model.embed(x, chan_idx=torch.tensor([36, 9, 10])).shape
    torch.Size([2, 800])
    """

    def __init__(
        self,
        n_outputs: int | None = None,
        n_chans: int | None = None,
        chs_info: list | None = None,
        n_times: int | None = None,
        input_window_seconds: float | None = None,
        sfreq: float | None = None,
        config: FoundationConfig | None = None,
        pretraining: bool = False,
        chan_idx=None,
    ):
        config = FoundationConfig() if config is None else config
        self.pretraining = pretraining
        self._n_outputs = n_outputs
        super().__init__(
            config, config.depth, config.init_values, mask_token=pretraining
        )
        if sfreq is not None and float(sfreq) != config.sfreq:
            raise ValueError(
                f"NeuroRVQ expects EEG at {config.sfreq:g} Hz, got sfreq={sfreq}; "
                "resample first (mne_neurorvq.preprocessing.prepare_array)."
            )
        self.n_outputs = n_outputs
        self.chs_info = chs_info
        self.n_times = n_times
        self.input_window_seconds = input_window_seconds
        self.sfreq = config.sfreq if sfreq is None else float(sfreq)
        if chan_idx is None and chs_info is not None:
            chan_idx = _vocab_idx_from_chs_info(chs_info)
        self.n_chans = (
            n_chans
            if n_chans is not None
            else (None if chan_idx is None else len(chan_idx))
        )
        if chan_idx is not None:
            chan_idx = as_index_tensor(chan_idx)
            if self.n_chans is not None and len(chan_idx) != self.n_chans:
                raise ValueError(
                    f"n_chans={self.n_chans} but {len(chan_idx)} channel indices"
                )
            self.register_buffer("chan_idx", chan_idx, persistent=False)
        else:
            self.chan_idx = None

    def _build_patch_embed(self):
        self.patch_embed = MultiScaleTemporalConv(self.config)

    def _build_output(self):
        config = self.config
        if self.pretraining:
            self.norm_pre = nn.LayerNorm(config.embed_dim)
            for head in range(1, config.n_tokens_per_patch + 1):
                linear = nn.Linear(config.embed_dim, config.vocab_size)
                self.add_module(f"head_pre_{head}", linear)
        self.fc_norm = nn.LayerNorm(config.embedding_dim)
        self.head = self._make_head(self._n_outputs)

    def _make_head(self, n_outputs):
        if not n_outputs:
            return nn.Identity()
        head = nn.Linear(self.config.embedding_dim, n_outputs)
        nn.init.trunc_normal_(head.weight, std=0.02, a=-0.04, b=0.04)
        head.weight.data.mul_(self.config.init_scale)
        nn.init.zeros_(head.bias)
        return head

    def reset_head(self, n_outputs: int | None):
        """Replace the classification head (fresh weights) and the final norm.

        Parameters
        ----------
        n_outputs : int | None
            New number of outputs; None or 0 gives the identity (embedding).
        """
        device = self.cls_token.device
        self.n_outputs = n_outputs
        self.fc_norm = nn.LayerNorm(self.config.embedding_dim).to(device)
        self.head = self._make_head(n_outputs).to(device)

    def init_weights(self, generator: torch.Generator | None = None):
        """Initialise a fresh model; the heads keep their own initialisation."""
        super().init_weights(generator)
        self.fc_norm.reset_parameters()
        if isinstance(self.head, nn.Linear):
            self.head = self._make_head(self.n_outputs).to(self.cls_token.device)

    # ----------------------------------------------------------------- helpers
    def _chan_idx(self, chan_idx):
        if chan_idx is None:
            chan_idx = self.chan_idx
        if chan_idx is None:
            raise ValueError(
                "No channel indices: pass chan_idx, or build the model with "
                "chs_info or chan_idx."
            )
        return as_index_tensor(chan_idx, self.cls_token.device)

    def _patch_embeddings(self, x, chan_idx):
        patches = as_patches(x, self.config.patch_size)
        batch, n_chans, n_patches, size = patches.shape
        chan_idx = self._chan_idx(chan_idx)
        if chan_idx.shape[-1] != n_chans:
            raise ValueError(
                f"Input has {n_chans} channels but {chan_idx.shape[-1]} channel "
                "indices were given."
            )
        spatial, temporal = token_indices(chan_idx, n_patches, self.config.n_patches)
        embeddings = self.patch_embed(patches.reshape(batch, -1, size))
        return embeddings, spatial, temporal

    # ----------------------------------------------------------------- encoding
    def forward_features(self, x: torch.Tensor, chan_idx=None) -> torch.Tensor:
        """Per-scale token features (no final norm), shape (S, B, N*A, D).

        Parameters
        ----------
        x : Tensor, shape (B, N, A*P) or (B, N, A, P)
            EEG in microvolts at 200 Hz.
        chan_idx : Tensor of int64, shape (N,) or (B, N) | None
            Vocabulary index of each channel (default: the model's).
        """
        embeddings, spatial, temporal = self._patch_embeddings(x, chan_idx)
        return self.run_blocks(embeddings, spatial, temporal)[:, :, 1:]

    def pool(self, features: torch.Tensor) -> torch.Tensor:
        """Mean over tokens of the concatenated scales, shape (B, S*D)."""
        return torch.cat(tuple(features), dim=-1).mean(dim=1)

    def pooled_features(self, x: torch.Tensor, chan_idx=None) -> torch.Tensor:
        """Mean over all tokens of the concatenated scales, (B, S*D), any length.

        Samples longer than the model's token limit (``N * A > n_patches``) are
        split along time into windows (:func:`mne_neurorvq.preprocessing.plan_windows`),
        each encoded on its own; the mean then runs over the tokens of all
        windows, i.e. window means weighted by their number of patches.
        """
        patches = as_patches(x, self.config.patch_size)
        n_chans, n_patches = patches.shape[1:3]
        if n_chans * n_patches <= self.config.n_patches:
            return self.pool(self.forward_features(patches, chan_idx))
        from ..preprocessing import plan_windows

        total = 0.0
        for start, stop in plan_windows(n_chans, n_patches, self.config.n_patches):
            window = self.pool(
                self.forward_features(patches[:, :, start:stop], chan_idx)
            )
            total = total + window * (stop - start)
        return total / n_patches

    def embed(self, x: torch.Tensor, chan_idx=None) -> torch.Tensor:
        """The published embedding: pooled features through ``fc_norm``, (B, S*D).

        Long samples are windowed, see :meth:`pooled_features`.
        """
        return self.fc_norm(self.pooled_features(x, chan_idx))

    def forward(self, x: torch.Tensor, chan_idx=None, return_features: bool = False):
        """Classify ``x`` (B, N, A*P), optionally returning the embedding too.

        Returns
        -------
        logits : Tensor, shape (B, n_outputs) (or (B, S*D) with an identity head)
        or dict with keys ``"logits"`` and ``"features"`` when ``return_features``.
        """
        embedding = self.embed(x, chan_idx)
        logits = self.head(embedding)
        if return_features:
            return {"logits": logits, "features": embedding}
        return logits

    # ----------------------------------------------------------------- pre-training
    def pretraining_hidden(self, x, mask, chan_idx=None) -> torch.Tensor:
        """Output of ``norm_pre`` per scale for one masked pass, (S, B, N*A, D)."""
        if not self.pretraining:
            raise RuntimeError(
                "This model was built without pre-training parts; use "
                "NeuroRVQFoundation(..., pretraining=True)."
            )
        embeddings, spatial, temporal = self._patch_embeddings(x, chan_idx)
        mask = torch.as_tensor(mask, dtype=torch.bool, device=embeddings.device)
        hidden = self.run_blocks(embeddings, spatial, temporal, mask=mask)
        return self.norm_pre(hidden)[:, :, 1:]

    def pretraining_logits(self, hidden: torch.Tensor, rows: torch.Tensor):
        """Logits of the 32 heads at the selected tokens.

        Parameters
        ----------
        hidden : Tensor, shape (S, B, T, D)
        rows : Tensor of bool, shape (B, T)

        Returns
        -------
        Tensor, shape (S*L, M, vocab_size), rows in epoch-major then token order.
        """
        return torch.stack(
            [head(selected) for _, selected, head in self._heads(hidden, rows)]
        )

    def _heads(self, hidden, rows):
        """(head index, that scale's selected tokens, head), heads in order."""
        n_levels = self.config.n_levels
        for scale in range(hidden.shape[0]):
            selected = hidden[scale][rows]
            for level in range(n_levels):
                index = scale * n_levels + level
                yield index, selected, getattr(self, f"head_pre_{index + 1}")

    def pretraining_head_losses(
        self,
        hidden: torch.Tensor,
        rows: torch.Tensor,
        targets: torch.Tensor,
        recompute: bool = True,
    ):
        """Cross-entropy and hits of every head, one head's logits at a time.

        The same values as :func:`pretraining_loss` on
        :meth:`pretraining_logits`, without holding the (H, M, vocab) logits of
        all heads: with ``recompute`` (and gradients on), each head's logits
        are recomputed in the backward pass instead of being kept
        (:func:`torch.utils.checkpoint.checkpoint`). For the published model,
        a training step at batch 8 then peaks at 8.2 instead of 12.5 GB on CPU
        (``performance/speed.py``), for about a quarter more work in the heads.

        Parameters
        ----------
        hidden : Tensor, shape (S, B, T, D)
            Output of :meth:`pretraining_hidden`.
        rows : Tensor of bool, shape (B, T)
            The tokens predicted.
        targets : Tensor of int64, shape (S*L, M)
            Their tokens, head-major (M = rows.sum()).
        recompute : bool
            Recompute each head's logits in the backward pass.

        Returns
        -------
        ce : Tensor, shape (S*L,)
            Mean cross-entropy of each head.
        hits : Tensor of int64, shape (S*L,)
            Number of tokens whose argmax prediction is right, per head.
        """
        recompute = recompute and torch.is_grad_enabled()
        ces, hits = [], []
        for index, selected, head in self._heads(hidden, rows):
            args = (selected, head.weight, head.bias, targets[index])
            if recompute:
                ce, hit = checkpoint(_head_ce_and_hits, *args, use_reentrant=False)
            else:
                ce, hit = _head_ce_and_hits(*args)
            ces.append(ce)
            hits.append(hit)
        return torch.stack(ces), torch.stack(hits)

    def pretraining_losses(self, x, mask, tokens, chan_idx=None, recompute=True):
        """Both masked passes and their per-head losses, memory-lean.

        Parameters
        ----------
        x : Tensor, shape (B, N, A*P) or (B, N, A, P)
        mask : Tensor of bool, shape (B, N*A)
            True for masked tokens in the first pass.
        tokens : Tensor of int64, shape (S, L, B, N*A)
            The tokenizer's tokens.
        chan_idx : Tensor of int64 | None
        recompute : bool
            See :meth:`pretraining_head_losses`.

        Returns
        -------
        ce_masked, ce_symmetric : Tensor, shape (S*L,)
            Per-head mean cross-entropy of each pass; the pre-training loss
            is ``ce_masked.mean() + ce_symmetric.mean()``.
        hits_masked : Tensor of int64, shape (S*L,)
            Right argmax predictions of the masked pass, per head.

        Examples
        --------
        >>> from mne_neurorvq.nn import FoundationConfig
        >>> model = NeuroRVQFoundation(config=FoundationConfig.tiny(), pretraining=True)
        >>> x = torch.randn(2, 3, 400)
        >>> mask = torch.tensor([[True, False] * 3] * 2)
        >>> tokens = torch.randint(0, 64, (4, 2, 2, 6))
        >>> ce_m, ce_s, hits = model.pretraining_losses(x, mask, tokens, [36, 9, 10])
        >>> ce_m.shape, hits.shape
        (torch.Size([8]), torch.Size([8]))
        """
        mask = torch.as_tensor(mask, dtype=torch.bool, device=self.cls_token.device)
        flat = tokens.reshape(-1, *tokens.shape[2:])  # (H, B, T)
        passes = []
        for rows in (mask, ~mask):
            hidden = self.pretraining_hidden(x, rows, chan_idx)
            passes.append(
                self.pretraining_head_losses(hidden, rows, flat[:, rows], recompute)
            )
        (ce_masked, hits), (ce_symmetric, _) = passes
        return ce_masked, ce_symmetric, hits

    def forward_pretraining(self, x, mask, chan_idx=None):
        """Masked-token prediction with the symmetric (complementary) pass.

        Parameters
        ----------
        x : Tensor, shape (B, N, A*P) or (B, N, A, P)
        mask : Tensor of bool, shape (B, N*A)
            True for masked tokens in the first pass.
        chan_idx : Tensor of int64 | None

        Returns
        -------
        logits_masked : Tensor, shape (S*L, M, vocab_size)
        logits_symmetric : Tensor, shape (S*L, B*N*A - M, vocab_size)
        """
        mask = torch.as_tensor(mask, dtype=torch.bool, device=self.cls_token.device)
        masked = self.pretraining_logits(
            self.pretraining_hidden(x, mask, chan_idx), mask
        )
        symmetric = self.pretraining_logits(
            self.pretraining_hidden(x, ~mask, chan_idx), ~mask
        )
        return masked, symmetric


def pretraining_loss(logits_masked, logits_symmetric, tokens, mask):
    """Cross-entropy of the masked-token prediction, both passes.

    Mean over heads of the masked-pass cross-entropy plus the same for the
    symmetric pass (LaBraM-style; the reference publishes no pre-training
    code).

    Parameters
    ----------
    logits_masked, logits_symmetric : Tensor, shape (H, M, V) and (H, M', V)
    tokens : Tensor of int64, shape (S, L, B, T)
        The tokenizer's tokens.
    mask : Tensor of bool, shape (B, T)

    Returns
    -------
    loss : Tensor
    ce_masked, ce_symmetric : Tensor, shape (H,)
        Per-head mean cross-entropy of each pass.

    Examples
    --------
    >>> import torch
    >>> from mne_neurorvq.nn import FoundationConfig, NeuroRVQFoundation
    >>> config = FoundationConfig.tiny()  # 4 scales x 2 levels of 64 codes
    >>> model = NeuroRVQFoundation(config=config, pretraining=True)
    >>> x = torch.randn(2, 3, 400)  # 2 samples, 3 channels x 2 s = 6 tokens
    >>> mask = torch.tensor([[True, False] * 3] * 2)
    >>> logits, logits_symmetric = model.forward_pretraining(x, mask, [36, 9, 10])
    >>> tokens = torch.randint(0, 64, (4, 2, 2, 6))  # (S, L, B, T)
    >>> loss, ce_masked, ce_symmetric = pretraining_loss(
    ...     logits, logits_symmetric, tokens, mask
    ... )
    >>> ce_masked.shape  # one cross-entropy per head (scale, level)
    torch.Size([8])
    """
    flat = tokens.reshape(-1, *tokens.shape[2:])  # (H, B, T)
    ce_masked = _per_head_ce(logits_masked, flat[:, mask])
    ce_symmetric = _per_head_ce(logits_symmetric, flat[:, ~mask])
    return ce_masked.mean() + ce_symmetric.mean(), ce_masked, ce_symmetric


def _head_ce_and_hits(x, weight, bias, target):
    logits = F.linear(x, weight, bias)
    ce = F.cross_entropy(logits.float(), target)
    return ce, (logits.argmax(dim=-1) == target).sum()


def _per_head_ce(logits, targets):
    n_heads, n_rows, vocab = logits.shape
    ce = F.cross_entropy(
        logits.reshape(-1, vocab).float(), targets.reshape(-1), reduction="none"
    )
    return ce.reshape(n_heads, n_rows).mean(dim=1)


def _vocab_idx_from_chs_info(chs_info):
    from ..channels import match_channels

    names = [ch["ch_name"] for ch in chs_info]
    match = match_channels(names, on_unknown="raise")
    if len(match.picks) != len(names):
        raise ValueError(
            "Every channel of chs_info must be in the NeuroRVQ vocabulary; "
            f"unmatched: {match.unmatched}"
        )
    return match.vocab_idx
