"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Default location of the real EEG recordings: ``<repo>/../shared/data``.
DEFAULT_DATA_PATH = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_path() -> Path:
    """Folder of the real PhysioNet recordings (eegmmidb, EEGMAT).

    Set the ``MNE_NEURORVQ_DATA`` environment variable to use another folder.
    Tests that need the data are skipped when the folder is absent.
    """
    path = Path(os.environ.get("MNE_NEURORVQ_DATA", DEFAULT_DATA_PATH)).expanduser()
    if not path.is_dir():
        pytest.skip(f"real EEG data not found at {path} (set MNE_NEURORVQ_DATA)")
    return path
