"""Compiled inference of the transformer blocks (``torch.compile``), opt-in.

``MNE_NEURORVQ_COMPILE=inductor`` (or ``1``) compiles the stack of blocks of
every model for inference (eval mode, no gradient) with
:func:`torch.compile`: one graph per chunk shape (static shapes; the chunks
are planned outside the compiled region, :mod:`mne_neurorvq.nn._chunks`), in
which the compiler fuses the normalisations, GELU, biases, layer scales and
residual additions around the matrix products. Other values name another
``torch.compile`` backend (``aot_eager`` traces without generating code,
for checks); unset, ``0`` or ``off``: eager (the default).

Compilation costs one to three minutes per chunk shape for the published
model on 2 busy cores (about 20 s for a tiny model whose compilation is
cached). Inductor keeps what it compiled in a persistent cache
(``TORCHINDUCTOR_CACHE_DIR``; by default ``inductor/`` in the package's cache
folder), so a later process on the machine pays less. The weights stay
inputs of the compiled graphs (no freezing), so a model trained after its
blocks were compiled is computed with its new weights. Where the compiler
fails (inductor on CPU needs a C++ compiler), the blocks run eagerly and one
warning says why. Only the blocks are compiled: the nearest-code search
stays eager, so tokens follow the same exactness rule as without
compilation, and floats agree to float rounding.
"""

from __future__ import annotations

import os
import warnings
import weakref
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

#: Environment variable selecting compiled inference.
COMPILE_ENV = "MNE_NEURORVQ_COMPILE"
_OFF = ("", "0", "off", "false", "no", "eager")
_ON = ("1", "on", "true", "yes")

_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_FAILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def compile_backend() -> str | None:
    """The ``torch.compile`` backend :data:`COMPILE_ENV` asks for, or None.

    Examples
    --------
    >>> import os
    >>> os.environ[COMPILE_ENV] = "1"
    >>> compile_backend()
    'inductor'
    >>> os.environ[COMPILE_ENV] = "off"
    >>> compile_backend() is None
    True
    >>> del os.environ[COMPILE_ENV]
    """
    value = os.environ.get(COMPILE_ENV, "").strip().lower()
    if value in _OFF:
        return None
    return "inductor" if value in _ON else value


def _persistent_cache() -> None:
    """Point inductor's cache at the package's cache folder (unless set)."""
    if "TORCHINDUCTOR_CACHE_DIR" in os.environ:
        return
    configured = os.environ.get("MNE_NEURORVQ_CACHE")
    if configured is None:
        from ..weights import cache_dir

        folder = cache_dir() / "inductor"
    else:
        folder = Path(configured).expanduser() / "inductor"
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)


def compiled_blocks(
    owner: nn.Module, blocks: nn.ModuleList
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The compiled stack of ``blocks`` for inference, or None (run eagerly).

    None when compilation is off (:data:`COMPILE_ENV`), when gradients are
    on or ``owner`` is training, or when compiling ``owner``'s blocks failed
    before.
    """
    backend = compile_backend()
    if backend is None or owner.training or torch.is_grad_enabled():
        return None
    if _FAILED.get(owner) == backend:
        return None
    entry = _COMPILED.get(owner)
    if entry is None or entry[0] != backend:
        if backend == "inductor":
            _persistent_cache()

        def stack(x: torch.Tensor) -> torch.Tensor:
            for block in blocks:
                x = block(x)
            return x

        entry = (
            backend,
            torch.compile(stack, backend=backend, dynamic=False, fullgraph=True),
        )
        _COMPILED[owner] = entry
    compiled = entry[1]

    def run(x: torch.Tensor) -> torch.Tensor:
        try:
            with warnings.catch_warnings():
                # torch's own modules, imported by the first compilation
                warnings.filterwarnings(
                    "ignore", "`torch.jit.script_method` is deprecated"
                )
                return compiled(x)
        except Exception as error:  # noqa: BLE001 - any compiler failure
            _FAILED[owner] = backend
            _COMPILED.pop(owner, None)
            first_line = (str(error).strip().splitlines() or [""])[0]
            warnings.warn(
                f"torch.compile (backend {backend!r}) failed, running the "
                f"blocks of {type(owner).__name__} eagerly: "
                f"{type(error).__name__}: {first_line}",
                RuntimeWarning,
                stacklevel=3,
            )
            return None

    return run
