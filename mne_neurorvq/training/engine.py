"""The training loop shared by tokenizer training and foundation pre-training.

:class:`Trainer` runs a :class:`TrainingTask` (what the model is and how one
step computes its loss) over a :class:`~mne_neurorvq.training.data.WindowDataset`
with AdamW, a per-step learning-rate schedule, gradient clipping, optional
bf16 autocast, a progress bar, per-epoch log lines, atomic checkpoints and
exact resume, on one process or data-parallel over several (``torchrun``).

Exact resume
------------
A run killed at any point (even by SIGKILL) and resumed from its last
checkpoint ends with the same weights, bit for bit, as a run that was never
interrupted, provided the configuration, data, seed, number of processes and
software are the same. This holds because everything a step depends on is
either in the checkpoint or a pure function of integers stored there:

- model state (weights and codebooks, including their EMA state and
  ``initted`` flags), AdamW moments and step counts, scheduler position;
- the data order: a pure function of ``(seed, epoch)``
  (:class:`~mne_neurorvq.training.sampler.WindowBatchOrder`); the checkpoint
  stores the epoch and how many of its batches were consumed, and the resumed
  run skips them;
- per-step randomness (pre-training masks, dead-code restarts) is drawn from
  generators seeded by ``(seed, rank, step)``;
- the global torch, NumPy and Python generators (used by dropout, if any) of
  every process are saved and restored;
- the trainer's own state (codebook usage trackers).

Checkpoints are written atomically (temporary file, then :func:`os.replace`),
so the checkpoint file is always complete.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .checkpointing import (
    atomic_save,
    capture_rng_state,
    load_training_checkpoint,
    restore_rng_state,
)
from .data import WindowBatch, WindowDataset, collate_windows
from .distributed import DistributedContext, init_distributed
from .sampler import WindowBatchOrder
from .schedule import SCHEDULES, build_scheduler

__all__ = [
    "CHECKPOINT_NAME",
    "PRECISIONS",
    "StepOutput",
    "Trainer",
    "TrainingConfig",
    "TrainingResult",
    "TrainingTask",
]

#: File name of the training checkpoint inside the output folder.
CHECKPOINT_NAME = "training_state.pt"
#: Precisions of :attr:`TrainingConfig.precision`.
PRECISIONS = ("fp32", "bf16")
#: Parameters without weight decay (besides biases and norm weights).
NO_WEIGHT_DECAY = ("cls_token", "pos_embed", "time_embed", "mask_token")


@dataclass
class TrainingConfig:
    """Optimisation and bookkeeping settings of a run.

    Attributes
    ----------
    epochs : int
        Passes over the training windows.
    batch_size : int
        Windows per step and process.
    lr : float
        Peak learning rate of AdamW.
    weight_decay : float
        AdamW weight decay (not applied to biases, norms and embedding tables).
    betas : tuple of float
        AdamW betas.
    schedule : ``'cosine'`` | ``'linear'`` | ``'constant'``
        Learning-rate shape after the warm-up, stepped per batch.
    warmup_steps : int | None
        Linear warm-up steps; None: ``warmup_ratio`` of the total.
    warmup_ratio : float
        Share of the steps used for warm-up when ``warmup_steps`` is None.
    min_lr_ratio : float
        Final learning rate as a share of ``lr``.
    clip_grad : float | None
        Clip the global gradient norm to this value (None: no clipping).
    precision : ``'fp32'`` | ``'bf16'``
        ``'bf16'`` runs the forward pass under bf16 autocast.
    checkpoint_every : int | None
        Write the training checkpoint every this many steps (and always at
        the end).
    seed : int
        Seed of the initial weights, of the data order and of every random
        draw.
    max_steps : int | None
        Stop after this many steps (the schedule spans them).
    time_limit : float | None
        Stop after this many seconds of training in this process.
    drop_last : bool
        Drop incomplete batches.
    num_workers : int
        Data-loading worker processes.
    eval_batch_size : int | None
        Batch size of evaluation (default: ``batch_size``).
    progress : bool
        Show a tqdm progress bar (process 0).
    verbose : bool
        Print per-epoch log lines (process 0).

    Examples
    --------
    >>> config = TrainingConfig(epochs=2, batch_size=8, lr=1e-3, progress=False)
    >>> config.schedule, config.to_dict()["lr"]
    ('cosine', 0.001)
    """

    epochs: int = 10
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.05
    betas: tuple = (0.9, 0.99)
    schedule: str = "cosine"
    warmup_steps: int | None = None
    warmup_ratio: float = 0.05
    min_lr_ratio: float = 0.01
    clip_grad: float | None = 3.0
    precision: str = "fp32"
    checkpoint_every: int | None = None
    seed: int = 0
    max_steps: int | None = None
    time_limit: float | None = None
    drop_last: bool = False
    num_workers: int = 0
    eval_batch_size: int | None = None
    progress: bool = True
    verbose: bool = True

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"precision must be one of {PRECISIONS}, got {self.precision!r}"
            )
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"schedule must be one of {SCHEDULES}, got {self.schedule!r}"
            )
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise ValueError("checkpoint_every must be positive or None")
        self.betas = tuple(self.betas)

    def to_dict(self) -> dict:
        """Settings as a JSON-friendly dictionary."""
        return dataclasses.asdict(self)


@dataclass
class StepOutput:
    """What a task's training step returns.

    Attributes
    ----------
    loss : Tensor
        Scalar to minimise.
    metrics : dict of str to float or Tensor
        Scalars averaged over the epoch for the log.
    extras : dict
        Anything :meth:`TrainingTask.after_step` needs (e.g. tokens).

    Examples
    --------
    >>> import torch
    >>> loss = torch.tensor(0.25, requires_grad=True)
    >>> output = StepOutput(loss, metrics={"loss": loss.detach()})
    >>> float(output.metrics["loss"]), output.extras
    (0.25, {})
    """

    loss: torch.Tensor
    metrics: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)


class TrainingTask:
    """What is trained and how: subclassed by the tokenizer and pre-training tasks.

    The trainer calls, in order: :meth:`build` (create ``self.model``),
    :meth:`setup` (after the model is on its device), then per step
    :meth:`training_step` and :meth:`after_step`, per epoch
    :meth:`epoch_summary` and :meth:`evaluate`, and at the end
    :meth:`save_model`. :meth:`state_dict` / :meth:`load_state_dict` carry
    the task's own state (not the model) through checkpoints.

    Examples
    --------
    A task needs at least :meth:`build`, :meth:`training_step` and
    :meth:`save_model`; here a single gain learns to shrink the signal:

    >>> import tempfile
    >>> import numpy as np
    >>> import torch
    >>> from mne_neurorvq.training import StepOutput, Trainer, WindowDataset
    >>> class GainTask(TrainingTask):
    ...     name = "gain"
    ...
    ...     def build(self, seed):
    ...         self.model = torch.nn.Linear(1, 1, bias=False)
    ...         return self.model
    ...
    ...     def training_step(self, module, batch, step, ctx):
    ...         loss = module(batch.x.reshape(-1, 1)).pow(2).mean()
    ...         return StepOutput(loss, {"loss": loss.detach()})
    ...
    ...     def save_model(self, out_dir):
    ...         torch.save(self.model.state_dict(), out_dir / "gain.pt")
    ...         return out_dir / "gain.pt"
    >>> data = np.random.default_rng(0).standard_normal((4, 2, 200))
    >>> ds = WindowDataset.from_arrays(data, chan_idx=[36, 9])
    >>> with tempfile.TemporaryDirectory() as out:
    ...     trainer = Trainer(
    ...         GainTask(), ds, out, epochs=3, batch_size=2, progress=False,
    ...         verbose=False
    ...     )
    ...     result = trainer.fit()
    >>> result.step, result.model_path.name
    (6, 'gain.pt')
    """

    #: Short name used in logs and file names.
    name = "model"
    model: nn.Module

    def build(self, seed: int) -> nn.Module:
        """Create ``self.model`` (fresh weights from ``seed``) and return it."""
        raise NotImplementedError

    def setup(self, ctx: DistributedContext, seed: int):
        """Prepare for training once the model is on ``ctx.device``."""

    def train_module(self) -> nn.Module:
        """Module whose ``forward`` the training step calls (wrapped by DDP)."""
        return self.model

    def training_step(
        self, module: nn.Module, batch: WindowBatch, step: int, ctx
    ) -> StepOutput:
        """Compute the loss of optimizer step ``step`` (1-based)."""
        raise NotImplementedError

    def after_step(self, output: StepOutput, step: int, ctx):
        """Bookkeeping after the optimizer step (all processes)."""

    def epoch_summary(self) -> dict:
        """Task statistics of the epoch that ended; then reset them."""
        return {}

    def evaluate(self, batches, ctx, autocast) -> dict:
        """Metrics on held-out batches (process 0, eval mode, no gradients)."""
        return {}

    def save_model(self, out_dir: Path) -> Path:
        """Write the final model in the published layout and return its path."""
        raise NotImplementedError

    def describe(self) -> dict:
        """JSON-friendly description (model configuration) for ``run.json``."""
        return {}

    def state_dict(self) -> dict:
        """Task state to checkpoint (tensors and plain values)."""
        return {}

    def load_state_dict(self, state: dict):
        """Restore :meth:`state_dict` output."""

    @staticmethod
    def format_summary(summary: dict) -> str:
        """One line of the most useful statistics, for the epoch log."""
        return ""


@dataclass
class TrainingResult:
    """Outcome of :meth:`Trainer.fit`.

    Attributes
    ----------
    model : nn.Module
        The trained model (eval mode, on the training device).
    model_path : Path | None
        Final model in the published layout (process 0).
    checkpoint_path : Path | None
        Final training checkpoint (process 0).
    step, epoch : int
        Steps done and epochs completed.
    history : list of dict
        One entry per epoch (and one for a partial last epoch).
    stop_reason : str
        ``'epochs'``, ``'max_steps'`` or ``'time_limit'``.
    wall_time : float
        Seconds this process trained.
    """

    model: nn.Module
    model_path: Path | None
    checkpoint_path: Path | None
    step: int
    epoch: int
    history: list
    stop_reason: str
    wall_time: float


class Trainer:
    """Train a task on windows of EEG.

    Parameters
    ----------
    task : TrainingTask
        What to train (:class:`~mne_neurorvq.training.TokenizerTraining`,
        :class:`~mne_neurorvq.training.PretrainingTask`).
    train_data : WindowDataset
        Training windows.
    out_dir : str | Path
        Folder of the checkpoint (:data:`CHECKPOINT_NAME`), the final model,
        ``run.json`` and ``history.jsonl``.
    config : TrainingConfig | None
        Settings (defaults when None); keyword arguments override fields.
    eval_data : WindowDataset | None
        Held-out windows evaluated after every epoch.
    device : str | torch.device | None
        Device; None picks CUDA when available.
    callbacks : sequence of callable
        Called as ``callback(trainer, step, output)`` after every step.
    **overrides
        Fields of :class:`TrainingConfig`.

    Examples
    --------
    Train a tiny tokenizer for two epochs of two steps, then resume the run
    from its checkpoint for a third epoch:

    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> from mne_neurorvq.nn import TokenizerConfig
    >>> from mne_neurorvq.training import TokenizerTraining, WindowDataset
    >>> data = 20 * np.random.default_rng(0).standard_normal((8, 2, 400))
    >>> ds = WindowDataset.from_arrays(data, chan_idx=[36, 9])
    >>> config = TrainingConfig(batch_size=4, progress=False, verbose=False)
    >>> with tempfile.TemporaryDirectory() as out:
    ...     task = TokenizerTraining(TokenizerConfig.tiny())
    ...     result = Trainer(task, ds, out, config, epochs=2).fit()
    ...     files = sorted(os.listdir(out))
    ...     task = TokenizerTraining(TokenizerConfig.tiny())
    ...     resumed = Trainer(task, ds, out, config, epochs=3).fit(resume=True)
    >>> result.step, result.stop_reason, len(result.history)
    (4, 'epochs', 2)
    >>> print(*files)
    history.jsonl run.json tokenizer.pt tokenizer_config.json training_state.pt
    >>> resumed.step, len(resumed.history)
    (6, 3)
    """

    def __init__(
        self,
        task: TrainingTask,
        train_data: WindowDataset,
        out_dir,
        config: TrainingConfig | None = None,
        *,
        eval_data: WindowDataset | None = None,
        device=None,
        callbacks: Sequence[Callable] = (),
        **overrides,
    ):
        config = TrainingConfig() if config is None else config
        self.config = dataclasses.replace(config, **overrides)
        self.task = task
        self.train_data = train_data
        self.eval_data = eval_data
        self.out_dir = Path(out_dir).expanduser()
        self.device = device
        self.callbacks = list(callbacks)
        self.history: list[dict] = []
        #: Set by :meth:`fit` (for callbacks): the model, optimizer, scheduler.
        self.model = self.optimizer = self.scheduler = None
        self._epoch_sums: tuple[dict, int] = ({}, 0)

    @property
    def checkpoint_path(self) -> Path:
        """Where the training checkpoint is written."""
        return self.out_dir / CHECKPOINT_NAME

    # ------------------------------------------------------------------ setup
    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        decay, no_decay = [], []
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            if param.ndim <= 1 or name.split(".")[-1] in NO_WEIGHT_DECAY:
                no_decay.append(param)
            else:
                decay.append(param)
        groups = [
            {"params": decay, "weight_decay": self.config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=self.config.lr, betas=self.config.betas)

    def _autocast(self, device):
        enabled = self.config.precision == "bf16"
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)

    def _loader(self, batches, dataset):
        if self.config.num_workers:
            return torch.utils.data.DataLoader(
                dataset,
                batch_sampler=[b.tolist() for b in batches],
                collate_fn=collate_windows,
                num_workers=self.config.num_workers,
                generator=torch.Generator().manual_seed(self.config.seed),
            )
        return (collate_windows([dataset[int(i)] for i in b]) for b in batches)

    def _position(self, step, epoch, batch_in_epoch, order) -> dict:
        return {
            "step": step,
            "epoch": epoch,
            "batch_in_epoch": batch_in_epoch,
            "seed": self.config.seed,
            "batch_size": self.config.batch_size,
            "world_size": order.world_size,
            "n_windows": len(self.train_data),
            "steps_per_epoch": len(order),
        }

    # ------------------------------------------------------------------ checkpoints
    def _save(self, ctx, model, optimizer, scheduler, position, elapsed):
        rng = capture_rng_state()
        if ctx.enabled:
            states = [None] * ctx.world_size
            dist.all_gather_object(states, rng)
        else:
            states = [rng]
        if not ctx.is_main:
            return None
        state = {
            "format": "mne-neurorvq-training/1",
            "task": self.task.name,
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "position": position,
            "rng": states,
            "task_state": self.task.state_dict(),
            "history": json.dumps(self.history),
            "epoch_sums": json.dumps(self._epoch_sums),
            "elapsed": float(elapsed),
            "config": json.dumps(self.config.to_dict()),
            "model_config": json.dumps(self.task.describe()),
        }
        return atomic_save(state, self.checkpoint_path)

    def _resume(self, resume, ctx, model, optimizer, scheduler, order):
        path = self.checkpoint_path if resume is True else Path(resume)
        if not path.is_file():
            raise FileNotFoundError(f"No training checkpoint to resume from at {path}")
        state = load_training_checkpoint(path)
        if state.get("task") != self.task.name:
            raise ValueError(
                f"{path} is a {state.get('task')!r} checkpoint, not {self.task.name!r}"
            )
        position = state["position"]
        expected = self._position(0, 0, 0, order)
        for key in ("seed", "batch_size", "world_size", "n_windows", "steps_per_epoch"):
            if position[key] != expected[key]:
                raise ValueError(
                    f"Cannot resume exactly: the checkpoint was written with "
                    f"{key}={position[key]}, this run has {key}={expected[key]}."
                )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        self.task.load_state_dict(state["task_state"])
        self.history = json.loads(state["history"])
        sums, n_in_epoch = json.loads(state.get("epoch_sums", "[{}, 0]"))
        self._epoch_sums = (sums, n_in_epoch)
        rng = state["rng"]
        restore_rng_state(rng[ctx.rank] if ctx.rank < len(rng) else rng[0])
        return position

    # ------------------------------------------------------------------ logging
    def _log(self, ctx, line: str):
        if ctx.is_main and self.config.verbose:
            from tqdm import tqdm

            tqdm.write(line)

    def _record(self, ctx, entry: dict):
        self.history.append(entry)
        if ctx.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            with open(self.out_dir / "history.jsonl", "a") as file:
                file.write(json.dumps(entry) + "\n")

    # ------------------------------------------------------------------ fit
    def fit(self, resume=False) -> TrainingResult:
        """Train, optionally resuming from a checkpoint.

        Parameters
        ----------
        resume : bool | str | Path
            True resumes from ``out_dir`` / :data:`CHECKPOINT_NAME`, a path from
            that file; False starts afresh.

        Returns
        -------
        TrainingResult
        """
        from tqdm import tqdm

        cfg = self.config
        ctx = init_distributed(self.device)
        try:
            torch.manual_seed(cfg.seed)
            np.random.seed(cfg.seed % 2**32)  # noqa: NPY002 (global state)
            random.seed(cfg.seed)
            model = self.task.build(cfg.seed).to(ctx.device)
            self.task.setup(ctx, cfg.seed)
            module = self.task.train_module().to(ctx.device)
            if ctx.enabled:
                module = nn.parallel.DistributedDataParallel(
                    module,
                    device_ids=[ctx.device.index]
                    if ctx.device.type == "cuda"
                    else None,
                    broadcast_buffers=False,
                )
            params = [p for p in model.parameters() if p.requires_grad]
            optimizer = self._optimizer(model)
            order = WindowBatchOrder(
                self.train_data.montage_groups(),
                cfg.batch_size,
                cfg.seed,
                drop_last=cfg.drop_last,
                rank=ctx.rank,
                world_size=ctx.world_size,
            )
            steps_per_epoch = len(order)
            total_steps = cfg.epochs * steps_per_epoch
            if cfg.max_steps is not None:
                total_steps = min(total_steps, cfg.max_steps)
            warmup = (
                cfg.warmup_steps
                if cfg.warmup_steps is not None
                else round(cfg.warmup_ratio * total_steps)
            )
            scheduler = build_scheduler(
                optimizer, cfg.schedule, total_steps, warmup, cfg.min_lr_ratio
            )
            self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
            step, epoch, batch_in_epoch = 0, 0, 0
            self.history = []
            self._epoch_sums = ({}, 0)
            if resume:
                position = self._resume(resume, ctx, model, optimizer, scheduler, order)
                step = position["step"]
                epoch = position["epoch"]
                batch_in_epoch = position["batch_in_epoch"]
                self._log(
                    ctx,
                    f"Resuming at step {step} (epoch {epoch + 1}, batch "
                    f"{batch_in_epoch}/{steps_per_epoch}).",
                )
            if ctx.is_main:
                # the history up to the checkpoint (a killed run may have logged
                # epochs after its last checkpoint)
                self.out_dir.mkdir(parents=True, exist_ok=True)
                (self.out_dir / "history.jsonl").write_text(
                    "".join(json.dumps(entry) + "\n" for entry in self.history)
                )
            if ctx.is_main:
                run = {
                    "task": self.task.name,
                    "model": self.task.describe(),
                    "training": cfg.to_dict(),
                    "world_size": ctx.world_size,
                    "n_windows": len(self.train_data),
                    "steps_per_epoch": steps_per_epoch,
                    "total_steps": total_steps,
                }
                (self.out_dir / "run.json").write_text(json.dumps(run, indent=2))
            autocast = self._autocast(ctx.device)
            bar = tqdm(
                total=total_steps,
                initial=step,
                disable=not (cfg.progress and ctx.is_main),
                desc=f"train {self.task.name}",
                dynamic_ncols=True,
            )
            start = time.monotonic()
            sums, n_in_epoch = self._epoch_sums
            stop_reason = "epochs"
            model.train()
            while epoch < cfg.epochs and step < total_steps:
                batches = order.batches(epoch, start=batch_in_epoch)
                stop = False
                for batch in self._loader(batches, self.train_data):
                    batch = batch.to(ctx.device)
                    with autocast:
                        output = self.task.training_step(module, batch, step + 1, ctx)
                    optimizer.zero_grad(set_to_none=True)
                    output.loss.backward()
                    if cfg.clip_grad is not None:
                        norm = nn.utils.clip_grad_norm_(params, cfg.clip_grad)
                        output.metrics.setdefault("grad_norm", norm)
                    optimizer.step()
                    scheduler.step()
                    step += 1
                    batch_in_epoch += 1
                    self.task.after_step(output, step, ctx)
                    for key, value in output.metrics.items():
                        sums[key] = sums.get(key, 0.0) + float(value)
                    n_in_epoch += 1
                    self._epoch_sums = (sums, n_in_epoch)
                    bar.update(1)
                    bar.set_postfix(
                        loss=f"{float(output.loss.detach()):.4f}", refresh=False
                    )
                    for callback in self.callbacks:
                        callback(self, step, output)
                    if batch_in_epoch == steps_per_epoch:
                        self._end_epoch(ctx, epoch, step, sums, n_in_epoch, autocast)
                        sums, n_in_epoch = {}, 0
                        self._epoch_sums = (sums, n_in_epoch)
                        epoch, batch_in_epoch = epoch + 1, 0
                    if step >= total_steps:
                        stop_reason = (
                            "max_steps"
                            if cfg.max_steps is not None and epoch < cfg.epochs
                            else "epochs"
                        )
                        stop = True
                    elif (
                        cfg.time_limit is not None
                        and time.monotonic() - start >= cfg.time_limit
                    ):
                        stop_reason, stop = "time_limit", True
                    if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                        if not stop:
                            self._save(
                                ctx,
                                model,
                                optimizer,
                                scheduler,
                                self._position(step, epoch, batch_in_epoch, order),
                                time.monotonic() - start,
                            )
                    if stop:
                        break
                if stop:
                    break
            bar.close()
            wall = time.monotonic() - start
            # the final checkpoint is written before a partial last epoch is
            # summarised, so that a longer run resumed from it continues the
            # epoch's statistics
            checkpoint = self._save(
                ctx,
                model,
                optimizer,
                scheduler,
                self._position(step, epoch, batch_in_epoch, order),
                wall,
            )
            if n_in_epoch:
                self._end_epoch(
                    ctx, epoch, step, sums, n_in_epoch, autocast, partial=True
                )
            model_path = self.task.save_model(self.out_dir) if ctx.is_main else None
            ctx.barrier()
            self._log(
                ctx,
                f"Stopped after {step} steps ({stop_reason}), {wall:.0f} s; model "
                f"saved to {model_path}",
            )
            model.eval()
            return TrainingResult(
                model=model,
                model_path=model_path,
                checkpoint_path=checkpoint,
                step=step,
                epoch=epoch,
                history=self.history,
                stop_reason=stop_reason,
                wall_time=wall,
            )
        finally:
            ctx.close()

    def _end_epoch(self, ctx, epoch, step, sums, n_steps, autocast, partial=False):
        means = {k: v / n_steps for k, v in sums.items()}
        if ctx.enabled:
            keys = sorted(means)
            values = torch.tensor([means[k] for k in keys], dtype=torch.float64)
            dist.all_reduce(values)
            means = dict(zip(keys, (values / ctx.world_size).tolist(), strict=True))
        entry = {
            "epoch": epoch + 1,
            "step": step,
            "partial": partial,
            "train": means,
            "usage": self.task.epoch_summary(),
        }
        if self.eval_data is not None and ctx.is_main:
            entry["eval"] = self.evaluate(self.eval_data, ctx.device, autocast)
        ctx.barrier()
        self._record(ctx, entry)
        loss = means.get("loss", math.nan)
        text = f"epoch {epoch + 1}{' (partial)' if partial else ''} step {step}: "
        text += f"loss {loss:.4f}"
        text += self.task.format_summary(entry)
        self._log(ctx, text)

    @torch.no_grad()
    def evaluate(self, dataset: WindowDataset, device=None, autocast=None) -> dict:
        """Evaluate the task's model on ``dataset`` (fixed order, eval mode).

        Parameters
        ----------
        dataset : WindowDataset
        device : torch.device | None
            Defaults to the model's device.
        autocast : context manager | None
            Defaults to the configured precision.

        Returns
        -------
        dict
        """
        model = self.task.model
        device = next(model.parameters()).device if device is None else device
        autocast = (
            self._autocast(torch.device(device)) if autocast is None else autocast
        )
        order = WindowBatchOrder(
            dataset.montage_groups(),
            self.config.eval_batch_size or self.config.batch_size,
            seed=0,
            shuffle=False,
        )
        batches = (b.to(device) for b in self._loader(order.batches(0), dataset))
        was_training = model.training
        model.eval()
        try:
            return self.task.evaluate(batches, None, autocast)
        finally:
            model.train(was_training)
