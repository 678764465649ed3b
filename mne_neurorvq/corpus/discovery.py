"""Find the recordings of a corpus: a BIDS data set or a folder of files."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Recording", "find_corpus_recordings", "is_bids_root"]

#: Extensions of the BIDS EEG recordings read with mne-bids.
BIDS_EXTENSIONS = (".edf", ".bdf", ".vhdr", ".set", ".fif")
#: Files that belong to a recording besides the one that is opened (same
#: folder, same stem): BrainVision data and markers, EEGLAB data.
COMPANION_SUFFIXES = (".eeg", ".vmrk", ".fdt", ".dat")
#: BIDSPath attributes kept in the index, by index column.
_ENTITY_ATTRIBUTES = {
    "subject": "subject",
    "session": "session",
    "task": "task",
    "acquisition": "acquisition",
    "run": "run",
    "processing": "processing",
    "rec": "recording",
    "space": "space",
    "split": "split",
    "description": "description",
}


@dataclass(frozen=True)
class Recording:
    """One recording of a corpus.

    Attributes
    ----------
    recording : str
        Its id in the store: the BIDS base name without extension (e.g.
        ``"sub-01_task-rest_eeg"``), or the path relative to the folder.
    path : Path
        The file that is opened (``.vhdr`` for BrainVision, ``.set`` for
        EEGLAB).
    entities : dict of str to str
        BIDS entities (index column names, see
        ``mne_neurorvq.corpus.store.BIDS_ENTITIES``); empty outside BIDS.
    bids_path : mne_bids.BIDSPath | None
        For BIDS data sets, read with ``mne_bids.read_raw_bids()``.

    Examples
    --------
    >>> recordings = find_corpus_recordings("bids_root")  # doctest: +SKIP
    >>> recordings[0].recording, recordings[0].entities  # doctest: +SKIP
    ('sub-01_task-rest_eeg', {'subject': '01', 'task': 'rest'})
    """

    recording: str
    path: Path
    entities: dict = field(default_factory=dict)
    bids_path: object = None

    def source_files(self) -> list[Path]:
        """The file and its companions (same stem), whose bytes are hashed."""
        stem = self.path.with_suffix("")
        companions = [stem.with_suffix(s) for s in COMPANION_SUFFIXES]
        return [self.path] + [p for p in companions if p.is_file() and p != self.path]

    def size(self) -> int:
        """Bytes of the file and its companions."""
        return sum(p.stat().st_size for p in self.source_files())

    def mtime_ns(self) -> int:
        """Latest modification time of the file and its companions."""
        return max(p.stat().st_mtime_ns for p in self.source_files())

    def sha256(self) -> str:
        """SHA-256 of the file followed by its companions."""
        digest = hashlib.sha256()
        for path in self.source_files():
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()

    def matches(self, size: int, mtime_ns: int, sha256: str) -> bool:
        """Whether the files are those recorded: same size, then same time or hash."""
        try:
            if self.size() != size:
                return False
            return self.mtime_ns() == mtime_ns or self.sha256() == sha256
        except OSError:
            return False

    @classmethod
    def from_index_row(cls, row, bids_root=None) -> Recording:
        """The recording of a store's index row (read with mne-bids in a BIDS root)."""
        path = Path(row["source"])
        bids_path = None
        if bids_root is not None:
            from mne_bids import get_bids_path_from_fname

            bids_path = get_bids_path_from_fname(path, verbose=False)
            bids_path.update(root=bids_root)
        return cls(row["recording"], path, {}, bids_path)

    def read_raw(self):
        """Open the recording (mne-bids for BIDS, :func:`mne.io.read_raw` else).

        Warnings of the readers (missing sidecars, unusual units...) are
        returned with the Raw, to be recorded in the index.
        """
        import mne

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if self.bids_path is not None:
                from mne_bids import read_raw_bids

                raw = read_raw_bids(self.bids_path, verbose="error")
            else:
                raw = mne.io.read_raw(self.path, preload=False, verbose="error")
        return raw, [str(w.message) for w in caught]


def is_bids_root(root) -> bool:
    """Whether ``root`` is a BIDS data set (it has ``dataset_description.json``)."""
    return (Path(root) / "dataset_description.json").is_file()


def find_corpus_recordings(root) -> list[Recording]:
    """The recordings of a BIDS data set or of a folder, sorted by id.

    Parameters
    ----------
    root : str | Path
        A BIDS root (with ``dataset_description.json``): every EEG recording
        (datatype ``eeg``, suffix ``eeg``; EDF, BDF, BrainVision, EEGLAB,
        FIF) found by ``mne_bids.find_matching_paths()``, outside
        ``derivatives/`` and ``sourcedata/``. Otherwise a folder searched
        recursively for the formats of
        :func:`mne_neurorvq.training.find_recordings`, or a single file.

    Returns
    -------
    list of Recording

    Examples
    --------
    >>> recordings = find_corpus_recordings("ds004584")  # doctest: +SKIP
    >>> recordings[0].recording, recordings[0].entities  # doctest: +SKIP
    ('sub-001_task-Rest_eeg', {'subject': '001', 'task': 'Rest'})
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"No data set or folder at {root}")
    if root.is_dir() and is_bids_root(root):
        found = _bids_recordings(root)
    else:
        from ..training.data import find_recordings

        base = root if root.is_dir() else root.parent
        found = [
            Recording(path.relative_to(base).as_posix(), path.resolve())
            for path in find_recordings([root])
        ]
    if not found:
        raise FileNotFoundError(f"No EEG recordings found in the BIDS data set {root}")
    ids = [rec.recording for rec in found]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"Several recordings share the ids {duplicates[:5]}.")
    return sorted(found, key=lambda rec: rec.recording)


def _bids_recordings(root: Path) -> list[Recording]:
    from mne_bids import find_matching_paths

    found = []
    paths = find_matching_paths(
        root, datatypes="eeg", suffixes="eeg", extensions=BIDS_EXTENSIONS
    )
    for bids_path in paths:
        path = Path(bids_path.fpath)
        relative = path.relative_to(root).parts
        if relative[0] in ("derivatives", "sourcedata") or not path.is_file():
            continue
        entities = {
            column: str(value)
            for column, attribute in _ENTITY_ATTRIBUTES.items()
            if (value := getattr(bids_path, attribute, None)) is not None
        }
        recording = path.name[: -len(path.suffix)]
        found.append(Recording(recording, path.resolve(), entities, bids_path))
    return found
