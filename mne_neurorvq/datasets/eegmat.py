"""EEGMAT: EEG during mental arithmetic tasks (PhysioNet ``eegmat`` 1.0.0).

36 subjects, 19 scalp channels (10-20, legacy names T3-T6) plus an ear
reference difference (``EEG A2-A1``) and an ECG channel, 500 Hz. Per subject
one recording at rest (``SubjectNN_1.edf``, about 180 s) and one during serial
subtraction (``SubjectNN_2.edf``, 60 s): the natural subject-independent
binary task (rest vs arithmetic).

Licence: Open Data Commons Attribution License v1.0 (ODC-By 1.0). Cite:
I. Zyma, S. Tukaev, I. Seleznov, K. Kiyono, A. Popov, M. Chernykh,
O. Shpenkov. "Electroencephalograms during Mental Arithmetic Task
Performance." *Data* 4(1):14, 2019; and PhysioNet (Goldberger et al.,
*Circulation* 101(23):e215-e220, 2000).
"""

from __future__ import annotations

import mne

from .._progress import progress, quiet
from ._labelled import labelled_epochs
from ._paths import resolve_data_dir

BASE_URL = "https://physionet.org/files/eegmat/1.0.0/"
N_SUBJECTS = 36
LABELS = {1: "rest", 2: "arithmetic"}

