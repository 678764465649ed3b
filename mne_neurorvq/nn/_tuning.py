"""CPU inference settings derived at run time from the machine's caches.

Three settings split CPU inference into cache-sized pieces: the sequences per
chunk through the transformer blocks, the samples per chunk through the
temporal convolutions and the distances per block of the nearest-code search.
They change speed only: the search's decision does not depend on its blocks
(:meth:`mne_neurorvq.nn.quantizer.EMACodebook.nearest`), and chunks change
the encoder output by float rounding at most (other shapes of the same
products), so tokens agree wherever the two nearest codes are not a near tie
and embeddings agree to float rounding.

Each setting is the largest power of two whose working set fits in the share
of the last-level cache available to the threads torch uses (cache size and
the CPUs sharing it as the OS reports them in
``/sys/devices/system/cpu/cpu0/cache``). The environment variable
``MNE_NEURORVQ_CPU_TUNING`` overrides any of them for reproducible timings,
e.g. ``MNE_NEURORVQ_CPU_TUNING="sequences=16,samples=8,search_block=4194304"``.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch

#: Environment variable overriding the derived settings.
ENV_VAR = "MNE_NEURORVQ_CPU_TUNING"

#: Last-level cache assumed when the OS reports none (bytes).
FALLBACK_CACHE = 32 * 2**20

#: Working set per unit of each setting (published configuration: 256
#: tokens of width 200), in bytes. A sequence through a block keeps about
#: ten (T, D) float32 tensors alive (input, q/k/v, attention output, the
#: 4x-wide MLP hidden layer, residuals); a sample through a convolution
#: branch about three (8, T, 200) float32 feature maps; a distance 4 bytes,
#: of which half the cache is used so that the codes stay there too.
SEQUENCE_BYTES = 2 * 2**20
SAMPLE_BYTES = 4 * 2**20
DISTANCE_BYTES = 8

_LIMITS = {
    "sequences": (1, 64),
    "samples": (1, 64),
    "search_block": (2**16, 2**24),
}
_CACHE_ROOT = Path("/sys/devices/system/cpu/cpu0/cache")


@dataclass(frozen=True)
class CPUTuning:
    """Settings of CPU inference and where they come from.

    Attributes
    ----------
    sequences : int
        Sequences per chunk through the transformer blocks.
    samples : int
        Samples per chunk through the temporal convolutions.
    search_block : int
        Distances per block of the nearest-code search.
    cache_bytes : int
        Share of the last-level cache the settings were derived from.
    source : str
        ``"cache"`` (derived from the OS's cache sizes), ``"fallback"`` (no
        cache size reported: :data:`FALLBACK_CACHE` assumed), with
        ``"+env"`` when :data:`ENV_VAR` overrode some of them.

    Examples
    --------
    >>> from mne_neurorvq.nn._tuning import settings_for_cache
    >>> settings_for_cache(32 * 2**20)
    CPUTuning(sequences=16, samples=8, search_block=4194304, cache_bytes=33554432, source='cache')
    """  # noqa: E501

    sequences: int
    samples: int
    search_block: int
    cache_bytes: int
    source: str = "cache"

    @property
    def search_block_elements(self) -> int:
        """Alias of :attr:`search_block` (distances per search block)."""
        return self.search_block


def _power_of_two_at_most(value: float, low: int, high: int) -> int:
    power = low
    while power * 2 <= min(value, high):
        power *= 2
    return power


def settings_for_cache(cache_bytes: int, source: str = "cache") -> CPUTuning:
    """Derive the settings from the cache share available to inference.

    Parameters
    ----------
    cache_bytes : int
        Bytes of last-level cache available to the threads torch uses.
    source : str
        Recorded as :attr:`CPUTuning.source`.

    Returns
    -------
    CPUTuning

    Examples
    --------
    >>> settings_for_cache(2**20).sequences  # a 1 MiB cache: one at a time
    1
    >>> settings_for_cache(256 * 2**20).search_block  # capped at 16 M
    16777216
    """
    units = {
        "sequences": cache_bytes / SEQUENCE_BYTES,
        "samples": cache_bytes / SAMPLE_BYTES,
        "search_block": cache_bytes / DISTANCE_BYTES,
    }
    values = {
        name: _power_of_two_at_most(value, *_LIMITS[name])
        for name, value in units.items()
    }
    return CPUTuning(**values, cache_bytes=int(cache_bytes), source=source)


def parse_size(text: str) -> int:
    """Bytes of a cache size as the kernel writes it (``"32K"``, ``"1M"``).

    Examples
    --------
    >>> parse_size("512K"), parse_size("32768K"), parse_size("1M")
    (524288, 33554432, 1048576)
    """
    text = text.strip().upper()
    factor = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
    digits = text[:-1] if factor > 1 else text
    return int(digits) * factor


def _cpu_count(cpu_list: str) -> int:
    """Number of CPUs in a kernel CPU list such as ``"0-3,8-11"``."""
    count = 0
    for part in cpu_list.strip().split(","):
        if part:
            first, _, last = part.partition("-")
            count += int(last or first) - int(first) + 1
    return count


def last_level_cache(root: Path = _CACHE_ROOT) -> tuple[int, int] | None:
    """Size (bytes) and sharing CPUs of the largest data cache the OS reports.

    Parameters
    ----------
    root : Path
        A ``/sys/devices/system/cpu/cpuN/cache`` folder.

    Returns
    -------
    (size, n_cpus) | None
        None when the folder lists no data or unified cache.

    Examples
    --------
    >>> info = last_level_cache()
    >>> info is None or info[0] > 0
    True
    """
    best = None
    for index in sorted(root.glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            size = parse_size((index / "size").read_text())
            shared = (index / "shared_cpu_list").read_text()
        except (OSError, ValueError):
            continue
        if kind in ("Data", "Unified") and (best is None or size > best[0]):
            best = (size, max(_cpu_count(shared), 1))
    return best


def cache_share(size: int, sharing: int, threads: int) -> int:
    """Bytes of a cache of ``size`` shared by ``sharing`` CPUs for ``threads``.

    Examples
    --------
    >>> cache_share(32 * 2**20, sharing=8, threads=2) == 8 * 2**20
    True
    """
    return size * min(max(threads, 1), sharing) // sharing


def apply_overrides(tuning: CPUTuning, text: str) -> CPUTuning:
    """Replace settings by those of ``"name=value,..."`` (:data:`ENV_VAR`).

    Examples
    --------
    >>> base = settings_for_cache(32 * 2**20)
    >>> apply_overrides(base, "sequences=4").sequences
    4
    """
    names = {f.name for f in fields(CPUTuning)} & set(_LIMITS)
    changes = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in names or not value.strip().isdigit() or int(value) < 1:
            raise ValueError(
                f"{ENV_VAR} expects comma-separated name=positive-integer "
                f"items with names among {sorted(names)}, got {item!r}"
            )
        changes[name] = int(value)
    if not changes:
        return tuning
    return replace(tuning, **changes, source=f"{tuning.source}+env")


@functools.cache
def _tuning_for(threads: int, overrides: str) -> CPUTuning:
    found = last_level_cache()
    if found is None:
        tuning = settings_for_cache(FALLBACK_CACHE, source="fallback")
    else:
        tuning = settings_for_cache(cache_share(*found, threads))
    return apply_overrides(tuning, overrides)


def cpu_tuning(threads: int | None = None) -> CPUTuning:
    """The settings of CPU inference on this machine (computed once).

    Derived from the last-level cache share of ``threads`` threads (default:
    ``torch.get_num_threads()``), then overridden by :data:`ENV_VAR`; the
    result is cached per thread count and override.

    Examples
    --------
    >>> tuning = cpu_tuning()
    >>> tuning is cpu_tuning() and tuning.sequences >= 1
    True
    """
    threads = torch.get_num_threads() if threads is None else threads
    return _tuning_for(threads, os.environ.get(ENV_VAR, ""))


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


def cpu_description(threads: int | None = None) -> dict:
    """CPU model, ISA flags and the settings for ``threads``, for reports.

    Examples
    --------
    >>> description = cpu_description()
    >>> sorted(description)
    ['aten_capability', 'isa', 'model', 'tuning']
    """
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    tuning = cpu_tuning(threads)
    return {
        "model": model,
        "isa": {flag: flag in flags for flag in ISA_FLAGS},
        "aten_capability": torch.backends.cpu.get_cpu_capability(),
        "tuning": {f.name: getattr(tuning, f.name) for f in fields(tuning)},
    }
