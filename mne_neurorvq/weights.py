"""Find the published NeuroRVQ weights on disk, or download them.

The authors publish their checkpoints on the Hugging Face Hub, in the model
repository ``ntinosbarmpas/NeuroRVQ``. This package pins one revision of it
(:data:`REVISION`) and knows the SHA-256 of the two EEG files; the other
published files (ECG, EMG and PPG) have no published checksum, and for them
the pinned revision (an immutable commit of the repository) is the integrity
guarantee.

Resolution order for a published name (first hit wins):

1. the ``path`` argument (the file itself, or a folder holding it);
2. the folder in the ``MNE_NEURORVQ_WEIGHTS`` environment variable or
   ``mne.set_config("MNE_NEURORVQ_WEIGHTS", folder)``;
3. the download cache (``MNE_NEURORVQ_CACHE``, default the OS cache folder
   ``mne-neurorvq``);
4. the Hugging Face Hub cache (``HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
   ``~/.cache/huggingface/hub``) when it holds the file at the pinned
   revision, e.g. after braindecode or ``hf_hub_download`` fetched it;
5. a download with pooch into the download cache, from
   ``{HF_ENDPOINT}/ntinosbarmpas/NeuroRVQ/resolve/<revision>/<path>``
   (``HF_ENDPOINT`` defaults to ``https://huggingface.co``;
   ``MNE_NEURORVQ_WEIGHTS_URL`` replaces everything before ``/<path>``, for
   other mirrors). With ``HF_HUB_OFFLINE=1`` no request is ever made.

A file with a published SHA-256 is checked against its size and SHA-256 once;
the verified size and modification time are remembered in ``verified.json``
in the download cache, so the file is not hashed again at every ``fit``. A
download is placed in the cache only once complete and hash-checked. Without a
file and without network, the error gives the URL to fetch elsewhere, the
folder to put the file in and the variable to set.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import KW_ONLY, dataclass
from pathlib import Path

import mne
from mne.utils import logger

from .modalities import MODALITIES

#: Model repository of the authors on the Hugging Face Hub.
REPO_ID = "ntinosbarmpas/NeuroRVQ"
#: Pinned revision (commit) of :data:`REPO_ID` that the published names refer to.
REVISION = "d944b87f44ae0ba2923b2f10d0518f23f6803b76"
#: Hugging Face Hub address used when ``HF_ENDPOINT`` is not set.
DEFAULT_ENDPOINT = "https://huggingface.co"
CONFIG_KEY_FOLDER = "MNE_NEURORVQ_WEIGHTS"
CONFIG_KEY_URL = "MNE_NEURORVQ_WEIGHTS_URL"
CONFIG_KEY_CACHE = "MNE_NEURORVQ_CACHE"
#: File of the download cache remembering which files were verified.
VERIFIED_FILE = "verified.json"
_LICENCE = "CC BY-NC 4.0 (authors' licence; non-commercial use only)"


class WeightsIntegrityError(ValueError):
    """A file of published weights is not the published file.

    Raised when its size or SHA-256 differs from the published one (a
    truncated download, another version, another file under the same name).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     fake = Path(folder) / "NeuroRVQ_EEG_tokenizer_v1.pt"
    ...     _ = fake.write_bytes(b"not the weights")
    ...     try:
    ...         fetch_weights("neurorvq-eeg-tokenizer-v1", path=fake)
    ...     except WeightsIntegrityError:
    ...         print("refused")
    refused
    """


@dataclass(frozen=True)
class PublishedWeights:
    """A checkpoint published by the NeuroRVQ authors.

    Attributes
    ----------
    name : str
        Name used in this package (``weights=`` parameters).
    filename : str
        File name as published by the authors.
    kind : str
        ``"tokenizer"`` or ``"foundation"``.
    subfolder : str
        Folder of the file under ``pretrained_models/`` in the repository.
    modality : str
        Signals the model was trained on: ``"eeg"``, ``"ecg"``, ``"emg"`` or
        ``"ppg"``.
    sha256 : str | None
        Published SHA-256 of the file; None when the authors publish none (the
        pinned revision is then the only integrity guarantee, and the file is
        not hash-checked).
    size : int | None
        Size of the file in bytes, when known.
    licence : str
        Licence of the weights.
    repo_id : str
        Hugging Face Hub repository holding the file.
    revision : str
        Pinned revision (commit) of ``repo_id``.

    Examples
    --------
    >>> from mne_neurorvq.weights import PUBLISHED_WEIGHTS
    >>> info = PUBLISHED_WEIGHTS["neurorvq-eeg-tokenizer-v1"]
    >>> info.filename, info.kind, info.modality
    ('NeuroRVQ_EEG_tokenizer_v1.pt', 'tokenizer', 'eeg')
    >>> info.path
    'pretrained_models/tokenizers/NeuroRVQ_EEG_tokenizer_v1.pt'
    """

    name: str
    filename: str
    kind: str
    subfolder: str
    _: KW_ONLY
    modality: str = "eeg"
    sha256: str | None = None
    size: int | None = None
    licence: str = _LICENCE
    repo_id: str = REPO_ID
    revision: str = REVISION

    @property
    def path(self) -> str:
        """Path of the file in the repository."""
        return f"pretrained_models/{self.subfolder}/{self.filename}"

    def url(self, base_url: str | None = None) -> str:
        """Download address of the file.

        ``base_url`` (default: ``MNE_NEURORVQ_WEIGHTS_URL``, else
        ``{HF_ENDPOINT}/{repo_id}/resolve/{revision}``) is followed by
        ``/`` and :attr:`path`.
        """
        base = base_url or mne.get_config(CONFIG_KEY_URL) or self.hub_url()
        return base.rstrip("/") + "/" + self.path

    def hub_url(self, endpoint: str | None = None) -> str:
        """Base address of the pinned revision on the Hub (or a mirror)."""
        endpoint = endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
        return f"{endpoint.rstrip('/')}/{self.repo_id}/resolve/{self.revision}"


def _registry(*entries) -> dict[str, PublishedWeights]:
    return {entry.name: entry for entry in entries}


#: The published checkpoints, by name.
PUBLISHED_WEIGHTS = _registry(
    PublishedWeights(
        "neurorvq-eeg-tokenizer-v1",
        "NeuroRVQ_EEG_tokenizer_v1.pt",
        "tokenizer",
        "tokenizers",
        sha256="d3e850e160b1a558c529466b1c0b8cebe8888a5e02824979886dd226187b2725",
        size=304_130_106,
    ),
    PublishedWeights(
        "neurorvq-eeg-foundation-v1",
        "NeuroRVQ_EEG_foundation_model_v1.pt",
        "foundation",
        "foundation_models",
        sha256="d14ef4eae2d4594d5f1f709226a3bb5f362afd84b68050d5da0fa0586aea886a",
    ),
    *(
        PublishedWeights(
            record.published["tokenizer"],
            f"NeuroRVQ_{modality.upper()}_tokenizer_v1.pt",
            "tokenizer",
            "tokenizers",
            modality=modality,
        )
        for modality, record in MODALITIES.items()
        if modality != "eeg" and "tokenizer" in record.published
    ),
    *(
        PublishedWeights(
            record.published["foundation"],
            f"NeuroRVQ_{modality.upper()}_foundation_model_v1.pt",
            "foundation",
            "foundation_models",
            modality=modality,
        )
        for modality, record in MODALITIES.items()
        if modality != "eeg" and "foundation" in record.published
    ),
)


def cache_dir() -> Path:
    """Folder where downloaded weights are kept.

    ``MNE_NEURORVQ_CACHE`` (environment variable or ``mne.set_config``), else
    the OS cache folder ``mne-neurorvq``.

    Examples
    --------
    >>> cache_dir()  # doctest: +SKIP
    PosixPath('/home/me/.cache/mne-neurorvq')
    """
    import pooch

    configured = mne.get_config(CONFIG_KEY_CACHE)
    return (
        Path(configured).expanduser()
        if configured
        else Path(pooch.os_cache("mne-neurorvq"))
    )


def hub_cache_dir() -> Path:
    """Folder of the Hugging Face Hub cache, as ``huggingface_hub`` finds it.

    ``HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
    ``$XDG_CACHE_HOME/huggingface/hub`` (default ``~/.cache/huggingface/hub``).
    Only read; ``huggingface_hub`` itself is not needed.

    Examples
    --------
    >>> hub_cache_dir()  # doctest: +SKIP
    PosixPath('/home/me/.cache/huggingface/hub')
    """
    env = os.environ
    home = env.get("HF_HOME") or os.path.join(
        env.get("XDG_CACHE_HOME") or "~/.cache", "huggingface"
    )
    hub = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    return Path(hub or os.path.join(home, "hub")).expanduser()


def _hub_cached(info: PublishedWeights) -> Path:
    """Where the Hub cache keeps the file at the pinned revision.

    The Hub cache layout: ``models--{owner}--{name}/snapshots/{revision}/{path}``
    (a link into ``blobs/``).
    """
    repo_folder = "models--" + info.repo_id.replace("/", "--")
    return hub_cache_dir() / repo_folder / "snapshots" / info.revision / info.path


def _is_true(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _entry(name) -> PublishedWeights:
    if not isinstance(name, str) or name not in PUBLISHED_WEIGHTS:
        raise ValueError(
            f"Unknown weights {name!r}; published names are "
            f"{sorted(PUBLISHED_WEIGHTS)}, or pass a file path or a state dict."
        )
    return PUBLISHED_WEIGHTS[name]


# ------------------------------------------------------------ verification


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fid:
        while chunk := fid.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _read_verified() -> dict:
    try:
        return json.loads((cache_dir() / VERIFIED_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _remember(path: Path, sha256: str) -> None:
    """Record that ``path``, as it is now, has this SHA-256 (best effort)."""
    stat = path.stat()
    verified = {k: v for k, v in _read_verified().items() if os.path.isfile(k)}
    verified[str(path.resolve())] = dict(
        size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=sha256
    )
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{VERIFIED_FILE}.", dir=folder)
        with os.fdopen(fd, "w") as fid:
            json.dump(verified, fid, indent=1)
        os.replace(tmp, folder / VERIFIED_FILE)
    except OSError as err:  # a read-only cache: verify again next time
        logger.debug(f"Could not record the verification of {path}: {err}")


def _check_file(info: PublishedWeights, path: Path) -> Path:
    """Check a file found on disk against the published size and SHA-256."""
    if info.sha256 is not None:
        _check_hash(info, path)
    logger.info(f"Using {info.name} weights from {path}")
    return path


def _check_hash(info: PublishedWeights, path: Path) -> None:
    stat = path.stat()
    advice = (
        f"Delete it and fetch the published file again (mne-neurorvq download "
        f"{info.name}), or pass the path of your own checkpoint instead of the "
        "published name."
    )
    if info.size is not None and stat.st_size != info.size:
        raise WeightsIntegrityError(
            f"{path} is {stat.st_size:,} bytes, but the published {info.filename} "
            f"is {info.size:,} bytes: it is truncated or a different file. {advice}"
        )
    known = _read_verified().get(str(path.resolve()))
    if known == dict(size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=info.sha256):
        return
    logger.info(f"Checking the SHA-256 of {path} (once)")
    actual = _sha256(path)
    if actual != info.sha256:
        raise WeightsIntegrityError(
            f"{path} is not the published {info.filename}: its SHA-256 is "
            f"{actual}, expected {info.sha256}. {advice}"
        )
    _remember(path, actual)


# ---------------------------------------------------------------- download


class _NoDownload(Exception):
    """No file could be downloaded; the message says why."""


class _HashingDownloader:
    """pooch's HTTP downloader, also recording the SHA-256 of what arrived."""

    def __init__(self, progressbar: bool):
        import pooch

        self._http = pooch.HTTPDownloader(progressbar=progressbar)
        self.sha256 = None

    def __call__(self, url, output_file, pooch_instance):
        self._http(url, output_file, pooch_instance)
        self.sha256 = _sha256(Path(output_file))


