"""Figures of the RBM-flow experiment (:mod:`.flow`): coupling against flow step.

Reads only ``flow.npz`` (written by :func:`.flow.compute`); matplotlib is imported here only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...io import read_npz, save_figure

__all__ = ["plot_flows"]


def plot_flows(folder: Path) -> list[Path]:
    """One PNG per iteration mode: rows = thermometer (``T = 1/K_nn``, ``T = 1/K_E``), columns
    = hyperparameter setting; one line per starting temperature (mean over seeds, error bars:
    standard error over seeds), dashed: ``T_c``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ...ising import T_CRITICAL

    arrays, meta = read_npz(Path(folder) / "flow.npz")
    settings, starts = meta["settings"], meta["start_temperatures"]
    steps = np.asarray(meta["steps"])
    colors = plt.get_cmap("plasma")(np.linspace(0, 0.85, len(starts)))
    top = 1.5 * max(starts)
    out = []
    for m, mode in enumerate(meta["modes"]):
        fig, axes = plt.subplots(
            2,
            len(settings),
            figsize=(3.2 * len(settings), 5.6),
            sharex=True,
            sharey=True,
            squeeze=False,
        )
        for row, (key, name) in enumerate(
            (("K", "1/K_nn (pseudo-likelihood)"), ("K_E", "1/K_E (exact energy)"))
        ):
            with np.errstate(divide="ignore", invalid="ignore"):
                T = 1.0 / arrays[key][:, :, m]  # (settings, seeds, starts, steps)
            T = np.where(np.isfinite(T), T, 0.0)  # frozen (K = inf) is T = 0
            for s, label in enumerate(settings):
                ax = axes[row, s]
                mean = T[s].mean(axis=0)
                err = T[s].std(axis=0, ddof=1) / np.sqrt(T.shape[1])
                for b, T0 in enumerate(starts):
                    ax.errorbar(
                        steps,
                        mean[b],
                        yerr=err[b],
                        color=colors[b],
                        lw=1.2,
                        capsize=1.5,
                        label=f"T0={T0:g}",
                    )
                ax.axhline(T_CRITICAL, color="k", ls="--", lw=0.8)
                ax.set_ylim(0, top)
                if row == 0:
                    ax.set_title(label, fontsize=8)
                if row == 1:
                    ax.set_xlabel("flow step n")
                if s == 0:
                    ax.set_ylabel(f"T = {name}", fontsize=8)
        axes[0, 0].legend(fontsize=6, loc="upper right")
        fig.suptitle(
            f"RBM flow ({mode} mode), {meta['L']} x {meta['L']}: temperature of the "
            "reconstructions by flow step\n(clipped at 1.5 max T0; K = inf drawn as T = 0; "
            "dashed: T_c)",
            fontsize=9,
        )
        fig.tight_layout()
        out.append(save_figure(fig, Path(folder) / f"rbm_flow_{mode}.png", dpi=110))
        plt.close(fig)
    return out
