"""Figures of the conv-RBM RG experiment (reads only the files :func:`conv.compute` saved)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ...io import read_npz, save_figure  # noqa: E402

__all__ = ["plot_all"]

EXACT = {"y_t": 1.0, "y_h": 15 / 8}
STYLE = {"conv": ("C0", "o", "conv RBM"), "majority": ("C3", "s", "majority rule")}


def _filter(folder: Path) -> Path:
    arrays, meta = read_npz(folder / "conv_rbm.npz")
    W = arrays["weights"]
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    im = ax.imshow(W, cmap="RdBu_r", vmin=-np.abs(W).max(), vmax=np.abs(W).max())
    for (i, j), w in np.ndenumerate(W):
        ax.text(j, i, f"{w:.2f}", ha="center", va="center", fontsize=7)
    ax.set_title(f"learned filter (stride b = {meta['b']})", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(im, ax=ax)
    return save_figure(fig, folder / "conv_filter.png", dpi=110, bbox_inches="tight")


def _exponents(folder: Path, m: dict) -> Path:
    sizes = list(m["sizes"])
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.2))
    fig.subplots_adjust(wspace=0.32)
    for ax, q in zip(axes, EXACT, strict=True):
        for k, L in enumerate(sizes):
            for name, (col, mk, label) in STYLE.items():
                r = m["sizes"][L][name][q]
                x = np.asarray(r["levels"]) + 0.06 * (k - (len(sizes) - 1) / 2)
                ax.errorbar(x, r["values"], r["errors"], color=col, marker=mk, capsize=2,
                            ls="-" if k == 0 else ":", label=f"{label}, L = {L}")  # fmt: skip
        ax.axhline(EXACT[q], color="k", ls="--", lw=0.8)
        ax.set_xlabel("RG level")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(q)
    axes[0].legend(fontsize=7)
    return save_figure(fig, folder / "conv_exponents.png", dpi=110, bbox_inches="tight")


def _correlations(folder: Path, m: dict) -> Path:
    L = list(m["sizes"])[-1]
    arrays, meta = read_npz(folder / f"correlations_L{L}.npz")
    b = meta["b"]
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    for name, (col, mk, label) in STYLE.items():
        for n in range(meta["levels"] + 1):
            if n == 0 and name == "conv":
                continue
            g, e = arrays[f"{name}_G{n}"], arrays[f"{name}_G{n}_err"]
            r = np.arange(len(g)) * b**n
            ax.errorbar(
                r[1:],
                g[1:],
                e[1:],
                color="k" if n == 0 else col,
                marker=mk,
                ms=3,
                alpha=1 - 0.15 * n,
                label="fine spins" if n == 0 else f"{label} level {n}",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("distance (original lattice sites)")
    ax.set_ylabel("<s_0 s_r>")
    ax.set_title(f"coarse correlations at K_c, L = {L}", fontsize=9)
    ax.legend(fontsize=6)
    return save_figure(fig, folder / "conv_correlations.png", dpi=110, bbox_inches="tight")


def _couplings(folder: Path, m: dict) -> Path:
    L = list(m["sizes"])[-1]
    s = m["sizes"][L]
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    for name, (col, mk, label) in STYLE.items():
        for key, ls in (("K_nn", "-"), ("K_nnn", ":")):
            pts = [(n, c[key], c[f"{key}_error"]) for n, c in enumerate(s[name]["couplings"])
                   if c is not None]  # fmt: skip
            if pts:
                n, k, e = map(np.asarray, zip(*pts, strict=True))
                ax.errorbar(n, k, e, color=col, marker=mk, ls=ls, capsize=2,
                            label=f"{label} {key}")  # fmt: skip
    ax.set_xlabel("RG level")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("renormalized coupling")
    ax.set_title(f"couplings at K_c (pseudo-likelihood), L = {L}", fontsize=9)
    ax.legend(fontsize=7)
    return save_figure(fig, folder / "conv_couplings.png", dpi=110, bbox_inches="tight")


def plot_all(folder: Path) -> list[Path]:
    """All four figures; returns their paths."""
    m = json.loads((folder / "metrics.json").read_text())
    paths = [
        _filter(folder),
        _exponents(folder, m),
        _correlations(folder, m),
        _couplings(folder, m),
    ]
    plt.close("all")
    return paths
