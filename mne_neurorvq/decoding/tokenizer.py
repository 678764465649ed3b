"""Scikit-learn transformers for NeuroRVQ tokens: tokenizer and token histogram."""

from __future__ import annotations

import numpy as np
import torch
from mne import EpochsArray
from mne.utils import _check_option, _validate_type
from sklearn.utils.validation import check_is_fitted

from ..channels import MODALITY_VOCABULARIES, infer_modality
from ..nn.checkpoints import CheckpointError, load_tokenizer
from ..nn.config import MODALITIES, TokenizerConfig
from ..nn.fourier import reconstruct_signal, standardize_per_sample
from ..nn.tokenizer import AMPLITUDE_STATS, NeuroRVQTokenizerModel
from ..preprocessing import MODALITY_UNITS
from ._base import (
    _describe_weights,
    _log_level,
    _NeuroRVQTransformer,
    _used_info,
)
from ._docs import fill_doc
from ._training import train_tokenizer
from .histogram import TokenHistogram

__all__ = ["NeuroRVQTokenizer", "TokenHistogram"]  # TokenHistogram: histogram.py

_OUTPUTS = ("indices", "codes")
#: The default ``weights``: stands for the published tokenizer of the modality.
_DEFAULT_WEIGHTS = "neurorvq-eeg-tokenizer-v1"
#: Volts per unit of the model input, for the data of ``inverse_transform``.
_VOLTS_PER_UNIT = {"uV": 1e-6, "mV": 1e-3, None: 1.0}


