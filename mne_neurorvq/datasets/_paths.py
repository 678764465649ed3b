"""Where the datasets live: argument, ``MNE_NEURORVQ_DATA``, or MNE's data folder."""

from __future__ import annotations

from pathlib import Path

import mne

CONFIG_KEY = "MNE_NEURORVQ_DATA"


def data_root(path=None) -> Path:
    """Root data folder: ``path``, else ``MNE_NEURORVQ_DATA``, else MNE's data folder.

    ``MNE_NEURORVQ_DATA`` may be an environment variable or an
    ``mne.set_config`` key.
    """
    if path is not None:
        return Path(path).expanduser()
    configured = mne.get_config(CONFIG_KEY)
    if configured:
        return Path(configured).expanduser()
    return Path(mne.get_config("MNE_DATA", "~/mne_data")).expanduser()


def resolve_data_dir(name: str, path=None) -> Path:
    """Folder of dataset ``name``: ``<root>/<name>``, or ``path`` if it holds files."""
    root = data_root(path)
    if path is not None and root.name == name:
        return root
    if path is not None and any(root.glob("*.edf")):
        return root
    return root / name
