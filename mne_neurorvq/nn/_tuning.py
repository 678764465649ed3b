"""CPU inference settings chosen by measurement on the machine at hand.

Three settings split CPU inference into pieces: the sequences per chunk
through the transformer blocks, the samples per chunk through the temporal
convolutions and the distances per block of the nearest-code search. They
change speed only: the search's decision does not depend on its blocks
(:meth:`mne_neurorvq.nn.quantizer.EMACodebook.nearest`), and chunks change
the encoder output by float rounding at most (other shapes of the same
products), so tokens agree wherever the two nearest codes are not a near tie
and embeddings agree to float rounding.

The first time a setting is needed for a shape (a model width, a sequence
length, a codebook), a few candidate values are timed on that shape, each
doing the same work (about 100 GFLOP in all for the published model),
and the fastest is
kept: in memory, and on disk in ``cpu-tuning.json`` of the package's cache
folder (``MNE_NEURORVQ_CACHE``, else the OS cache folder ``mne-neurorvq``),
per CPU model, thread count and torch version, so that later processes on
the machine reuse it. No cache-size formula is trusted over a measurement.

The environment variable ``MNE_NEURORVQ_CPU_TUNING`` overrides any of them
(nothing is measured for an overridden setting), e.g.
``MNE_NEURORVQ_CPU_TUNING="sequences=16,samples=8,search_block=4194304"``.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import torch

#: Environment variable overriding the measured settings.
ENV_VAR = "MNE_NEURORVQ_CPU_TUNING"
#: File of measured settings in the package's cache folder.
TUNING_FILE = "cpu-tuning.json"
#: Candidate values timed for each setting.
CANDIDATES = {
    "sequences": (2, 4, 8, 16, 32),
    "samples": (1, 2, 4, 8),
    "search_block": (2**18, 2**20, 2**22, 2**24),
}
#: Rounds of timing (the best time counts).
ROUNDS = 2
#: Candidates slower than this factor times the fastest are not timed again.
CONTENDERS = 1.25
_FORMAT = 1

#: Decisions of this process: (machine key, setting, shape) -> record.
_DECISIONS: dict[tuple[str, str, str], dict] = {}


def parse_overrides(text: str) -> dict[str, int]:
    """Settings of ``"name=value,..."`` (:data:`ENV_VAR`).

    Examples
    --------
    >>> parse_overrides("sequences=4, search_block=1048576")
    {'sequences': 4, 'search_block': 1048576}
    >>> parse_overrides("")
    {}
    """
    changes = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in CANDIDATES or not value.strip().isdigit() or int(value) < 1:
            raise ValueError(
                f"{ENV_VAR} expects comma-separated name=positive-integer "
                f"items with names among {sorted(CANDIDATES)}, got {item!r}"
            )
        changes[name] = int(value)
    return changes


def overrides() -> dict[str, int]:
    """The settings :data:`ENV_VAR` fixes now (re-read at every call)."""
    return parse_overrides(os.environ.get(ENV_VAR, ""))


@functools.cache
def _cpu_model_and_flags() -> tuple[str, frozenset]:
    model, flags = platform.processor() or platform.machine(), frozenset()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = frozenset(value.split())
                break
    except OSError:
        pass
    return model, flags


def machine_key(threads: int | None = None) -> str:
    """What a measurement holds for: CPU model, threads, torch version.

    Examples
    --------
    >>> "threads=" in machine_key(2)
    True
    """
    threads = torch.get_num_threads() if threads is None else threads
    model = _cpu_model_and_flags()[0]
    return f"{model} | threads={threads} | torch {torch.__version__}"


def tuning_file() -> Path:
    """Where measured settings are kept (``cpu-tuning.json`` in the cache)."""
    configured = os.environ.get("MNE_NEURORVQ_CACHE")
    if configured is None:
        from ..weights import cache_dir  # mne.set_config and the OS cache

        return cache_dir() / TUNING_FILE
    return Path(configured).expanduser() / TUNING_FILE


def _read(path: Path) -> dict:
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(stored, dict) or stored.get("format") != _FORMAT:
        return {}
    machines = stored.get("machines")
    return machines if isinstance(machines, dict) else {}


def _write(path: Path, machine: str, key: str, record: dict) -> None:
    """Add one record to the file (read, merge, atomic replace; best effort)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        machines = _read(path)
        machines.setdefault(machine, {})[key] = record
        text = json.dumps({"format": _FORMAT, "machines": machines}, indent=1)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".cpu-tuning-", delete=False
        ) as handle:
            handle.write(text)
        os.replace(handle.name, path)
    except OSError:
        pass  # a read-only cache: the measurement holds for this process


def time_candidates(
    candidates: Sequence[int], run: Callable[[int], object], rounds: int = ROUNDS
) -> dict[int, float]:
    """Best seconds of ``run(candidate)`` over up to ``rounds`` rounds.

    The first round times every candidate; the later ones only those within
    :data:`CONTENDERS` of the fastest so far (the others keep their time),
    so a clear loser costs one run.

    Examples
    --------
    >>> seconds = time_candidates([1, 2], lambda n: sum(range(1000 * n)))
    >>> sorted(seconds)
    [1, 2]
    """
    best = {candidate: float("inf") for candidate in candidates}
    timed = list(candidates)
    for _ in range(rounds):
        for candidate in timed:
            start = time.perf_counter()
            run(candidate)
            best[candidate] = min(best[candidate], time.perf_counter() - start)
        leader = min(best.values())
        timed = [c for c in candidates if best[c] <= CONTENDERS * leader]
    return best