@fill_doc
class NeuroRVQTokenizer(_NeuroRVQTransformer):
    """Turn EEG epochs into NeuroRVQ's discrete tokens (or their code vectors).

    Every 1 s patch of every channel gets one token per scale and level: an
    index into the codebook of that scale and level (S = 4 scales, L = 8
    levels and 8192 codes per codebook in the published tokenizer). Epochs
    longer than the model's 256 tokens (channels x seconds) are split into
    balanced windows (:func:`mne_neurorvq.preprocessing.plan_windows`),
    tokenized separately and concatenated along time, so nothing is cropped.
    The tokenizer is deterministic; :meth:`fit` loads the weights and records
    the channels, the preprocessing and the epoch length.

    Parameters
    ----------
    %(weights)s
        Default: the published tokenizer of the modality
        (``"neurorvq-eeg-tokenizer-v1"``; with another modality this default
        stands for ``"neurorvq-{ecg,emg,ppg}-tokenizer-v1"``). A checkpoint of
        another modality than ``modality`` is refused.
    modality : ``"eeg"`` | ``"ecg"`` | ``"emg"`` | ``"ppg"`` | ``"auto"``
        The signal the tokenizer is for; one modality per estimator. Each
        has its own channel vocabulary, rate, patch and token budget (see
        :data:`mne_neurorvq.nn.config.MODALITIES`): EEG 1 s patches at
        200 Hz, at most 256 tokens per sample; ECG 0.2 s at 200 Hz, 600
        tokens; EMG 0.2 s at 1000 Hz, 256 tokens, 16 levels; PPG 0.8 s at
        100 Hz, 12 tokens, one channel (``ppg_c1``). ``"auto"`` decides in
        :meth:`fit` (``modality_``) from the channel types of Epochs (the only
        one of ``eeg``, ``ecg``, ``emg``, or ``bio``/``misc`` channels named
        like PPG) or from the channel names of arrays; several is an error
        asking for ``modality=``. Only the channels of the modality are used
        (see :func:`mne_neurorvq.channels.match_modality_channels`).
    channel_map : dict of str to str | None
        Vocabulary names of some channels, by original name, e.g.
        ``{"ECG ECG": "II"}`` for a single ECG lead named only "ECG" (which is
        otherwise an error: the tokenizer needs to know the lead), or
        ``{"Pleth": "ppg_c1"}``. Renaming the channels does the same.
    output : ``"indices"`` | ``"codes"``
        What :meth:`transform` returns: the token indices (int64, shape
        ``(n_epochs, n_channels * n_patches * S * L)``) or the quantised code
        vectors, i.e. the sum over levels of each scale's codes (float32,
        shape ``(n_epochs, n_channels * n_patches * S * C)`` with C the code
        width, 128 in the published model).
    config : TokenizerConfig | None
        Model configuration when ``weights`` is None (default: the CPU-sized
        ``"small"`` preset of :func:`mne_neurorvq.training.tokenizer_preset`).
    %(train_params)s
    %(random_state)s
    %(ch_names)s
    %(sfreq)s
    %(units)s
    %(recipe)s
        For other modalities than EEG: None (resample only) or, for PPG,
        ``"authors"`` (the authors' Butterworth band-pass 0.5 to
        ``min(40, sfreq / 2) - 0.5`` Hz, then ``scipy.signal.resample``); see
        :func:`mne_neurorvq.preprocessing.prepare_modality_array`.
    %(clip)s
    %(on_unknown)s
    %(device)s
    %(batch_size)s
    %(precision)s
        With ``"bf16"`` only the transformers run in bfloat16; the
        nearest-code search is done in float32.
    %(verbose)s

    Attributes
    ----------
    %(fit_attributes)s
    modality_ : str
        The modality used (``modality``, or the one ``"auto"`` found).
    n_tokens_ : int
        Number of output columns of :meth:`transform`.
    info_ : mne.Info | None
        When fitted on Epochs: their info reduced to the used channels, at
        the model rate (used by :meth:`inverse_transform`); None for arrays.

    See Also
    --------
    NeuroRVQEmbedder : Continuous embeddings from the foundation model.
    TokenHistogram : Normalised token counts, a fixed-size featurisation.

    Notes
    -----
    Other modalities read Epochs in their model unit (ECG and EMG in mV, PPG
    values as stored) and arrays in ``units`` (ignored for PPG); no amplitude
    check is made for them.

    Output columns are ordered channel, patch, scale, then level (C order of
    an array of shape ``(n_channels, n_patches, S, L)``); see
    :meth:`get_feature_names_out` (e.g. ``"cz_p0_s1_q1"``: channel ``cz``,
    first patch, scale 1, level 1). The number of patches is fixed by the
    epochs seen in :meth:`fit`: :meth:`transform` requires epochs of the same
    length.

    Examples
    --------
    Tokenize epochs, then reconstruct them from the tokens::

        >>> from mne_neurorvq.decoding import NeuroRVQTokenizer
        >>> tokenizer = NeuroRVQTokenizer()  # doctest: +SKIP
        >>> tokens = tokenizer.fit_transform(epochs)  # doctest: +SKIP
        >>> tokens.shape  # 19 channels, 4 s  # doctest: +SKIP
        (120, 2432)
        >>> reconstructed = tokenizer.inverse_transform(tokens)  # doctest: +SKIP

    With arrays, give the channel names and the sampling rate::

        >>> tokenizer = NeuroRVQTokenizer(
        ...     ch_names=["Fp1", "Cz", "O1"], sfreq=250.0, units="V"
        ... )  # doctest: +SKIP

    The ECG channel of a recording, named by its lead::

        >>> ecg = epochs.copy().pick("ecg").rename_channels({"ECG ECG": "II"})
        ... # doctest: +SKIP
        >>> tokens = NeuroRVQTokenizer(modality="auto").fit_transform(ecg)
        ... # doctest: +SKIP
    """

    _WEIGHTS_KIND = "tokenizer"

    def __init__(
        self,
        weights=_DEFAULT_WEIGHTS,
        *,
        modality="eeg",
        channel_map=None,
        output="indices",
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
        train_params=None,
        random_state=None,
    ):
        self.weights = weights
        self.modality = modality
        self.channel_map = channel_map
        self.output = output
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
        self.train_params = train_params
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        super()._check_params()
        _check_option("output", self.output, _OUTPUTS)
        _check_option("modality", self.modality, ("auto", *MODALITIES))
        _validate_type(
            self.channel_map, (dict, None), "channel_map", "dict of str to str or None"
        )

    def _resolve_modality(self, inp) -> str:
        if self.modality != "auto":
            return self.modality
        names = [n for n in inp.ch_names if n not in inp.bads]
        types = [
            t
            for n, t in zip(inp.ch_names, inp.ch_types, strict=True)
            if n not in inp.bads
        ]
        for name, target in (self.channel_map or {}).items():
            if name in names:  # explicitly mapped channels count by their target
                names[names.index(name)] = target
        return infer_modality(names, types if inp.from_mne else None)

    def _weights_source(self):
        """``weights``, the default standing for the modality's published one."""
        if self.weights == _DEFAULT_WEIGHTS:
            return MODALITIES[self.modality_].published.get("tokenizer", self.weights)
        return self.weights

    def _train_model(self, data, chan_idx):
        _validate_type(
            self.config, (TokenizerConfig, None), "config", "TokenizerConfig or None"
        )
        if self.config is not None and self.config.modality != self.modality_:
            raise ValueError(
                f"config is for {self.config.modality.upper()} but the tokenizer "
                f"works on {self.modality_.upper()}: use "
                f"TokenizerConfig.for_modality({self.modality_!r}, ...)."
            )
        return train_tokenizer(
            data,
            chan_idx,
            self.config,
            self.train_params,
            self.device_,
            self.random_state,
            self.verbose,
            modality=self.modality_,
        )

    def _load_model(self):
        weights = self._weights_source()
        try:
            return load_tokenizer(weights, device=self.device_, modality=self.modality_)
        except CheckpointError as err:
            raise CheckpointError(
                f"weights={_describe_weights(weights)} cannot be loaded as a "
                f"NeuroRVQ tokenizer ({self.modality_.upper()}): {err}"
            ) from err

    def _build_model(self, config: dict):
        return NeuroRVQTokenizerModel(TokenizerConfig.from_dict(config))

    def _fit_extra(self, inp, match) -> None:
        config = self.model_.config
        per_patch = config.n_scales * (
            config.n_levels if self.output == "indices" else config.code_dim
        )
        self.n_tokens_ = len(self.picks_) * self.n_patches_ * per_patch
        self.info_ = (
            _used_info(inp.info, self.picks_, config.sfreq) if inp.from_mne else None
        )

    # ------------------------------------------------------------ transform
    @fill_doc
    def transform(self, X):
        """Tokenize epochs.

        Parameters
        ----------
        %(input)s

        Returns
        -------
        X_new : ndarray, shape (n_epochs, ``n_tokens_``)
            With ``output="indices"``, the int64 token indices; with
            ``output="codes"``, the float32 code vectors (see the class
            description for the column order).
        """
        with _log_level(self.verbose):
            inp = self._read_for_transform(X)
            n_patches = self._check_length(inp)
            if n_patches != self.n_patches_:
                raise ValueError(
                    f"{type(self).__name__} was fitted on epochs of "
                    f"{self.n_patches_} patches ({self.n_patches_} x "
                    f"{self._preset.patch_seconds:g} s at {self._preset.sfreq:g} Hz, "
                    f"{self.n_tokens_} output columns), but X has epochs of "
                    f"{n_patches} patches. Use epochs of the same length, or fit "
                    "again."
                )
            return self._transform_input(inp)

    def _transform_prepared(self, data: np.ndarray) -> np.ndarray:
        n_epochs = data.shape[0]
        dtype = np.int64 if self.output == "indices" else np.float32
        out = np.empty((n_epochs, self.n_tokens_), dtype=dtype)
        chan_idx = self._chan_idx()
        with torch.inference_mode():
            for batch in self._batches(n_epochs, "tokenizing"):
                pieces = self._run_windows(
                    data[batch], lambda x: self._encode(x, chan_idx)
                )
                result = torch.cat(pieces, dim=2)  # along patches
                out[batch] = result.reshape(result.shape[0], -1).cpu().numpy()
        return out

    def _tokenize(self, x: torch.Tensor, chan_idx: torch.Tensor) -> torch.Tensor:
        """Tokens (B, N, A, S, L) of prepared data ``x`` (B, N, A * 200)."""
        model = self.model_
        if self.precision_ == "float32":
            return model.tokenize(x, chan_idx)
        with self._autocast():
            encoded = model.encode(x, chan_idx)
        outputs = model.quantize(encoded.float())
        batch, n_channels = x.shape[:2]
        tokens = torch.stack([out.indices for out in outputs])  # (S, L, B*N*A)
        tokens = tokens.reshape(*tokens.shape[:2], batch, n_channels, -1)
        return tokens.permute(2, 3, 4, 0, 1)

    def _encode(self, x: torch.Tensor, chan_idx: torch.Tensor) -> torch.Tensor:
        tokens = self._tokenize(x, chan_idx)
        if self.output == "indices":
            return tokens
        codes = self.model_.lookup_tokens(tokens)  # (S, B, C, N, A)
        return codes.permute(1, 3, 4, 0, 2).float()  # (B, N, A, S, C)

    # ------------------------------------------------------------ inverse
    def inverse_transform(self, X):
        """Reconstruct the signal from tokens (or code vectors) alone.

        The decoder predicts each patch's spectrum; tokens carry no amplitude,
        so every window of every epoch (all its channels and samples, see
        ``windows_``) is returned standardised to mean 0 and standard
        deviation 1: compare it with the standardised input.

        Parameters
        ----------
        X : array-like, shape (n_epochs, ``n_tokens_``)
            Output of :meth:`transform` (token indices, or code vectors with
            ``output="codes"``).

        Returns
        -------
        reconstructed : mne.EpochsArray | ndarray of float32, shape (n_epochs, n_channels, n_patches * patch_size)
            The reconstruction at the model rate (EEG 200 Hz), of the used
            channels (``ch_names_``). When the tokenizer was fitted on Epochs,
            an :class:`mne.EpochsArray` whose info is ``info_`` (same channel
            types); its data are the standardised values in the model unit, in
            MNE's SI units: times 1e-6 for EEG, so that ``get_data(units="uV")``
            gives the standardised values (ECG, EMG: times 1e-3, ``"mV"``;
            PPG: as they are). Otherwise an array of the standardised values.

        Examples
        --------
        >>> reconstructed = tokenizer.inverse_transform(
        ...     tokenizer.fit_transform(epochs)
        ... )  # doctest: +SKIP
        """  # noqa: E501
        check_is_fitted(self)
        with _log_level(self.verbose):
            maps = self._check_inverse_input(X)
            n_epochs, n_channels = maps.shape[:2]
            size = self._patch_size
            out = np.empty((n_epochs, n_channels, self.n_patches_ * size), np.float32)
            chan_idx = self._chan_idx()
            with torch.inference_mode():
                for batch in self._batches(n_epochs, "reconstructing"):
                    for start, stop in self.windows_:
                        values = torch.from_numpy(
                            np.ascontiguousarray(maps[batch, :, start:stop])
                        ).to(self.device_)
                        signal = self._decode(values, chan_idx)
                        span = slice(start * size, stop * size)
                        out[batch, :, span] = signal.cpu().numpy()
        if self.info_ is None:
            return out
        scale = _VOLTS_PER_UNIT[MODALITY_UNITS[self._preset.name]]
        return EpochsArray(out.astype(np.float64) * scale, self.info_, verbose=False)

    def _check_inverse_input(self, X) -> np.ndarray:
        config = self.model_.config
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_tokens_:
            raise ValueError(
                f"inverse_transform expects an array of shape (n_epochs, "
                f"{self.n_tokens_}) as returned by transform, got shape {X.shape}."
            )
        n_channels = len(self.picks_)
        if self.output == "indices":
            if X.dtype.kind not in "iu":
                raise ValueError(
                    "inverse_transform expects integer token indices as returned by "
                    f"transform (output='indices'), got dtype {X.dtype}."
                )
            if X.size and (X.min() < 0 or X.max() >= config.n_code):
                raise ValueError(
                    f"Token indices must lie in [0, {config.n_code}), got values "
                    f"from {X.min()} to {X.max()}."
                )
            shape = (config.n_scales, config.n_levels)
            return X.astype(np.int64).reshape(
                len(X), n_channels, self.n_patches_, *shape
            )
        shape = (config.n_scales, config.code_dim)
        return X.astype(np.float32).reshape(len(X), n_channels, self.n_patches_, *shape)

    def _decode(self, values: torch.Tensor, chan_idx: torch.Tensor) -> torch.Tensor:
        """Standardised reconstruction (B, N, A * 200) of tokens or codes."""
        model = self.model_
        if self.output == "indices":
            quantized = model.lookup_tokens(values)  # (S, B, C, N, A)
        else:
            quantized = values.permute(
                3, 0, 4, 1, 2
            )  # (B, N, A, S, C) -> (S, B, C, N, A)
        batch, n_channels = values.shape[:2]
        with self._autocast():
            pred = model.decode(quantized, chan_idx)
        mean, std = AMPLITUDE_STATS[model.config.modality]
        signal = reconstruct_signal(
            pred.amplitude.float(), pred.sin.float(), pred.cos.float(), mean, std
        )
        signal = standardize_per_sample(signal)[0]
        return signal.reshape(batch, n_channels, -1)

    # ------------------------------------------------------------ names
    def get_feature_names_out(self, input_features=None):
        """Name every output column: channel, patch, scale, level (or code dim).

        ``"{channel}_p{patch}_s{scale}_q{level}"`` for token indices, e.g.
        ``"cz_p0_s1_q1"`` (patches counted from 0, scales and levels from 1);
        ``"{channel}_p{patch}_s{scale}_c{k}"`` for code vectors. Channels are
        named by their vocabulary name in the modality (``"ii_p0_s1_q1"`` for
        ECG lead II; EMG has levels ``q1`` to ``q16``).

        Parameters
        ----------
        input_features : None
            Ignored (the names come from the fitted channels).

        Returns
        -------
        feature_names_out : ndarray of str objects, shape (``n_tokens_``,)
            The column names.
        """
        check_is_fitted(self)
        config = self.model_.config
        if self.output == "indices":
            inner = [
                f"s{s}_q{q}"
                for s in range(1, config.n_scales + 1)
                for q in range(1, config.n_levels + 1)
            ]
        else:
            inner = [
                f"s{s}_c{k}"
                for s in range(1, config.n_scales + 1)
                for k in range(config.code_dim)
            ]
        vocabulary = MODALITY_VOCABULARIES[self._preset.name]
        names = [
            f"{vocabulary[index]}_p{patch}_{suffix}"
            for index in self.input_chans_
            for patch in range(self.n_patches_)
            for suffix in inner
        ]
        return np.asarray(names, dtype=object)
