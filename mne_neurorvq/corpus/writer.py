"""Tokenize a corpus into a token store, resumably, over torchrun ranks."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

from mne.utils import _check_option

from ..channels._modalities import mapping_of_names
from ..nn.config import MODALITIES
from .discovery import Recording, find_corpus_recordings, is_bids_root
from .recording import tokenize_raw
from .sharding import (
    assign_shares,
    broadcast_object,
    gather_objects,
    join_processes,
    rank_device,
)
from .store import (
    FORMAT_VERSION,
    STORE_FORMAT,
    create_store,
    read_index,
    recording_key,
    write_index_row,
    write_tokens,
)

__all__ = ["CorpusSummary", "tokenize_corpus"]

_MODALITY_OPTIONS = ("auto", *MODALITIES)
_RECIPES = (None, "authors", "benchmark")


@dataclass
class CorpusSummary:
    """What a :func:`tokenize_corpus` run did (all processes together).

    Attributes
    ----------
    store : str
        The store folder.
    n_found : int
        Recordings found in the data set.
    n_already_done : int
        Recordings already in the store with an unchanged source (skipped).
    n_tokenized : int
        Recordings tokenized by this run.
    n_skipped : int
        Recordings this run could not tokenize (recorded in the index with
        ``status="skipped"`` and the reason).
    n_patches : int
        Single-channel patches tokenized by this run (channels x patches).
    seconds : float
        Wall time of the tokenization (slowest process).
    world_size : int
        Number of processes.

    Examples
    --------
    >>> summary = tokenize_corpus("bids_root", "corpus.zarr")  # doctest: +SKIP
    >>> summary.n_tokenized, round(summary.patches_per_second)  # doctest: +SKIP
    (6, 1166)
    """

    store: str
    n_found: int
    n_already_done: int
    n_tokenized: int
    n_skipped: int
    n_patches: int
    seconds: float
    world_size: int

    @property
    def patches_per_second(self) -> float:
        """Throughput of the run: patches tokenized per second of wall time."""
        return self.n_patches / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        return (
            f"{self.n_tokenized} recording(s) tokenized, {self.n_skipped} skipped "
            f"(bad input, see the index's 'reason'), {self.n_already_done} already "
            f"done; {self.n_patches} patches in {self.seconds:.1f} s = "
            f"{self.patches_per_second:.1f} patches/s over {self.world_size} "
            f"process(es) -> {self.store}"
        )


# ------------------------------------------------------------------ the corpus


def _weights_identity(weights, modality: str, cache: dict) -> tuple[str, str, str]:
    """(source to pass again, name, SHA-256) of the weights used."""
    from ..weights import PUBLISHED_WEIGHTS, fetch_weights

    key = (None if weights is None else str(weights), modality)
    if key not in cache:
        name = f"neurorvq-{modality}-tokenizer-v1" if weights is None else weights
        if isinstance(name, str) and name in PUBLISHED_WEIGHTS:
            digest = PUBLISHED_WEIGHTS[name].sha256 or _file_sha256(
                fetch_weights(name, download=False)
            )
            cache[key] = (name, name, digest)
        else:
            path = Path(name).expanduser().resolve()
            cache[key] = (str(path), path.name, _file_sha256(path))
    return cache[key]


def _file_sha256(path) -> str:
    digest = sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _source_row(rec: Recording, sha: str | None = None) -> dict:
    return dict(
        recording=rec.recording,
        key=recording_key(rec.recording),
        source=str(rec.path),
        source_size=rec.size(),
        source_mtime_ns=rec.mtime_ns(),
        source_sha256=sha or rec.sha256(),
        **rec.entities,
    )


def _pending(recordings: list[Recording], out: Path) -> list[int]:
    """Indices of the recordings not yet in the store (or changed since)."""
    index = read_index(out).set_index("recording")
    return [
        i
        for i, rec in enumerate(recordings)
        if rec.recording not in index.index
        or not rec.matches(
            *index.loc[
                rec.recording, ["source_size", "source_mtime_ns", "source_sha256"]
            ]
        )
    ]


def _tokenize_one(rec: Recording, out: Path, settings: dict, rank: int, cache) -> dict:
    """Tokenize and commit one recording; return its index row."""
    from .. import __version__

    start = time.monotonic()
    row = _source_row(rec)
    row.update(rank=rank, package_version=__version__)
    caught = []
    try:
        raw, caught = rec.read_raw()
        with warnings.catch_warnings(record=True) as during:
            warnings.simplefilter("always")
            tokens, tokenizer = tokenize_raw(
                raw,
                settings["weights"],
                modality=settings["modality"],
                recipe=settings["recipe"],
                segment_seconds=settings["segment_seconds"],
                channel_map=settings["channel_map"],
                device=settings["device"],
                batch_size=settings["batch_size"],
                verbose=False,
            )
        caught += [str(w.message) for w in during]
    except Exception as err:  # a bad recording must not stop the corpus
        _remove(out / "tokens" / row["key"])  # tokens of an older version
        reason = f"{type(err).__name__}: {err}".strip()
        row.update(status="skipped", reason=reason, key=None, warnings=caught)
        row["seconds_taken"] = time.monotonic() - start
        return row
    modality = tokenizer.modality_
    preset = MODALITIES[modality]
    source, name, digest = _weights_identity(settings["weights"], modality, cache)
    vocabulary = _vocabulary(modality)
    vocab_names = [vocabulary[i] for i in tokenizer.input_chans_]
    segment_patches = int(round(settings["segment_seconds"] / preset.patch_seconds))
    write_tokens(
        out,
        row["key"],
        tokens,
        attributes={
            "recording": rec.recording,
            "modality": modality,
            "ch_names": list(tokenizer.ch_names_),
            "vocab_names": vocab_names,
            "weights_source": source,
            "weights_sha256": digest,
            "tokenizer_config": tokenizer.model_.config.to_dict(),
            "segment_patches": segment_patches,
            "patch_seconds": preset.patch_seconds,
            "dims": ["channel", "patch", "scale", "level"],
        },
    )
    row.update(
        status="ok",
        modality=modality,
        ch_names=list(tokenizer.ch_names_),
        vocab_names=vocab_names,
        chan_idx=[int(i) for i in tokenizer.input_chans_],
        n_channels=int(tokens.shape[0]),
        sfreq=float(raw.info["sfreq"]),
        n_patches=int(tokens.shape[1]),
        n_seconds=float(tokens.shape[1] * preset.patch_seconds),
        weights_name=name,
        weights_sha256=digest,
        warnings=caught,
        seconds_taken=time.monotonic() - start,
    )
    return row


def _vocabulary(modality):
    from ..channels import MODALITY_VOCABULARIES

    return MODALITY_VOCABULARIES[modality]


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def tokenize_corpus(
    root,
    out,
    *,
    weights=None,
    modality="eeg",
    recipe=None,
    segment_seconds: float = 600.0,
    channel_map=None,
    device="auto",
    batch_size: int = 32,
    progress: bool = True,
) -> CorpusSummary:
    """Tokenize every recording of a BIDS data set or folder into a token store.

    Each recording is read (``mne_bids.read_raw_bids()`` in a BIDS data
    set, :func:`mne.io.read_raw` otherwise), tokenized as
    :class:`mne_neurorvq.decoding.NeuroRVQTokenizer` tokenizes it (see
    :func:`tokenize_raw`) and committed to the store: a ``uint16`` Zarr array
    of shape ``(n_channels, n_patches, 4, n_levels)`` and a row of the
    Parquet index (:class:`~mne_neurorvq.corpus.TokenStore`).

    Resumable: a rerun skips the recordings already in the store whose
    source file has not changed (same size, and same modification time or
    SHA-256) and says how many; a changed file is tokenized again. A
    recording that cannot be tokenized (unreadable, no known channel,
    shorter than one patch...) is recorded with ``status="skipped"`` and the
    reason, and the run goes on.

    Under ``torchrun`` every process takes a disjoint share of the
    recordings (balanced by file size, deterministic), runs on its own GPU
    (``LOCAL_RANK``) when there are GPUs, and writes only its own
    recordings; the store is the same as with one process.

    Parameters
    ----------
    root : str | Path
        A BIDS root (with ``dataset_description.json``), a folder of
        recordings (EDF, BDF, FIF, EEGLAB, BrainVision...), or one file.
    out : str | Path
        The store folder (created; an existing store must have the same
        modality, recipe, weights and segment length).
    weights : str | path-like | None
        Tokenizer weights (published name or file); None: the published
        tokenizer of each recording's modality.
    modality : ``"eeg"`` | ``"ecg"`` | ``"emg"`` | ``"ppg"`` | ``"auto"``
        See :class:`~mne_neurorvq.decoding.NeuroRVQTokenizer`.
    recipe : None | ``"authors"`` | ``"benchmark"``
        Filtering recipe of the estimator.
    segment_seconds : float
        Longest stretch tokenized at once (see :func:`tokenize_raw`).
    channel_map : dict of str to str | None
        Vocabulary names of some channels, by their name in the recordings,
        e.g. ``{"EEG 001": "Fp1", ...}`` for numbered electrodes or
        ``{"ECG": "II"}`` for a single ECG lead (see
        :class:`~mne_neurorvq.decoding.NeuroRVQTokenizer`); names a
        recording does not have are ignored. Kept in the store's settings
        (a rerun must use the same) and used again by
        :meth:`TokenStore.decode`.
    device : str
        ``"auto"``: the process's GPU when there is one, else the CPU.
    batch_size : int
        Estimator batch size.
    progress : bool
        One progress bar per process (MNE's and the estimator's logs stay
        quiet; what they warn about goes to the index's ``warnings``).

    Returns
    -------
    CorpusSummary

    Examples
    --------
    >>> summary = tokenize_corpus("bids_root", "corpus.zarr")  # doctest: +SKIP
    >>> print(summary)  # doctest: +SKIP
    6 recording(s) tokenized, 0 skipped ..., 0 already done; ...
    """
    from tqdm.auto import tqdm

    from .. import __version__

    _check_option("modality", modality, _MODALITY_OPTIONS)
    _check_option("recipe", recipe, _RECIPES)
    channel_map = mapping_of_names(channel_map, "channel_map") or None
    if not segment_seconds > 0:
        raise ValueError(f"segment_seconds must be positive, got {segment_seconds}")
    root, out = Path(root).expanduser(), Path(out).expanduser()
    ctx = join_processes()
    try:
        recordings = find_corpus_recordings(root)
        settings = dict(
            format=STORE_FORMAT,
            format_version=FORMAT_VERSION,
            modality=modality,
            recipe=recipe,
            segment_seconds=float(segment_seconds),
            channel_map=channel_map,
            weights_requested=None if weights is None else str(weights),
            source=str(root.resolve()),
            bids=is_bids_root(root),
            created_with=__version__,
        )
        plan = None
        if ctx.is_main:
            try:
                create_store(out, settings)
                pending = _pending(recordings, out)
                sizes = [recordings[i].size() for i in pending]
                shares = assign_shares(sizes, ctx.world_size)
                plan = [[pending[i] for i in share] for share in shares]
            except Exception as err:  # every rank must hear of it
                plan = err
        plan = broadcast_object(ctx, plan)
        if isinstance(plan, Exception):
            raise plan
        n_pending = sum(len(share) for share in plan)
        if ctx.is_main:
            print(
                f"{len(recordings)} recording(s) in {root} "
                f"({'BIDS' if settings['bids'] else 'folder'}): "
                f"{len(recordings) - n_pending} already in the store (skipped), "
                f"{n_pending} to tokenize over {ctx.world_size} process(es).",
                flush=True,
            )
        run = dict(
            weights=weights,
            modality=modality,
            recipe=recipe,
            segment_seconds=float(segment_seconds),
            channel_map=channel_map,
            device=rank_device(device, ctx),
            batch_size=batch_size,
        )
        mine = plan[ctx.rank]
        bar = tqdm(
            total=len(mine),
            desc=f"rank {ctx.rank}",
            position=ctx.rank,
            unit="rec",
            disable=not progress,
            dynamic_ncols=True,
        )
        counts = dict(tokenized=0, skipped=0, patches=0)
        cache: dict = {}
        start = time.monotonic()
        with bar:
            for item in mine:
                row = _tokenize_one(recordings[item], out, run, ctx.rank, cache)
                write_index_row(out, row["key"] or recording_key(row["recording"]), row)
                if row["status"] == "ok":
                    counts["tokenized"] += 1
                    counts["patches"] += row["n_channels"] * row["n_patches"]
                else:
                    counts["skipped"] += 1
                elapsed = time.monotonic() - start
                bar.set_postfix(
                    patches_per_s=f"{counts['patches'] / max(elapsed, 1e-9):.0f}"
                )
                bar.update()
        counts["seconds"] = time.monotonic() - start
        everyone = gather_objects(ctx, counts)
        summary = CorpusSummary(
            store=str(out),
            n_found=len(recordings),
            n_already_done=len(recordings) - n_pending,
            n_tokenized=sum(c["tokenized"] for c in everyone),
            n_skipped=sum(c["skipped"] for c in everyone),
            n_patches=sum(c["patches"] for c in everyone),
            seconds=max(c["seconds"] for c in everyone),
            world_size=ctx.world_size,
        )
        if ctx.is_main:
            from .store import merge_index

            merge_index(out)
            print(summary, flush=True)
        ctx.barrier()
        return summary
    finally:
        ctx.close()
