"""TokenHistogram: normalised token counts, fixed-size features from tokens."""

from __future__ import annotations

import numpy as np
from mne.utils import _validate_type
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._base import _check_positive_int

__all__ = ["TokenHistogram"]


class TokenHistogram(TransformerMixin, BaseEstimator):
    """Normalised histogram of token indices, per scale and level.

    Turns the output of :class:`NeuroRVQTokenizer` (``output="indices"``) into
    fixed-size features that do not depend on the channels' order or on the
    epoch length: for every scale and level, the fraction of the epoch's
    tokens (over channels and patches) that use each code. Each scale-level
    block of ``n_codes`` columns sums to 1.

    Parameters
    ----------
    n_codes : int
        Codes per codebook (8192 for the published tokenizer; in general
        ``tokenizer.model_.config.n_code``).
    n_scales : int
        Scales of the tokenizer (4).
    n_levels : int
        Residual levels per scale (8 for the published tokenizer).
    levels : None | list of int
        Levels to keep, counted from 1 (the first level is the coarsest);
        None keeps all.

    Attributes
    ----------
    n_features_in_ : int
        Number of token columns seen in :meth:`fit`.
    levels_ : list of int
        The levels used.

    Examples
    --------
    >>> import numpy as np

    One epoch, 2 positions (channel x patch), 2 scales, 2 levels, 4 codes:

    >>> tokens = np.array([[0, 1, 1, 2, 0, 0, 3, 2]])
    >>> histogram = TokenHistogram(n_codes=4, n_scales=2, n_levels=2)
    >>> histogram.fit_transform(tokens).reshape(4, 4)  # one row per scale, level
    array([[1. , 0. , 0. , 0. ],
           [0.5, 0.5, 0. , 0. ],
           [0. , 0.5, 0. , 0.5],
           [0. , 0. , 1. , 0. ]], dtype=float32)
    """

    def __init__(self, n_codes=8192, n_scales=4, n_levels=8, levels=None):
        self.n_codes = n_codes
        self.n_scales = n_scales
        self.n_levels = n_levels
        self.levels = levels

    def fit(self, X, y=None):
        """Check the token layout.

        Parameters
        ----------
        X : array-like of int, shape (n_epochs, n_tokens)
            Token indices from :meth:`NeuroRVQTokenizer.transform`.
        y : None
            Ignored.

        Returns
        -------
        self : TokenHistogram
            The fitted transformer.
        """
        for name in ("n_codes", "n_scales", "n_levels"):
            _check_positive_int(getattr(self, name), name)
        if self.levels is None:
            levels = list(range(1, self.n_levels + 1))
        else:
            _validate_type(self.levels, (list, tuple), "levels", "list of int or None")
            levels = [int(level) for level in self.levels]
            bad = [level for level in levels if not 1 <= level <= self.n_levels]
            if bad or not levels:
                raise ValueError(
                    f"levels must be a non-empty list of levels between 1 and "
                    f"{self.n_levels}, got {self.levels}."
                )
        X = self._check_tokens(X, fitted=False)
        self.levels_ = levels
        self.n_features_in_ = X.shape[1]
        return self

    def _check_tokens(self, X, fitted: bool) -> np.ndarray:
        if sparse.issparse(X):
            raise TypeError(
                f"Sparse input is not supported: X is a scipy sparse "
                f"{type(X).__name__}; pass the dense token indices returned by "
                "NeuroRVQTokenizer.transform (X.toarray())."
            )
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(
                f"X must be 2-D (n_epochs, n_tokens), got shape {X.shape}."
            )
        if X.shape[0] == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of "
                "1 is required: X holds no epochs."
            )
        if X.shape[1] == 0:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                "of 1 is required: X holds no tokens (at least n_scales x n_levels "
                "columns, the tokens of one patch of one channel)."
            )
        if X.dtype.kind == "f" and np.all(np.isfinite(X)) and np.all(X == np.round(X)):
            X = X.astype(np.int64)
        if X.dtype.kind not in "iu":
            raise ValueError(f"X must hold integer token indices, got dtype {X.dtype}.")
        per_patch = self.n_scales * self.n_levels
        if X.shape[1] % per_patch:
            raise ValueError(
                f"X has {X.shape[1]} columns, not a multiple of n_scales x n_levels "
                f"= {per_patch}: is it the output of NeuroRVQTokenizer with "
                f"n_scales={self.n_scales} and n_levels={self.n_levels}?"
            )
        if fitted and X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but TokenHistogram is expecting "
                f"{self.n_features_in_} features as input."
            )
        if X.size and (X.min() < 0 or X.max() >= self.n_codes):
            raise ValueError(
                f"Token indices must lie in [0, {self.n_codes}) (n_codes), got values "
                f"from {X.min()} to {X.max()}."
            )
        return X

    def transform(self, X):
        """Count the tokens.

        Parameters
        ----------
        X : array-like of int, shape (n_epochs, n_tokens)
            Token indices from :meth:`NeuroRVQTokenizer.transform`.

        Returns
        -------
        X_new : ndarray of float32, shape (n_epochs, n_scales * len(``levels_``) * n_codes)
            For each scale, level and code, the fraction of tokens equal to
            the code.
        """  # noqa: E501
        check_is_fitted(self)
        X = self._check_tokens(X, fitted=True)
        n_epochs = len(X)
        tokens = X.reshape(n_epochs, -1, self.n_scales, self.n_levels)
        tokens = tokens[..., [level - 1 for level in self.levels_]]
        n_positions = tokens.shape[1]
        n_blocks = self.n_scales * len(self.levels_)
        tokens = tokens.reshape(n_epochs, n_positions, n_blocks)
        offsets = np.arange(n_blocks) * self.n_codes
        rows = np.arange(n_epochs)[:, None, None] * (n_blocks * self.n_codes)
        counts = np.bincount(
            (tokens + offsets + rows).ravel(),
            minlength=n_epochs * n_blocks * self.n_codes,
        )
        counts = counts.reshape(n_epochs, n_blocks * self.n_codes)
        return (counts / n_positions).astype(np.float32)

    def get_feature_names_out(self, input_features=None):
        """Name the columns ``"tokenhistogram_s{scale}_q{level}_k{code}"``.

        Parameters
        ----------
        input_features : None
            Ignored.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The column names.
        """
        check_is_fitted(self)
        names = [
            f"tokenhistogram_s{s}_q{q}_k{k}"
            for s in range(1, self.n_scales + 1)
            for q in self.levels_
            for k in range(self.n_codes)
        ]
        return np.asarray(names, dtype=object)
