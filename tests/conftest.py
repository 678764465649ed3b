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


#: Default location of the reference-parity fixture.
DEFAULT_PARITY_PATH = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "fixtures"
    / "upstream-parity"
)


@pytest.fixture(scope="session")
def parity_path() -> Path:
    """Folder of the upstream-parity fixture (``MNE_NEURORVQ_PARITY`` overrides)."""
    path = Path(os.environ.get("MNE_NEURORVQ_PARITY", DEFAULT_PARITY_PATH)).expanduser()
    if not (path / "cases.pt").is_file():
        pytest.skip(f"parity fixture not found at {path} (set MNE_NEURORVQ_PARITY)")
    return path


#: Default location of the multimodal (ECG, PPG, EMG) reference-parity fixture.
DEFAULT_PARITY_MULTIMODAL_PATH = DEFAULT_PARITY_PATH.with_name(
    "upstream-parity-multimodal"
)


@pytest.fixture(scope="session")
def parity_multimodal_path() -> Path:
    """Folder of the multimodal parity fixture (``MNE_NEURORVQ_PARITY_MULTIMODAL``)."""
    path = Path(
        os.environ.get("MNE_NEURORVQ_PARITY_MULTIMODAL", DEFAULT_PARITY_MULTIMODAL_PATH)
    ).expanduser()
    if not (path / "ecg" / "cases.pt").is_file():
        pytest.skip(
            f"multimodal parity fixture not found at {path} (set "
            "MNE_NEURORVQ_PARITY_MULTIMODAL)"
        )
    return path


@pytest.fixture(scope="session")
def parity_cases(parity_path):
    """The reference cases (inputs and expected outputs)."""
    import torch

    return torch.load(parity_path / "cases.pt", weights_only=True, map_location="cpu")


@pytest.fixture(scope="session")
def manifest(parity_path) -> dict:
    """Keys and shapes of the published checkpoints."""
    import json

    return json.loads((parity_path / "upstream_manifest.json").read_text())


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    import torch

    torch.set_num_threads(2)
