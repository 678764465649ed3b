"""Figures of what the NeuroRVQ tokenizer sees and produces.

Following MNE's conventions, every function returns the
:class:`matplotlib.figure.Figure` and takes ``show``.
"""

from __future__ import annotations

import numpy as np

SCALE_LABELS = (
    "scale 1 (kernel 21)",
    "scale 2 (kernel 15)",
    "scale 3 (kernel 9)",
    "scale 4 (kernel 5)",
)


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, show):
    if show:
        _plt().show()
    return fig


def _zscore(x):
    x = np.asarray(x, dtype=float)
    return (x - x.mean()) / max(x.std(), 1e-12)


#: Line styles of original and reconstruction: a mid grey under a
#: colour-blind-safe blue (Okabe-Ito), told apart by lightness too.
_ORIGINAL = {"color": "0.6", "label": "original"}
_REBUILT = {"color": "#0072B2", "label": "reconstruction"}
#: Decades of power shown below the peak of a spectrum.
PSD_DECADES = 5


def plot_reconstruction(
    original,
    reconstruction,
    sfreq: float = 200.0,
    ch_names=None,
    picks=None,
    standardize: bool = True,
    show: bool = True,
):
    """Overlay original and reconstructed signals, and their spectra.

    Parameters
    ----------
    original, reconstruction : array-like, shape (n_channels, n_times)
        One epoch, before tokenization and as rebuilt from its tokens.
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str | None
        Channel names (for labels).
    picks : list of int | None
        Channels to show (default: the first four).
    standardize : bool
        Z-score both signals over the epoch (the tokenizer reconstructs a
        per-sample standardised signal), so the y axis is in standard
        deviations; otherwise the original units are kept (µV).
        The spectra show at most 5 decades below their peak (a filtered
        signal's stop band would flatten the rest).
    show : bool
        Show the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.randn(3, 800)
    >>> fig = plot_reconstruction(x, x + 0.1 * np.random.randn(3, 800), show=False)
    """
    original = np.atleast_2d(np.asarray(original, float))
    reconstruction = np.atleast_2d(np.asarray(reconstruction, float))
    if original.shape != reconstruction.shape:
        raise ValueError(
            f"original {original.shape} and reconstruction {reconstruction.shape} "
            "must have the same shape (n_channels, n_times)"
        )
    if standardize:
        original, reconstruction = _zscore(original), _zscore(reconstruction)
    n_channels = original.shape[0]
    picks = list(range(min(4, n_channels))) if picks is None else list(picks)
    names = ch_names if ch_names is not None else [f"ch {i}" for i in range(n_channels)]
    plt = _plt()
    fig, axes = plt.subplots(
        len(picks),
        2,
        figsize=(11, 2.2 * len(picks)),
        squeeze=False,
        gridspec_kw={"width_ratios": [3, 1]},
        layout="constrained",
    )
    from scipy.signal import welch

    times = np.arange(original.shape[1]) / sfreq
    unit = "z-score" if standardize else "µV"
    # Welch's estimate over 1 s segments (the patch length): a smooth
    # spectrum in unit²/Hz instead of a raw periodogram
    nperseg = int(min(original.shape[1], round(sfreq)))
    for row, pick in enumerate(picks):
        ax, ax_psd = axes[row]
        spectra = []
        for signal, style in ((original, _ORIGINAL), (reconstruction, _REBUILT)):
            ax.plot(times, signal[pick], lw=1, **style)
            freqs, psd = welch(signal[pick], fs=sfreq, nperseg=nperseg)
            ax_psd.semilogy(freqs, psd, lw=1.2, color=style["color"])
            spectra.append(psd)
        # at most PSD_DECADES decades below the peak: a filtered original's
        # stop band (down to rounding noise) would otherwise flatten the rest
        spectra = np.concatenate(spectra)
        positive = spectra[spectra > 0]
        if positive.size:
            top = positive.max()
            bottom = max(positive.min(), top * 10.0**-PSD_DECADES)
            ax_psd.set_ylim(bottom / 2, top * 2)
        ax.set(ylabel=f"{names[pick]}\n({unit})", xlim=(times[0], times[-1]))
        for edge in np.arange(1, times[-1] + 1e-9, 1.0):
            ax.axvline(edge, color="0.85", lw=0.8, zorder=0)  # patch boundaries
        psd_unit = "1/Hz" if standardize else "µV²/Hz"
        ax_psd.set(ylabel=f"PSD ({psd_unit})", xlim=(0, sfreq / 2))
    axes[0, 0].legend(loc="upper right", ncols=2, fontsize="small")
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 1].set_xlabel("frequency (Hz)")
    axes[0, 0].set_title("signal (thin grey lines: 1 s patch boundaries)")
    axes[0, 1].set_title("PSD (Welch, 1 s)")
    return _finish(fig, show)


