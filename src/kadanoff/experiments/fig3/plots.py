"""Fig. 3 drawn: the figures, from the files :mod:`.compute` saved only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...io import read_npz, save_figure
from ..base import Figure
from .report import as_float

__all__ = ["plot"]


def plot(folder: Path) -> list[Figure]:
    """Figures from saved results only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arrays, meta = read_npz(folder / "results.npz")
    metrics = json.loads((folder / "metrics.json").read_text())
    L = int(meta["L"])
    sizes = meta["sizes"]
    out: list[Figure] = []

    def save(fig, name: str, caption: str) -> None:
        save_figure(fig, folder / f"{name}.png", dpi=110)
        save_figure(fig, folder / f"{name}.svg")
        plt.close(fig)
        out.append((folder / f"{name}.png", caption))

    def grid(ax_grid, fields: np.ndarray, n: int) -> None:
        for k, ax in enumerate(ax_grid.ravel()):
            ax.set_xticks([])
            ax.set_yticks([])
            if k >= min(n, fields.shape[1]):
                ax.axis("off")
                continue
            f = fields[:, k].reshape(L, L)
            m = np.abs(f).max() or 1.0
            ax.imshow(f, cmap="RdBu_r", vmin=-m, vmax=m, interpolation="nearest")

    # receptive fields of each layer (L1)
    depth = len(sizes) - 1
    fig = plt.figure(figsize=(13, 4.8))
    subfigs = np.atleast_1d(fig.subfigures(1, depth))  # type: ignore[arg-type]
    for layer in range(1, depth + 1):
        f = arrays[f"fields_l1_{layer}"]
        n = min(f.shape[1], 25)
        k = int(np.ceil(np.sqrt(n)))
        axs = subfigs[layer - 1].subplots(k, k)
        grid(np.atleast_2d(axs), f, n)
        lm = metrics["receptive_fields"]["l1"][layer - 1]
        loc, rad = lm["localized_fraction"], as_float(lm["localized_radius"])
        subfigs[layer - 1].suptitle(
            f"layer {layer} ({sizes[layer]} units): {n} strongest\n"
            f"{100 * loc:.0f}% localized, core radius {rad:.1f}"
        )
    save(
        fig,
        "fig3_receptive_fields",
        "Effective receptive fields r^(l) = r^(l-1) W^(l) (red positive, blue negative, each "
        "scaled to its own maximum) of the strongest units of each layer (largest |r|), "
        "trained with L1.",
    )

    # L1 vs no L1, layer 1
    if "fields_no_l1_1" in arrays:
        fig = plt.figure(figsize=(10, 5))
        sf = np.atleast_1d(fig.subfigures(1, 2))  # type: ignore[arg-type]
        with_l1 = f"with L1 = {metrics.get('l1', 2e-4):g}"
        for s, tag, title in ((sf[0], "l1", with_l1), (sf[1], "no_l1", "without L1")):
            axs = s.subplots(5, 5)
            grid(axs, arrays[f"fields_{tag}_1"], 25)
            m = metrics["receptive_fields"][tag][0]
            s.suptitle(
                f"layer 1, {title}\n{100 * m['localized_fraction']:.0f}% localized, "
                f"core area {m['core_area']:.0f} sites"
            )
        save(
            fig,
            "fig3_l1_ablation",
            "Layer-1 receptive fields with and without the L1 penalty: the penalty is what "
            "makes them local.",
        )

    # samples and reconstructions from the top layer, plus top-down samples
    fig, axs = plt.subplots(3, 3, figsize=(7.5, 7.5))
    for i in range(3):
        for j, (key, title) in enumerate(
            (
                ("examples", "data sample"),
                ("examples_reconstructed", f"reconstruction from {sizes[-1]} units"),
                ("top_down", "top-down sample"),
            )
        ):
            ax = axs[i, j]
            ax.imshow(arrays[key][i], cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=10)
    fig.tight_layout()
    save(
        fig,
        "fig3_reconstructions",
        "Three data samples, their reconstructions through the whole network (up to the "
        "top layer and back down, mean spins), and three samples drawn top-down.",
    )

    # correlation functions, data vs network vs block spins
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    r = np.arange(len(arrays["corr_data"]))
    a.plot(r, arrays["corr_data"], "ko-", label="data", ms=3)
    for d in range(1, depth + 1):
        if f"corr_recon_{d}" in arrays:
            a.plot(r, arrays[f"corr_recon_{d}"], "-", label=f"reconstruction via layer {d}")
    a.plot(r, arrays["corr_top_down"], "--", label="top-down samples")
    g1 = -metrics["data"]["energy_exact"] / metrics["K"] / 2  # u = -2 G(1) on the square lattice
    a.plot([1], [g1], "r*", ms=12, label=f"exact G(1) (Kaufman, {L}x{L})", zorder=5)
    a.set_xlabel("distance r (sites)")
    a.set_ylabel("G(r) = <v_x v_{x+r}>")
    a.set_title("spin-spin correlations: data vs network")
    a.legend(frameon=False, fontsize=8)
    b.plot(r, arrays["corr_data"], "ko-", label="data (b = 1)", ms=3)
    for key in sorted(k for k in arrays if k.startswith("corr_block_")):
        bb = int(key.rsplit("_", 1)[1])
        g = arrays[key]
        b.plot(np.arange(len(g)) * bb, g, "o-", ms=3, label=f"majority block spins, b = {bb}")
    b.set_xlabel("distance in original sites (r b)")
    b.set_title("Kadanoff block spins of the same data")
    b.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    save(
        fig,
        "fig3_correlations",
        "Left: spin-spin correlation of the data, of reconstructions through each layer and "
        "of top-down samples. Right: the same data coarse-grained by majority rule.",
    )

    # training curves, from the saved per-epoch metrics
    history = json.loads((folder / "training_history.json").read_text())
    if history:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        for key, rows in sorted(history.items()):
            tag, layer = key.split("/")
            style = "-" if tag == "l1" else "--"
            label = (
                f"layer {int(layer.removeprefix('layer')) + 1}, {'L1' if tag == 'l1' else 'no L1'}"
            )
            ep = [r["epoch"] for r in rows]
            n_in = int(sizes[int(layer.removeprefix("layer"))])  # units of the layer's input
            for ax, metric, scale in zip(
                axes, ("reconstruction_error", "pseudo_log_likelihood"), (1, 1 / n_in), strict=True
            ):
                if all(metric in r for r in rows):
                    ax.plot(ep, [scale * as_float(r[metric]) for r in rows], style, label=label)
        axes[0].set_ylabel("reconstruction error (mean squared, per unit)")
        axes[1].set_ylabel("pseudo-log-likelihood per input unit")
        for ax in axes:
            ax.set_xlabel("epoch")
        axes[0].legend(frameon=False, fontsize=7, ncol=2)
        fig.tight_layout()
        save(
            fig,
            "fig3_training",
            "Training curves of each layer, with (solid) and without (dashed) the L1 penalty, "
            "on the monitoring subset of each layer's input.",
        )

    # block spins of one sample
    bkeys = sorted(
        (k for k in arrays if k.startswith("block_example_")),
        key=lambda k: int(k.rsplit("_", 1)[1]),
    )
    fig, axs = plt.subplots(1, len(bkeys) + 1, figsize=(3 * (len(bkeys) + 1), 3.2))
    axs[0].imshow(arrays["examples"][0], cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    axs[0].set_title(f"data ({L}x{L})")
    for ax, key in zip(axs[1:], bkeys, strict=True):
        s = arrays[key]
        ax.imshow(s, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(f"block spins b = {key.rsplit('_', 1)[1]} ({s.shape[0]}x{s.shape[1]})")
    for ax in axs:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    save(fig, "fig3_block_spins", "One configuration and its Kadanoff majority-rule block spins.")
    return out
