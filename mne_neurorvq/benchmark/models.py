"""The models compared by the benchmark, each a scikit-learn estimator on Epochs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .features import LogBandPower

#: Every model the benchmark can run, in the order of the output table.
MODELS = (
    "neurorvq_finetune",
    "neurorvq_embedding_lr",
    "neurorvq_tokens_lr",
    "bandpower_lr",
    "eegnet",
    "eeginception_erp",
    "eeginception_mi",
    "shallowfbcspnet",
)

#: Models run by default under each protocol.
DEFAULT_MODELS = {
    "paper": (
        "neurorvq_finetune",
        "neurorvq_embedding_lr",
        "eegnet",
        "eeginception_erp",
    ),
    "groupkfold": (
        "neurorvq_finetune",
        "neurorvq_embedding_lr",
        "neurorvq_tokens_lr",
        "bandpower_lr",
        "eegnet",
        "shallowfbcspnet",
    ),
}

#: braindecode 1.8.1 class of each end-to-end baseline.
BASELINES = {
    "eegnet": "EEGNet",
    "eeginception_erp": "EEGInceptionERP",
    "eeginception_mi": "EEGInceptionMI",
    "shallowfbcspnet": "ShallowFBCSPNet",
}

#: Published checkpoint each NeuroRVQ model starts from.
NEURORVQ_WEIGHTS = {
    "neurorvq_finetune": "neurorvq-eeg-foundation-v1",
    "neurorvq_embedding_lr": "neurorvq-eeg-foundation-v1",
    "neurorvq_tokens_lr": "neurorvq-eeg-tokenizer-v1",
}

#: Fine-tuning recipe of the authors (``flags/NeuroRVQ_EEG_v1.yml``).
NEURORVQ_RECIPE = {"lr": 5e-4, "weight_decay": 1e-2, "layer_decay": 0.975}

#: Recipe of the baselines in Lee et al. (MLSP 2025): AdamW, cosine schedule.
BASELINE_RECIPE = {"lr": 1e-3, "weight_decay": 0.0}


@dataclass(frozen=True)
class BenchmarkSettings:
    """Training sizes of the models (defaults: the published recipes).

    Attributes
    ----------
    finetune_epochs : int
        Fine-tuning epochs of :class:`~mne_neurorvq.decoding.NeuroRVQClassifier`
        (authors: 20).
    warmup_epochs : int
        Its epochs of linear warm-up (authors: 4).
    batch_size : int
        Batch size of the NeuroRVQ models (authors: 32), also of the
        self-supervised stages trained in each fold without published weights.
    precision : ``"auto"`` | ``"float32"`` | ``"bf16"``
        Fine-tuning precision; ``"auto"`` uses bf16 where the device supports
        it, as the authors' recipe does.
    baseline_epochs : int
        Training epochs of the braindecode baselines (Lee et al.: 100).
    baseline_batch_size : int
        Their batch size (Lee et al.: 64).
    ssl_seconds : float
        Wall-time budget of each self-supervised stage in a fold (tokenizer,
        foundation model) when no published weights are used.
    ssl_epochs : int
        At most this many self-supervised epochs per stage.

    Examples
    --------
    >>> settings = BenchmarkSettings(finetune_epochs=2, baseline_epochs=2)
    >>> settings.warmup_epochs, settings.batch_size, settings.baseline_batch_size
    (4, 32, 64)
    """

    finetune_epochs: int = 20
    warmup_epochs: int = 4
    batch_size: int = 32
    precision: str = "auto"
    baseline_epochs: int = 100
    baseline_batch_size: int = 64
    ssl_seconds: float = 10.0
    ssl_epochs: int = 3


@dataclass(frozen=True)
class WeightsChoice:
    """Which NeuroRVQ weights a benchmark run uses.

    Attributes
    ----------
    mode : str
        What was asked: ``"auto"``, ``"download"``, ``"none"`` or a folder.
    files : dict
        Published name -> local file, when the published weights are used.
    missing : tuple of str
        Published names not on disk (only filled when downloads were not
        allowed, e.g. by a dry run).
    needed : tuple of str
        Published names the selected models start from.

    Examples
    --------
    >>> choice = resolve_weights("none", ["neurorvq_finetune"])
    >>> choice.published, choice.needed
    (False, ('neurorvq-eeg-foundation-v1',))
    """

    mode: str
    files: dict = field(default_factory=dict)
    missing: tuple = ()
    needed: tuple = ()

    @property
    def published(self) -> bool:
        """Whether the NeuroRVQ models start from the published weights."""
        return bool(self.needed) and set(self.files) == set(self.needed)

    def by_kind(self) -> dict | None:
        """``{"tokenizer": path, "foundation": path}`` for :func:`build_model`."""
        if not self.published:
            return None
        from ..weights import published_kind

        return {published_kind(name): path for name, path in self.files.items()}

    @property
    def note(self) -> str:
        """One line for the output: which weights and why."""
        if not self.needed:
            return "no NeuroRVQ model selected"
        if self.published:
            where = ", ".join(str(p) for p in self.files.values())
            return f"published NeuroRVQ weights (--weights {self.mode}): {where}"
        reason = {
            "none": "--weights none",
            "auto": "--weights auto and the published files are not on disk",
        }.get(self.mode, f"--weights {self.mode}: not fetched (dry run)")
        return (
            f"NeuroRVQ models trained inside each fold ({reason}): self-supervised, "
            "tiny configuration, labels unused"
        )

    def to_dict(self) -> dict:
        """JSON-ready description (``config.json``)."""
        return {
            "mode": self.mode,
            "source": "published" if self.published else "in-fold training",
            "files": {name: str(path) for name, path in self.files.items()},
            "missing": list(self.missing),
            "note": self.note,
        }


def resolve_weights(weights="auto", models=MODELS, download=True) -> WeightsChoice:
    """Find (or fetch) the published weights the selected models need.

    Parameters
    ----------
    weights : ``"auto"`` | ``"download"`` | ``"none"`` | path
        ``"auto"``: the published files if already on disk (see
        :func:`mne_neurorvq.weights.fetch_weights`), otherwise in-fold
        training; ``"download"``: fetch them if needed; ``"none"``: in-fold
        training; a folder: the published files in it (an error if absent).
    models : sequence of str
        Models of :data:`MODELS` (only the NeuroRVQ ones need weights).
    download : bool
        Allow downloads (False for a dry run: files not on disk are listed in
        ``missing`` instead).

    Returns
    -------
    WeightsChoice

    Examples
    --------
    >>> resolve_weights("none").note  # doctest: +ELLIPSIS
    'NeuroRVQ models trained inside each fold (--weights none): ...'
    >>> resolve_weights("auto").published  # doctest: +SKIP
    True
    """
    from ..weights import fetch_weights

    needed = tuple(
        sorted({NEURORVQ_WEIGHTS[m] for m in models if m in NEURORVQ_WEIGHTS})
    )
    mode = str(weights)
    if mode == "none" or not needed:
        return WeightsChoice(mode, needed=needed)
    folder = None
    if mode not in ("auto", "download"):
        folder = Path(mode).expanduser()
        if not folder.is_dir():
            raise ValueError(
                "weights must be 'auto', 'download', 'none' or a folder holding the "
                f"published files, got {mode!r} (not a folder)."
            )
    files, missing = {}, []
    for name in needed:
        try:
            files[name] = fetch_weights(name, path=folder, download=False)
        except FileNotFoundError:
            if mode == "download" and download:
                files[name] = fetch_weights(name)
            elif mode == "auto" or not download:
                missing.append(name)
            else:
                raise
    if mode == "auto" and missing:
        files = {}
    return WeightsChoice(mode, files, tuple(missing), needed)


def build_model(name, weights, settings: BenchmarkSettings, seed: int, sfreq: float):
    """One fresh, unfitted estimator.

    Parameters
    ----------
    name : str
        One of :data:`MODELS`.
    weights : dict | None
        Published weight files by kind (``WeightsChoice.by_kind``); None
        trains the NeuroRVQ models inside each fold, self-supervised, with
        tiny configurations (labels unused, so no leakage).
    settings : BenchmarkSettings
        Training sizes.
    seed : int
        Random seed.
    sfreq : float
        Sampling rate of the epochs (band power, EEGInception).

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
    if name.startswith("neurorvq_"):
        return _neurorvq_model(name, weights, settings, seed)
    if name == "bandpower_lr":
        return make_pipeline(
            LogBandPower(sfreq=sfreq),
            StandardScaler(),
            LogisticRegression(max_iter=2000),
        )
    if name in BASELINES:
        return _braindecode_model(name, settings, sfreq)
    raise ValueError(f"Unknown model {name!r}; models are {list(MODELS)}")


