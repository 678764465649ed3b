"""The trial store: each subject's trials cut once, kept on disk as NumPy memory-maps.

One entry per (task, subject, protocol version, ``max_windows``), a folder::

    <root>/<task>/v<protocol version>-<task fingerprint>/<max windows|all>/<subject>/
        data.npy        float32 (n_trials, n_channels, n_times), volts, 200 Hz
        codes.npy       int16 (n_trials,), the protocol's integer labels
        manifest.json   task, subject, protocol version, channels, sampling
                        rate, classes, shapes, source files (size, mtime),
                        package versions, creation time
        features/       frozen-model features of the trials (one .npy per model
                        and weights), written by the benchmark's units

An entry is written into a temporary folder beside its final place and renamed
into place (one atomic ``rename`` on POSIX file systems, NFS and Lustre
included): a cut killed half-way leaves a temporary folder that is never read,
and removed by the next write. Readers open ``data.npy`` as a read-only
memory-map (``np.load(mmap_mode="r")``): a batch of trials is read from disk on
demand, whatever the number of subjects, with no decoding step.

Why ``.npy`` and not Zarr: a trial is the unit of every read (a shuffled
batch), ``.npy`` gives true random access to it through the operating
system's page cache with zero decode cost and nothing to tune (no chunk shape,
no codec, no thread pool inside DataLoader workers), and any NumPy reads it.
Zarr v3 (what braindecode and EEGDash use for windowed EEG) earns its keep
with compression and object stores; EEG trials compress poorly (float32
noise), and the store sits on a local or shared POSIX file system here.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._progress import progress
from .protocol import SFREQ, Task, get_task
from .trials import PROTOCOL_VERSION

_MANIFEST = "manifest.json"
#: A temporary entry folder older than this is left over from a killed write.
_STALE_SECONDS = 3600.0


def default_store_root() -> Path:
    """``benchmark`` in the package's cache (``MNE_NEURORVQ_CACHE``).

    Examples
    --------
    >>> default_store_root()  # doctest: +SKIP
    PosixPath('/home/me/.cache/mne-neurorvq/benchmark')
    """
    from ..weights import cache_dir

    return cache_dir() / "benchmark"


def _versions() -> dict:
    import mne
    import torch

    from .. import __version__

    return {
        "mne_neurorvq": __version__,
        "mne": mne.__version__,
        "numpy": np.__version__,
        "torch": torch.__version__,
    }


@dataclass(frozen=True)
class StoreEntry:
    """One subject's trials in the store (opened lazily, pickles as a path).

    Attributes
    ----------
    path : Path
        The entry's folder.

    Examples
    --------
    >>> entry = TrialStore("cache").entry("eyes", 1, max_windows=6)  # doctest: +SKIP
    >>> entry.data.shape, entry.manifest["ch_names"][:2]  # doctest: +SKIP
    ((12, 64, 800), ['Fc5', 'Fc3'])
    """

    path: Path

    @property
    def manifest(self) -> dict:
        """The entry's manifest (task, subject, shapes, channels, sources)."""
        return json.loads((self.path / _MANIFEST).read_text())

    @property
    def data(self) -> np.memmap:
        """The trials, a read-only memory-map (float32, volts)."""
        return np.load(self.path / "data.npy", mmap_mode="r")

    @property
    def codes(self) -> np.ndarray:
        """The integer label of every trial (``task.classes[code]``)."""
        return np.load(self.path / "codes.npy").astype(np.int64)

    def __len__(self) -> int:
        return int(self.manifest["n_trials"])

    def features(self, key: str) -> np.ndarray | None:
        """Features cached under ``key`` (None when not computed yet)."""
        path = self.path / "features" / f"{key}.npy"
        return np.load(path) if path.is_file() else None

    def save_features(self, key: str, features: np.ndarray) -> None:
        """Cache features under ``key``, atomically (temporary file, rename)."""
        folder = self.path / "features"
        folder.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npy.tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, np.asarray(features))
            os.replace(tmp, folder / f"{key}.npy")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class TrialStore:
    """Each subject's trials of a task, cut once and kept on disk.

    Parameters
    ----------
    root : str | Path | None
        The store's folder (``--cache``); None: ``benchmark`` in the
        package's cache (``default_store_root()``).

    Examples
    --------
    >>> store = TrialStore("~/bench-cache")
    >>> entries = store.fill("eyes", [1, 2], max_windows=6)  # doctest: +SKIP
    >>> [len(e) for e in entries]  # doctest: +SKIP
    [12, 12]
    """

    def __init__(self, root=None):
        self.root = Path(root).expanduser() if root is not None else None
        if self.root is None:
            self.root = default_store_root()

    def __repr__(self) -> str:
        return f"TrialStore({str(self.root)!r})"

    def entry_path(self, task, subject, max_windows=None) -> Path:
        """The folder of one subject's entry (whether or not it exists)."""
        task = get_task(task)
        version = f"v{PROTOCOL_VERSION}-{task.fingerprint}"
        windows = "all" if max_windows is None else f"max{int(max_windows)}"
        return self.root / task.name / version / windows / str(task.subject_id(subject))

    def entry(self, task, subject, max_windows=None) -> StoreEntry | None:
        """The subject's entry, or None when it is not in the store."""
        path = self.entry_path(task, subject, max_windows)
        return StoreEntry(path) if (path / _MANIFEST).is_file() else None

    def write(self, task, subject, trials, max_windows=None) -> StoreEntry:
        """Write one subject's trials (:class:`SubjectTrials`) as an entry, atomically.

        The entry is written into a temporary folder beside its place, then
        renamed into place: it exists complete or not at all.
        """
        task = get_task(task)
        final = self.entry_path(task, subject, max_windows)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            data = np.lib.format.open_memmap(
                tmp / "data.npy", mode="w+", dtype=np.float32, shape=trials.data.shape
            )
            data[:] = trials.data
            data.flush()
            del data
            np.save(tmp / "codes.npy", np.asarray(trials.codes, dtype=np.int16))
            manifest = dict(
                task=task.name,
                subject=task.subject_id(subject),
                protocol_version=PROTOCOL_VERSION,
                task_fingerprint=task.fingerprint,
                max_windows=max_windows,
                n_trials=int(len(trials.codes)),
                n_channels=int(trials.data.shape[1]),
                n_times=int(trials.data.shape[2]),
                ch_names=list(trials.ch_names),
                sfreq=SFREQ,
                classes=list(task.classes),
                dtype="float32",
                unit="V",
                sources=trials.sources,
                versions=_versions(),
                created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            )
            (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=1))
            _fsync_dir(tmp)
            try:
                os.rename(tmp, final)
            except OSError:  # written meanwhile by another process: keep theirs
                if not (final / _MANIFEST).is_file():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return StoreEntry(final)

    def fill(
        self,
        task,
        subjects=None,
        *,
        path=None,
        max_windows=None,
        verbose=None,
        **kwargs,
    ) -> list[StoreEntry]:
        """The entries of ``subjects``, cutting those not in the store yet.

        Only subjects missing from the store are read (one at a time, behind
        a progress bar); a store that holds them all reads no recording.

        Parameters
        ----------
        task : str | Task
            A registered task.
        subjects : list of int or str | None
            Subject numbers or identifiers; None: the task's subjects.
        path : str | Path | None
            Data folder of the task's loader.
        max_windows : int | None
            At most this many trials per recording.
        verbose : bool | str | int | None
            MNE verbosity of the reading (None: warnings only); the progress
            bar shows on a terminal unless ``verbose`` is above info.
        **kwargs
            Passed to the task's loader.

        Returns
        -------
        list of StoreEntry
            In the order of ``subjects``.
        """
        from .loaders import subject_trials

        task = get_task(task)
        numbers = list(task.subjects) if subjects is None else list(subjects)
        missing = [s for s in numbers if self.entry(task, s, max_windows) is None]
        self._remove_stale(task, missing, max_windows)
        for subject in progress(missing, f"{task.name}: cutting trials", verbose):
            trials = subject_trials(
                task,
                subject,
                path=path,
                max_windows=max_windows,
                verbose=verbose,
                **kwargs,
            )
            self.write(task, subject, trials, max_windows)
            del trials
        return [self.entry(task, s, max_windows) for s in numbers]

    def _remove_stale(self, task: Task, subjects, max_windows) -> None:
        """Temporary folders left by killed writes of these subjects.

        Only those older than an hour: a younger one may be another process's
        write in progress.
        """
        for subject in subjects:
            final = self.entry_path(task, subject, max_windows)
            if final.parent.is_dir():
                for tmp in final.parent.glob(f".{final.name}.*"):
                    if time.time() - tmp.stat().st_mtime > _STALE_SECONDS:
                        shutil.rmtree(tmp, ignore_errors=True)


def _fsync_dir(folder: Path) -> None:
    """Flush a folder's files to disk before it is renamed into place."""
    for file in folder.iterdir():
        with open(file, "rb") as fh:
            os.fsync(fh.fileno())
