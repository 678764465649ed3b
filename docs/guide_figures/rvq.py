"""Figure: residual vector quantisation of one scale (user guide)."""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

fig, ax = plt.subplots(figsize=(11, 3.2), layout="constrained")
ax.set(xlim=(0, 11.2), ylim=(0, 3))
ax.axis("off")


def box(x, y, text, color):
    ax.add_patch(
        FancyBboxPatch(
            (x - 0.55, y - 0.35),
            1.1,
            0.7,
            boxstyle="round,pad=0.05",
            fc=color,
            ec="0.3",
            lw=0.8,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=8)


def arrow(x0, y0, x1, y1, text=None):
    ax.add_patch(
        FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=10)
    )
    if text:
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.15, text, ha="center", fontsize=8)


box(0.7, 2.2, "patch feature\n(head output)\n$r_1$", "0.9")
xs = [2.6, 4.9, 7.2, 9.5]
labels = ["level 1", "level 2", "level 3", "level 8"]
for i, (x, label) in enumerate(zip(xs, labels, strict=True)):
    box(x, 2.2, f"{label}\nnormalise $r_l$,\nnearest code", "#cfe3f5")
    ax.text(x, 1.45, f"token $t_{{{label.split()[1]}}}$", ha="center", fontsize=9)
    arrow(x, 1.85, x, 1.6)
    arrow(x, 1.3, x, 0.85)
    ax.text(x, 0.65, f"code $q_{{{label.split()[1]}}}$", ha="center", fontsize=9)
    if i < len(xs) - 1:
        text = "$r_{l+1} = r_l - q_l$" if i < 2 else "levels 4-7"
        arrow(x + 0.55, 2.2, xs[i + 1] - 0.55, 2.2, text)
arrow(1.25, 2.2, xs[0] - 0.55, 2.2)
ax.plot([xs[0] - 0.4, xs[-1] + 0.4], [0.3, 0.3], color="0.3", lw=0.8)
ax.text(
    (xs[0] + xs[-1]) / 2,
    0.08,
    r"quantised output of the scale: $\sum_l q_l$ (to the decoder)",
    ha="center",
    fontsize=9,
)
ax.set_title(
    "One scale: 8 residual levels of 8192 codes; 4 scales give 32 tokens per patch",
    fontsize=10,
)
