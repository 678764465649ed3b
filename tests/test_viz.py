import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mne_neurorvq.viz import (  # noqa: E402
    plot_codebook_usage,
    plot_reconstruction,
    plot_token_map,
)


def test_plot_reconstruction_axes_and_labels():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 800))
    fig = plot_reconstruction(
        x, x, ch_names=["Cz", "C3", "C4"], picks=[0, 2], show=False
    )
    axes = fig.axes
    assert len(axes) == 4
    assert axes[0].get_ylabel() == "Cz\n(z-score)"
    assert axes[2].get_ylabel() == "C4\n(z-score)"
    assert axes[-2].get_xlabel() == "time (s)"
    # the reconstruction line is drawn on top of the original
    original, recon = axes[0].get_lines()[:2]
    np.testing.assert_allclose(original.get_ydata(), recon.get_ydata())
    with pytest.raises(ValueError, match="same shape"):
        plot_reconstruction(x, x[:2], show=False)
    plt.close("all")


def test_spectrum_axis_shows_five_decades_below_the_peak():
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(0)
    noise = rng.standard_normal((1, 2000))
    # a 40 Hz low-pass: its stop band falls ~10 decades below the peak
    filtered = sosfiltfilt(butter(8, 40, fs=200, output="sos"), noise)
    fig = plot_reconstruction(filtered, noise, show=False)
    bottom, top = fig.axes[1].get_ylim()
    peak = max(line.get_ydata().max() for line in fig.axes[1].get_lines())
    assert top == pytest.approx(2 * peak)
    assert bottom == pytest.approx(peak * 1e-5 / 2)
    plt.close("all")


def test_codebook_usage_counts():
    tokens = np.zeros((10, 4, 2), dtype=int)
    tokens[:, 0, 0] = np.arange(10)  # scale 1, level 1 uses 10 codes evenly
    fig = plot_codebook_usage(tokens, n_code=20, show=False)
    used_line = fig.axes[0].get_lines()[0]
    assert used_line.get_ydata()[0] == pytest.approx(50.0)
    perplexity_line = fig.axes[1].get_lines()[0]
    assert perplexity_line.get_ydata()[0] == pytest.approx(10.0)
    assert perplexity_line.get_ydata()[1] == pytest.approx(1.0)
    plt.close("all")


def test_token_map_panels():
    tokens = np.random.default_rng(0).integers(0, 64, (10, 6, 4, 2))
    fig = plot_token_map(tokens, ch_names=list("ABCDEFGHIJ"), show=False)
    images = [ax.get_images()[0] for ax in fig.axes if ax.get_images()]
    assert len(images) == 4
    # one colour per code: patches share a value exactly when they share a code
    shown, codes = np.asarray(images[1].get_array()), tokens[:, :, 1, 0]
    frequent = shown < 18
    same_shown = shown[:, :, None, None] == shown[None, None]
    same_code = codes[:, :, None, None] == codes[None, None]
    both = frequent[:, :, None, None] & frequent[None, None]
    np.testing.assert_array_equal(same_shown[both], same_code[both])
    assert shown.max() == 18  # more than 18 distinct codes: the rare ones grey
    with pytest.raises(ValueError, match="n_channels, n_patches"):
        plot_token_map(tokens[0], show=False)
    plt.close("all")
