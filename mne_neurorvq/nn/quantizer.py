"""Residual vector quantization with EMA codebooks."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._distributed import all_reduce_sum, broadcast_tensors
from ._tuning import CANDIDATES, tuned

#: Distances per block of the nearest-code search on devices other than the
#: CPU (the CPU's block is measured: :func:`mne_neurorvq.nn._tuning.tuned`).
_BLOCK_ELEMENTS = {"cuda": 2**28}


def _gamma(n_terms: int, unit_roundoff: float) -> float:
    """Higham's bound ``n u / (1 - n u)`` on the relative error of a sum."""
    return n_terms * unit_roundoff / (1.0 - n_terms * unit_roundoff)


def _exact_distance(z_row: list[float], code: list[float]) -> float:
    """``|e|^2 - 2 z.e`` exactly, rounded once to float64 (order-independent).

    Products of two float32 numbers are exact in float64 and ``math.fsum``
    returns the correctly rounded exact sum, whatever the order of its terms.
    """
    terms = [e * e for e in code] + [
        -2.0 * a * e for a, e in zip(z_row, code, strict=True)
    ]
    return math.fsum(terms)


def l2norm(x: torch.Tensor) -> torch.Tensor:
    """L2-normalise the last axis (as :func:`torch.nn.functional.normalize`)."""
    return F.normalize(x, p=2.0, dim=-1)


