"""Fig. 3 of the paper (2D): a deep belief network learns block-spin-like receptive fields.

Data: effectively independent samples of the 40x40 periodic Ising model at K = 0.408 (theory.md 6).
Network: 1600-400-100-25, trained greedily with an L1 penalty 2e-4 (the paper's setting) and, as an
ablation, without it. Then, per layer: receptive fields ``r^(l) = r^(l-1) W^(l)`` as images and
their size, shape, tiling and sparsity; samples and their reconstructions from the top layer;
observables (energy, |m|, spin-spin correlations) of the data, of reconstructions and of top-down
samples against exact Kaufman values; and Kadanoff majority-rule block spins of the same data at
the matching scales b = 2, 4, 8, side by side.

Stages save their artefacts (dataset, models) in the experiment folder, so an interrupted run
resumes at the first unfinished stage.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..io import read_npz, save_figure, write_json, write_npz
from .base import Claim

NAME = "fig3"
TITLE = "Fig. 3: a deep network learns block spins of the 2D Ising model"

#: the paper's (wrong) critical coupling, and the exact one
PAPER_KC = 0.4352

#: metrics a sweep report plots by default (glob patterns on dotted metric names)
SWEEP_METRICS = (
    "receptive_fields.l1.*.localized_fraction",
    "receptive_fields.l1.*.localized_radius",
    "receptive_fields.no_l1.0.localized_fraction",
    "data.energy_per_site.mean",
    "data.energy_z",
    "observables.data.abs_magnetization.mean",
)


@dataclass(frozen=True)
class Config:
    """Settings of the 2D experiment (defaults: the quick preset)."""

    L: int = 40
    K: float = 0.408
    n_samples: int = 4000
    algorithm: str = "sw"
    hidden: tuple[int, ...] = (400, 100, 25)
    preset: str = "mehta-schwab"  # HS recipe with the paper's L1 (kadanoff.rbm.train.PRESETS)
    epochs: int = 30
    #: the quick preset takes 30 x 40 = 1,200 update steps against the paper's 200 x 200 = 40,000:
    #: its L1 is raised to 2e-3 so that the total subgradient shrinkage lr * l1 * steps (0.24) is
    #: of the same order as the paper's (0.1 * 2e-4 * 40,000 = 0.8). The paper preset uses 2e-4.
    l1: float = 2e-3
    ablation: bool = True  # also train without L1
    n_eval: int = 1000  # configurations used for observables of reconstructions / samples
    top_down_gibbs: int = 500
    block_sizes: tuple[int, ...] = (2, 4, 8)
    seed: int = 2014
    #: training arithmetic (kadanoff.rbm.precision): None = float32, "bf16-mixed", "auto"
    precision: str | None = None


PRESETS = {
    "quick": Config(),
    "paper": Config(n_samples=20_000, epochs=200, l1=2e-4, n_eval=5000, top_down_gibbs=2000),
}


def _spins_from_units(x: Any, units: str) -> np.ndarray:
    """±1 float array from unit values (bits, probabilities or spins)."""
    a = x.detach().cpu().numpy().astype(np.float64) if hasattr(x, "detach") else np.asarray(x)
    return 2.0 * a - 1.0 if units == "binary" else a


def _sample_spins(mean_spin: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw ±1 spins with the given expectations (independent sites)."""
    return np.where(rng.random(mean_spin.shape) < 0.5 * (1 + mean_spin), 1, -1).astype(np.int8)


def _key(*parts: Any) -> str:
    """Short hash naming a stage's artefact, so a changed config never reuses a stale one."""
    import hashlib

    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:10]


def _dataset_key(config: Config) -> str:
    return _key(config.L, config.K, config.n_samples, config.algorithm, config.seed)


def _train_key(config: Config, l1: float) -> str:
    parts = (_dataset_key(config), config.hidden, config.preset, config.epochs, l1, config.seed)
    return _key(*parts, *(() if config.precision is None else (config.precision,)))


def _stage_dataset(config: Config, folder: Path, progress: bool, device: str) -> np.ndarray:
    from ..ising import IsingModel
    from ..ising.dataset import checkpoint_path, generate_dataset, load_dataset, save_dataset
    from ..lattice import SquareLattice

    path = folder / f"dataset_{_dataset_key(config)}.npz"
    if path.exists():
        return load_dataset(path).spins
    model = IsingModel(SquareLattice(config.L), config.K)
    ds = generate_dataset(
        model,
        config.n_samples,
        algorithm=config.algorithm,
        seed=config.seed,
        progress=progress,
        checkpoint=checkpoint_path(path),  # not `path`: a checkpoint there would pass for done
    )
    save_dataset(ds, path)
    return ds.spins


