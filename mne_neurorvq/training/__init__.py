"""Training of the NeuroRVQ tokenizer and pre-training of the foundation model.

- :mod:`~mne_neurorvq.training.data`: windows of EEG (from arrays or recordings).
- :mod:`~mne_neurorvq.training.sampler`: deterministic, shardable batch order.
- :mod:`~mne_neurorvq.training.engine`: the training loop (:class:`Trainer`).
- :mod:`~mne_neurorvq.training.tokenizer`: tokenizer training task.
- :mod:`~mne_neurorvq.training.pretraining`: masked-token pre-training task.
- :mod:`~mne_neurorvq.training.stored_tokens`: pre-training from a token store.
- :mod:`~mne_neurorvq.training.usage`, :mod:`~mne_neurorvq.training.restart`:
  codebook usage and the opt-in dead-code restart.
- :mod:`~mne_neurorvq.training.distributed`: torchrun / DDP helpers.
- :mod:`~mne_neurorvq.training.checkpointing`: atomic checkpoints, RNG states.
- :mod:`~mne_neurorvq.training.presets`: named model sizes.

Examples
--------
Train a tiny tokenizer on random data for one step:

>>> import numpy as np, tempfile
>>> from mne_neurorvq.nn import TokenizerConfig
>>> from mne_neurorvq.training import Trainer, TokenizerTraining, WindowDataset
>>> data = 20 * np.random.default_rng(0).standard_normal((8, 2, 400))
>>> ds = WindowDataset.from_arrays(data, chan_idx=[36, 9])
>>> task = TokenizerTraining(TokenizerConfig.tiny())
>>> with tempfile.TemporaryDirectory() as out:
...     result = Trainer(task, ds, out, epochs=1, batch_size=8, progress=False,
...                      verbose=False).fit()
>>> result.step
1
"""

from importlib import import_module

#: Public names and the submodule that defines them (imported on first use,
#: so that ``mne_neurorvq.training.cli`` and the command line stay light).
_LAZY = {
    "atomic_save": "checkpointing",
    "load_training_checkpoint": "checkpointing",
    "WindowBatch": "data",
    "WindowDataset": "data",
    "find_recordings": "data",
    "init_distributed": "distributed",
    "CHECKPOINT_NAME": "engine",
    "StepOutput": "engine",
    "Trainer": "engine",
    "TrainingConfig": "engine",
    "TrainingTask": "engine",
    "foundation_preset": "presets",
    "tokenizer_preset": "presets",
    "PretrainingTask": "pretraining",
    "masked_token_accuracy": "pretraining",
    "most_frequent_token_accuracy": "pretraining",
    "random_mask": "pretraining",
    "DeadCodeRestarter": "restart",
    "StoredTokenPretraining": "stored_tokens",
    "TokenWindowDataset": "stored_tokens",
    "WindowBatchOrder": "sampler",
    "derive_seed": "sampler",
    "build_scheduler": "schedule",
    "TokenizerTraining": "tokenizer",
    "reconstruction_mse": "tokenizer",
    "CodebookUsage": "usage",
    "usage_statistics": "usage",
}

__all__ = [
    "CHECKPOINT_NAME",
    "CodebookUsage",
    "DeadCodeRestarter",
    "PretrainingTask",
    "StepOutput",
    "StoredTokenPretraining",
    "TokenizerTraining",
    "Trainer",
    "TrainingConfig",
    "TrainingTask",
    "TokenWindowDataset",
    "WindowBatch",
    "WindowBatchOrder",
    "WindowDataset",
    "atomic_save",
    "build_scheduler",
    "derive_seed",
    "find_recordings",
    "foundation_preset",
    "init_distributed",
    "load_training_checkpoint",
    "masked_token_accuracy",
    "most_frequent_token_accuracy",
    "random_mask",
    "reconstruction_mse",
    "tokenizer_preset",
    "usage_statistics",
]


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
