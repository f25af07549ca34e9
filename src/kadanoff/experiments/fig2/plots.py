"""Fig. 2 drawn: (A) the decimation flow and (B) the network, from the saved results only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...io import read_npz, save_figure
from ..base import Figure

__all__ = ["plot"]


def plot(folder: Path) -> list[Figure]:
    """Draw (A) the flow and (B) the network from saved results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arrays, _ = read_npz(folder / "results.npz")
    flows, K0 = arrays["flows"], arrays["couplings"]
    netK, sizes = arrays["network_couplings"], arrays["network_sizes"]

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1, 1.3]})
    for K, f in zip(K0, flows, strict=True):
        a.plot(np.arange(len(f)), f, "o-", label=f"K = {K:g}")
    a.set_yscale("log")
    a.set_ylim(1e-8, 2 * flows.max())
    a.set_xlabel("RG step n")
    a.set_ylabel("coupling K$^{(n)}$")
    a.set_title("(A) decimation flow: tanh K$^{(n)}$ = (tanh K)$^{2^n}$")
    a.legend(frameon=False)

    depth = len(sizes) - 1
    n0 = int(sizes[0])
    for level, size in enumerate(sizes):
        x = np.arange(size) * (n0 // size)  # spin i of layer l sits on original site i 2^l
        b.scatter(x, np.full(size, level), s=60, c="k" if level else "C0", zorder=3)
        if level < depth:
            for i in range(1, size, 2):  # odd site i couples to even sites i-1, i+1 above
                for j in (i - 1, i + 1):
                    xe = j * (n0 // size)  # j = size wraps to the right edge (periodic)
                    b.plot(
                        [x[i], xe],
                        [level, level + 1],
                        "-" if j < size else ":",
                        color="C1",
                        lw=0.5 + 3 * netK[level] / netK.max(),
                        alpha=0.8,
                    )
            b.text(n0 + 0.5, level + 0.5, f"K$^{{({level})}}$ = {netK[level]:.3f}", va="center")
    b.set_yticks(range(depth + 1), [f"layer {i} ({s} spins)" for i, s in enumerate(sizes)])
    b.set_xticks([])
    b.set_xlim(-1, n0 + 5)
    b.set_title("(B) deep network with weights K$^{(n)}$ (line width)")
    for side in ("top", "right", "bottom"):
        b.spines[side].set_visible(False)
    fig.tight_layout()
    out = folder / "fig2.png"
    save_figure(fig, out, dpi=130)
    save_figure(fig, folder / "fig2.svg")
    plt.close(fig)
    return [
        (
            out,
            "Fig. 2: (A) decimation flow of the 1D Ising coupling for several starting "
            "values; (B) the bipartite deep network realizing it (odd sites of a layer "
            "couple to the even sites, which form the next layer).",
        )
    ]
