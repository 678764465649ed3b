"""Fixtures of the training tests: one torch thread, small synthetic data."""

from __future__ import annotations

import pytest
import torch

from ._workers import synthetic_dataset


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny models spend their time in many small kernels, where a second
    # thread costs more than it gains (and much more on a busy machine).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def dataset():
    """24 windows of 2 s: two channel sets (3 and 2 channels)."""
    return synthetic_dataset()