def _download(info: PublishedWeights, folder: Path) -> Path:
    """Download the file into ``folder`` (complete and hash-checked, or not)."""
    if _is_true(os.environ.get("HF_HUB_OFFLINE")):
        raise _NoDownload("HF_HUB_OFFLINE is set, so no download was tried")
    import pooch
    import requests

    url = info.url()
    folder.mkdir(parents=True, exist_ok=True)
    logger.info(f"Downloading {url} to {folder}")
    downloader = _HashingDownloader(
        progressbar=os.environ.get("MNE_NEURORVQ_NO_PROGRESS") is None
    )
    try:
        fname = pooch.retrieve(
            url,
            known_hash=None if info.sha256 is None else f"sha256:{info.sha256}",
            fname=info.filename,
            path=folder,
            downloader=downloader,
        )
    except requests.RequestException as err:
        raise _NoDownload(
            f"the download from {url} failed ({type(err).__name__}: {err})"
        ) from None
    except ValueError:
        if info.sha256 is None or downloader.sha256 in (None, info.sha256):
            raise
        raise WeightsIntegrityError(
            f"The file downloaded from {url} is not the published {info.filename}: "
            f"its SHA-256 is {downloader.sha256}, expected {info.sha256}. Nothing "
            f"was kept in {folder}. The server or mirror (HF_ENDPOINT, "
            f"{CONFIG_KEY_URL}) does not serve the published file."
        ) from None
    path = Path(fname)
    if info.sha256 is not None:
        _remember(path, downloader.sha256)
    return path


