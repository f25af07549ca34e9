"""Figures of Monte Carlo RG results, shared by ``kadanoff rg`` and the "RG measured" section.

Each function reads plain dictionaries (the JSON written by the CLI / experiment) and saves a
PNG; matplotlib is imported here only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_exponents", "plot_flow", "plot_level_couplings", "value_error"]


def value_error(y: float, e: float) -> str:
    """``y(e)`` with the error to two significant digits (at least four decimals)."""
    if y is None or not math.isfinite(y):
        return "n/a"
    small = e is not None and math.isfinite(e) and 0 < e < 1e-3
    d = min(8, 1 - math.floor(math.log10(e))) if small else 4
    return f"{y:.{d}f}({e:.{d}f})"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_exponents(tables: Sequence[dict[str, Any]], path: Path) -> Path:
    """``y`` by level for every number of operators, one panel per table (y_t, y_h)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(tables), figsize=(5.2 * len(tables), 3.8), squeeze=False)
    for ax, t in zip(axes[0], tables, strict=True):
        q = t["quantity"]
        y, e = np.array(t[q], dtype=float), np.array(t[f"{q}_error"], dtype=float)
        levels = np.array(t["levels"])
        for k in range(y.shape[1]):
            ax.errorbar(levels + 0.04 * (k - y.shape[1] / 2), y[:, k], e[:, k], marker="o",
                        ms=3, capsize=2, label=f"{k + 1} op.")  # fmt: skip
        ax.axhline(t["exact"], color="k", lw=0.8, ls="--", label=f"exact {t['exact']:g}")
        for lv, bad in zip(levels, t["flagged_small_lattice"], strict=True):
            if bad:
                ax.axvspan(lv - 0.5, lv + 0.5, color="0.9", zorder=0)
        ax.set_xticks(levels)
        ax.set_xlabel("RG step n (shaded: coarse lattice < 8 x 8)")
        ax.set_ylabel(q)
        ax.set_title(f"{q} from T = G^-1 F, b = {t['b']}")
        ax.legend(fontsize=7, ncol=2, frameon=False)
    return _save(plt, fig, path)


def plot_flow(flow: dict[str, Any], path: Path, *, K_critical: float | None = None) -> Path:
    """Trajectories ``(K_nn^(n), K_nnn^(n))`` level by level for each starting ``K``."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 4.4))

    def arr(key: str) -> np.ndarray:
        return np.array([[np.nan if x is None else x for x in r] for r in flow[key]], float)

    Knn, Knnn = arr("K_nn"), arr("K_nnn")
    Enn, Ennn = arr("K_nn_error"), arr("K_nnn_error")
    for i, K0 in enumerate(flow["K_start"]):
        ok = np.isfinite(Knn[i]) & np.isfinite(Knnn[i])
        side = "" if K_critical is None else (" (K_c)" if abs(K0 - K_critical) < 1e-12 else "")
        ax.errorbar(Knn[i, ok], Knnn[i, ok], Ennn[i, ok], Enn[i, ok], fmt="o-", ms=4,
                    capsize=2, label=f"K = {K0:.4f}{side}")  # fmt: skip
        for n in np.nonzero(ok)[0]:
            ax.annotate(str(n), (Knn[i, n], Knnn[i, n]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")  # fmt: skip
    if K_critical is not None:
        ax.axvline(K_critical, color="k", lw=0.6, ls=":")
    ax.set_xlabel("K_nn")
    ax.set_ylabel("K_nnn")
    ax.set_title("measured RG flow (numbers: RG step)")
    ax.legend(fontsize=7, frameon=False)
    return _save(plt, fig, path)


def plot_level_couplings(result: dict[str, Any], path: Path) -> Path:
    """Each coupling against the level, with error bars (``kadanoff rg couplings``)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    levels = np.array(result["levels"])
    for name in result["couplings"]:
        k = np.array([np.nan if x is None else x for x in result[f"K_{name}"]], dtype=float)
        e = np.array([np.nan if x is None else x for x in result[f"K_{name}_error"]], float)
        ax.errorbar(levels, k, e, marker="o", ms=4, capsize=2, label=f"K_{name}")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(levels)
    ax.set_xlabel("level n")
    ax.set_ylabel("coupling")
    ax.set_title("renormalized couplings (pseudo-likelihood)")
    ax.legend(fontsize=7, frameon=False)
    return _save(plt, fig, path)
