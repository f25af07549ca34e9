"""Figures of the mutual-information rule experiment (reads ``filters.json`` and ``mcrg.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...io import save_figure

__all__ = ["plot_all", "plot_filters", "plot_mi", "plot_exponents", "plot_couplings",
           "plot_correlations"]  # fmt: skip

RULES = {"majority": "majority", "mi_symmetric": "MI, c = 0", "mi_free_bias": "MI, free bias"}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_filters(data: dict[str, Any], path: Path) -> Path:
    """Learned filter weights: 2D (c = 0, free bias, bound) and the chain filter."""
    plt = _plt()
    t = data["2d"]
    names = ["symmetric", "free_bias", "bound"]
    fig, axes = plt.subplots(1, 4, figsize=(12, 3))
    for ax, n in zip(axes[:3], names, strict=True):
        f = t["filters"][n]
        w = np.asarray(f["weights"])
        im = ax.imshow(w, cmap="viridis", vmin=0)
        fig.colorbar(im, ax=ax, shrink=0.8)
        ax.set_title(f"{n}: cos {f['cosine_uniform']:.3f}, c = {f['bias']:+.2f}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    c = t["chain"]["filter"]
    axes[3].bar(range(len(c["weights"])), c["weights"])
    axes[3].set_title(f"1D chain: concentration {c['concentration']:.2f}", fontsize=8)
    axes[3].set_xlabel("site in block")
    return _save(fig, path)


def plot_mi(data: dict[str, Any], path: Path) -> Path:
    """``I(H : E)`` of each filter (held-out samples, jackknife errors), 2D and 1D."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, mi, title in ((axes[0], data["2d"]["mi"], "2D, K_c"),
                          (axes[1], data["2d"]["chain"]["mi"], "1D chain")):  # fmt: skip
        keys = [k for k in mi if not k.endswith("_err")]
        ax.errorbar(range(len(keys)), [mi[k] for k in keys], [mi[f"{k}_err"] for k in keys],
                    fmt="o", capsize=3)  # fmt: skip
        ax.set_xticks(range(len(keys)))
        ax.set_xticklabels(keys, rotation=40, ha="right", fontsize=7)
        ax.set_ylabel("I(H : E) [nats]")
        ax.set_title(title)
    return _save(fig, path)


def plot_exponents(mcrg: dict[str, Any], path: Path) -> Path:
    """``y_t`` and ``y_h`` by level, every rule and lattice, exact values dashed."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, q in zip(axes, ("y_t", "y_h"), strict=True):
        for L, per in mcrg.items():
            for i, (r, label) in enumerate(RULES.items()):
                d = per[r]
                lv = np.asarray(d["levels"]) + 0.05 * (i - 1)
                ax.errorbar(lv, d[q], d[f"{q}_err"], marker="o", ms=3, capsize=2,
                            label=f"{label}, L = {L}")  # fmt: skip
        ax.axhline(per["majority"][f"{q}_exact"], color="k", ls="--", lw=0.8)
        ax.set_xlabel("RG step")
        ax.set_ylabel(q)
        ax.legend(fontsize=6, frameon=False)
    return _save(fig, path)


def plot_couplings(mcrg: dict[str, Any], path: Path) -> Path:
    """Renormalized couplings (pseudo-likelihood) by level for every rule, largest lattice."""
    plt = _plt()
    per = mcrg[max(mcrg, key=int)]
    names = [k for k in per["majority"]["couplings"] if not k.endswith("_err")]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.2))
    for ax, n in zip(axes, names, strict=True):
        for r, label in RULES.items():
            v = per[r]["couplings"][n]
            e = per[r]["couplings"][f"{n}_err"]
            ok = [i for i, x in enumerate(v) if x is not None]
            ax.errorbar(ok, [v[i] for i in ok], [e[i] for i in ok], marker="o", ms=3,
                        capsize=2, label=label)  # fmt: skip
        ax.set_title(n)
        ax.set_xlabel("level")
    axes[0].legend(fontsize=7, frameon=False)
    return _save(fig, path)


def plot_correlations(mcrg: dict[str, Any], path: Path) -> Path:
    """Coarse ``G(r)`` against ``r`` in original lattice units, per level, largest lattice."""
    plt = _plt()
    per = mcrg[max(mcrg, key=int)]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    styles = {"majority": "o-", "mi_symmetric": "s--", "mi_free_bias": "^:"}
    for r, label in RULES.items():
        for n, c in enumerate(per[r]["correlations"]):
            ax.plot(c["r"][1:], c["G"][1:], styles[r], ms=3, color=f"C{n}",
                    label=f"{label}, level {n}")  # fmt: skip
    ax.set_xlabel("r (original lattice sites)")
    ax.set_ylabel("G(r)")
    ax.legend(fontsize=6, frameon=False, ncol=2)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out = save_figure(fig, path, dpi=110)
    plt.close(fig)
    return Path(out)


def plot_all(folder: Path) -> list[Path]:
    """Every figure of the experiment, from the saved JSON in ``folder``."""
    data = json.loads((folder / "filters.json").read_text())
    mcrg = json.loads((folder / "mcrg.json").read_text())
    return [
        plot_filters(data, folder / "mi_filters.png"),
        plot_mi(data, folder / "mi_values.png"),
        plot_exponents(mcrg, folder / "mi_exponents.png"),
        plot_couplings(mcrg, folder / "mi_couplings.png"),
        plot_correlations(mcrg, folder / "mi_correlations.png"),
    ]