def _not_found(info, looked_in, reason, folder=None) -> FileNotFoundError:
    url = info.url()
    canonical = info.url(info.hub_url(DEFAULT_ENDPOINT))
    where = f"{url} (on the Hugging Face Hub: {canonical})" if url != canonical else url
    return FileNotFoundError(
        f"The {info.name} weights ({info.filename}) were not found and {reason}. "
        f"Download {where} on a machine with network (or run `mne-neurorvq "
        f"download {info.name} --dir DIR` there), then put the file in "
        f"{folder or cache_dir()} or in any folder and set "
        f"{CONFIG_KEY_FOLDER}=<that folder> (environment variable, or "
        f"mne.set_config({CONFIG_KEY_FOLDER!r}, folder)); "
        f"or pass weights=<path to {info.filename}>. Looked in: "
        f"{', '.join(str(p.parent) for p in looked_in)}. The file is published by "
        f"the NeuroRVQ authors ({info.licence})."
    )


# ------------------------------------------------------------------ public


def _places(info: PublishedWeights) -> list[Path]:
    folder = mne.get_config(CONFIG_KEY_FOLDER)
    places = [Path(folder).expanduser() / info.filename] if folder else []
    return places + [cache_dir() / info.filename, _hub_cached(info)]


def fetch_weights(name: str, path=None, download: bool = True) -> Path:
    """Return the local file of published weights, downloading it if needed.

    See :mod:`mne_neurorvq.weights` for where the file is looked for, and
    where it is downloaded from. A file with a published SHA-256 is checked
    once against it (:class:`WeightsIntegrityError` when it differs).

    Parameters
    ----------
    name : str
        A name of :data:`PUBLISHED_WEIGHTS`, e.g.
        ``"neurorvq-eeg-tokenizer-v1"`` or ``"neurorvq-eeg-foundation-v1"``.
    path : str | Path | None
        The file, or a folder holding it under its published file name. Only
        this place is used when given.
    download : bool
        Whether to try a download when no local file is found.

    Returns
    -------
    Path

    Examples
    --------
    >>> fetch_weights("neurorvq-eeg-tokenizer-v1", path="~/weights")  # doctest: +SKIP
    PosixPath('/home/me/weights/NeuroRVQ_EEG_tokenizer_v1.pt')
    """
    info = _entry(name)
    if path is not None:
        path = Path(path).expanduser()
        file = path / info.filename if path.is_dir() else path
        if not file.is_file():
            raise FileNotFoundError(f"No {info.filename} at {file}")
        return _check_file(info, file)
    places = _places(info)
    for file in places:
        if file.is_file():
            return _check_file(info, file)
    reason = "download=False"
    if download:
        try:
            return _download(info, cache_dir())
        except _NoDownload as err:
            reason = str(err)
    raise _not_found(info, places, reason)


