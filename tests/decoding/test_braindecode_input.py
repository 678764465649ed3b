"""braindecode datasets through the input contract (issue 20's acceptance).

eegmmidb S001 run 4, T1/T2 trials of 4 s at 160 Hz, windowed with
braindecode's own ``create_from_mne_epochs`` and ``create_windows_from_events``
(no mock of braindecode): every estimator gives on the dataset what it gives
on the equivalent ``mne.Epochs``.
"""

from __future__ import annotations

import warnings

import mne
import numpy as np
import pytest
import torch

from mne_neurorvq._braindecode import import_braindecode
from mne_neurorvq.decoding import NeuroRVQEmbedder, NeuroRVQTokenizer
from mne_neurorvq.nn import FoundationConfig

pytestmark = pytest.mark.filterwarnings(
    "ignore:Montage name 'standard_1020' is deprecated:FutureWarning"
)

N_TIMES = 640  # 4 s at 160 Hz
EVENT_ID = {"T1": 2, "T2": 3}


@pytest.fixture(scope="module")
def braindecode():
    with warnings.catch_warnings():  # braindecode's import-time warnings
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        pytest.importorskip("braindecode")
        import_braindecode()
        from braindecode import datasets, preprocessing

    return datasets, preprocessing


@pytest.fixture(scope="module")
def raw(data_path):
    (path,) = mne.datasets.eegbci.load_data(
        subjects=1, runs=[4], path=str(data_path), update_path=False, verbose=False
    )
    return mne.io.read_raw_edf(path, preload=True, verbose="error")


@pytest.fixture(scope="module")
def epochs(raw):
    events, _ = mne.events_from_annotations(raw, event_id=EVENT_ID, verbose="error")
    return mne.Epochs(
        raw,
        events,
        EVENT_ID,
        tmin=0.0,
        tmax=(N_TIMES - 1) / raw.info["sfreq"],
        baseline=None,
        preload=True,
        verbose="error",
    )


def _create_from_mne_epochs(datasets, epochs, size, drop_last_window=False):
    """braindecode's function, without its own warning about lazy Epochs."""
    with warnings.catch_warnings(), mne.use_log_level("error"):
        warnings.filterwarnings("ignore", message="The provided mne.Epochs object")
        return datasets.create_from_mne_epochs(
            [epochs], size, size, drop_last_window=drop_last_window
        )


@pytest.fixture(scope="module")
def from_epochs(braindecode, epochs):
    datasets, _ = braindecode
    return _create_from_mne_epochs(datasets, epochs, N_TIMES)


@pytest.fixture(scope="module")
def from_events(braindecode, raw):
    datasets, preprocessing = braindecode
    concat = datasets.BaseConcatDataset(
        [datasets.RawDataset(raw.copy(), description={"subject": 1, "run": 4})]
    )
    return preprocessing.create_windows_from_events(
        concat,
        trial_start_offset_samples=0,
        trial_stop_offset_samples=0,
        window_size_samples=N_TIMES,
        window_stride_samples=N_TIMES,
        on_last_window="drop",
        mapping={"T1": 0, "T2": 1},
        preload=True,
    )


def _embedder(parity_path, **kwargs):
    weights = str(parity_path / "foundation_model_state_dict.pt")
    return NeuroRVQEmbedder(weights, device="cpu", verbose=False, **kwargs)


@pytest.mark.slow
def test_embedder_on_create_from_mne_epochs(from_epochs, epochs, parity_path):
    assert len(from_epochs) == len(epochs) == 15
    expected = _embedder(parity_path).fit_transform(epochs)
    embedder = _embedder(parity_path)
    got = embedder.fit_transform(from_epochs)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    assert embedder.ch_names_ == epochs.ch_names and embedder.sfreq_ == 160.0
    assert embedder.preprocessing_.operations[0].startswith(
        "read the WindowsDataset in uV"
    )
    # transform of a dataset by an estimator fitted on the Epochs
    fitted = _embedder(parity_path).fit(epochs[:1])
    np.testing.assert_allclose(fitted.transform(from_epochs), expected, atol=1e-4)


def test_tokenizer_on_create_windows_from_events(from_events, epochs, parity_path):
    tokenizer = NeuroRVQTokenizer(
        str(parity_path / "tokenizer_state_dict.pt"), device="cpu", verbose=False
    )
    assert len(from_events) == len(epochs)
    assert type(from_events.datasets[0]).__name__ == "EEGWindowsDataset"
    first = torch.utils.data.Subset(from_events, range(5))
    expected = tokenizer.fit_transform(epochs[:5])
    got = tokenizer.fit_transform(first)
    assert got.shape == expected.shape
    assert (got == expected).mean() > 0.999  # float32 reading: near ties only


def test_transform_and_subset_are_read_through_getitem(
    from_events, epochs, parity_path
):
    # a torch Subset of a braindecode dataset selects its windows, in order
    subset = torch.utils.data.Subset(from_events, [3, 0, 7])
    expected = _embedder(parity_path, pooling="scale").fit_transform(epochs[[3, 0, 7]])
    plain = _embedder(parity_path, pooling="scale").fit_transform(subset)
    np.testing.assert_allclose(plain, expected, atol=1e-4)
    # a transform is applied as braindecode applies it, in __getitem__
    for dataset in from_events.datasets:
        dataset.transform = lambda x: np.ascontiguousarray(x[:, ::-1])
    try:
        reversed_ = _embedder(parity_path, pooling="scale").fit_transform(subset)
    finally:
        for dataset in from_events.datasets:
            dataset.transform = None
    array = epochs[[3, 0, 7]].get_data()[..., ::-1]
    expected = _embedder(
        parity_path, pooling="scale", ch_names=epochs.ch_names, sfreq=160.0
    ).fit_transform(array)
    np.testing.assert_allclose(reversed_, expected, atol=1e-4)
    assert not np.allclose(reversed_, plain, atol=1e-3)