def _stage_train(
    config: Config, data: np.ndarray, folder: Path, tag: str, l1: float, device: str, progress: bool
):
    from ..dbn import load_model, save_model, train_dbn
    from ..rbm.train import get_preset

    key = _train_key(config, l1)
    path = folder / f"dbn_{tag}_{key}.safetensors"
    if path.exists():
        return load_model(path)
    train_config = get_preset(
        config.preset, epochs=config.epochs, l1=l1, device=device, precision=config.precision
    )
    x = data.reshape(len(data), -1).astype(np.float32)
    dbn = train_dbn(
        [x.shape[1], *config.hidden],
        x,
        train_config,
        seed=config.seed + (0 if tag == "l1" else 1),
        progress=progress,
        checkpoint_dir=folder / f"checkpoints_{tag}_{key}",
    ).dbn
    save_model(dbn, path, metadata={"train_config": train_config.to_dict(), "l1": l1})
    return dbn


def run(config: Config, folder: Path, *, device: str = "cpu", progress: bool = True) -> dict:
    """Sample, train, analyse; save arrays in ``folder``; return the metrics."""
    import torch

    from .._rng import spawn
    from ..analysis import observables as obs
    from ..analysis.receptive_fields import field_metrics
    from ..ising.exact import kaufman_energy_per_site, kaufman_specific_heat_per_site
    from ..lattice import SquareLattice
    from ..rg import block_spin_levels

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    data = _stage_dataset(config, folder, progress, device)
    timings["dataset"] = time.perf_counter() - t0

    nets = {}
    for tag, l1 in [("l1", config.l1)] + ([("no_l1", 0.0)] if config.ablation else []):
        t0 = time.perf_counter()
        nets[tag] = _stage_train(config, data, folder, tag, l1, device, progress).to("cpu")
        timings[f"train_{tag}"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    L, K = config.L, config.K
    rng_eval, rng_recon, seed_top, rng_block = spawn(config.seed + 7, 4)
    units = nets["l1"].layers[0].units
    eval_idx = rng_eval.choice(len(data), size=min(config.n_eval, len(data)), replace=False)
    eval_spins = data[eval_idx]

    # receptive fields and their metrics
    fields = {tag: [r.numpy() for r in net.receptive_fields()] for tag, net in nets.items()}
    field_stats = {tag: [field_metrics(r, L) for r in rs] for tag, rs in fields.items()}
    block_fields = {}
    for b in config.block_sizes:
        ind = SquareLattice(L).blocks(b)
        r = np.zeros((L * L, len(ind)))
        r[ind, np.arange(len(ind))[:, None]] = 1.0
        block_fields[b] = field_metrics(r, L)

    # reconstructions through every depth, and top-down samples
    net = nets["l1"]
    x = torch.as_tensor(eval_spins.reshape(len(eval_spins), -1), dtype=net.layers[0].dtype)
    if units == "binary":
        x = (x + 1) / 2
    recon_mean = {
        d: _spins_from_units(net.reconstruct(x, d), units).reshape(-1, L, L)
        for d in range(1, net.depth + 1)
    }
    recon = {d: _sample_spins(m, rng_recon) for d, m in recon_mean.items()}
    top = (
        _spins_from_units(
            net.sample(len(eval_spins), seed=seed_top, n_gibbs=config.top_down_gibbs), units
        )
        .reshape(-1, L, L)
        .astype(np.int8)
    )

    # Kadanoff majority-rule block spins of the same data
    levels = block_spin_levels(
        eval_spins,
        SquareLattice(L),
        2,
        int(np.log2(max(config.block_sizes))),
        rule="majority",
        tie="random",
        seed=rng_block,
    )

    def observables(s: np.ndarray) -> dict[str, Any]:
        return obs.summary(s, K)

    exact_u = float(kaufman_energy_per_site(L, K))  # per site, units of J
    exact_c = float(kaufman_specific_heat_per_site(L, K))
    data_obs = observables(data)
    sets = {"data": observables(eval_spins), "top-down samples": observables(top)}
    for d, s in recon.items():
        sets[f"reconstruction via layer {d} ({net.sizes[d]} units)"] = observables(s)
    blocks = {}
    for i, s in enumerate(levels[1:], start=1):
        b = 2**i
        blocks[b] = observables(s.astype(np.int8))
    timings["analysis"] = time.perf_counter() - t0

    # arrays for the plots
    show = eval_spins[:3]
    xs = torch.as_tensor(show.reshape(3, -1), dtype=net.layers[0].dtype)
    if units == "binary":
        xs = (xs + 1) / 2
    arrays = {
        "examples": show,
        "examples_reconstructed": _spins_from_units(net.reconstruct(xs), units).reshape(3, L, L),
        "top_down": top[:3],
        "corr_data": np.array(sets["data"]["correlation"]),
        "corr_top_down": np.array(sets["top-down samples"]["correlation"]),
    }
    for d in recon:
        arrays[f"corr_recon_{d}"] = np.array(
            sets[f"reconstruction via layer {d} ({net.sizes[d]} units)"]["correlation"]
        )
    for b, o in blocks.items():
        arrays[f"corr_block_{b}"] = np.array(o["correlation"])
        arrays[f"block_example_{b}"] = levels[int(np.log2(b))][0]
    for tag, rs in fields.items():
        for i, r in enumerate(rs):  # strongest units first (L1 switches some units off)
            order = np.argsort(-np.linalg.norm(r, axis=0), kind="stable")
            arrays[f"fields_{tag}_{i + 1}"] = r[:, order].astype(np.float32)
    write_npz(folder / "results.npz", arrays, {"experiment": NAME, "L": L, "sizes": net.sizes})

    u = data_obs["energy_per_site"]
    c = data_obs["specific_heat_per_site"]
    metrics = {
        "L": L,
        "K": K,
        "K_over_Kc": K / 0.44068679350977147,
        "l1": config.l1,
        "epochs": config.epochs,
        "n_samples": int(len(data)),
        "dataset_meta": _dataset_meta(folder / f"dataset_{_dataset_key(config)}.npz"),
        "data": {
            "energy_per_site": u,
            "energy_exact": exact_u * K,  # H/N includes K
            "energy_z": (u["mean"] - exact_u * K) / u["stderr"],
            "specific_heat_per_site": c,
            "specific_heat_exact": exact_c,
            "specific_heat_z": (c["mean"] - exact_c) / c["stderr"] if c["stderr"] else None,
        },
        "observables": {
            k: {kk: vv for kk, vv in v.items() if kk != "correlation"} for k, v in sets.items()
        },
        "correlation": {k: v["correlation"] for k, v in sets.items()},
        "block_spins": {
            str(b): {kk: vv for kk, vv in o.items() if kk != "correlation"}
            | {"correlation": o["correlation"]}
            for b, o in blocks.items()
        },
        "receptive_fields": field_stats,
        "block_fields": {str(b): m for b, m in block_fields.items()},
        "layer_sizes": net.sizes,
        "timings_s": timings,
    }
    runs = {"l1": config.l1, "no_l1": 0.0}
    dirs = {t: folder / f"checkpoints_{t}_{_train_key(config, runs[t])}" for t in nets}
    write_json(folder / "training_history.json", _histories(dirs))
    return metrics


def _dataset_meta(path: Path) -> dict[str, Any]:
    _, meta = read_npz(path)
    keep = (
        "algorithm",
        "thinning",
        "tau_energy",
        "tau_abs_magnetization",
        "n_chains",
        "effective_sample_size",
        "elapsed_seconds",
        "seed",
    )
    return {k: meta[k] for k in keep if k in meta}


def _histories(dirs: dict[str, Path]) -> dict[str, Any]:
    """Per-epoch training metrics of each network's layers (from their checkpoints)."""
    from ..rbm.train import load_checkpoint

    out = {}
    for tag, d in dirs.items():
        for layer_dir in sorted(d.glob("layer*")):
            ckpt = load_checkpoint(layer_dir)
            if ckpt is not None:
                out[f"{tag}/{layer_dir.name}"] = ckpt["history"]
    return out


# ---------------------------------------------------------------------------------------------
def plot(folder: Path) -> list[tuple[Path, str]]:
    """Figures from saved results only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arrays, meta = read_npz(folder / "results.npz")
    metrics = json.loads((folder / "metrics.json").read_text())
    L = int(meta["L"])
    sizes = meta["sizes"]
    out: list[tuple[Path, str]] = []

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
        loc, rad = lm["localized_fraction"], _num(lm["localized_radius"])
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
    a.plot([1], [g1], "r*", ms=12, label="exact G(1) (Kaufman, 40x40)", zorder=5)
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
                    ax.plot(ep, [scale * _num(r[metric]) for r in rows], style, label=label)
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


# ---------------------------------------------------------------------------------------------
def _num(x: float | None) -> float:
    """A metric as a float: ``null`` in metrics.json (a NaN or inf when computed) is NaN."""
    return float("nan") if x is None else float(x)


def _pm(e: dict[str, float]) -> str:
    return f"{e['mean']:.4f} ± {e['stderr']:.4f}"


def claims(m: dict[str, Any]) -> list[Claim]:
    d = m["data"]
    rf = m["receptive_fields"]
    radii = [_num(x["localized_radius"]) for x in rf["l1"]]
    grows = bool(np.all(np.isfinite(radii)) and all(np.diff(radii) > 0))
    out = [
        Claim(
            "K = 0.408 is close to but above the critical temperature (paper: K_c = 0.4352)",
            "exact K_c = ln(1 + sqrt 2)/2",
            f"K_c = 0.440687, so K/K_c = {m['K_over_Kc']:.3f}; the paper's 0.4352 is wrong",
            None,
        ),
        Claim(
            "The training data are equilibrium 2D Ising samples at K = 0.408",
            "energy per site of the data vs the exact Kaufman value for the 40x40 torus",
            f"{_pm(d['energy_per_site'])} vs {d['energy_exact']:.4f} "
            f"(z = {_num(d['energy_z']):.2f})",
            abs(_num(d["energy_z"])) < 4.5,
        ),
        Claim(
            "Receptive fields grow with depth, as block spins do",
            "median core radius (sites holding half of sum r^2) of the localized fields per "
            "layer, L1 network; Kadanoff b x b blocks at b = 2, 4, 8 for scale",
            (" < " if grows else ", ").join(f"{x:.2f}" for x in radii)
            + " (blocks: "
            + ", ".join(f"{_num(v['localized_radius']):.2f}" for v in m["block_fields"].values())
            + ")",
            grows,
        ),
    ]
    if "no_l1" in rf:
        a, b = rf["l1"][0], rf["no_l1"][0]
        out.append(
            Claim(
                "The L1 penalty makes the learned couplings local (forbids all-to-all couplings)",
                f"layer 1: fraction of fields whose core has radius < L/8, and median core "
                f"area, with L1 = {m.get('l1', 2e-4):g} vs without",
                f"{100 * a['localized_fraction']:.0f}% vs {100 * b['localized_fraction']:.0f}% "
                f"localized; core {a['core_area']:.0f} vs {b['core_area']:.0f} sites",
                a["localized_fraction"] > b["localized_fraction"]
                and a["core_area"] < b["core_area"],
            )
        )
    obs = m["observables"]
    top_key = [k for k in obs if k.startswith("reconstruction")][-1]
    out.append(
        Claim(
            "The network reconstructs samples from the top layer (Fig. 3)",
            "energy per site and |m| of reconstructions through all layers vs the data",
            f"energy {_pm(obs[top_key]['energy_per_site'])} vs "
            f"{_pm(obs['data']['energy_per_site'])};"
            f" |m| {_pm(obs[top_key]['abs_magnetization'])} vs "
            f"{_pm(obs['data']['abs_magnetization'])}",
            None,
        )
    )
    return out


def tables(m: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    rows = []
    bs = list(m["block_fields"])
    for tag in m["receptive_fields"]:
        for i, x in enumerate(m["receptive_fields"][tag]):
            bf = m["block_fields"][bs[i]] if i < len(bs) else None
            rows.append(
                [
                    "L1" if tag == "l1" else "no L1",
                    i + 1,
                    x["n_units"],
                    f"{100 * x['localized_fraction']:.0f}%",
                    x["localized_radius"],
                    x["core_area"],
                    x["radius_of_gyration"],
                    x["participation_ratio"],
                    x["hoyer_sparsity"],
                    x["coverage_ratio"],
                    x.get("nn_cv"),
                    f"b = {bs[i]}: core radius {_num(bf['localized_radius']):.2f}, "
                    f"core area {bf['core_area']:.0f}"
                    if bf
                    else "",
                ]
            )
    obs_rows = [
        [
            k,
            _pm(v["energy_per_site"]),
            _pm(v["abs_magnetization"]),
            _pm(v["specific_heat_per_site"]),
        ]
        for k, v in m["observables"].items()
    ]
    for b, v in m["block_spins"].items():
        obs_rows.append(
            [
                f"majority block spins b = {b}",
                _pm(v["energy_per_site"]),
                _pm(v["abs_magnetization"]),
                _pm(v["specific_heat_per_site"]),
            ]
        )
    d = m["data"]
    exact = [
        ["energy per site (H/N)", _pm(d["energy_per_site"]), d["energy_exact"], d["energy_z"]],
        [
            "specific heat per site",
            _pm(d["specific_heat_per_site"]),
            d["specific_heat_exact"],
            d["specific_heat_z"],
        ],
    ]
    return [
        (
            "Training data vs exact Kaufman values (40x40 torus)",
            ["observable", "data", "exact", "z"],
            exact,
        ),
        (
            "Receptive fields per layer (medians over units) and the block-spin field at the "
            "matching scale",
            [
                "network",
                "layer",
                "units",
                "localized (core radius < L/8)",
                "core radius of localized",
                "core area (sites)",
                "R_g (whole field)",
                "participation ratio",
                "Hoyer sparsity",
                "coverage ratio (1 = grid)",
                "NN-distance CV (0 = grid)",
                "block spins",
            ],
            rows,
        ),
        (
            "Observables at K = 0.408 (energy per site H/N, with K); block spins are ±1 "
            "configurations on the coarse lattice, their 'energy' is -K times the nn correlation",
            ["configurations", "energy per site", "|m|", "specific heat per site"],
            obs_rows,
        ),
    ]


def reading(m: dict[str, Any]) -> list[str]:
    rf = m["receptive_fields"]
    l1 = rf["l1"]
    txt = [
        f"The data are {m['n_samples']} effectively independent 40x40 configurations at "
        f"K = {m['K']} (T = {1 / m['K']:.3f}, K/K_c = {m['K_over_Kc']:.3f}): close to the "
        "critical point on the disordered side. Their energy and specific heat agree with the "
        "exact finite-torus values, so the network sees true equilibrium data.",
        "Receptive fields: the table measures what the paper only shows. A field's core is "
        "the fewest sites that hold half of its weight sum r^2; its radius (radius of gyration "
        "of the core) and area measure the field's size without being swamped by a weak "
        "background, and a unit counts as localized when its core radius is below L/8 = 5 "
        "sites (units that L1 switched off, or that stayed noise-like, do not). The coverage "
        "ratio and the spread of nearest-neighbour distances between the centres of localized "
        "fields say how evenly they tile the lattice (a grid of Kadanoff blocks scores 1 and 0). "
        "Per layer, with L1: "
        + "; ".join(
            f"layer {i + 1}: {100 * x['localized_fraction']:.0f}% localized, core radius "
            f"{_num(x['localized_radius']):.2f}"
            for i, x in enumerate(l1)
        )
        + ".",
        "Reconstructions through the narrow top layer keep the large-scale pattern of a "
        "configuration but not its short-range detail: compare their energy and correlation "
        "function with the data's. Majority-rule block spins of the same data, the Kadanoff "
        "construction the network is compared with, are shown at b = 2, 4, 8.",
    ]
    if "no_l1" in rf:
        a, b = rf["l1"][0], rf["no_l1"][0]
        txt.append(
            f"Ablation: without the L1 penalty {100 * b['localized_fraction']:.0f}% of the "
            f"layer-1 fields are localized (with it: {100 * a['localized_fraction']:.0f}%), and "
            f"a field's core covers {b['core_area']:.0f} sites instead of "
            f"{a['core_area']:.0f}. Locality is imposed by the penalty, as the paper "
            "says it intended; it does not emerge from the data alone."
            if a["localized_fraction"] > b["localized_fraction"]
            else f"Ablation: with and without the L1 penalty, "
            f"{100 * a['localized_fraction']:.0f}% and {100 * b['localized_fraction']:.0f}% of "
            "the layer-1 fields are localized: at this training length the penalty has not "
            "made the fields local."
        )
    return txt


def fast_config(config: Config, **changes: Any) -> Config:
    """A copy of ``config`` with some fields changed (for tests)."""
    return replace(config, **changes)
