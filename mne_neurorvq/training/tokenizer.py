"""Tokenizer training.

Each step runs the tokenizer forward in training mode and minimises
:attr:`~mne_neurorvq.nn.tokenizer.TokenizerOutput.loss`, the sum of the RVQ
loss (commitment and residual terms, mean over levels, sum over scales), the
log-amplitude MSE, the phase loss and the signal MSE. The encoder gets its
gradient through the quantiser by the straight-through estimator; the
codebooks are not trained by gradients: the quantiser initialises them by
cosine k-means on the first batch (a fresh model's codebooks are zero with
``initted`` = 0) and then updates them by EMA during every training forward.

Codebook usage (perplexity, share of used codes, dead codes) is tracked per
scale and level by the trainer (:class:`~mne_neurorvq.training.usage.CodebookUsage`)
and reported per epoch. Dead codes can optionally be restarted
(:class:`~mne_neurorvq.training.restart.DeadCodeRestarter`, off by default).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..nn.checkpoints import load_tokenizer, save_checkpoint
from ..nn.config import TokenizerConfig
from ..nn.tokenizer import NeuroRVQTokenizerModel
from .engine import StepOutput, TrainingTask
from .restart import DeadCodeRestarter
from .sampler import derive_seed
from .usage import CodebookUsage, code_counts, usage_statistics

__all__ = ["TokenizerTraining", "reconstruction_mse"]

#: File name of the trained tokenizer (published key layout) in the output folder.
TOKENIZER_NAME = "tokenizer.pt"


def reconstruction_mse(std_x: torch.Tensor, std_recon: torch.Tensor) -> torch.Tensor:
    """Per-sample MSE between the z-scored input and reconstruction.

    The paper's reconstruction metric: both signals standardised per sample
    (as :class:`~mne_neurorvq.nn.tokenizer.TokenizerOutput` gives them), so 1
    is the error of predicting zeros.

    Parameters
    ----------
    std_x, std_recon : Tensor, shape (B, ...)

    Returns
    -------
    Tensor, shape (B,)

    Examples
    --------
    >>> std_x = torch.ones(2, 3, 4)
    >>> std_recon = torch.stack([torch.ones(3, 4), torch.zeros(3, 4)])
    >>> reconstruction_mse(std_x, std_recon).tolist()
    [0.0, 1.0]
    """
    error = (std_x.float() - std_recon.float()).pow(2)
    return error.reshape(len(error), -1).mean(dim=1)


class TokenizerTraining(TrainingTask):
    """Train a NeuroRVQ tokenizer from scratch (or further from weights).

    Parameters
    ----------
    config : TokenizerConfig | None
        Model configuration (the published one when None and ``init`` is None).
    init : str | Path | Mapping | None
        Start from these tokenizer weights (codebooks included) instead of a
        fresh model.
    dead_after : int
        Steps without use after which a code counts as dead (reported per
        epoch).
    restart_dead : bool
        Replace dead codes by random normalised inputs of the current batch
        (off by default; not in the reference training, see
        :mod:`mne_neurorvq.training.restart`).

    Examples
    --------
    >>> from mne_neurorvq.nn import TokenizerConfig
    >>> task = TokenizerTraining(TokenizerConfig.tiny())
    >>> model = task.build(seed=0)
    >>> model.quantize_1.layers[0].embedding.is_initialized  # k-means at step 1
    False
    """

    name = "tokenizer"

    def __init__(
        self,
        config: TokenizerConfig | None = None,
        *,
        init=None,
        dead_after: int = 100,
        restart_dead: bool = False,
    ):
        self.init = init
        if config is None and init is None:
            config = TokenizerConfig()
        self.config = config
        self.dead_after = int(dead_after)
        self.restart_dead = restart_dead
        self.model = None
        self.usage = None
        self.restarter = None
        self.seed = 0
        self._eval_counts = None

    # ------------------------------------------------------------------ set-up
    def build(self, seed: int) -> NeuroRVQTokenizerModel:
        """Create the model: fresh weights and zero codebooks, or ``init``."""
        self.seed = int(seed)
        if self.init is not None:
            model = load_tokenizer(self.init, self.config)
            self.config = model.config
        else:
            model = NeuroRVQTokenizerModel(self.config)
            model.init_weights(torch.Generator().manual_seed(derive_seed(seed, "init")))
            model.reset_codebooks()
        for scale, quantizer in enumerate(model.quantizers):
            quantizer.generator = torch.Generator().manual_seed(
                derive_seed(seed, "kmeans", scale)
            )
        self.model = model.train()
        cfg = self.config
        self.usage = CodebookUsage(
            cfg.n_scales, cfg.n_levels, cfg.n_code, dead_after=self.dead_after
        )
        return model

    def setup(self, ctx, seed: int):
        """Install the dead-code restart hooks (when asked for)."""
        if self.restart_dead and self.restarter is None:
            self.restarter = DeadCodeRestarter(self.model, seed)

    # ------------------------------------------------------------------ steps
    def training_step(self, module, batch, step, ctx) -> StepOutput:
        """Forward the batch in training mode; its loss terms."""
        out = module(batch.x, batch.chan_idx)
        metrics = {
            "loss": out.loss.detach(),
            "rvq": out.loss_rvq.detach(),
            "amplitude": out.loss_amplitude.detach(),
            "phase": out.loss_phase.detach(),
            "signal": out.loss_signal.detach(),
        }
        return StepOutput(out.loss, metrics, {"tokens": out.tokens.detach()})

    def after_step(self, output, step, ctx):
        """Track code usage; restart dead codes when enabled."""
        self.usage.update(output.extras["tokens"], step)
        if self.restarter is not None:
            dead = self.usage.dead(step)
            if dead.any():
                n_replaced = self.restarter.restart(dead, step)
                self.usage.revive(dead, step)
                output.metrics["restarted"] = float(n_replaced)

    def epoch_summary(self) -> dict:
        """Per-level perplexity, used share and dead codes of the epoch."""
        summary = self.usage.summary()
        self.usage.reset_epoch()
        return summary

    @torch.no_grad()
    def evaluate(self, batches, ctx, autocast) -> dict:
        """Reconstruction MSE (z-scored signals), loss terms and code usage.

        Returns
        -------
        dict
            ``mse`` (mean over windows of :func:`reconstruction_mse`),
            ``loss`` and its terms (window-weighted means), ``perplexity`` and
            ``used_share`` per scale and level (nested lists), ``n_windows``.
        """
        cfg = self.config
        totals: dict[str, float] = {}
        counts = torch.zeros(cfg.n_scales, cfg.n_levels, cfg.n_code, dtype=torch.long)
        n_windows = 0
        for batch in batches:
            with autocast:
                out = self.model(batch.x, batch.chan_idx)
            size = len(batch.x)
            terms = {
                "mse": reconstruction_mse(out.std_x, out.std_recon).sum(),
                "loss": out.loss * size,
                "rvq": out.loss_rvq * size,
                "amplitude": out.loss_amplitude * size,
                "phase": out.loss_phase * size,
                "signal": out.loss_signal * size,
            }
            for key, value in terms.items():
                totals[key] = totals.get(key, 0.0) + float(value)
            counts += code_counts(out.tokens, cfg.n_code).cpu()
            n_windows += size
        result = {key: value / max(n_windows, 1) for key, value in totals.items()}
        stats = usage_statistics(counts)
        result["perplexity"] = stats["perplexity"].tolist()
        result["used_share"] = stats["used_share"].tolist()
        result["n_windows"] = n_windows
        return result

    @staticmethod
    def format_summary(entry: dict) -> str:
        """Perplexity / used share per level (mean over scales), eval MSE."""
        usage = entry.get("usage") or {}
        text = ""
        if usage:
            ppl = torch.tensor(usage["perplexity"]).mean(dim=0)
            dead = torch.tensor(usage["dead"]).sum(dim=0)
            text += " | perplexity/level " + " ".join(f"{v:.0f}" for v in ppl)
            text += " | dead/level " + " ".join(str(int(v)) for v in dead)
        evaluation = entry.get("eval")
        if evaluation:
            text += f" | eval mse {evaluation['mse']:.4f}"
        return text

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """The usage tracker (its counts and last-use steps)."""
        return {"usage": self.usage.state_dict()}

    def load_state_dict(self, state: dict):
        """Restore the usage tracker."""
        self.usage.load_state_dict(state["usage"])

    def describe(self) -> dict:
        """Model configuration and options."""
        return {
            "config": self.config.to_dict(),
            "dead_after": self.dead_after,
            "restart_dead": self.restart_dead,
        }

    def save_model(self, out_dir) -> Path:
        """Write ``tokenizer.pt`` (published layout) and ``tokenizer_config.json``."""
        out_dir = Path(out_dir)
        path = save_checkpoint(self.model, out_dir / TOKENIZER_NAME)
        (out_dir / "tokenizer_config.json").write_text(
            json.dumps(self.config.to_dict(), indent=2)
        )
        return path