def cosine_kmeans(
    samples: torch.Tensor,
    n_clusters: int,
    n_iter: int = 10,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cluster unit vectors by cosine k-means.

    Initial centroids are ``n_clusters`` samples drawn without replacement
    when there are enough samples, with replacement otherwise. Each round
    assigns every sample to the centroid with the largest dot product, and
    replaces each centroid by the L2-normalised mean of its cluster (an empty
    cluster keeps its centroid).

    Parameters
    ----------
    samples : Tensor, shape (M, C)
        L2-normalised vectors.
    n_clusters : int
        Number of centroids (K).
    n_iter : int
        Rounds of assignment and update.
    generator : torch.Generator | None
        Random generator for the initial draw.

    Returns
    -------
    centroids : Tensor, shape (K, C)
    counts : Tensor, shape (K,)
        Cluster sizes of the last round.

    Examples
    --------
    >>> import torch
    >>> samples = torch.nn.functional.normalize(torch.randn(100, 8), dim=-1)
    >>> generator = torch.Generator().manual_seed(0)
    >>> centroids, counts = cosine_kmeans(samples, 4, generator=generator)
    >>> centroids.shape, int(counts.sum())
    (torch.Size([4, 8]), 100)
    """
    n_samples = samples.shape[0]
    device = samples.device
    if n_samples >= n_clusters:
        pick = torch.randperm(n_samples, generator=generator, device="cpu")[:n_clusters]
    else:
        pick = torch.randint(0, n_samples, (n_clusters,), generator=generator)
    centroids = samples[pick.to(device)]
    counts = torch.zeros(n_clusters, device=device, dtype=samples.dtype)
    for _ in range(n_iter):
        assignment = (samples @ centroids.t()).argmax(dim=-1)
        counts = torch.bincount(assignment, minlength=n_clusters).to(samples.dtype)
        empty = counts == 0
        sums = torch.zeros_like(centroids).index_add_(0, assignment, samples)
        means = l2norm(sums / counts.masked_fill(empty, 1.0).unsqueeze(-1))
        centroids = torch.where(empty.unsqueeze(-1), centroids, means)
    return centroids, counts


class EMACodebook(nn.Module):
    """One codebook: code vectors updated by an exponential moving average.

    ``weight`` holds the codes; ``cluster_size`` and ``embed_avg`` are kept for
    checkpoint compatibility (written by the k-means initialisation and
    otherwise unused); ``initted`` flags whether the codebook was initialised.

    Examples
    --------
    >>> from mne_neurorvq.nn import ResidualVQ
    >>> codebook = ResidualVQ(n_code=16, code_dim=8, n_levels=2).codebooks()[0]
    >>> codebook.weight.shape, codebook.is_initialized
    (torch.Size([16, 8]), False)
    """

    def __init__(self, n_code: int, code_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_code, code_dim), requires_grad=False)
        self.cluster_size = nn.Parameter(torch.zeros(n_code), requires_grad=False)
        self.embed_avg = nn.Parameter(
            torch.zeros(n_code, code_dim), requires_grad=False
        )
        self.register_buffer("initted", torch.zeros(1))
        self._norm_cache = None

    @property
    def is_initialized(self) -> bool:
        """Whether the codes were initialized (by k-means or a checkpoint)."""
        return bool(self.initted.item())

    @property
    def is_initialised(self) -> bool:
        """Deprecated alias of :attr:`is_initialized` (removed in 0.2)."""
        warnings.warn(
            "EMACodebook.is_initialised is deprecated and will be removed in "
            "0.2; use is_initialized.",
            FutureWarning,
            stacklevel=2,
        )
        return self.is_initialized

    def code_norms(self) -> torch.Tensor:
        """Squared norms of the codes, cached until the codes change.

        The cache is keyed on the tensor's version counter (bumped by
        in-place updates such as ``load_state_dict``) and is cleared by this
        class's own updates, which write through ``.data``.
        """
        weight = self.weight
        key = (weight.data_ptr(), weight._version, weight.device, weight.dtype)
        if self._norm_cache is None or self._norm_cache[0] != key:
            self._norm_cache = (key, weight.pow(2).sum(dim=1))
        return self._norm_cache[1]

    def distance_blocks(self, z: torch.Tensor, block_elements: int | None = None):
        """Squared distances of the rows of ``z`` (M, C) to every code, by blocks.

        Distances are ``|z|^2 + |e|^2 - 2 z.e`` in float32, one matrix product
        per block of rows. On CPU a block holds about 4 M distances, so that it
        stays in cache between the product and the reduction that follows
        (three times faster than one (M, K) matrix for the published 8192
        codes); every element is computed exactly as in one big product.

        Yields
        ------
        start : int
            First row of the block.
        distances : Tensor, shape (rows, K)
            A view of a reused buffer: consume it before the next block.
        """
        z = z.float()
        codes_t = self.weight.float().t()
        row_norms = z.pow(2).sum(dim=1, keepdim=True)
        code_norms = self.code_norms().float()
        n_rows, n_code = z.shape[0], codes_t.shape[1]
        if block_elements is not None:
            budget = block_elements
        elif z.device.type == "cpu":
            budget = self.search_block(z)
        else:
            budget = _BLOCK_ELEMENTS.get(z.device.type, _BLOCK_ELEMENTS["cuda"])
        block_rows = max(1, min(n_rows, budget // n_code))
        buffer = z.new_empty(block_rows, n_code)
        for start in range(0, n_rows, block_rows):
            stop = min(start + block_rows, n_rows)
            block = buffer[: stop - start]
            torch.add(row_norms[start:stop], code_norms, out=block)
            # out= (not addmm_) so that FLOP counters see the product
            torch.addmm(block, z[start:stop], codes_t, alpha=-2.0, out=block)
            yield start, block

    def search_block(self, z: torch.Tensor) -> int:
        """Distances per block of the CPU search of ``z`` (M, C), measured.

        Blocks matter only when ``z`` has more rows than the smallest
        candidate block holds; then the candidates of
        ``mne_neurorvq.nn._tuning.CANDIDATES`` are timed once per
        machine on this codebook's shape (``mne_neurorvq.nn._tuning.tuned``).
        """
        n_code, code_dim = self.weight.shape
        smallest = min(CANDIDATES["search_block"])
        if z.shape[0] * n_code <= smallest:
            return smallest
        # the rows of the largest candidate block, at most 2048
        work = max(1, min(max(CANDIDATES["search_block"]) // n_code, 2048))
        sample = z[torch.arange(work, device=z.device) % z.shape[0]]

        def run(block: int):
            self.nearest(sample, block_elements=block)

        return tuned("search_block", f"{n_code} codes x {code_dim}", run)

    def nearest(
        self, z: torch.Tensor, block_elements: int | None = None
    ) -> torch.Tensor:
        """Index of the nearest code of every row of ``z`` (M, C).

        The nearest code is the one of smallest exact squared distance
        ``|z - e|^2``, computed from the float32 values of ``z`` and of the
        codes, ties to the first index: a function of these values alone, so
        for the same values it is the same whatever the batch, the block
        size, the BLAS or the CPU.

        It is found in three steps. Float32 distances (one matrix product
        per block, :meth:`distance_blocks`) decide every row whose runner-up
        is further than :meth:`float32_margin` from its minimum: that margin
        bounds, for any order of summation, twice the rounding error of a
        float32 distance, so no other code can be nearer. The few other rows
        re-decide among their candidates (codes within the margin) in
        float64, again with a proven margin; the rare rows that float64
        cannot separate either (exact ties, duplicate codes) are decided in
        exact arithmetic (``math.fsum`` of the exact products). The
        float32 bound assumes float32 matrix products (not TF32 on CUDA,
        which this package never enables).

        ``block_elements`` fixes the distances per block (speed only, see
        :meth:`distance_blocks`).
        """
        indices = torch.empty(z.shape[0], dtype=torch.long, device=z.device)
        values = torch.empty(z.shape[0], dtype=torch.float32, device=z.device)
        margin = self.float32_margin(z)
        ambiguous = []
        with torch.autocast(z.device.type, enabled=False):
            for start, block in self.distance_blocks(z, block_elements):
                stop = start + block.shape[0]
                best, index = values[start:stop], indices[start:stop]
                # min(dim) returns the first minimum like argmin, and is several
                # times faster than argmin on CPU
                torch.min(block, dim=1, out=(best, index))
                # the runner-up: the block without each row's minimum
                block.scatter_(1, index.unsqueeze(1), torch.inf)
                threshold = best + margin[start:stop]
                rows = (block.amin(dim=1) <= threshold).nonzero().flatten()
                if len(rows):
                    block[rows, index[rows]] = best[rows]
                    close = block[rows] <= threshold[rows].unsqueeze(1)
                    ambiguous.append((rows + start, close.nonzero()))
        for rows, pairs in ambiguous:
            indices[rows] = self._redecide(z, rows, pairs).to(z.device)
        return indices

    def float32_margin(self, z: torch.Tensor) -> torch.Tensor:
        """Per row of ``z``: how close a runner-up must be to need a re-decision.

        A float32 distance ``|z|^2 + |e|^2 - 2 z.e`` summed in any order is
        within ``2 gamma_(C+2) (|z| + |e|)^2`` of the exact value (Higham,
        gamma_n = n u / (1 - n u), u = 2^-24), so two distances may swap
        only when they are closer than twice that; the margin takes 2.5 times
        it, with the largest code norm, to cover the rounding of the margin
        and of the minimum themselves.
        """
        z = z.float()
        code_dim = z.shape[1]
        largest = float(self.code_norms().float().max().sqrt()) if len(z) else 0.0
        scale = (z.norm(dim=1) + largest).pow(2)
        return 5.0 * _gamma(code_dim + 2, 2.0**-24) * scale

    def _redecide(
        self, z: torch.Tensor, rows: torch.Tensor, pairs: torch.Tensor
    ) -> torch.Tensor:
        """Nearest code of ``z[rows]`` among their candidates, exactly.

        ``pairs`` (P, 2) holds (position in ``rows``, code) of every candidate,
        sorted by position then code (as ``nonzero`` returns them). Runs on the
        CPU (few rows; float64 everywhere, MPS included).
        """
        rows, pairs = rows.cpu(), pairs.cpu()
        z64 = z.detach()[rows.to(z.device)].cpu().double()
        weight = self.weight.detach().cpu()
        codes = weight.double()[pairs[:, 1]]
        row_of = pairs[:, 0]
        # |e|^2 - 2 z.e: the products are exact in float64, only the sums round
        distance = codes.pow(2).sum(dim=1) - 2.0 * (z64[row_of] * codes).sum(dim=1)
        scale = (z64.norm(dim=1)[row_of] + codes.norm(dim=1)).pow(2)
        margin = 6.0 * _gamma(2 * z.shape[1] + 2, 2.0**-53) * scale
        # per row: candidates by distance (stable: equal values keep code order)
        order = torch.argsort(distance, stable=True)
        order = order[torch.argsort(row_of[order], stable=True)]
        counts = torch.bincount(row_of, minlength=len(rows))
        first = torch.cumsum(counts, 0) - counts
        best, runner_up = order[first], order[first + 1]
        chosen = pairs[best, 1]
        unclear = distance[runner_up] - distance[best] <= margin.max()
        for position in unclear.nonzero().flatten().tolist():
            span = slice(int(first[position]), int(first[position] + counts[position]))
            z_row = z64[position].tolist()
            candidates = pairs[span, 1].tolist()
            exact = [
                _exact_distance(z_row, weight[k].double().tolist()) for k in candidates
            ]
            # candidates are sorted, so min() keeps the first of equal values
            chosen[position] = candidates[min(range(len(exact)), key=exact.__getitem__)]
        return chosen

    def distance_gap(self, z: torch.Tensor) -> torch.Tensor:
        """Second-smallest minus smallest squared distance of each row of ``z``."""
        gaps = torch.empty(z.shape[0], dtype=torch.float32, device=z.device)
        for start, block in self.distance_blocks(z):
            two = block.topk(2, dim=1, largest=False).values
            gaps[start : start + block.shape[0]] = two[:, 1] - two[:, 0]
        return gaps

    @torch.no_grad()
    def kmeans_init_(self, z: torch.Tensor, n_iter: int, generator=None):
        """Initialise the codes by cosine k-means on ``z`` and set ``initted``.

        Under torch.distributed each process runs the k-means on its own batch
        and process 0's codes, counts and flag are then broadcast, so that
        every process quantises with the same codebook from the first lookup
        on (the EMA updates that follow are summed over processes and keep
        them equal).
        """
        centroids, counts = cosine_kmeans(z, self.weight.shape[0], n_iter, generator)
        self._norm_cache = None
        self.weight.data.copy_(centroids)
        self.cluster_size.data.copy_(counts)
        self.initted.data.fill_(1.0)
        broadcast_tensors((self.weight.data, self.cluster_size.data, self.initted))

    @torch.no_grad()
    def ema_update_(self, z: torch.Tensor, indices: torch.Tensor, decay: float):
        """Move the codes towards the mean of their assigned inputs.

        Counts and per-code sums are summed over processes first when
        torch.distributed is running, so every rank keeps identical codes.

        Returns
        -------
        counts : Tensor, shape (K,)
            Codes' usage in this batch (all processes).
        """
        n_code = self.weight.shape[0]
        counts = torch.bincount(indices, minlength=n_code).to(z.dtype)
        sums = torch.zeros_like(self.weight).index_add_(0, indices, z.to(self.weight))
        all_reduce_sum(counts)
        all_reduce_sum(sums)
        empty = counts == 0
        means = l2norm(sums / counts.masked_fill(empty, 1.0).unsqueeze(-1))
        means = torch.where(empty.unsqueeze(-1), self.weight, means)
        self._norm_cache = None
        self.weight.data.mul_(decay).add_(means, alpha=1 - decay)
        self.weight.data.copy_(l2norm(self.weight.data))
        return counts


@dataclass
class QuantizerOutput:
    """Result of :class:`ResidualVQ`.

    Attributes
    ----------
    quantized : Tensor, shape (B, C, N, A)
        Sum of the level outputs (straight-through).
    indices : Tensor of int64, shape (L, B * N * A)
        Code index per level and token (epoch-major, then channel-major).
    loss : Tensor | None
        Mean over levels of each level's commitment and residual terms.
    level_losses : Tensor, shape (L,) | None
        Each level's ``beta * MSE(code, z)`` term.
    usage : Tensor, shape (L,) | None
        Distinct codes chosen at each level / K.

    Examples
    --------
    >>> import torch
    >>> from mne_neurorvq.nn import ResidualVQ
    >>> rvq = ResidualVQ(n_code=16, code_dim=8, n_levels=3)
    >>> out = rvq.train()(torch.randn(2, 8, 3, 4))  # (B, C, N, A)
    >>> out.indices.shape, out.usage.shape
    (torch.Size([3, 24]), torch.Size([3]))
    """

    quantized: torch.Tensor
    indices: torch.Tensor
    loss: torch.Tensor
    level_losses: torch.Tensor
    usage: torch.Tensor


class QuantizerLevel(nn.Module):
    """One residual level: normalise the residual, pick the nearest code."""

    def __init__(self, n_code: int, code_dim: int):
        super().__init__()
        self.register_buffer("cluster_size", torch.zeros(n_code))
        self.embedding = EMACodebook(n_code, code_dim)


class ResidualVQ(nn.Module):
    """Residual vector quantiser of one scale: ``n_levels`` EMA codebooks.

    Level ``l`` L2-normalises its residual input ``r_l``, picks the nearest
    code ``q_l``, outputs ``z + (q_l - z)`` (straight-through) and passes
    ``r_l - q_l`` on. In training mode the codebooks are updated by EMA after
    the lookup (and initialised by k-means at the first step if needed). In
    eval mode nothing is mutated.

    Parameters
    ----------
    n_code : int
        Codes per level (K).
    code_dim : int
        Code width (C).
    n_levels : int
        Residual levels (L).
    decay : float
        EMA decay.
    beta : float
        Weight of the commitment term.
    kmeans_iters : int
        Rounds of the k-means initialisation.

    Examples
    --------
    >>> import torch
    >>> from mne_neurorvq.nn import ResidualVQ
    >>> rvq = ResidualVQ(n_code=16, code_dim=8, n_levels=3)
    >>> rvq.generator = torch.Generator().manual_seed(0)
    >>> x = torch.randn(2, 8, 3, 4)  # (B, C, N, A)
    >>> out = rvq.train()(x)  # first training forward: k-means initialisation
    >>> out = rvq.eval()(x)
    >>> out.quantized.shape, out.indices.shape  # indices: (L, B * N * A)
    (torch.Size([2, 8, 3, 4]), torch.Size([3, 24]))
    """

    def __init__(
        self,
        n_code: int,
        code_dim: int,
        n_levels: int,
        decay: float = 0.99,
        beta: float = 1.0,
        kmeans_iters: int = 10,
    ):
        super().__init__()
        self.n_code = n_code
        self.decay = decay
        self.beta = beta
        self.kmeans_iters = kmeans_iters
        self.layers = nn.ModuleList(
            QuantizerLevel(n_code, code_dim) for _ in range(n_levels)
        )
        self.generator = None

    def codebooks(self) -> list[EMACodebook]:
        """The codebook of every level, in order."""
        return [level.embedding for level in self.layers]

    def _check_initialised(self, level: int, codebook: EMACodebook):
        if not codebook.is_initialized:
            raise RuntimeError(
                f"Codebook of level {level} is not initialised: load trained "
                "weights, or run the quantiser in training mode once (k-means "
                "initialisation)."
            )

    def forward(
        self,
        x: torch.Tensor,
        return_gaps: bool = False,
        return_levels: bool = False,
        compute_loss: bool = True,
    ) -> QuantizerOutput:
        """Quantise ``x`` (B, C, N, A).

        Parameters
        ----------
        x : Tensor, shape (B, C, N, A)
        return_gaps : bool
            Also return the code-distance gap of every level and token
            (diagnostic, adds a top-2 search), as ``out.gaps`` (L, B*N*A).
        return_levels : bool
            Also return every level's residual input and straight-through
            output, as ``out.level_inputs`` and ``out.level_outputs``
            (L, B, C, N, A).
        compute_loss : bool
            Compute the loss terms and the code usage (always in training);
            tokenization alone skips them (``loss``, ``level_losses`` and
            ``usage`` are then None).
        """
        compute_loss = compute_loss or self.training
        batch, code_dim, n_chans, n_patches = x.shape
        residual = x.permute(0, 2, 3, 1).reshape(-1, code_dim)
        total = torch.zeros_like(residual)
        indices, losses, commit, usage, gaps = [], [], [], [], []
        level_inputs, level_outputs = [], []
        for level, layer in enumerate(self.layers):
            codebook = layer.embedding
            z = l2norm(residual)
            if self.training and not codebook.is_initialized:
                codebook.kmeans_init_(
                    z.detach().float(), self.kmeans_iters, self.generator
                )
            self._check_initialised(level, codebook)
            index = codebook.nearest(z.detach())
            code = F.embedding(index, codebook.weight).to(z.dtype)
            out = z + (code - z).detach()
            next_residual = residual - out
            if compute_loss:
                commit_loss = self.beta * F.mse_loss(code.detach(), z)
                residual_loss = F.mse_loss(out, next_residual.detach())
                losses.append(commit_loss + 0.4 * residual_loss)
                commit.append(commit_loss.detach())
                usage.append(index.unique().numel() / self.n_code)
            if return_gaps:
                gaps.append(codebook.distance_gap(z.detach()))
            if self.training:
                counts = codebook.ema_update_(z.detach(), index, self.decay)
                layer.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
            if return_levels:
                level_inputs.append(residual)
                level_outputs.append(out)
            total = total + out
            residual = next_residual
            indices.append(index)
        quantized = total.reshape(batch, n_chans, n_patches, code_dim)
        out = QuantizerOutput(
            quantized=quantized.permute(0, 3, 1, 2),
            indices=torch.stack(indices),
            loss=torch.stack(losses).mean() if compute_loss else None,
            level_losses=torch.stack(commit) if compute_loss else None,
            usage=torch.tensor(usage) if compute_loss else None,
        )
        if return_gaps:
            out.gaps = torch.stack(gaps)
        if return_levels:

            def to_maps(values):
                maps = torch.stack(values).reshape(
                    -1, batch, n_chans, n_patches, code_dim
                )
                return maps.permute(0, 1, 4, 2, 3)

            out.level_inputs = to_maps(level_inputs)
            out.level_outputs = to_maps(level_outputs)
        return out

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Sum the codes of every level.

        Parameters
        ----------
        indices : Tensor of int64, shape (L, ...)

        Returns
        -------
        Tensor, shape (..., C)
        """
        if indices.shape[0] != len(self.layers):
            raise ValueError(
                f"Expected {len(self.layers)} levels of indices, got {indices.shape[0]}"
            )
        total = None
        pairs = zip(indices, self.codebooks(), strict=True)
        for level, (index, codebook) in enumerate(pairs):
            self._check_initialised(level, codebook)
            code = F.embedding(index, codebook.weight)
            total = code if total is None else total + code
        return total
