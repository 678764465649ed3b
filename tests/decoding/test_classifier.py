import pickle
import warnings

import mne
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score

pytest.importorskip("braindecode")

from mne_neurorvq.decoding.classifier import (  # noqa: E402
    NeuroRVQClassifier,
    class_weights,
    layer_decay_scales,
    schedule_factor,
)
from mne_neurorvq.nn import FoundationConfig, NeuroRVQFoundation  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:Montage name 'standard_1020' is deprecated:FutureWarning"
)


def _eegmat_epochs(data_path, subjects, n_per_class=4, seconds=4.0):
    epochs, labels, groups = [], [], []
    for subject in subjects:
        for suffix, label in (("1", "rest"), ("2", "arithmetic")):
            path = data_path / "eegmat" / f"Subject{subject:02d}_{suffix}.edf"
            raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
            raw.set_channel_types(
                {"ECG ECG": "ecg", "EEG A2-A1": "misc"}, on_unit_change="ignore"
            )
            raw.crop(0, n_per_class * seconds + 1)
            ep = mne.make_fixed_length_epochs(
                raw, seconds, preload=True, verbose="error"
            )
            epochs.append(ep[:n_per_class])
            labels += [label] * n_per_class
            groups += [subject] * n_per_class
    data = np.concatenate([e.get_data() for e in epochs])
    all_epochs = mne.EpochsArray(data, epochs[0].info, verbose="error")
    return all_epochs, np.array(labels), np.array(groups)


@pytest.fixture(scope="module")
def eegmat(data_path):
    return _eegmat_epochs(data_path, subjects=range(4))


@pytest.fixture(scope="module")
def eegbci_epochs(data_path):
    from mne.datasets import eegbci

    (path,) = eegbci.load_data(
        subjects=1, runs=[4], path=str(data_path), update_path=False
    )
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    events, event_id = mne.events_from_annotations(raw, verbose="error")
    epochs = mne.Epochs(
        raw,
        events,
        event_id,
        0,
        2.0 - 1 / 160,
        baseline=None,
        preload=True,
        verbose="error",
    )
    return epochs[:12], epochs.events[:12, 2]


def _tiny(**kwargs):
    params = dict(
        weights=None,
        config=FoundationConfig.tiny(),
        max_epochs=2,
        batch_size=8,
        random_state=0,
        verbose=0,
        precision="float32",
    )
    params.update(kwargs)
    return NeuroRVQClassifier(**params)


def test_recipe_helpers():
    np.testing.assert_allclose(
        class_weights(np.array([0, 0, 0, 1, 2, 2]), 3),
        np.array([1 / 3, 1, 1 / 2]) * 3 / (1 / 3 + 1 + 1 / 2),
    )
    assert schedule_factor(0, 10, 20, 4) == pytest.approx(0.1)
    assert schedule_factor(40, 10, 20, 4) == pytest.approx(1.0)
    assert schedule_factor(200, 10, 20, 4) == pytest.approx(0.1)
    assert schedule_factor(120, 10, 20, 4) == pytest.approx(0.55)
    assert schedule_factor(15, 10, 3, 4) == pytest.approx(0.55)  # warm-up only
    scales = layer_decay_scales(NeuroRVQFoundation(n_outputs=2), 0.975)
    names = list(scales)
    # 267 tensors here + the reference's 8 unused fc_norm_s tensors = 275
    assert scales[names[0]] == pytest.approx(0.975**275)
    assert scales["blocks.11.mlp.fc2.bias"] == pytest.approx(0.975**13)
    assert scales["head.weight"] == scales["fc_norm.bias"] == 1.0


def test_fit_predict_on_real_eeg_with_string_labels(eegmat):
    epochs, y, _ = eegmat
    clf = _tiny().fit(epochs, y)
    assert list(clf.classes_) == ["arithmetic", "rest"]
    proba = clf.predict_proba(epochs)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert set(clf.predict(epochs)) <= set(y)
    assert clf.decision_function(epochs).shape == (len(y),)
    assert clf.ch_names_[:3] == ["EEG Fp1", "EEG Fp2", "EEG F3"]
    assert len(clf.ch_names_) == 19 and clf.module_.n_chans == 19
    assert clf.get_params()["device"] == "auto"  # not overwritten by fit