def plot_codebook_usage(tokens, n_code: int, show: bool = True):
    """Code usage per scale and level: share of codes used and perplexity.

    Parameters
    ----------
    tokens : array-like of int, shape (..., n_scales, n_levels)
        Tokens as returned by the tokenizer (any leading axes).
    n_code : int
        Codes per codebook.
    show : bool
        Show the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> tokens = np.random.default_rng(0).integers(0, 64, (10, 19, 4, 4, 2))
    >>> fig = plot_codebook_usage(tokens, n_code=64, show=False)
    """
    tokens = np.asarray(tokens)
    n_scales, n_levels = tokens.shape[-2:]
    flat = tokens.reshape(-1, n_scales, n_levels)
    used = np.zeros((n_scales, n_levels))
    perplexity = np.zeros((n_scales, n_levels))
    for s in range(n_scales):
        for level in range(n_levels):
            counts = np.bincount(flat[:, s, level], minlength=n_code)
            p = counts / counts.sum()
            used[s, level] = np.mean(counts > 0)
            nz = p[p > 0]
            perplexity[s, level] = np.exp(-(nz * np.log(nz)).sum())
    plt = _plt()
    fig, (ax_used, ax_perp) = plt.subplots(
        1, 2, figsize=(10, 3.5), layout="constrained"
    )
    levels = np.arange(1, n_levels + 1)
    for s in range(n_scales):
        label = SCALE_LABELS[s] if s < len(SCALE_LABELS) else f"scale {s + 1}"
        ax_used.plot(levels, 100 * used[s], marker="o", label=label)
        ax_perp.plot(levels, perplexity[s], marker="o", label=label)
    ax_used.set(
        xlabel="residual level",
        ylabel="codes used (% of codebook)",
        title=f"codebook usage ({len(flat)} patches)",
        xticks=levels,
    )
    ax_perp.set(
        xlabel="residual level",
        ylabel="perplexity (effective codes)",
        title="code perplexity",
        xticks=levels,
    )
    ax_used.legend(fontsize="small")
    return _finish(fig, show)


def _code_colors():
    """Categorical colours for codes: tab20's eighteen hues, then light grey.

    tab20's two greys are left out, so that grey means "another code".
    """
    from matplotlib.colors import ListedColormap

    plt = _plt()
    hues = [c for i, c in enumerate(plt.get_cmap("tab20").colors) if i not in (14, 15)]
    return ListedColormap([*hues, (0.9, 0.9, 0.9)])


def _frequency_ranks(codes, n_colored: int) -> np.ndarray:
    """Rank of each code by frequency (0: most frequent); rare ones share the last.

    Code indices are categories (code 17 is no closer to code 18 than to code
    4000), so the image shows which patches share a code, not the index.
    """
    values, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(values))
    return np.minimum(rank[inverse].reshape(codes.shape), n_colored)


def plot_token_map(tokens, ch_names=None, level: int = 0, show: bool = True):
    """Token indices as images, channel x patch, one panel per scale.

    Codes are categories: each of the 18 most frequent codes of a panel gets
    its own colour (tab20 without its greys), all other codes light grey, so the image
    shows where channels and seconds share a code.

    Parameters
    ----------
    tokens : array-like of int, shape (n_channels, n_patches, n_scales, n_levels)
        Tokens of one epoch.
    ch_names : list of str | None
        Channel names for the y axis.
    level : int
        Residual level to show (0 is the coarsest).
    show : bool
        Show the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> tokens = np.random.default_rng(0).integers(0, 64, (19, 4, 4, 2))
    >>> fig = plot_token_map(tokens, level=0, show=False)
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 4:
        raise ValueError(
            "tokens must have shape (n_channels, n_patches, n_scales, n_levels), got "
            f"{tokens.shape}"
        )
    n_channels, n_patches, n_scales, _ = tokens.shape
    plt = _plt()
    fig, axes = plt.subplots(
        1,
        n_scales,
        figsize=(3 * n_scales + 1, 4),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    colors = _code_colors()
    for s, ax in enumerate(axes[0]):
        ax.imshow(
            _frequency_ranks(tokens[:, :, s, level], colors.N - 1),
            aspect="auto",
            cmap=colors,
            vmin=-0.5,
            vmax=colors.N - 0.5,
            interpolation="nearest",
            origin="upper",
            extent=(0, n_patches, n_channels, 0),
        )
        label = SCALE_LABELS[s] if s < len(SCALE_LABELS) else f"scale {s + 1}"
        ax.set(title=label, xlabel="patch (s)")
    axes[0, 0].set_ylabel("channel")
    if ch_names is not None:
        step = max(1, n_channels // 20)
        axes[0, 0].set_yticks(np.arange(0, n_channels, step) + 0.5)
        axes[0, 0].set_yticklabels(list(ch_names)[::step], fontsize="small")
    fig.supxlabel(
        f"Level {level + 1} codes: one colour per code for the {colors.N - 1} most "
        "frequent codes of each scale, light grey for all others",
        fontsize="small",
    )
    return _finish(fig, show)
