"""Find the published NeuroRVQ weights on disk, or download them.

Resolution order for a published name (first hit wins):

1. the ``path`` argument (the file itself, or a folder holding it);
2. the folder in the ``MNE_NEURORVQ_WEIGHTS`` environment variable or
   ``mne.set_config("MNE_NEURORVQ_WEIGHTS", folder)``;
3. the download cache (``MNE_NEURORVQ_CACHE``, default the OS cache folder
   ``mne-neurorvq``);
4. a download with pooch from ``MNE_NEURORVQ_WEIGHTS_URL`` (a base URL; the
   file name is appended), defaulting to the authors' repository.

Without a file and without network, the error says exactly where to put it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import mne
from mne.utils import logger

#: Base URL of the authors' repository folder holding the published files.
DEFAULT_BASE_URL = (
    "https://github.com/KonstantinosBarmpas/NeuroRVQ/raw/main/pretrained_models/"
)
CONFIG_KEY_FOLDER = "MNE_NEURORVQ_WEIGHTS"
CONFIG_KEY_URL = "MNE_NEURORVQ_WEIGHTS_URL"
CONFIG_KEY_CACHE = "MNE_NEURORVQ_CACHE"


@dataclass(frozen=True)
class PublishedWeights:
    """A published checkpoint.

    Attributes
    ----------
    name : str
        Name used in this package (``weights=`` parameters).
    filename : str
        File name as published by the authors.
    kind : str
        ``"tokenizer"`` or ``"foundation"``.
    subfolder : str
        Folder of the file in the authors' repository.
    licence : str
        Licence of the weights.

    Examples
    --------
    >>> from mne_neurorvq.weights import PUBLISHED_WEIGHTS
    >>> info = PUBLISHED_WEIGHTS["neurorvq-eeg-tokenizer-v1"]
    >>> info.filename, info.kind
    ('NeuroRVQ_EEG_tokenizer_v1.pt', 'tokenizer')
    """

    name: str
    filename: str
    kind: str
    subfolder: str
    licence: str = "CC BY-NC 4.0 (authors' licence; non-commercial use only)"

    def url(self, base_url: str | None = None) -> str:
        """Download address of the file."""
        base = base_url or mne.get_config(CONFIG_KEY_URL) or DEFAULT_BASE_URL
        return base.rstrip("/") + f"/{self.subfolder}/{self.filename}"


PUBLISHED_WEIGHTS = {
    w.name: w
    for w in (
        PublishedWeights(
            "neurorvq-eeg-tokenizer-v1",
            "NeuroRVQ_EEG_tokenizer_v1.pt",
            "tokenizer",
            "tokenizers",
        ),
        *(  # other modalities (no published SHA-256 either)
            PublishedWeights(
                f"neurorvq-{modality}-tokenizer-v1",
                f"NeuroRVQ_{modality.upper()}_tokenizer_v1.pt",
                "tokenizer",
                "tokenizers",
            )
            for modality in ("ecg", "emg", "ppg")
        ),
        PublishedWeights(
            "neurorvq-eeg-foundation-v1",
            "NeuroRVQ_EEG_foundation_model_v1.pt",
            "foundation",
            "foundation_models",
        ),
    )
}


def cache_dir() -> Path:
    """Folder where downloaded weights are kept.

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


def _candidates(info: PublishedWeights, path) -> list[Path]:
    places = []
    if path is not None:
        path = Path(path).expanduser()
        places.append(path / info.filename if path.is_dir() else path)
    folder = mne.get_config(CONFIG_KEY_FOLDER)
    if folder:
        places.append(Path(folder).expanduser() / info.filename)
    places.append(cache_dir() / info.filename)
    return places


def fetch_weights(name: str, path=None, download: bool = True) -> Path:
    """Return the local file of published weights, downloading it if needed.

    Parameters
    ----------
    name : str
        One of ``"neurorvq-eeg-tokenizer-v1"``, ``"neurorvq-eeg-foundation-v1"``.
    path : str | Path | None
        The file, or a folder holding it under its published file name.
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
    if name not in PUBLISHED_WEIGHTS:
        raise ValueError(
            f"Unknown weights {name!r}; published names are "
            f"{sorted(PUBLISHED_WEIGHTS)}, or pass a file path or a state dict."
        )
    info = PUBLISHED_WEIGHTS[name]
    candidates = _candidates(info, path)
    if path is not None and not candidates[0].is_file():
        raise FileNotFoundError(f"No {info.filename} at {candidates[0]}")
    for candidate in candidates:
        if candidate.is_file():
            logger.info(f"Using {name} weights from {candidate}")
            return candidate
    if download:
        try:
            return _download(info)
        except Exception as err:  # network errors come in many types
            reason = f"download from {info.url()} failed ({type(err).__name__}: {err})"
    else:
        reason = "download=False"
    raise FileNotFoundError(
        f"The {name} weights ({info.filename}) were not found and {reason}. Put the "
        f"file in one of: {', '.join(str(c.parent) for c in candidates)}; or set "
        f"the folder with the {CONFIG_KEY_FOLDER} environment variable or "
        f"mne.set_config({CONFIG_KEY_FOLDER!r}, folder); or pass weights=<path to "
        f"{info.filename}>. The file is published by the NeuroRVQ authors "
        f"({info.licence})."
    )


def _download(info: PublishedWeights) -> Path:
    import pooch

    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    logger.info(f"Downloading {info.filename} to {target}")
    fname = pooch.retrieve(
        info.url(),
        known_hash=None,  # the authors publish no checksum
        fname=info.filename,
        path=target,
        progressbar=os.environ.get("MNE_NEURORVQ_NO_PROGRESS") is None,
    )
    return Path(fname)


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