def download_weights(name: str, folder=None) -> Path:
    """Download published weights into a folder, for machines without network.

    A verified copy already in the folder is kept. Point
    ``MNE_NEURORVQ_WEIGHTS`` at the folder to use the files elsewhere (the
    command line ``mne-neurorvq download`` does this for several files).

    Parameters
    ----------
    name : str
        A name of :data:`PUBLISHED_WEIGHTS`.
    folder : str | Path | None
        Destination folder; None is the download cache (:func:`cache_dir`).

    Returns
    -------
    Path
        The file.

    Examples
    --------
    >>> download_weights("neurorvq-eeg-tokenizer-v1", "/scratch/w")  # doctest: +SKIP
    PosixPath('/scratch/w/NeuroRVQ_EEG_tokenizer_v1.pt')
    """
    info = _entry(name)
    folder = cache_dir() if folder is None else Path(folder).expanduser()
    file = folder / info.filename
    if file.is_file():
        return _check_file(info, file)
    try:
        return _download(info, folder)
    except _NoDownload as err:
        raise _not_found(info, [file], str(err), folder) from None


def published_kind(name: str) -> str | None:
    """Kind (``"tokenizer"``/``"foundation"``) of a published name, else None.

    Examples
    --------
    >>> published_kind("neurorvq-eeg-foundation-v1")
    'foundation'
    >>> published_kind("my_tokenizer.pt") is None
    True
    """
    info = PUBLISHED_WEIGHTS.get(name) if isinstance(name, str) else None
    return None if info is None else info.kind


def published_modality(name: str) -> str | None:
    """Modality (``"eeg"``, ``"ecg"``, ``"emg"``, ``"ppg"``) of a published name.

    None for anything that is not a published name (a path, a state dict).

    Examples
    --------
    >>> published_modality("neurorvq-ecg-tokenizer-v1")
    'ecg'
    >>> published_modality("my_tokenizer.pt") is None
    True
    """
    info = PUBLISHED_WEIGHTS.get(name) if isinstance(name, str) else None
    return None if info is None else info.modality
