"""braindecode behind a check that torch and torchaudio belong together.

braindecode imports torchaudio when it is imported, and a torchaudio wheel
only loads beside the torch release it was built for. Up to 2.11.0
torchaudio declares no torch requirement and each torchaudio release pairs
with the torch release of the same number; torchaudio 2.11.1 declares
``torch>=2.11`` but does not load beside torch 2.11.0 (undefined symbol). pip
does not keep the pair together, and a mismatch shows only as torchaudio's
"Could not load this library". Every import of braindecode in this package
goes through :func:`import_braindecode`, which says instead what to install.
"""

from __future__ import annotations

import importlib
import re
import warnings
from importlib.metadata import PackageNotFoundError, version

#: Oldest and newest torchaudio releases paired with the torch release of the
#: same number that the package supports (pyproject.toml's range).
OLDEST_PAIRED, NEWEST_PAIRED = (2, 3, 0), (2, 11, 0)

_USERS = "braindecode (used by NeuroRVQClassifier and the benchmark's deep models)"


def release(text: str) -> tuple[int, int, int]:
    """Major, minor and micro number of a version string (``"2.11.0+cu130"``).

    Examples
    --------
    >>> release("2.11.0+cu130"), release("2.12.0.dev20260301"), release("2.3")
    ((2, 11, 0), (2, 12, 0), (2, 3, 0))
    """
    match = re.match(r"\s*v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    if match is None:
        raise ValueError(f"Not a version string: {text!r}")
    return int(match[1]), int(match[2]), int(match[3] or 0)


def _number(parts: tuple[int, int, int]) -> str:
    return ".".join(map(str, parts))


def fix_for(torch_version: str, torchaudio_version: str | None) -> str:
    """The ``pip install`` command(s) that give torch a torchaudio that loads.

    The torchaudio of the same release number as torch, or the other way
    round when torchaudio's release pairs with a torch this package supports
    (:data:`OLDEST_PAIRED` to :data:`NEWEST_PAIRED`).

    Examples
    --------
    >>> print(fix_for("2.11.0+cu130", "2.10.0"))
    pip install "torchaudio==2.11.0" (or the torch of your torchaudio: pip install "torch==2.10.0")
    """  # noqa: E501
    torch_release = release(torch_version)
    command = f'pip install "torchaudio=={_number(torch_release)}"'
    if torchaudio_version is not None:
        audio_release = release(torchaudio_version)
        if OLDEST_PAIRED <= audio_release <= NEWEST_PAIRED:
            other = f'pip install "torch=={_number(audio_release)}"'
            command += f" (or the torch of your torchaudio: {other})"
    return command


def pair_problem(torch_version: str, torchaudio_version: str | None) -> str | None:
    """Why torchaudio cannot load beside torch, and the fix; None if it can.

    Parameters
    ----------
    torch_version : str
        Installed torch version (``torch.__version__``).
    torchaudio_version : str | None
        Installed torchaudio version; None when torchaudio is not installed.

    Returns
    -------
    str | None
        The message of the ImportError to raise; None when the two releases
        agree in major and minor number (the load itself may still fail, see
        :func:`load_failure`).

    Examples
    --------
    >>> pair_problem("2.11.0+cu130", "2.11.0") is None
    True
    >>> print(pair_problem("2.11.0", "2.10.0"))  # doctest: +NORMALIZE_WHITESPACE
    braindecode (used by NeuroRVQClassifier and the benchmark's deep models)
    imports torchaudio, and torchaudio 2.10.0 only loads beside torch 2.10,
    not beside the installed torch 2.11.0. Install the torchaudio of your
    torch: pip install "torchaudio==2.11.0" (or the torch of your torchaudio:
    pip install "torch==2.10.0").
    """
    if torchaudio_version is None:
        return (
            f"{_USERS} imports torchaudio, which is not installed. Install the "
            f"torchaudio of your torch {torch_version}: "
            f"{fix_for(torch_version, None)}."
        )
    audio = release(torchaudio_version)
    if audio[:2] == release(torch_version)[:2]:
        return None
    return (
        f"{_USERS} imports torchaudio, and torchaudio {torchaudio_version} only "
        f"loads beside torch {audio[0]}.{audio[1]}, not beside the installed "
        f"torch {torch_version}. Install the torchaudio of your torch: "
        f"{fix_for(torch_version, torchaudio_version)}."
    )


def load_failure(torch_version: str, torchaudio_version: str, error: str) -> str:
    """Message for a torchaudio that failed to load although its number agrees.

    Examples
    --------
    >>> print(load_failure("2.11.0", "2.11.1", "undefined symbol: x"))
    ... # doctest: +NORMALIZE_WHITESPACE
    braindecode (used by NeuroRVQClassifier and the benchmark's deep models)
    imports torchaudio, and torchaudio 2.11.1 does not load beside the
    installed torch 2.11.0 (undefined symbol: x). Install the torchaudio of
    your torch: pip install "torchaudio==2.11.0".
    """
    return (
        f"{_USERS} imports torchaudio, and torchaudio {torchaudio_version} does "
        f"not load beside the installed torch {torch_version} ({error}). Install "
        f"the torchaudio of your torch: {fix_for(torch_version, None)}."
    )


def _installed(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def import_braindecode():
    """Import braindecode once torch and torchaudio are known to load together.

    Returns
    -------
    module
        The ``braindecode`` module.

    Raises
    ------
    ImportError
        When torchaudio is missing, belongs to another torch release or
        fails to load, with the ``pip install`` command that fixes it.

    Examples
    --------
    >>> braindecode = import_braindecode()  # doctest: +SKIP
    >>> hasattr(braindecode, "EEGClassifier")  # doctest: +SKIP
    True
    """
    import torch

    audio = _installed("torchaudio")
    problem = pair_problem(torch.__version__, audio)
    if problem is not None:
        raise ImportError(problem)
    try:
        importlib.import_module("torchaudio")
    except OSError as err:  # torchaudio's "Could not load this library"
        cause = err.__cause__ or err
        message = load_failure(torch.__version__, audio, str(cause).strip())
        raise ImportError(message) from err
    with warnings.catch_warnings():
        _ignore_import_time_notices()
        return importlib.import_module("braindecode")


def _ignore_import_time_notices():
    """Filter the deprecation notices braindecode's import itself raises.

    braindecode 1.8 builds montages at import time with a name MNE 1.13
    deprecates (``FutureWarning``), and its wfdb dependency calls a pandas
    API that pandas 3 deprecates: neither is the user's code nor theirs to
    fix. Only those notices are filtered (MNE attributes its warning to the
    caller's frame, so the montage notice is matched by its text).
    """
    warnings.filterwarnings(
        "ignore", message="Montage name 'standard_1020'", category=FutureWarning
    )
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="wfdb")
