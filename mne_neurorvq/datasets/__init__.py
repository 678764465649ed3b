"""Datasets as ``mne.Epochs`` with labels and subject ids (local folder or download)."""

from .eegbci import load_eegbci_eyes, load_eegbci_imagery
from .eegmat import eegmat_files, load_eegmat, read_eegmat_raw

__all__ = [
    "eegmat_files",
    "load_eegbci_eyes",
    "load_eegbci_imagery",
    "load_eegmat",
    "read_eegmat_raw",
]
