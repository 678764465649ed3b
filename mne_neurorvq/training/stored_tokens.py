"""Masked-token pre-training from a token store instead of a running tokenizer.

:class:`PretrainingTask` runs the frozen tokenizer on every batch to get the
tokens to predict. A token store (:mod:`mne_neurorvq.corpus`) already holds
them: :class:`TokenWindowDataset` pairs every window of EEG (the foundation
model's input, prepared from the recording as the store's tokenizer prepared
it) with the stored tokens of its patches, and
:class:`StoredTokenPretraining` predicts those, so no tokenizer runs during
training.

The stored tokens were computed in the tokenizer's own windows (up to its
token budget, see :func:`mne_neurorvq.preprocessing.plan_windows`), not in
the training windows: when both coincide (e.g. 19 channels and 10 s windows
of 10 s recordings) the targets equal the on-the-fly ones exactly; otherwise
the targets are the recording's tokens, computed with more context.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from mne.utils import logger, verbose

from ..nn.config import TokenizerConfig
from ..preprocessing import PATCH_SIZE, crop_to_patches, prepare_array
from .data import WindowDataset
from .pretraining import PretrainingTask

__all__ = ["StoredTokenPretraining", "TokenWindowDataset"]


class TokenWindowDataset(WindowDataset):
    """Windows of EEG with the stored tokens of their patches.

    Item ``i`` is ``(x, chan_idx, i)`` as in :class:`WindowDataset`;
    :meth:`window_tokens` gives the tokens of windows by index.

    Parameters
    ----------
    blocks : sequence of (ndarray, array-like of int)
        ``(windows, chan_idx)`` pairs as in :class:`WindowDataset`.
    tokens : sequence of ndarray
        Per block, the tokens of its windows, shape
        ``(n_windows, N, A, S, L)`` (any integer type).
    tokenizer_config : TokenizerConfig
        Configuration of the tokenizer that made the tokens.
    sources : sequence of str | None
        A name per block.

    Examples
    --------
    >>> import numpy as np
    >>> from mne_neurorvq.nn import TokenizerConfig
    >>> x = np.zeros((3, 2, 400), np.float32)  # 3 windows, 2 channels, 2 s
    >>> tokens = np.zeros((3, 2, 2, 4, 2), np.uint16)  # (window, N, A, S, L)
    >>> ds = TokenWindowDataset([(x, [36, 9])], [tokens], TokenizerConfig.tiny())
    >>> ds.window_tokens([0, 2]).shape
    torch.Size([2, 2, 2, 4, 2])
    """

    def __init__(self, blocks, tokens, tokenizer_config: TokenizerConfig, sources=None):
        blocks, tokens = list(blocks), list(tokens)
        if len(blocks) != len(tokens):
            raise ValueError(
                f"Got {len(blocks)} blocks but {len(tokens)} token arrays."
            )
        kept = [i for i, (windows, _) in enumerate(blocks) if len(windows)]
        super().__init__(
            [blocks[i] for i in kept],
            None if sources is None else [sources[i] for i in kept],
        )
        shape = (tokenizer_config.n_scales, tokenizer_config.n_levels)
        self._tokens = []
        for i, (windows, chan_idx) in zip(kept, self.blocks, strict=True):
            block_tokens = np.asarray(tokens[i])
            expected = (len(windows), len(chan_idx), self.n_patches, *shape)
            if block_tokens.shape != expected:
                raise ValueError(
                    f"Block {i} has tokens of shape {block_tokens.shape}, expected "
                    f"{expected} (windows, channels, patches, scales, levels)."
                )
            self._tokens.append(block_tokens)
        self.tokenizer_config = tokenizer_config

    @classmethod
    @verbose
    def from_store(
        cls,
        store,
        seconds: int = 4,
        *,
        recordings=None,
        max_windows: int | None = None,
        verbose=None,
    ) -> TokenWindowDataset:
        """Windows of the EEG recordings of a token store, with their tokens.

        Every recording is read again from its source (which must not have
        changed since it was tokenized: same size, and same time or hash),
        its channels picked and prepared as the store's tokenizer prepared
        them (:func:`mne_neurorvq.preprocessing.prepare_array` with the
        store's recipe, segment by segment) and cut into consecutive
        windows of ``seconds``; the tokens are cut alike.

        Parameters
        ----------
        store : str | Path | TokenStore
        seconds : int
            Window length in seconds; channels x seconds at most the model's
            token budget (256).
        recordings : list of str | None
            Recording ids to use (default: every EEG recording tokenized).
        max_windows : int | None
            At most this many windows per recording (the first ones).
        verbose : bool | str | int | None
            MNE verbosity.

        Returns
        -------
        TokenWindowDataset
        """
        from ..corpus import TokenStore
        from ..corpus.discovery import Recording

        store = store if isinstance(store, TokenStore) else TokenStore(store)
        index = store.index
        index = index[(index["status"] == "ok") & (index["modality"] == "eeg")]
        if recordings is not None:
            index = index[index["recording"].isin(list(recordings))]
        if not len(index):
            raise ValueError(f"No tokenized EEG recording to train on in {store.path}.")
        bids_root = store.settings["source"] if store.settings.get("bids") else None
        recipe = store.settings["recipe"]
        blocks, tokens, sources, config = [], [], [], None
        for _, row in index.iterrows():
            rec = Recording.from_index_row(row, bids_root)
            if not rec.matches(
                row["source_size"], row["source_mtime_ns"], row["source_sha256"]
            ):
                raise ValueError(
                    f"{rec.path} changed since it was tokenized into {store.path}: "
                    "run tokenize-corpus again on the same --out."
                )
            array = store.array(row["recording"])
            this = TokenizerConfig.from_dict(array.attrs["tokenizer_config"])
            if config is not None and this != config:
                raise ValueError(
                    f"The store {store.path} mixes tokenizers; pick recordings "
                    "tokenized with one of them (recordings=...)."
                )
            config = this
            _check_window(len(row["ch_names"]), seconds, config)
            signal = _prepared_signal(
                rec, list(row["ch_names"]), recipe, array.attrs["segment_patches"]
            )
            stored = np.asarray(array[...])
            if signal.shape[1] != stored.shape[1] * PATCH_SIZE:
                raise ValueError(
                    f"{rec.path} gives {signal.shape[1] // PATCH_SIZE} s of EEG but "
                    f"has {stored.shape[1]} s of tokens in {store.path}."
                )
            windows, window_tokens = _cut(signal, stored, seconds, max_windows)
            logger.info(f"{row['recording']}: {len(windows)} windows")
            blocks.append((windows, row["chan_idx"]))
            tokens.append(window_tokens)
            sources.append(row["recording"])
        return cls(blocks, tokens, config, sources)

    def window_tokens(self, indices) -> torch.Tensor:
        """Tokens of windows of one channel set, int64 of shape (B, N, A, S, L)."""
        out = []
        for index in torch.as_tensor(indices).reshape(-1).tolist():
            block, row = self._locate(int(index))
            out.append(torch.from_numpy(self._tokens[block][row].astype(np.int64)))
        return torch.stack(out)

    def subset_blocks(self, blocks) -> TokenWindowDataset:
        """A dataset with only some of the blocks (e.g. a subject split)."""
        return TokenWindowDataset(
            [self.blocks[b] for b in blocks],
            [self._tokens[b] for b in blocks],
            self.tokenizer_config,
            [self.sources[b] for b in blocks],
        )


def _check_window(n_channels: int, seconds: int, config: TokenizerConfig) -> None:
    if n_channels * seconds > config.n_patches:
        raise ValueError(
            f"{n_channels} channels x {seconds} s = {n_channels * seconds} tokens "
            f"per window, more than the model's {config.n_patches}: use windows "
            f"of at most {config.n_patches // n_channels} s."
        )


def _prepared_signal(rec, ch_names, recipe, segment_patches) -> np.ndarray:
    """The EEG as the tokenizer prepared it, (N, A * 200) float32, in uV."""
    raw, _ = rec.read_raw()
    sfreq = raw.info["sfreq"]
    step = max(int(round(segment_patches * sfreq)), 1)
    pieces = []
    for start in range(0, raw.n_times, step):
        stop = min(start + step, raw.n_times)
        if pieces and round((stop - start) * 200 / sfreq) < PATCH_SIZE:
            break  # the tail the tokenizer dropped
        data = raw.get_data(picks=ch_names, start=start, stop=stop, units="uV")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # reported when tokenizing
            prepared, _ = prepare_array(
                data[np.newaxis], sfreq, units="uV", recipe=recipe, verbose="error"
            )
            prepared, _ = crop_to_patches(prepared, PATCH_SIZE)
        pieces.append(prepared[0])
    return np.concatenate(pieces, axis=1).astype(np.float32)


def _cut(signal, tokens, seconds, max_windows):
    """Consecutive windows of ``seconds`` of the signal and of its tokens."""
    n_channels, n_patches = tokens.shape[:2]
    n_windows = n_patches // seconds
    if max_windows is not None:
        n_windows = min(n_windows, max_windows)
    length = seconds * PATCH_SIZE
    windows = signal[:, : n_windows * length].reshape(n_channels, n_windows, length)
    cut = tokens[:, : n_windows * seconds].reshape(
        n_channels, n_windows, seconds, *tokens.shape[2:]
    )
    return (
        np.ascontiguousarray(windows.transpose(1, 0, 2)),
        np.ascontiguousarray(cut.transpose(1, 0, 2, 3, 4)),
    )


class StoredTokenPretraining(PretrainingTask):
    """Masked-token pre-training on the tokens of a token store.

    The same task as :class:`PretrainingTask` (masks, losses, accuracies,
    checkpoints), but the tokens to predict are read from the dataset
    instead of being computed by a tokenizer at every step.

    Parameters
    ----------
    train_data : TokenWindowDataset
        The training windows (give the same dataset to the
        :class:`~mne_neurorvq.training.Trainer`).
    config : FoundationConfig | None
        Foundation configuration; default: one matching the store's
        tokenizer (``FoundationConfig.for_tokenizer``).
    eval_data : TokenWindowDataset | None
        The evaluation windows, if the Trainer gets ``eval_data``.
    mask_ratio, init, recompute_heads
        As in :class:`PretrainingTask`.

    Examples
    --------
    >>> data = TokenWindowDataset.from_store("corpus.zarr", 4)  # doctest: +SKIP
    >>> task = StoredTokenPretraining(data)  # doctest: +SKIP
    >>> Trainer(task, data, "run", epochs=10).fit()  # doctest: +SKIP
    """

    def __init__(
        self,
        train_data: TokenWindowDataset,
        config=None,
        *,
        eval_data: TokenWindowDataset | None = None,
        mask_ratio: float = 0.5,
        init=None,
        recompute_heads: bool = True,
    ):
        for name, data in (("train_data", train_data), ("eval_data", eval_data)):
            if data is not None and not isinstance(data, TokenWindowDataset):
                raise TypeError(
                    f"{name} must be a TokenWindowDataset (windows with stored "
                    f"tokens), got {type(data).__name__}."
                )
        self.tokenizer = None
        self._init_task(
            train_data.tokenizer_config, config, mask_ratio, init, recompute_heads
        )
        self.train_data = train_data
        self.eval_data = eval_data
        self._source = train_data

    def setup(self, ctx, seed: int):
        """Nothing to move: there is no tokenizer."""

    def _tokens(self, batch):
        tokens = self._source.window_tokens(batch.index.cpu())  # (B, N, A, S, L)
        batch_size = tokens.shape[0]
        tokens = tokens.permute(3, 4, 0, 1, 2).reshape(
            *tokens.shape[3:], batch_size, -1
        )
        return tokens.to(batch.x.device)

    def evaluate(self, batches, ctx, autocast) -> dict:
        """Masked accuracy on ``eval_data`` (see :meth:`PretrainingTask.evaluate`)."""
        if self.eval_data is None:
            raise ValueError(
                "StoredTokenPretraining needs eval_data= (a TokenWindowDataset) to "
                "evaluate: the tokens come from the dataset."
            )
        self._source = self.eval_data
        try:
            return super().evaluate(batches, ctx, autocast)
        finally:
            self._source = self.train_data
