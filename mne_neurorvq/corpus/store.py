"""The token store: Zarr v3 arrays of tokens and a Parquet index.

Layout of a store folder ``STORE``::

    STORE/zarr.json              root group; its attributes are the settings
    STORE/tokens/zarr.json       group of the token arrays
    STORE/tokens/<key>/          one uint16 array per recording, shape
                                 (n_channels, n_patches, n_scales, n_levels)
    STORE/index.parquet          the merged index (one row per recording)
    STORE/index-parts/<key>.parquet  rows committed since the last merge

A recording is committed in two atomic steps: its array is written to a
temporary folder inside ``STORE`` and renamed into ``tokens/``, then its index
row is written to a temporary file and renamed into ``index-parts/``. Only a
recording with an index row counts as done, so a process killed at any point
loses at most the recordings it was working on. Every process writes only
the files of its own recordings; rank 0 merges the parts into
``index.parquet`` at the end (a row in ``index-parts/`` wins over the same
recording's row in ``index.parquet``, so an interrupted merge loses nothing).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from hashlib import sha1
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["INDEX_COLUMNS", "STORE_FORMAT", "TokenStore", "recording_key"]

#: Value of the ``format`` attribute of a store's root group.
STORE_FORMAT = "mne-neurorvq-token-store"
#: Version of the layout described in this module.
FORMAT_VERSION = 1
#: BIDS entities kept as index columns (the ``recording`` entity as ``rec``).
BIDS_ENTITIES = (
    "subject",
    "session",
    "task",
    "acquisition",
    "run",
    "processing",
    "rec",
    "space",
    "split",
    "description",
)

_STRING_LIST = pa.list_(pa.string())
#: Schema of the index (one row per recording).
INDEX_SCHEMA = pa.schema(
    [
        ("recording", pa.string()),
        ("status", pa.string()),  # "ok" or "skipped"
        ("reason", pa.string()),
        ("key", pa.string()),
        ("source", pa.string()),
        ("source_size", pa.int64()),
        ("source_mtime_ns", pa.int64()),
        ("source_sha256", pa.string()),
        *[(entity, pa.string()) for entity in BIDS_ENTITIES],
        ("modality", pa.string()),
        ("ch_names", _STRING_LIST),
        ("vocab_names", _STRING_LIST),
        ("chan_idx", pa.list_(pa.int64())),
        ("n_channels", pa.int64()),
        ("sfreq", pa.float64()),
        ("n_patches", pa.int64()),
        ("n_seconds", pa.float64()),
        ("weights_name", pa.string()),
        ("weights_sha256", pa.string()),
        ("package_version", pa.string()),
        ("warnings", _STRING_LIST),
        ("rank", pa.int64()),
        ("seconds_taken", pa.float64()),
    ]
)
#: Columns of :attr:`TokenStore.index`, in order.
INDEX_COLUMNS = tuple(INDEX_SCHEMA.names)


def recording_key(recording: str) -> str:
    """Name of a recording's array: its id made file-safe, plus a short hash.

    Examples
    --------
    >>> recording_key("sub-01/sub-01_task-rest_eeg")
    'sub-01_sub-01_task-rest_eeg-df9ad135'
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", recording).strip("._") or "recording"
    return f"{safe[:120]}-{sha1(recording.encode()).hexdigest()[:8]}"


def _replace_dir(src: Path, dst: Path) -> None:
    """Move folder ``src`` to ``dst`` (replacing it) with renames only."""
    if dst.exists():
        trash = dst.with_name(f".trash-{uuid.uuid4().hex}")
        os.replace(dst, trash)
        os.replace(src, dst)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(src, dst)