def test_other_datasets_are_refused(braindecode, raw, parity_path):
    datasets, _ = braindecode
    tensors = torch.utils.data.TensorDataset(torch.zeros(4, 64, N_TIMES))
    with pytest.raises(TypeError, match="torch Dataset without channel names.*"):
        _embedder(parity_path).fit(tensors)
    continuous = datasets.BaseConcatDataset([datasets.RawDataset(raw)])
    with pytest.raises(TypeError, match="continuous data, not of windows"):
        _embedder(parity_path).fit(continuous)


def test_windows_of_several_lengths_are_refused(braindecode, epochs, parity_path):
    datasets, _ = braindecode
    short = _create_from_mne_epochs(datasets, epochs[:2], 400)
    full = _create_from_mne_epochs(datasets, epochs[:1], N_TIMES)
    mixed = datasets.BaseConcatDataset([*short.datasets, *full.datasets])
    with pytest.raises(ValueError, match="windows of one length"):
        _embedder(parity_path).fit(mixed)


# ------------------------------------------------------------------ classifier


@pytest.fixture(scope="module")
def fitted_classifier(braindecode, epochs):
    from mne_neurorvq.decoding import NeuroRVQClassifier

    labels = np.where(epochs.events[:, 2] == EVENT_ID["T1"], "left", "right")
    clf = NeuroRVQClassifier(
        weights=None,
        config=FoundationConfig.tiny(),
        max_epochs=2,
        batch_size=8,
        random_state=0,
        verbose=0,
    )
    return clf.fit(epochs, labels)


@pytest.mark.slow
def test_classifier_predicts_the_same_on_the_dataset(
    fitted_classifier, from_epochs, from_events, epochs
):
    clf = fitted_classifier
    assert list(clf.classes_) == ["left", "right"]
    expected = clf.predict(epochs)
    for ds in (from_epochs, from_events):
        np.testing.assert_array_equal(clf.predict(ds), expected)
        np.testing.assert_allclose(
            clf.predict_proba(ds), clf.predict_proba(epochs), atol=1e-4, rtol=0
        )
        np.testing.assert_allclose(
            clf.decision_function(ds), clf.decision_function(epochs), atol=1e-4
        )
    with pytest.raises(TypeError, match="Epochs, a list of mne.Epochs, a braindecode"):
        clf.predict(torch.utils.data.TensorDataset(torch.zeros(2, 64, N_TIMES)))


@pytest.mark.slow
def test_classifier_fits_on_the_datasets_targets(braindecode, from_epochs, epochs):
    from skorch.dataset import ValidSplit

    from mne_neurorvq.decoding import NeuroRVQClassifier

    clf = NeuroRVQClassifier(
        weights=None,
        config=FoundationConfig.tiny(),
        max_epochs=1,
        batch_size=8,
        random_state=0,
        verbose=0,
        train_split=ValidSplit(3, stratified=True),  # skorch's own scoring path
    )
    clf.fit(from_epochs, None)
    np.testing.assert_array_equal(clf.classes_, [2, 3])  # the event codes
    assert set(clf.predict(from_epochs)) <= {2, 3}
    assert 0 <= clf.history[-1, "valid_acc"] <= 1
    with pytest.raises(ValueError, match="y has 3 labels but X has 15 epochs"):
        clf.fit(from_epochs, [0, 1, 0])


# ------------------------------------------------------ scikit-learn's indexing


@pytest.mark.slow
def test_cross_validation_through_slice_dataset(
    braindecode, from_epochs, epochs, parity_path
):
    """braindecode's idiom: X = SliceDataset(ds, idx=0), y the targets."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from skorch.helper import SliceDataset

    labels = epochs.events[:, 2]
    pipe = make_pipeline(
        _embedder(parity_path, pooling="scale"), LogisticRegression(max_iter=1000)
    )
    cv = KFold(3)
    expected = cross_val_score(pipe, epochs, labels, cv=cv, error_score="raise")
    sliced = SliceDataset(from_epochs, idx=0)
    got = cross_val_score(pipe, sliced, labels, cv=cv, error_score="raise")
    np.testing.assert_allclose(got, expected, atol=1e-12)
    # what scikit-learn hands the estimator: a smaller SliceDataset, in order
    part = sliced[np.array([3, 0, 7])]
    np.testing.assert_allclose(
        _embedder(parity_path, pooling="scale").fit_transform(part),
        _embedder(parity_path, pooling="scale").fit_transform(epochs[[3, 0, 7]]),
        atol=1e-4,
        rtol=0,
    )
    # the dataset itself, indexed by scikit-learn into tuples: a clear error
    with pytest.raises(TypeError, match=r"\(x, y, window\) tuples.*SliceDataset"):
        cross_val_score(pipe, from_epochs, labels, cv=cv, error_score="raise")
    with pytest.raises(TypeError, match="idx=1"):
        _embedder(parity_path).fit(SliceDataset(from_epochs, idx=1))

    class Flipped(SliceDataset):
        def transform(self, data):
            return data[:, ::-1]

    with pytest.raises(TypeError, match="Flipped with its own transform"):
        _embedder(parity_path).fit(Flipped(from_epochs))


@pytest.mark.slow
def test_classifier_reads_a_slice_dataset(fitted_classifier, from_events, epochs):
    from skorch.helper import SliceDataset

    part = SliceDataset(from_events, idx=0)[np.array([1, 4, 2])]
    np.testing.assert_array_equal(
        fitted_classifier.predict(part), fitted_classifier.predict(epochs[[1, 4, 2]])
    )
