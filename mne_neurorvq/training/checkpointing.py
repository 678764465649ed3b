"""Atomic training checkpoints and random-generator states.

A training checkpoint is one ``torch.save`` file holding only tensors and
plain containers (so it loads with ``weights_only=True``): model state,
optimizer, scheduler, position in the run (step, epoch, batches consumed in
the epoch), the seed of the data order, the torch / NumPy / Python random
states of every process, and the trainer's own state (codebook usage).

It is written to a temporary file in the destination folder, flushed to disk,
then renamed over the destination with :func:`os.replace`, which is atomic on
POSIX and Windows: the file at the destination is always a complete
checkpoint, the previous one until the new one is whole.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "atomic_save",
    "capture_rng_state",
    "load_training_checkpoint",
    "restore_rng_state",
]


def atomic_save(obj, path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (temporary file + rename).

    Parameters
    ----------
    obj : object
        What to save.
    path : str | Path
        Destination. Its folder is created if needed.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = atomic_save({"step": 3}, Path(folder, "run", "state.pt"))
    ...     names = [file.name for file in path.parent.iterdir()]  # no temporary
    ...     state = torch.load(path, weights_only=True)
    >>> path.name, names, state
    ('state.pt', ['state.pt'], {'step': 3})
    """
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_training_checkpoint(path, map_location="cpu") -> dict:
    """Load a training checkpoint written by the trainer (``weights_only``).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from mne_neurorvq.nn import TokenizerConfig
    >>> from mne_neurorvq.training import (
    ...     CHECKPOINT_NAME,
    ...     TokenizerTraining,
    ...     Trainer,
    ...     WindowDataset,
    ... )
    >>> data = 20 * np.random.default_rng(0).standard_normal((4, 2, 400))
    >>> ds = WindowDataset.from_arrays(data, chan_idx=[36, 9])
    >>> task = TokenizerTraining(TokenizerConfig.tiny())
    >>> with tempfile.TemporaryDirectory() as out:
    ...     _ = Trainer(task, ds, out, epochs=1, batch_size=4, progress=False,
    ...                 verbose=False).fit()
    ...     state = load_training_checkpoint(Path(out, CHECKPOINT_NAME))
    >>> state["task"], state["position"]["step"], state["position"]["epoch"]
    ('tokenizer', 1, 1)
    """
    return torch.load(Path(path), map_location=map_location, weights_only=True)


def capture_rng_state() -> dict:
    """Random states of torch (CPU and CUDA), NumPy and Python, as tensors.

    The NumPy state is converted to tensors and plain numbers so that the
    checkpoint loads with ``weights_only=True``.
    """
    # the legacy global generator is what third-party code may draw from
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict):
    """Restore what :func:`capture_rng_state` returned."""
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            np_state["kind"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