class TokenStore:
    """Read a token corpus written by ``mne-neurorvq tokenize-corpus``.

    Parameters
    ----------
    path : str | Path
        The store folder.

    Attributes
    ----------
    path : Path
    settings : dict
        How the store was made (modality, recipe, weights, segment length,
        package version), from the root group's attributes.

    See Also
    --------
    mne_neurorvq.corpus.tokenize_corpus : Write a store.

    Examples
    --------
    >>> store = TokenStore("corpus.zarr")  # doctest: +SKIP
    >>> store.index[["recording", "n_channels", "n_seconds"]]  # doctest: +SKIP
    >>> tokens = store.tokens(store.recordings[0])  # doctest: +SKIP
    >>> tokens.dtype, tokens.shape  # doctest: +SKIP
    (dtype('uint16'), (19, 60, 4, 8))
    >>> raw = store.decode(store.recordings[0])  # doctest: +SKIP
    """

    def __init__(self, path):
        self.path = Path(path).expanduser()
        meta = self.path / "zarr.json"
        if not meta.is_file():
            raise FileNotFoundError(
                f"No token store at {self.path} (no zarr.json): write one with "
                "`mne-neurorvq tokenize-corpus ROOT --out STORE`."
            )
        attributes = json.loads(meta.read_text()).get("attributes", {})
        if attributes.get("format") != STORE_FORMAT:
            raise ValueError(
                f"{self.path} is a Zarr group but not an mne-neurorvq token store "
                f"(its 'format' attribute is {attributes.get('format')!r})."
            )
        self.settings = attributes

    # ------------------------------------------------------------------ index
    @property
    def index(self) -> pd.DataFrame:
        """One row per recording (tokenized or skipped), sorted by ``recording``.

        Columns: ``recording`` (id), ``status`` (``"ok"`` or ``"skipped"``),
        ``reason`` (why skipped), ``key`` (array name), ``source`` (file),
        ``source_size``, ``source_mtime_ns``, ``source_sha256``, the BIDS
        entities (``subject``, ``session``, ``task``, ``acquisition``,
        ``run``, ``processing``, ``rec``, ``space``, ``split``,
        ``description``; None outside BIDS), ``modality``, ``ch_names``
        (original names), ``vocab_names`` and ``chan_idx`` (vocabulary names
        and indices), ``n_channels``, ``sfreq`` (before resampling),
        ``n_patches``, ``n_seconds``, ``weights_name``, ``weights_sha256``,
        ``package_version``, ``warnings``, ``rank`` (the process that wrote
        it) and ``seconds_taken``.
        """
        return read_index(self.path)

    @property
    def recordings(self) -> list[str]:
        """Ids of the tokenized recordings (status ``"ok"``), sorted."""
        index = self.index
        return index.loc[index["status"] == "ok", "recording"].tolist()

    def _row(self, recording: str) -> pd.Series:
        index = self.index
        rows = index[index["recording"] == recording]
        if not len(rows):
            known = index["recording"].tolist()
            raise KeyError(
                f"No recording {recording!r} in the store {self.path} "
                f"({len(known)} recordings, e.g. {known[:3]})."
            )
        row = rows.iloc[0]
        if row["status"] != "ok":
            raise KeyError(
                f"Recording {recording!r} was skipped when the store was written: "
                f"{row['reason']}"
            )
        return row

    # ------------------------------------------------------------------ tokens
    def array(self, recording: str):
        """The Zarr array of a recording (read-only, nothing loaded yet)."""
        import zarr

        row = self._row(recording)
        return zarr.open_array(self.path / "tokens" / row["key"], mode="r")

    def tokens(self, recording: str) -> np.ndarray:
        """Tokens of a recording.

        Parameters
        ----------
        recording : str
            A recording id (``index["recording"]``).

        Returns
        -------
        ndarray of uint16, shape (n_channels, n_patches, n_scales, n_levels)
            Patches are seconds for EEG (1 s patches).
        """
        return np.asarray(self.array(recording)[...], dtype=np.uint16)

    def decode(self, recording: str, weights=None, *, device="cpu", verbose=False):
        """Rebuild a recording's signal from its tokens with the decoder.

        Each segment of the recording is decoded as
        :meth:`mne_neurorvq.decoding.NeuroRVQTokenizer.inverse_transform`
        decodes an epoch: tokens carry no amplitude, so every window is
        standardised (mean 0, standard deviation 1).

        Parameters
        ----------
        recording : str
            A recording id.
        weights : str | path-like | None
            Tokenizer weights; None uses those the recording was tokenized
            with (the published name, or the file's path, as recorded in the
            array's attributes).
        device : str
            Torch device.
        verbose : bool | str | int | None
            MNE verbosity.

        Returns
        -------
        raw : mne.io.RawArray
            The standardised reconstruction at the model rate (EEG 200 Hz),
            channels named as in the recording, in SI units (EEG: 1e-6 per
            unit, so ``get_data(units="uV")`` gives the standardised values).
        """
        from .recording import decode_tokens

        row = self._row(recording)
        array = self.array(recording)
        made_with = array.attrs.asdict()
        return decode_tokens(
            np.asarray(array[...], dtype=np.int64),
            list(row["ch_names"]),
            row["modality"],
            made_with["weights_source"] if weights is None else weights,
            segment_patches=made_with["segment_patches"],
            channel_map=self.settings.get("channel_map"),
            device=device,
            verbose=verbose,
        )

    def __len__(self) -> int:
        return len(self.recordings)

    def __repr__(self) -> str:
        index = self.index
        ok = index[index["status"] == "ok"]
        patches = int((ok["n_channels"] * ok["n_patches"]).sum())
        return (
            f"<TokenStore {self.path}: {len(ok)} recordings, "
            f"{len(index) - len(ok)} skipped, {patches} channel patches>"
        )