#: SHA-256 of the files, checked after a download (subjects 00-23; computed
#: from the files, PhysioNet publishes none). Later subjects are not checked.
SHA256 = {
    "Subject00_1.edf": "ac46d8c9905d6750c8f07235f2e0d96771882cad8af06a8e32d88cfd16c376ed",
    "Subject00_2.edf": "19476db6d5f2bcd40e417a7e1f2f9b276af05cf2c93a52a2be4d7524b4e9885c",
    "Subject01_1.edf": "e8c8bd03146127f6084e36282b20bf9236cd5e5459e8a9129b05963bdbbb461a",
    "Subject01_2.edf": "da7ad48824d5c92a5a12b90495f4ceca98dbc91fca1d3e85f009dbc640b32ca7",
    "Subject02_1.edf": "02da547be13c67b310a020d48be83be6a1faad72b26519e8084038aea1aa30f8",
    "Subject02_2.edf": "2ff3c97cbc6be7c4b3e43df85f42621d2837bd860463747557a6c3a558d802ee",
    "Subject03_1.edf": "8f22c7eb40e2d2b2f61dadd874172f395fed9ca83c843e9d92b492ec2b3d4f41",
    "Subject03_2.edf": "d4792fe50ad51d7ad607caeaf3c24f2d19087cb96311c4c2cbdfdd6418f56cf0",
    "Subject04_1.edf": "0c96ec8a36767673772d35c1c8e8328c6a51f18e83b806f5776d02f388c65a73",
    "Subject04_2.edf": "4455d8e910ac8f5a18a5c050e2b544d147b092458cd135c04e3030f2ee63f90f",
    "Subject05_1.edf": "844f7c4c0868f64003f50d02ecd9db3a7e60cd51df66f9ad2a460e279001eaf8",
    "Subject05_2.edf": "651a9f1cbe3e85605ef6a8e3c13c8d8d130e1c41bb8ac23ac3c2fa9ab63665f7",
    "Subject06_1.edf": "cd5697ace53d4a824b7a89846a0a2e2ca40ec7ee661488551d44d6f2a301b5c1",
    "Subject06_2.edf": "206452b3d030ba9f04b43f2747bcd24ecd0466e7abe27676ad054428286cf24d",
    "Subject07_1.edf": "3991d7b4667065de53f80e5b40b69cee5c819f62c7352dca3b06ca5333fd1308",
    "Subject07_2.edf": "f8381e8f22a118f772e316bfb4c87f2a41581d9590a7c58f3b8c95c62a1789f1",
    "Subject08_1.edf": "02acf02d25d333fd9bc38b9b513b9f72072d5bd36b6ffa5a9a5be6f54fd9b853",
    "Subject08_2.edf": "461c2f9c95b5d1128e32bd1272e44b3d5366493f57d88092278b440a7b30d0df",
    "Subject09_1.edf": "68f2c002f30831ead8fc9418a24fe044419f430686beec62ddb46ab2c731036a",
    "Subject09_2.edf": "05d4449075a6e62d61737a939cf142b27f84b60a9bdad788fd87a9fc9737b3b9",
    "Subject10_1.edf": "25a392a6816c74da10539694e51210030742ced96379761afe02aa05f60bfcc8",
    "Subject10_2.edf": "aa76531d0a6f72ebc163014383a42fdd7252ea310559d270943922607e51a13a",
    "Subject11_1.edf": "8c85e9c32acbb18145bbc29126c19239beeba53c136d3014de285d5d359df9ac",
    "Subject11_2.edf": "df36afd690987a373f0de02b91059760e155a7bf49732d05b7cce42bbe4de354",
    "Subject12_1.edf": "e3e6985558b94bdbec4ec93745b353dbd090b3e160bc9e97546ea9b5e416c37d",
    "Subject12_2.edf": "984c866e886a4c17f0f9196cc0ec072a3b492ef7af92d4dea48a451a433cfd13",
    "Subject13_1.edf": "226fc6946d5b2181f4a219530b7eb642561d3acd8257a224d14c6aecd50e92bb",
    "Subject13_2.edf": "12cb297ce1c1506d07418353900bcea3472b5c8bdb26d73db3c25c07d752ae71",
    "Subject14_1.edf": "e9b5d97eb5dd4778dfb6e279f3e03b27cf4ad5881641f2eaabedeaf2b0475ee5",
    "Subject14_2.edf": "4c0c71fc2f7962efea32593eeadeb96c38c44db6a203e9a6353662cd8b941544",
    "Subject15_1.edf": "3bfa5357e3cf6bb849f0e950be34f14ee10f90348a1d1246c863936ce923e07c",
    "Subject15_2.edf": "b107158d3d23fe53559712db1a13416391dd963038b1c73918de7483343393ad",
    "Subject16_1.edf": "2e59fdf714c36f6c1520f5011aba46dca543e0561e98c3ca509dfe6112709130",
    "Subject16_2.edf": "451eea5902ab279785fa98d474837c97ba2bc389b4b46f914a408555744b1774",
    "Subject17_1.edf": "cc6be6007c4e029ee7d32b754fa07d1f514db9e8dce82a167b99af45caab7610",
    "Subject17_2.edf": "9c9a0cbf89ed1152244b7c3d191c584cd59d3d99ff067e1610010d805cee62af",
    "Subject18_1.edf": "ba4323db350812274637dafd018c5563ad8f46d8fc302ef0e3be0c5b6a4016a8",
    "Subject18_2.edf": "5d8425c622e33be4990c4e1c91bb8411f448a9594393ee46738d96b23dfb7646",
    "Subject19_1.edf": "7cd2b2609e184c777b613b8522ae44f84396d9eedcf857821ba535c701f88a83",
    "Subject19_2.edf": "e9c53b3bb46cbbfef45cfed8d56d67a2d145f16babaa65e6eb0f1284958fc9c2",
    "Subject20_1.edf": "d3f5eea33d1f0fbf6483a38bd9fbd929ef32bd9266a6e9c6c0a883520f9bd5ee",
    "Subject20_2.edf": "f726b0b9bfd3a3300819f111af0f3f28151db03fe84f3b4531d8334b55333fd4",
    "Subject21_1.edf": "77e3e122db2e1d8a302c125c23c63e0fe19f7c9850118f6215213a8e3331b4ad",
    "Subject21_2.edf": "036cf82700fc3a635b390d4e72cb5ab3a93321bf8024d33bae963f4d6ac826dd",
    "Subject22_1.edf": "656b1b96f5aa8118e3412ef816b918a085a38c29379a25fa4ecc862bd481684f",
    "Subject22_2.edf": "814190dabd5a01f6532f9229458acd8e2fe995ae9a6e790109dd638c9eb46d92",
    "Subject23_1.edf": "66204fb1ded55bf94a11f2fc33be3f2e54d2b0cac3663b4b1210a4deeaa97049",
    "Subject23_2.edf": "ff7679c7e2af46a6ba16323c3239b461bbffce0672cfaaca746e721b18bb47bd",
}


