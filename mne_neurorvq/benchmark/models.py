"""The models compared by the benchmark, each a scikit-learn estimator on Epochs."""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .features import LogBandPower

#: Models in the order of the output table.
MODELS = (
    "neurorvq_embedding_lr",
    "neurorvq_finetune",
    "neurorvq_tokens_lr",
    "bandpower_lr",
    "eegnet",
    "shallowfbcspnet",
)


@dataclass(frozen=True)
class BenchmarkSettings:
    """Sizes of the models and of their training (CPU-sized defaults).

    Attributes
    ----------
    epochs : int
        Training epochs of the fine-tuned and end-to-end networks.
    ssl_seconds : float
        Wall-time budget of each self-supervised stage in a fold (tokenizer,
        foundation model) when no published weights are available.
    ssl_epochs : int
        At most this many self-supervised epochs per stage.
    batch_size : int
        Batch size of every network.

    Examples
    --------
    >>> settings = BenchmarkSettings(epochs=20)
    >>> settings.epochs, settings.batch_size
    (20, 32)
    """

    epochs: int = 2
    ssl_seconds: float = 10.0
    ssl_epochs: int = 3
    batch_size: int = 32


def published_weights():
    """Local files of the published weights, or None when they are absent."""
    from ..weights import fetch_weights

    try:
        return {
            "tokenizer": fetch_weights("neurorvq-eeg-tokenizer-v1", download=False),
            "foundation": fetch_weights("neurorvq-eeg-foundation-v1", download=False),
        }
    except FileNotFoundError:
        return None


def build_model(name, weights, settings: BenchmarkSettings, seed: int, sfreq: float):
    """One fresh, unfitted estimator.

    Parameters
    ----------
    name : str
        One of :data:`MODELS`.
    weights : dict | None
        Published weight files (``published_weights()``); None trains the
        NeuroRVQ models inside each fold, self-supervised, with tiny
        configurations (labels unused, so no leakage).
    settings : BenchmarkSettings
        Training sizes.
    seed : int
        Random seed.
    sfreq : float
        Sampling rate of the epochs (for the band-power baseline).

    Returns
    -------
    estimator : sklearn estimator

    Examples
    --------
    >>> settings = BenchmarkSettings()
    >>> model = build_model("bandpower_lr", None, settings, seed=0, sfreq=500.0)
    >>> type(model).__name__
    'Pipeline'
    """
    from ..nn import FoundationConfig, TokenizerConfig

    ssl = {
        "epochs": settings.ssl_epochs,
        "time_limit": settings.ssl_seconds,
        "batch_size": settings.batch_size,
    }
    tok_config = TokenizerConfig.tiny() if weights is None else None
    fm_config = FoundationConfig.tiny() if weights is None else None
    common = dict(device="auto", random_state=seed)
    if name == "neurorvq_embedding_lr":
        from ..decoding import NeuroRVQEmbedder

        embedder = NeuroRVQEmbedder(
            weights=None if weights is None else weights["foundation"],
            config=fm_config,
            tokenizer_config=tok_config,
            train_params=ssl,
            verbose=False,
            **common,
        )
        return make_pipeline(
            embedder, StandardScaler(), LogisticRegression(max_iter=2000)
        )
    if name == "neurorvq_tokens_lr":
        from ..decoding import NeuroRVQTokenizer, TokenHistogram

        tokenizer = NeuroRVQTokenizer(
            weights=None if weights is None else weights["tokenizer"],
            config=tok_config,
            train_params=ssl,
            verbose=False,
            **common,
        )
        config = TokenizerConfig.tiny() if weights is None else TokenizerConfig()
        histogram = TokenHistogram(config.n_code, config.n_scales, config.n_levels)
        return make_pipeline(
            tokenizer, histogram, StandardScaler(), LogisticRegression(max_iter=2000)
        )
    if name == "neurorvq_finetune":
        from ..decoding import NeuroRVQClassifier

        return NeuroRVQClassifier(
            weights=None if weights is None else weights["foundation"],
            config=fm_config,
            max_epochs=settings.epochs,
            warmup_epochs=min(4, max(1, settings.epochs // 4)),
            batch_size=settings.batch_size,
            precision="float32",
            verbose=0,
            **common,
        )
    if name == "bandpower_lr":
        return make_pipeline(
            LogBandPower(sfreq=sfreq),
            StandardScaler(),
            LogisticRegression(max_iter=2000),
        )
    if name in ("eegnet", "shallowfbcspnet"):
        return _braindecode_model(name, settings, seed)
    raise ValueError(f"Unknown model {name!r}; models are {list(MODELS)}")


def _braindecode_model(name, settings, seed):
    import torch

    from .._braindecode import import_braindecode

    EEGClassifier = import_braindecode().EEGClassifier
    module = {"eegnet": "EEGNet", "shallowfbcspnet": "ShallowFBCSPNet"}[name]
    return EEGClassifier(
        module,
        optimizer=torch.optim.AdamW,
        lr=1e-3,
        max_epochs=settings.epochs,
        batch_size=settings.batch_size,
        train_split=None,
        iterator_train__drop_last=False,
        verbose=0,
        device="cuda" if torch.cuda.is_available() else "cpu",
    )
