"""Scikit-learn transformer for NeuroRVQ foundation-model embeddings."""

from __future__ import annotations

import numpy as np
import torch
from mne.utils import _check_option, _validate_type
from sklearn.utils.validation import check_is_fitted

from ..channels import CHANNEL_VOCABULARY
from ..nn.checkpoints import CheckpointError, load_foundation
from ..nn.config import FoundationConfig, TokenizerConfig
from ..nn.foundation import NeuroRVQFoundation
from ._base import (
    _describe_weights,
    _log_level,
    _NeuroRVQTransformer,
    _weighted_mean,
)
from ._docs import fill_doc
from ._training import train_foundation, train_tokenizer

__all__ = ["NeuroRVQEmbedder"]

_POOLINGS = ("mean", "scale", "channel")


@fill_doc
class NeuroRVQEmbedder(_NeuroRVQTransformer):
    """Embed EEG epochs with the NeuroRVQ foundation model.

    The foundation model encodes every 1 s patch of every channel at S = 4
    temporal scales into D = 200-wide token features. ``pooling`` decides how
    they become one fixed-size vector per epoch. Epochs longer than the
    model's 256 tokens (channels x seconds) are split into balanced windows
    (:func:`mne_neurorvq.preprocessing.plan_windows`), embedded separately and
    averaged, each window weighted by its number of patches. The embedder is
    deterministic and its output for an epoch does not depend on the other
    epochs of the batch; :meth:`fit` only loads the weights and records the
    channels and the preprocessing.

    Parameters
    ----------
    %(weights)s
        Default: the published EEG foundation model.
    pooling : ``"mean"`` | ``"scale"`` | ``"channel"``
        How token features become the output (S * D = 800 for the published
        model):

        - ``"mean"``: the published embedding, shape ``(n_epochs, S * D)``:
          the mean over tokens of the concatenated scales, through the
          model's final LayerNorm (``fc_norm``, weight 1 and bias 0 in the
          published weights, i.e. a standardisation over the 800 values);
        - ``"scale"``: the same means before the LayerNorm, shape
          ``(n_epochs, S * D)``: the raw mean feature of each scale,
          scale-major (columns ``s * D + d``), so scales can be compared or
          selected;
        - ``"channel"``: one published-style embedding per channel, shape
          ``(n_epochs, n_channels * S * D)``: each channel's tokens are
          averaged over time, concatenated over scales and passed through
          ``fc_norm`` (channel-major columns, ``n_channels`` = the used
          channels, ``ch_names_``).
    config : FoundationConfig | None
        Foundation configuration when ``weights`` is None (default: the
        ``"small"`` preset of :func:`mne_neurorvq.training.foundation_preset`
        for the trained tokenizer).
    tokenizer_config : TokenizerConfig | None
        Configuration of the tokenizer trained first when ``weights`` is None
        (default: the ``"small"`` preset).
    %(train_params)s
        The same settings train the tokenizer and then the foundation model.
    %(random_state)s
    %(ch_names)s
    %(sfreq)s
    %(units)s
    %(recipe)s
    %(clip)s
    %(on_unknown)s
    %(device)s
    %(batch_size)s
    %(precision)s
    %(verbose)s

    Attributes
    ----------
    %(fit_attributes)s
    embedding_dim_ : int
        Width S * D of one embedding (800 for the published model).
    n_features_out_ : int
        Number of output columns of :meth:`transform`.

    See Also
    --------
    NeuroRVQTokenizer : Discrete tokens.

    Notes
    -----
    Any epoch length of at least 1 s is accepted by :meth:`transform`,
    whatever the length seen in :meth:`fit`; epochs whose length is not a
    whole number of seconds (at 200 Hz) lose their last fraction of a second,
    with a warning.

    Examples
    --------
    Subject-independent decoding with embeddings as features::

        >>> from sklearn.linear_model import LogisticRegression
        >>> from sklearn.model_selection import GroupKFold, cross_val_score
        >>> from sklearn.pipeline import make_pipeline
        >>> from mne_neurorvq.decoding import NeuroRVQEmbedder
        >>> pipe = make_pipeline(NeuroRVQEmbedder(), LogisticRegression())
        >>> scores = cross_val_score(
        ...     pipe, epochs, y, groups=subjects, cv=GroupKFold(5)
        ... )  # doctest: +SKIP

    Embeddings of an array in volts::

        >>> X_emb = NeuroRVQEmbedder(
        ...     ch_names=["Fp1", "Cz", "O1"], sfreq=250.0
        ... ).fit_transform(X)  # doctest: +SKIP
        >>> X_emb.shape  # doctest: +SKIP
        (100, 800)
    """

    _WEIGHTS_KIND = "foundation"

    def __init__(
        self,
        weights="neurorvq-eeg-foundation-v1",
        *,
        pooling="mean",
        ch_names=None,
        sfreq=None,
        units="V",
        recipe=None,
        clip=None,
        on_unknown="ignore",
        device="auto",
        batch_size=32,
        precision="float32",
        verbose=None,
        config=None,
        tokenizer_config=None,
        train_params=None,
        random_state=None,
    ):
        self.weights = weights
        self.pooling = pooling
        self.ch_names = ch_names
        self.sfreq = sfreq
        self.units = units
        self.recipe = recipe
        self.clip = clip
        self.on_unknown = on_unknown
        self.device = device
        self.batch_size = batch_size
        self.precision = precision
        self.verbose = verbose
        self.config = config
        self.tokenizer_config = tokenizer_config
        self.train_params = train_params
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        super()._check_params()
        _check_option("pooling", self.pooling, _POOLINGS)

    def _train_model(self, data, chan_idx):
        _validate_type(
            self.config, (FoundationConfig, None), "config", "FoundationConfig or None"
        )
        _validate_type(
            self.tokenizer_config,
            (TokenizerConfig, None),
            "tokenizer_config",
            "TokenizerConfig or None",
        )
        tokenizer = train_tokenizer(
            data,
            chan_idx,
            self.tokenizer_config,
            self.train_params,
            self.device_,
            self.random_state,
            self.verbose,
        )
        return train_foundation(
            tokenizer,
            data,
            chan_idx,
            self.config,
            self.train_params,
            self.device_,
            self.random_state,
            self.verbose,
        )

    def _load_model(self):
        try:
            return load_foundation(self.weights, device=self.device_)
        except CheckpointError as err:
            raise CheckpointError(
                f"weights={_describe_weights(self.weights)} cannot be loaded as a "
                f"NeuroRVQ foundation model: {err}"
            ) from err

    def _build_model(self, config: dict):
        return NeuroRVQFoundation(config=FoundationConfig.from_dict(config))

    def _fit_extra(self, inp, match) -> None:
        self.embedding_dim_ = self.model_.config.embedding_dim
        n_blocks = len(self.picks_) if self.pooling == "channel" else 1
        self.n_features_out_ = n_blocks * self.embedding_dim_

    # ------------------------------------------------------------ transform
    @fill_doc
    def transform(self, X):
        """Embed epochs.

        Parameters
        ----------
        %(input)s

        Returns
        -------
        X_new : ndarray of float32, shape (n_epochs, ``n_features_out_``)
            The embeddings: ``(n_epochs, 800)`` for ``pooling="mean"`` and
            ``"scale"``, ``(n_epochs, n_channels * 800)`` for ``"channel"``
            (published model).
        """
        with _log_level(self.verbose):
            inp = self._read_for_transform(X)
            return self._transform_input(inp)

    def _transform_prepared(self, data: np.ndarray) -> np.ndarray:
        n_epochs, n_channels, n_times = data.shape
        out = np.empty((n_epochs, self.n_features_out_), dtype=np.float32)
        weights = self._window_weights(
            n_times // self.model_.config.patch_size, n_channels
        )
        chan_idx = self._chan_idx()
        with torch.inference_mode():
            for batch in self._batches(n_epochs, "embedding"):
                pieces = self._run_windows(
                    data[batch], lambda x: self._pooled(x, chan_idx)
                )
                pooled = _weighted_mean(pieces, weights)
                out[batch] = self._normalise(pooled).cpu().numpy()
        return out

    def _pooled(self, x: torch.Tensor, chan_idx: torch.Tensor) -> torch.Tensor:
        """Token means before the final norm: (B, S*D), or (B, N, S*D) per channel.

        Windows of a long epoch are combined at this stage (weighted by their
        patches, i.e. the mean over all tokens), then normalised once, exactly
        as :meth:`mne_neurorvq.nn.NeuroRVQFoundation.embed` does.
        """
        model = self.model_
        with self._autocast():
            features = model.forward_features(x, chan_idx)  # (S, B, N*A, D)
        features = features.float()
        if self.pooling in ("mean", "scale"):
            return model.pool(features)
        n_scales, batch, _, dim = features.shape
        n_channels = x.shape[1]
        per_channel = features.reshape(n_scales, batch, n_channels, -1, dim).mean(3)
        return per_channel.permute(1, 2, 0, 3).reshape(batch, n_channels, -1)

    def _normalise(self, pooled: torch.Tensor) -> torch.Tensor:
        """Apply the final LayerNorm (not for ``pooling="scale"``), flatten."""
        if self.pooling == "scale":
            return pooled
        return self.model_.fc_norm(pooled).reshape(pooled.shape[0], -1)

    def get_feature_names_out(self, input_features=None):
        """Name every output column.

        ``"neurorvqembedder_s{scale}_d{k}"`` for ``pooling="mean"`` and
        ``"scale"`` (scale from 1, dimension ``k`` from 0 within the scale);
        ``"neurorvqembedder_{channel}_s{scale}_d{k}"`` for ``"channel"``, with
        the channel's NeuroRVQ vocabulary name.

        Parameters
        ----------
        input_features : None
            Ignored (the names come from the fitted model and channels).

        Returns
        -------
        feature_names_out : ndarray of str objects, shape (``n_features_out_``,)
            The column names.
        """
        check_is_fitted(self)
        config = self.model_.config
        inner = [
            f"s{s}_d{k}"
            for s in range(1, config.n_scales + 1)
            for k in range(config.embed_dim)
        ]
        if self.pooling != "channel":
            names = [f"neurorvqembedder_{suffix}" for suffix in inner]
        else:
            names = [
                f"neurorvqembedder_{CHANNEL_VOCABULARY[index]}_{suffix}"
                for index in self.input_chans_
                for suffix in inner
            ]
        return np.asarray(names, dtype=object)