def tuned(name: str, shape: str, run: Callable[[int], object]) -> int:
    """The value of setting ``name`` for ``shape`` on this machine.

    In order: :data:`ENV_VAR`, this process's earlier decision, the file of
    measured settings, a new measurement (each candidate of
    :data:`CANDIDATES` timed with ``run(candidate)``, which must do the same
    work for every candidate; the fastest wins and is stored).

    Parameters
    ----------
    name : str
        ``"sequences"``, ``"samples"`` or ``"search_block"``.
    shape : str
        What the measurement depends on besides the machine (widths,
        lengths, dtype).
    run : callable
        Runs the timed work with a candidate value.

    Returns
    -------
    int

    Examples
    --------
    >>> import os
    >>> os.environ[ENV_VAR] = "samples=4"
    >>> tuned("samples", "doc", lambda n: None)
    4
    >>> del os.environ[ENV_VAR]
    """
    fixed = overrides()
    if name in fixed:
        return fixed[name]
    machine, key = machine_key(), f"{name} | {shape}"
    decision = _DECISIONS.get((machine, name, shape))
    if decision is None:
        path = tuning_file()
        decision = _read(path).get(machine, {}).get(key)
        if not _valid(decision, name):
            from mne.utils import logger

            logger.info(
                f"Timing CPU setting {name!r} for {shape} (once on this "
                f"machine; kept in {path})"
            )
            seconds = time_candidates(CANDIDATES[name], run)
            decision = {
                "value": min(seconds, key=seconds.__getitem__),
                "seconds": {str(c): round(s, 6) for c, s in seconds.items()},
                "measured": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            _write(path, machine, key, decision)
            decision = dict(decision, source="measured")
        else:
            decision = dict(decision, source=f"cache ({path})")
        _DECISIONS[(machine, name, shape)] = decision
    return int(decision["value"])


def _valid(record, name) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("value"), int)
        and record["value"] in CANDIDATES[name]
    )


def chosen_settings() -> dict[str, str]:
    """Settings decided in this process and :data:`ENV_VAR`'s, for reports.

    Returns
    -------
    dict
        ``"name | shape"`` -> ``"value (source)"``, and ``"name | env"`` for
        every setting :data:`ENV_VAR` fixes.

    Examples
    --------
    >>> isinstance(chosen_settings(), dict)
    True
    """
    report = {
        f"{name} | {shape}": f"{record['value']} ({record['source']})"
        for (_, name, shape), record in _DECISIONS.items()
    }
    report.update({f"{name} | env": str(v) for name, v in overrides().items()})
    return report


def forget_decisions() -> None:
    """Drop this process's decisions (the file stays): re-read at next use."""
    _DECISIONS.clear()


def autocast_tag(device_type: str = "cpu") -> str:
    """The autocast dtype in effect (part of a measured shape), or "no autocast"."""
    if torch.is_autocast_enabled(device_type):
        return str(torch.get_autocast_dtype(device_type)).removeprefix("torch.")
    return "no autocast"


#: ISA flags of ``/proc/cpuinfo`` reported by :func:`cpu_description`.
ISA_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_bf16",
)
#: Flags of the CPUs that compute bf16 products natively (AVX512-BF16, AMX).
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
#: ``ONEDNN_MAX_CPU_ISA`` values that keep oneDNN off its bf16 instructions.
_ONEDNN_WITHOUT_BF16 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2")


def native_bf16(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` computes bf16 matrix products natively.

    CPUs: AVX512-BF16 or AMX in ``/proc/cpuinfo`` (and ``ONEDNN_MAX_CPU_ISA``
    not capping oneDNN below them, as when another CPU is simulated); CUDA
    GPUs: compute capability 8.0 (Ampere) or newer; other devices: False.

    Examples
    --------
    >>> native_bf16("cpu") in (True, False)
    True
    """
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False
        index = device.index if device.index is not None else 0
        return torch.cuda.get_device_capability(index) >= (8, 0)
    if device.type != "cpu":
        return False
    capped = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    if capped in _ONEDNN_WITHOUT_BF16:
        return False
    flags = _cpu_model_and_flags()[1]
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


def cpu_description() -> dict:
    """CPU model, ISA flags and the CPU-inference settings, for reports.

    Examples
    --------
    >>> description = cpu_description()
    >>> sorted(description)
    ['aten_capability', 'isa', 'model', 'native_bf16', 'tuning']
    """
    model, flags = _cpu_model_and_flags()
    return {
        "model": model,
        "isa": {flag: flag in flags for flag in ISA_FLAGS},
        "native_bf16": native_bf16("cpu"),
        "aten_capability": torch.backends.cpu.get_cpu_capability(),
        "tuning": chosen_settings(),
    }
