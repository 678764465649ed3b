"""Figure: 1 s patches and token order (user guide)."""

import matplotlib.pyplot as plt
import numpy as np

from mne_neurorvq.channels import CHANNEL_VOCABULARY

sfreq, n_patches = 200, 4
names = ["Fp1", "Cz", "O1"]
rng = np.random.default_rng(1)
times = np.arange(n_patches * sfreq) / sfreq
signals = []
for k in range(len(names)):
    noise = np.cumsum(rng.standard_normal(times.size))
    noise -= np.convolve(noise, np.ones(50) / 50, mode="same")
    alpha = (1 + k) * np.sin(2 * np.pi * 10 * times + k)
    signals.append(noise + alpha)

fig, ax = plt.subplots(figsize=(9, 3.4), layout="constrained")
for n, (name, sig) in enumerate(zip(names, signals, strict=True)):
    offset = -n * 14
    ax.plot(times, sig / np.std(sig) * 2.5 + offset, color="0.25", lw=0.8)
    index = CHANNEL_VOCABULARY.index(name.lower())
    for a in range(n_patches):
        j = n * n_patches + a
        ax.text(
            a + 0.5,
            offset + 8,
            f"token {j}: ({index}, {256 - n_patches + a})",
            ha="center",
            fontsize=8,
            color="C0",
        )
for edge in range(n_patches + 1):
    ax.axvline(edge, color="C0", lw=1, alpha=0.6)
ax.set_yticks([-n * 14 for n in range(len(names))], names)
ax.set_xlabel("time (s) at 200 Hz: one patch = 1 s = 200 samples")
ax.set_xlim(0, n_patches)
ax.set_ylim(-38, 11)
ax.set_title(
    "3 channels x 4 s = 12 patches (tokens), channel-major; "
    "(spatial index, temporal index) of each",
    fontsize=10,
)
for side in ("top", "right"):
    ax.spines[side].set_visible(False)