def _neurorvq_model(name, weights, settings, seed):
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
            batch_size=settings.batch_size,
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
            max_epochs=settings.finetune_epochs,
            warmup_epochs=settings.warmup_epochs,
            batch_size=settings.batch_size,
            precision=settings.precision,
            verbose=0,
            **NEURORVQ_RECIPE,
            **common,
        )
    raise ValueError(f"Unknown model {name!r}; models are {list(MODELS)}")


def _braindecode_model(name, settings, sfreq):
    """A braindecode baseline with the recipe of Lee et al. (MLSP 2025).

    AdamW (learning rate 1e-3, no weight decay), cosine annealing per epoch
    down to 0 at the last epoch, the model of the last epoch kept. Unlike that
    benchmark's braindecode default, the last incomplete batch is kept (so
    that small training sets train at all).
    """
    import torch
    from skorch.callbacks import LRScheduler

    from .._braindecode import import_braindecode

    EEGClassifier = import_braindecode().EEGClassifier
    epochs = settings.baseline_epochs
    module_kwargs = {}
    if name.startswith("eeginception"):  # kernel sizes are set in seconds
        module_kwargs["module__sfreq"] = sfreq
    return EEGClassifier(
        BASELINES[name],
        optimizer=torch.optim.AdamW,
        lr=BASELINE_RECIPE["lr"],
        optimizer__weight_decay=BASELINE_RECIPE["weight_decay"],
        max_epochs=epochs,
        batch_size=settings.baseline_batch_size,
        callbacks=[
            ("lr_scheduler", LRScheduler("CosineAnnealingLR", T_max=max(1, epochs - 1)))
        ],
        train_split=None,
        iterator_train__drop_last=False,
        verbose=0,
        device="cuda" if torch.cuda.is_available() else "cpu",
        **module_kwargs,
    )