def test_cross_val_score_subject_independent(eegmat):
    epochs, y, groups = eegmat
    scores = cross_val_score(
        _tiny(), epochs, y, groups=groups, cv=GroupKFold(2), scoring="balanced_accuracy"
    )
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


def test_refit_on_another_montage(eegmat, eegbci_epochs):
    """braindecode's set_params-in-fit trap: channels must be re-inferred."""
    epochs, y, _ = eegmat
    fitted = _tiny(max_epochs=1).fit(epochs, y)
    assert fitted.module_.n_chans == 19
    other, other_y = eegbci_epochs
    for estimator in (clone(fitted), fitted):  # a clone, and the fitted object
        estimator.fit(other, other_y)
        assert estimator.module_.n_chans == 64
        assert estimator.ch_names_[0] == "Fc5."
        assert len(estimator.classes_) == 3  # T0/T1/T2: cross-entropy path
        assert estimator.predict_proba(other).shape == (12, 3)
        assert not any(k.startswith("module__") for k in estimator.get_params())


def test_same_seed_same_model(eegmat):
    epochs, y, _ = eegmat
    a = _tiny().fit(epochs, y).predict_proba(epochs)
    b = _tiny().fit(epochs, y).predict_proba(epochs)
    np.testing.assert_array_equal(a, b)


def test_freeze_encoder_trains_only_the_head(eegmat):
    epochs, y, _ = eegmat
    clf = _tiny(freeze_encoder=True)
    clf.fit(epochs, y)
    reference = NeuroRVQFoundation(config=FoundationConfig.tiny(), n_outputs=1)
    reference.init_weights(torch.Generator().manual_seed(0))
    assert torch.equal(
        clf.module_.blocks[0].attn.qkv.weight, reference.blocks[0].attn.qkv.weight
    )
    trainable = [n for n, p in clf.module_.named_parameters() if p.requires_grad]
    assert sorted(trainable) == [
        "fc_norm.bias",
        "fc_norm.weight",
        "head.bias",
        "head.weight",
    ]


def test_published_layout_weights_are_fine_tuned(eegmat, parity_path):
    epochs, y, _ = eegmat
    clf = _tiny(
        weights=parity_path / "foundation_model_state_dict.pt",
        config=None,
        max_epochs=1,
    )
    clf.fit(epochs[:8], y[:8])
    assert clf.module_.config.depth == 2  # inferred from the file


def test_pickle_round_trip_and_gpu_fitted_on_cpu(eegmat):
    epochs, y, _ = eegmat
    clf = _tiny(max_epochs=1).fit(epochs, y)
    expected = clf.predict_proba(epochs)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(epochs), expected)
    # a classifier fitted on CUDA restores on a CPU-only machine
    clf.device_ = torch.device("cuda", 0)
    blob = pickle.dumps(clf)
    if not torch.cuda.is_available():
        with pytest.warns(RuntimeWarning, match="restored on the CPU"):
            restored = pickle.loads(blob)
        assert restored.device_ == torch.device("cpu")
        np.testing.assert_array_equal(restored.predict_proba(epochs), expected)


def test_grid_search_over_a_parameter(eegmat):
    epochs, y, groups = eegmat
    search = GridSearchCV(
        _tiny(max_epochs=1),
        {"lr": [1e-4, 1e-3]},
        cv=GroupKFold(2),
        scoring="balanced_accuracy",
    )
    search.fit(epochs, y, groups=groups)
    assert search.best_params_["lr"] in (1e-4, 1e-3)


def test_bad_input_is_explained(eegmat):
    epochs, y, _ = eegmat
    with pytest.raises(ValueError, match="at least 2 classes"):
        _tiny().fit(epochs, np.zeros(len(y)))
    with pytest.raises(ValueError, match="precision"):
        _tiny(precision="fp8").fit(epochs, y)
    fitted = _tiny(max_epochs=1).fit(epochs, y)
    with pytest.raises(ValueError, match="expecting 21 features"):
        fitted.predict(epochs.copy().drop_channels(["EEG Cz"]))
    with pytest.raises(ValueError, match="other channels"):
        fitted.predict(epochs.copy().rename_channels({"EEG Cz": "Cz"}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fitted.predict(epochs[:2]).shape == (2,)
