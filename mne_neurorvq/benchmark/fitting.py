"""Fit one model of the benchmark on store entries and score it: the work of a unit.

Three kinds of model, each reading the store its own way:

- frozen features + logistic regression (``bandpower_lr``; with published
  weights ``neurorvq_embedding_lr`` and ``neurorvq_tokens_lr``): each subject's
  features are computed once per model and weights, cached in the subject's
  store entry, and only the scaler and the linear model are fitted per fold;
- networks (``neurorvq_finetune``, the braindecode baselines): trained from a
  :class:`~mne_neurorvq.benchmark.streaming.TrialDataset` that reads batches
  from the memory-mapped trials (DataLoader workers and pinned memory on a
  GPU);
- NeuroRVQ feature models without published weights (``--weights none``):
  their self-supervised stage is trained inside the fold on the training
  trials, read into memory (a small-scale mode: the paper's runs use the
  published weights).
"""

from __future__ import annotations

import hashlib
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .features import LogBandPower
from .models import BASELINES, BenchmarkSettings, build_model
from .protocol import SFREQ
from .streaming import TrialDataset

#: Models scored on cached per-subject features when their weights are fixed.
FEATURE_MODELS = ("bandpower_lr", "neurorvq_embedding_lr", "neurorvq_tokens_lr")
#: Trials per chunk when features are computed.
_CHUNK = 256


def _weights_key(path) -> str:
    """Short key of a weight file (name, size, modification time)."""
    stat = Path(path).stat()
    text = f"{Path(path).name}:{stat.st_size}:{int(stat.st_mtime)}"
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _feature_extractor(name, weights, settings: BenchmarkSettings, ch_names):
    """``(cache key, function of a float32 volts chunk -> features)``."""
    if name == "bandpower_lr":
        bands = LogBandPower(sfreq=SFREQ)
        return "bandpower", bands.transform
    common = dict(ch_names=ch_names, sfreq=SFREQ, units="V", verbose=False)
    if name == "neurorvq_embedding_lr":
        from ..decoding import NeuroRVQEmbedder

        path = weights["foundation"]
        model = NeuroRVQEmbedder(weights=path, batch_size=settings.batch_size, **common)
        key = f"embedding-{_weights_key(path)}"
        return key, _lazy_fit(model)
    if name == "neurorvq_tokens_lr":
        from ..decoding import NeuroRVQTokenizer, TokenHistogram

        path = weights["tokenizer"]
        tokenizer = NeuroRVQTokenizer(weights=path, **common)
        tokens = _lazy_fit(tokenizer)

        def histogram(chunk):
            codes = tokens(chunk)
            config = tokenizer.model_.config  # the loaded checkpoint's
            counts = TokenHistogram(config.n_code, config.n_scales, config.n_levels)
            return counts.fit_transform(codes)

        return f"tokens-{_weights_key(path)}", histogram
    raise ValueError(f"{name!r} is not a frozen-feature model")


def _lazy_fit(transformer):
    """Fit (load the weights, match the channels) on the first chunk seen."""
    fitted = []

    def transform(chunk):
        if not fitted:
            transformer.fit(chunk[:1])
            fitted.append(True)
        return transformer.transform(chunk)

    return transform


def subject_features(entries, name, weights, settings) -> list[np.ndarray]:
    """Each entry's features of a frozen model, computed once and cached.

    The model is loaded only when an entry has no cached features yet.
    """
    ch_names = entries[0].manifest["ch_names"]
    key, extract = _feature_extractor(name, weights, settings, ch_names)
    features = []
    for entry in entries:
        cached = entry.features(key)
        if cached is None:
            chunks = TrialDataset([entry]).chunks(_CHUNK)
            cached = np.concatenate([extract(chunk) for chunk in chunks])
            entry.save_features(key, cached)
        features.append(cached)
    return features


def _linear_model():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _loader_options():
    """DataLoader workers and pinned memory when training on a GPU."""
    if _device() != "cuda":
        return {}
    return dict(
        iterator_train__num_workers=4,
        iterator_train__pin_memory=True,
        iterator_train__persistent_workers=True,
        iterator_valid__num_workers=2,
        iterator_valid__pin_memory=True,
    )


def _fit_baseline(name, train, test, settings, n_classes):
    model = build_model(name, None, settings, 0, SFREQ)
    model.set_params(
        classes=list(range(n_classes)),
        module__n_outputs=n_classes,
        module__n_chans=train.shape[1],
        module__n_times=train.shape[2],
        **_loader_options(),
    )
    model.fit(train, y=train.labels)  # the labels only tell the classes
    return np.asarray(model.predict(test))


def _fit_finetune(weights, train, test, settings, seed):
    from ._finetune import StoreClassifier

    base = build_model("neurorvq_finetune", weights, settings, seed, SFREQ)
    model = StoreClassifier(**base.get_params(), **_loader_options())
    model.fit(train, train.labels)
    # the test trials are prepared as the training trials were (_prepare_X)
    return np.asarray(model.predict(test))


def _fit_in_memory(name, train, test, settings, seed):
    """``--weights none``: the self-supervised stage is trained in the fold."""
    model = build_model(name, None, settings, seed, SFREQ)
    for _, step in model.steps:
        if "ch_names" in step.get_params(deep=False):
            step.set_params(ch_names=train.ch_names, sfreq=SFREQ, units="V")
    model.fit(train.to_array(), train.labels)
    return np.concatenate([model.predict(chunk) for chunk in test.chunks(_CHUNK)])


def fit_and_score(
    name,
    train_entries,
    test_entries,
    *,
    weights=None,
    settings: BenchmarkSettings | None = None,
    seed=0,
) -> dict:
    """Fit model ``name`` on the training entries, score it on the test entries.

    Parameters
    ----------
    name : str
        One of :data:`~mne_neurorvq.benchmark.MODELS`.
    train_entries, test_entries : list of StoreEntry
        Training and validation subjects.
    weights : dict | None
        Published weight files by kind (``WeightsChoice.by_kind``); None:
        NeuroRVQ models trained inside the fold.
    settings : BenchmarkSettings | None
        Training sizes.
    seed : int
        Random seed.

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy``, ``fit_seconds``, ``n_train``,
        ``n_test``.
    """
    settings = BenchmarkSettings() if settings is None else settings
    train, test = TrialDataset(train_entries), TrialDataset(test_entries)
    n_classes = len(train_entries[0].manifest["classes"])
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "bandpower_lr" or (name in FEATURE_MODELS and weights is not None):
            train_x = subject_features(train_entries, name, weights, settings)
            test_x = subject_features(test_entries, name, weights, settings)
            model = _linear_model().fit(np.concatenate(train_x), train.labels)
            predictions = model.predict(np.concatenate(test_x))
        elif name in BASELINES:
            train.scale = test.scale = 1e6  # braindecode reads microvolts
            predictions = _fit_baseline(name, train, test, settings, n_classes)
        elif name == "neurorvq_finetune":
            predictions = _fit_finetune(weights, train, test, settings, seed)
        else:
            predictions = _fit_in_memory(name, train, test, settings, seed)
    predictions = np.asarray(predictions).astype(int)
    return dict(
        accuracy=float(accuracy_score(test.labels, predictions)),
        balanced_accuracy=float(balanced_accuracy_score(test.labels, predictions)),
        fit_seconds=time.perf_counter() - t0,
        n_train=len(train),
        n_test=len(test),
    )
