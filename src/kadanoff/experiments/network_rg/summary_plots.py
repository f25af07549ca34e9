"""The coupling-flow figure of the ``network_rg`` summary (reads only ``summary.json``).

Network and block-spin flows on one plot: the renormalized couplings ``K_nn``, ``K_nnn`` and
``K_field`` (pseudo-likelihood, :func:`kadanoff.rg.fit_couplings`) against the level for every
rule of every contributing part, majority rule dashed, and the flow in the ``(K_nn, K_nnn)``
plane. matplotlib is imported here only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...io import save_figure
from .summary import COUPLINGS

__all__ = ["plot_coupling_flow"]


def _series(row: dict[str, Any], c: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lv = np.asarray(row["levels"], float)
    v = np.array([np.nan if x is None else x for x in row[f"K_{c}"]], float)
    e = np.array([np.nan if x is None else x for x in row[f"K_{c}_err"]], float)
    return lv, v, np.where(np.isfinite(e), e, 0.0)


def plot_coupling_flow(summary_json: Path, path: Path) -> Path | None:
    """The coupling-flow PNG at ``path`` (``None`` when no part reported couplings)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from ...ising import K_CRITICAL

    rows = json.loads(Path(summary_json).read_text()).get("couplings", [])
    if not rows:
        return None
    fig, axes = plt.subplots(1, len(COUPLINGS) + 1, figsize=(4.0 * (len(COUPLINGS) + 1), 3.8))
    colors = plt.get_cmap("tab10")
    markers = "osD^v<>ph*"
    parts = sorted({r["part"] for r in rows})
    learned = sorted({(r["part"], r["rule"]) for r in rows if r["rule"] != "majority"})
    for r in rows:
        label = f"{r['part']}: {r['rule']}, L={r['L']}"
        mk = markers[parts.index(r["part"]) % len(markers)]
        if r["rule"] == "majority":
            style: dict[str, Any] = {"color": "k", "ls": "--", "alpha": 0.7}
        else:
            style = {"color": colors(learned.index((r["part"], r["rule"])) % 10), "ls": "-"}
        for ax, c in zip(axes, COUPLINGS, strict=False):
            lv, v, e = _series(r, c)
            ax.errorbar(lv, v, yerr=e, marker=mk, ms=4, capsize=2, lw=1.1, label=label, **style)
        _, k1, _ = _series(r, "nn")
        _, k2, _ = _series(r, "nnn")
        axes[-1].plot(k1, k2, marker=mk, ms=4, lw=1.1, **style)
    for ax, c in zip(axes, COUPLINGS, strict=False):
        ax.set(xlabel="level n (0: the fine lattice)", ylabel=f"K_{c}", title=f"K_{c} by level")
        ax.axhline(K_CRITICAL if c == "nn" else 0.0, color="0.6", lw=0.7, ls=":")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1].set(xlabel="K_nn", ylabel="K_nnn", title="flow in the (K_nn, K_nnn) plane")
    axes[-1].plot([K_CRITICAL], [0.0], "r*", ms=9)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=7)
    fig.suptitle(
        "Renormalized couplings per level (pseudo-likelihood), learned rules (solid) and "
        "majority rule (dashed, each part's own data); dotted: K_c and 0, star: (K_c, 0)",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.08 + 0.03 * (len(labels) // 4), 1, 0.95))
    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return Path(path)