# --------------------------------------------------------------------- writing


def create_store(path: Path, settings: dict) -> dict:
    """Create the store (or check that an existing one has the same settings).

    Returns the settings of the store.
    """
    import zarr

    path = Path(path)
    meta = path / "zarr.json"
    if meta.is_file():
        existing = TokenStore(path).settings
        changed = {
            key: (existing.get(key), value)
            for key, value in settings.items()
            if key in _SETTINGS_THAT_MUST_MATCH and existing.get(key) != value
        }
        if changed:
            details = ", ".join(
                f"{key}: {old!r} in the store, {new!r} now"
                for key, (old, new) in changed.items()
            )
            raise ValueError(
                f"The store {path} was written with other settings ({details}). "
                "Write to a new --out folder, or use the store's settings."
            )
        _remove_leftovers(path)
        return existing
    path.mkdir(parents=True, exist_ok=True)
    root = zarr.open_group(path, mode="w", attributes=settings)
    root.create_group("tokens")
    (path / "index-parts").mkdir(exist_ok=True)
    return settings


def _remove_leftovers(path: Path) -> None:
    """Temporary files of a killed run (before any process writes again)."""
    for folder in (path, path / "tokens", path / "index-parts"):
        for leftover in folder.glob(".t*-*"):  # .tmp-* and .trash-*
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


#: Settings a rerun must share with the store it adds to.
_SETTINGS_THAT_MUST_MATCH = (
    "modality",
    "recipe",
    "weights_requested",
    "segment_seconds",
    "channel_map",
)


def write_tokens(path: Path, key: str, tokens: np.ndarray, attributes: dict) -> None:
    """Write a recording's array atomically (temporary folder, then rename)."""
    import zarr

    path = Path(path)
    tmp = path / f".tmp-{key}-{uuid.uuid4().hex}"
    try:
        n_channels, n_patches = tokens.shape[:2]
        array = zarr.create_array(
            store=tmp,
            shape=tokens.shape,
            chunks=(n_channels, min(n_patches, 300), *tokens.shape[2:]),
            dtype="uint16",
            compressors=zarr.codecs.ZstdCodec(level=3),
            attributes=attributes,
        )
        array[...] = tokens
        _replace_dir(tmp, path / "tokens" / key)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_index_row(path: Path, key: str, row: dict) -> None:
    """Commit a recording's index row (temporary file, then rename)."""
    parts = Path(path) / "index-parts"
    parts.mkdir(exist_ok=True)
    target = parts / f"{key}.parquet"
    tmp = parts / f".tmp-{key}-{uuid.uuid4().hex}"
    try:
        table = pa.Table.from_pylist([_complete(row)], schema=INDEX_SCHEMA)
        pq.write_table(table, tmp)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _complete(row: dict) -> dict:
    unknown = set(row) - set(INDEX_COLUMNS)
    if unknown:
        raise KeyError(f"Unknown index columns {sorted(unknown)}")
    return {name: row.get(name) for name in INDEX_COLUMNS}


def read_index(path: Path) -> pd.DataFrame:
    """The index: ``index.parquet`` updated by the rows in ``index-parts/``."""
    path = Path(path)
    tables = []
    merged = path / "index.parquet"
    if merged.is_file():
        tables.append(pq.read_table(merged, schema=INDEX_SCHEMA))
    parts = sorted((path / "index-parts").glob("*.parquet"))
    tables += [pq.read_table(part, schema=INDEX_SCHEMA) for part in parts]
    if not tables:
        return INDEX_SCHEMA.empty_table().to_pandas()
    frame = pa.concat_tables(tables).to_pandas()
    frame = frame.drop_duplicates("recording", keep="last")  # parts win
    for column in ("ch_names", "vocab_names", "chan_idx", "warnings"):
        frame[column] = frame[column].map(lambda v: [] if v is None else list(v))
    return frame.sort_values("recording", kind="stable").reset_index(drop=True)


def merge_index(path: Path) -> pd.DataFrame:
    """Fold ``index-parts/`` into ``index.parquet`` (rank 0, at the end)."""
    path = Path(path)
    parts = sorted((path / "index-parts").glob("*.parquet"))
    index = read_index(path)
    if parts or not (path / "index.parquet").is_file():
        table = pa.Table.from_pandas(index, schema=INDEX_SCHEMA, preserve_index=False)
        tmp = path / f".tmp-index-{uuid.uuid4().hex}"
        pq.write_table(table, tmp)
        os.replace(tmp, path / "index.parquet")
        for part in parts:
            part.unlink(missing_ok=True)
    return index
