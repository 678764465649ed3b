"""Opt-in restart of dead codes (not part of the reference training).

A code that no input chose for ``dead_after`` steps (see
:class:`~mne_neurorvq.training.usage.CodebookUsage`) receives no EMA update
and is wasted capacity. With restarts enabled, every dead code is replaced by
a randomly drawn normalised input of its level from the *current* batch (the
vectors the level's lookup just used), a common remedy (Jukebox, SoundStream)
that the NeuroRVQ reference does not use: it is off by default.

Only the current batch is used as the pool of candidates, so the restart
needs no state beyond the step (which keeps exact resume possible); the draw
is seeded by ``(seed, step, scale, level)``. In distributed training process
0 draws the replacements from its batch and broadcasts the codebook, so every
process keeps identical codebooks (the dead-code masks are identical because
the usage counts are summed over processes).
"""

from __future__ import annotations

import torch

from ..nn.quantizer import l2norm
from .distributed import broadcast_tensors
from .sampler import derive_seed

__all__ = ["DeadCodeRestarter"]


class DeadCodeRestarter:
    """Replace dead codes of a tokenizer by inputs of the current batch.

    Installs forward hooks on every scale's quantiser that ask it for its
    level inputs (``return_levels=True``) and keep the last training batch's
    normalised inputs until :meth:`restart` uses them.

    Parameters
    ----------
    model : NeuroRVQTokenizerModel
        The tokenizer being trained.
    seed : int
        Seed of the draws.

    Examples
    --------
    >>> from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig
    >>> model = NeuroRVQTokenizerModel(TokenizerConfig.tiny()).train()
    >>> restarter = DeadCodeRestarter(model, seed=0)
    >>> out = model(torch.randn(2, 2, 400), [36, 9])  # records the level inputs
    >>> dead = torch.zeros(4, 2, 64, dtype=torch.bool)  # (S, L, K)
    >>> dead[0, 0, :3] = True  # codes 0-2 of scale 0, level 0
    >>> restarter.restart(dead, step=1)
    3
    >>> restarter.remove()
    """

    def __init__(self, model, seed: int = 0):
        self.model = model
        self.seed = int(seed)
        self._inputs: dict[int, torch.Tensor] = {}
        self._handles = []
        for scale, quantizer in enumerate(model.quantizers):
            self._handles.append(
                quantizer.register_forward_pre_hook(_request_levels, with_kwargs=True)
            )
            self._handles.append(
                quantizer.register_forward_hook(self._store_hook(scale))
            )

    def _store_hook(self, scale):
        def hook(module, args, output):
            if module.training:
                # (L, B, C, N, A) residual inputs -> (L, B*N*A, C), token order
                levels = output.level_inputs.detach()
                n_levels, code_dim = levels.shape[0], levels.shape[2]
                flat = levels.permute(0, 1, 3, 4, 2).reshape(n_levels, -1, code_dim)
                self._inputs[scale] = l2norm(flat.float())

        return hook

    @torch.no_grad()
    def restart(self, dead: torch.Tensor, step: int) -> int:
        """Replace the codes flagged in ``dead`` (S, L, K).

        Parameters
        ----------
        dead : Tensor of bool, shape (S, L, K)
        step : int
            Current step (seeds the draw).

        Returns
        -------
        int
            Number of codes replaced.
        """
        n_replaced = 0
        for scale, quantizer in enumerate(self.model.quantizers):
            for level, codebook in enumerate(quantizer.codebooks()):
                rows = dead[scale, level].nonzero().flatten()
                if not len(rows):
                    continue
                pool = self._inputs.get(scale)
                if pool is None:
                    raise RuntimeError(
                        "No inputs recorded: restart() must follow a training "
                        "forward pass of the model."
                    )
                pool = pool[level]
                generator = torch.Generator().manual_seed(
                    derive_seed(self.seed, "restart", step, scale, level)
                )
                pick = torch.randint(len(pool), (len(rows),), generator=generator)
                weight = codebook.weight.data
                weight[rows.to(weight.device)] = pool[pick.to(pool.device)].to(weight)
                broadcast_tensors((weight,), 0)
                codebook._norm_cache = None
                n_replaced += len(rows)
        self._inputs.clear()
        return n_replaced

    def remove(self):
        """Remove the hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def _request_levels(module, args, kwargs):
    if module.training:
        return args, dict(kwargs, return_levels=True)
    return None
