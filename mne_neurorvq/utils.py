"""Small utilities: environment report."""

from __future__ import annotations

import platform
import sys
from importlib.metadata import PackageNotFoundError, version

_PACKAGES = (
    "mne-neurorvq",
    "torch",
    "numpy",
    "scipy",
    "mne",
    "scikit-learn",
    "skorch",
    "braindecode",
    "torchaudio",
    "pooch",
    "matplotlib",
)


def sys_info(file=None) -> dict:
    """Print (and return) versions, threads and devices, for bug reports.

    Examples
    --------
    >>> info = sys_info()  # doctest: +SKIP
    """
    import torch

    file = sys.stdout if file is None else file
    info = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            info[name] = version(name)
        except PackageNotFoundError:
            info[name] = "not installed"
    info["torch threads"] = torch.get_num_threads()
    info["cuda"] = (
        f"{torch.cuda.device_count()} device(s): {torch.cuda.get_device_name(0)}"
        if torch.cuda.is_available()
        else "not available"
    )
    for key, value in info.items():
        print(f"{key + ':':<16} {value}", file=file)
    return info
