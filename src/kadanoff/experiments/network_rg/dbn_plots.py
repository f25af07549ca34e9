"""Figures of the DBN-as-coarse-graining experiment (reads only the saved files; matplotlib)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...io import read_npz, save_figure

__all__ = ["plot_all", "plot_placement", "plot_kl", "plot_correlations", "plot_exponents"]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: Path) -> Path:
    save_figure(fig, path)
    plt.close(fig)
    return path


def plot_placement(folder: Path) -> Path:
    """Receptive-field centres of each level over its ideal coarse grid (fine-site units)."""
    from ...rg.placement import ideal_grid

    plt = _plt()
    arrays, meta = read_npz(folder / "placement.npz")
    place = json.loads((folder / "placement.json").read_text())
    L = int(meta["L"])
    levels = sorted(place, key=lambda k: int(k[5:]))
    fig, axes = plt.subplots(1, len(levels), figsize=(3.6 * len(levels), 3.6), squeeze=False)
    for ax, key in zip(axes[0], levels, strict=True):
        c = arrays[f"centres_{key}"]
        g = ideal_grid((L, L), tuple(place[key]["coarse_shape"]))
        ax.scatter(g[:, 1], g[:, 0], marker="+", c="0.6", label="grid")
        ax.scatter(c[:, 1], c[:, 0], s=10, c="C3", label="centres")
        ax.set(xlim=(-0.5, L - 0.5), ylim=(L - 0.5, -0.5), aspect="equal",
               title=f"{key}: {place[key]['within_one']:.0%} within 1 site")  # fmt: skip
    axes[0][0].legend(fontsize=7, loc="lower left")
    return _save(plt, fig, folder / "dbn_placement.png")


def plot_kl(folder: Path) -> Path:
    """KL per spin by level with error bars (estimate or upper bound), and the 4 x 4 check."""
    plt = _plt()
    d = json.loads((folder / "kl.json").read_text())
    kl, ex = d["kl"], d["exact_check"]
    levels = sorted((k for k in kl if k.startswith("level")), key=lambda k: int(k[5:]))
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    x = np.arange(1, len(levels) + 1)
    label = "trained DBN (level 1 estimate, deeper: bound)"
    ax.errorbar(x, [kl[k]["value"] for k in levels], [kl[k]["value_err"] for k in levels],
                fmt="o", capsize=3, label=label)  # fmt: skip
    ax.axhline(kl["independent_spins"], ls=":", c="0.5", label="independent spins")
    ax.errorbar([1.15], [ex["kl_estimate"]], [ex["kl_estimate_err"]], fmt="s", c="C2",
                capsize=3, label="4 x 4: AIS estimate")  # fmt: skip
    ax.plot([1.25], [ex["kl_exact"]], "x", c="k", label="4 x 4: exact")
    ax.axhline(0.0, c="k", lw=0.5)
    ax.set(xlabel="DBN level", ylabel="KL(P || p) per spin", xticks=x,
           title="Distance from an exact RG step")  # fmt: skip
    ax.legend(fontsize=7)
    return _save(plt, fig, folder / "dbn_kl.png")


def plot_correlations(folder: Path) -> Path:
    """Coarse correlation functions vs distance in original sites, DBN vs block spins."""
    plt = _plt()
    c = json.loads((folder / "correlations.json").read_text())
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    ax.plot(c["fine_r"], c["fine"], "k.-", label="data (level 0)")
    lv = 1
    while f"level{lv}_r_sites" in c:
        r = c[f"level{lv}_r_sites"]
        ax.plot(r, c[f"level{lv}_sample"], "o-", c=f"C{lv}", label=f"DBN level {lv} (sampled)")
        ax.plot(r, c[f"level{lv}_sign"], "s--", c=f"C{lv}", mfc="none", label=f"level {lv} (sign)")
        if f"level{lv}_majority" in c:
            ax.plot(r, c[f"level{lv}_majority"], "^:", c="0.4", label=f"majority, level {lv}")
        lv += 1
    ax.set(xlabel="distance (original sites)", ylabel="<h_0 h_r>", title="Coarse correlations")
    ax.legend(fontsize=6)
    return _save(plt, fig, folder / "dbn_correlations.png")


def plot_exponents(folder: Path) -> Path:
    """MCRG ``y_t`` and ``y_h`` by level: DBN vs majority rule on the same lattice."""
    plt = _plt()
    m = json.loads((folder / "mcrg.json").read_text())
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.4))
    for ax, q, exact in zip(axes, ("y_t", "y_h"), (1.0, 15 / 8), strict=True):
        x = np.asarray(m["levels"], dtype=float)
        names = [n for n in ("dbn", "dbn_sign", "dbn_sample", "majority") if f"{n}_{q}" in m]
        marks = {"dbn": "o", "dbn_sign": "s", "dbn_sample": "s", "majority": "^"}
        for k, name in enumerate(names):
            mk = marks[name]
            y, e = (np.array([np.nan if v is None else v for v in m[f"{name}_{q}{s}"]])
                    for s in ("", "_err"))  # fmt: skip
            ax.errorbar(x + 0.08 * k, y, np.nan_to_num(e), fmt=mk, capsize=3, label=name)
        ax.axhline(exact, ls="--", c="0.5")
        ax.set(xlabel="RG step", ylabel=q, xticks=x)
        ax.legend(fontsize=7)
    return _save(plt, fig, folder / "dbn_exponents.png")


def plot_all(folder: Path) -> list[Path]:
    """Every figure of the experiment, from the files in ``folder``."""
    return [plot_placement(folder), plot_kl(folder), plot_correlations(folder),
            plot_exponents(folder)]  # fmt: skip