def eegmat_files(subjects=None, path=None, download: bool = True) -> list:
    """Paths of EEGMAT recordings, fetched from PhysioNet if needed.

    Parameters
    ----------
    subjects : list of int | None
        Subject numbers (0-35); None means all available locally, or all 36
        when downloading.
    path : str | Path | None
        Folder holding the EDF files (or a folder with an ``eegmat``
        sub-folder). Default: ``MNE_NEURORVQ_DATA`` (environment variable or
        ``mne.set_config``) + ``/eegmat``, else MNE's data folder.
    download : bool
        Download missing files from PhysioNet with pooch.

    Returns
    -------
    list of tuple (subject, condition, Path)
        Condition 1 is rest, 2 is arithmetic.

    Examples
    --------
    >>> files = eegmat_files([0, 1], path="~/data", download=False)  # doctest: +SKIP
    >>> files[0]  # doctest: +SKIP
    (0, 1, PosixPath('/home/me/data/eegmat/Subject00_1.edf'))
    """
    folder = resolve_data_dir("eegmat", path)
    if subjects is None:
        local = sorted(folder.glob("Subject*_1.edf"))
        subjects = (
            [int(p.name[7:9]) for p in local]
            if local or not download
            else list(range(N_SUBJECTS))
        )
    files = []
    for subject in subjects:
        if not 0 <= int(subject) < N_SUBJECTS:
            raise ValueError(f"EEGMAT subjects are 0-{N_SUBJECTS - 1}, got {subject}")
        for condition in LABELS:
            name = f"Subject{int(subject):02d}_{condition}.edf"
            target = folder / name
            if not target.is_file():
                if not download:
                    raise FileNotFoundError(
                        f"{target} not found; pass download=True, or point "
                        "path / MNE_NEURORVQ_DATA at the folder holding the "
                        "EEGMAT files."
                    )
                target = _download(name, folder)
            files.append((int(subject), condition, target))
    return files


def _download(name, folder):
    import pooch

    folder.mkdir(parents=True, exist_ok=True)
    return pooch.retrieve(
        BASE_URL + name,
        known_hash=f"sha256:{SHA256[name]}" if name in SHA256 else None,
        fname=name,
        path=folder,
    )


def read_eegmat_raw(fname, verbose=None) -> mne.io.BaseRaw:
    """Read one EEGMAT file with the non-EEG channels typed (ECG, misc).

    Examples
    --------
    >>> raw = read_eegmat_raw("Subject00_1.edf")  # doctest: +SKIP
    >>> raw.get_channel_types(unique=True)  # doctest: +SKIP
    ['eeg', 'misc', 'ecg']
    """
    raw = mne.io.read_raw_edf(fname, preload=True, verbose=verbose)
    types = {"ECG ECG": "ecg", "EEG A2-A1": "misc"}
    raw.set_channel_types(
        {k: v for k, v in types.items() if k in raw.ch_names}, on_unit_change="ignore"
    )
    raw.set_annotations(None)  # recorder bookkeeping ("[Total time]"), no labels
    return raw


def load_eegmat(
    subjects=None,
    *,
    window: float = 4.0,
    max_windows: int | None = None,
    path=None,
    download: bool = True,
    verbose=None,
):
    """Fixed-length windows of EEGMAT, with labels and subject ids.

    Parameters
    ----------
    subjects : list of int | None
        Subjects to load (see :func:`eegmat_files`).
    window : float
        Window length in seconds (non-overlapping, from the recording start).
    max_windows : int | None
        Keep at most this many windows per recording (the first ones).
    path : str | Path | None
        Data folder (see :func:`eegmat_files`).
    download : bool
        Download missing files.
    verbose : bool | str | int | None
        MNE verbosity of the reading and epoching of every file; None means
        warnings only. A progress bar over the files is shown on a terminal
        unless ``verbose`` (MNE's level when None) is above info.

    Returns
    -------
    epochs : mne.EpochsArray
        All windows, 21 channels (19 EEG, ``EEG A2-A1`` as misc, ECG), 500 Hz,
        volts; ``epochs.metadata`` has ``subject`` and ``label``.
    y : ndarray of str
        ``"rest"`` or ``"arithmetic"``.
    groups : ndarray of int
        Subject of each window.

    Examples
    --------
    >>> epochs, y, groups = load_eegmat([0, 1], max_windows=5)  # doctest: +SKIP
    """
    data, labels, groups, info = [], [], [], None
    files = eegmat_files(subjects, path, download)
    for subject, condition, fname in progress(files, "EEGMAT", verbose):
        raw = read_eegmat_raw(fname, verbose=quiet(verbose))
        epochs = mne.make_fixed_length_epochs(
            raw, duration=window, preload=True, verbose=quiet(verbose)
        )
        values = epochs.get_data(copy=False)
        if max_windows is not None:
            values = values[:max_windows]
        info = epochs.info if info is None else info
        data.append(values)
        labels += [LABELS[condition]] * len(values)
        groups += [subject] * len(values)
    return labelled_epochs(data, info, labels, groups, quiet(verbose))
