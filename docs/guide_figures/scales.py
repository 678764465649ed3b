"""Figure: what the four temporal branches see of a patch (user guide)."""

import matplotlib.pyplot as plt
import numpy as np

from mne_neurorvq.nn.config import POOL_WIDTHS, STAGE1_KERNELS, STAGE2_KERNELS

sfreq = 200.0
rng = np.random.default_rng(0)
t = np.arange(200) / sfreq
patch = np.sin(2 * np.pi * 6 * t) + 0.5 * np.sin(2 * np.pi * 22 * t + 1)
patch += 0.3 * rng.standard_normal(t.size)

fig, (ax, ax_bar) = plt.subplots(
    1, 2, figsize=(10, 3.3), layout="constrained", gridspec_kw={"width_ratios": [2, 1]}
)
ax.plot(t * 1000, patch, color="0.3", lw=0.8)
receptive = []
for s, (k1, k2) in enumerate(zip(STAGE1_KERNELS, STAGE2_KERNELS, strict=True)):
    # conv k1 (stride 1) -> pool 2 -> conv k2 -> pool 4, in 200 Hz samples
    rf = k1 + (POOL_WIDTHS[0] - 1) + (k2 - 1) * POOL_WIDTHS[0]
    rf += (POOL_WIDTHS[1] - 1) * POOL_WIDTHS[0]
    receptive.append(rf / sfreq * 1000)
    centre = 500
    y = 2.4 - 0.45 * s
    ax.plot(
        [centre - receptive[-1] / 2, centre + receptive[-1] / 2],
        [y, y],
        color=f"C{s}",
        lw=5,
        solid_capstyle="butt",
        label=f"scale {s + 1}: kernels {k1} then {k2}",
    )
ax.set(
    xlabel="time within the patch (ms)",
    ylabel="amplitude (a.u.)",
    title="receptive field of one output step, per scale",
    xlim=(0, 1000),
    ylim=(-2.5, 3),
)
ax.legend(fontsize="small", loc="lower left", ncols=2)
ax_bar.barh(
    [f"scale {s + 1}" for s in range(4)],
    receptive,
    color=[f"C{s}" for s in range(4)],
)
ax_bar.invert_yaxis()
ax_bar.set(
    xlabel="receptive field (ms)",
    title="25 steps x 8 channels = 200 values",
)
