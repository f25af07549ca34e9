"""Fig. 3 computed: sample, train, analyse (theory.md 6); arrays and metrics for the plots.

Data: effectively independent samples of the L x L periodic Ising model at K (quick: 40 x 40,
K = 0.408). Network: L^2-400-100-25, trained greedily with an L1 penalty and, as an ablation,
without it. Then, per layer: receptive fields ``r^(l) = r^(l-1) W^(l)`` and their size, shape,
tiling and sparsity; reconstructions through every depth and top-down samples; observables
(energy, |m|, spin-spin correlations) against exact Kaufman values; and Kadanoff majority-rule
block spins of the same data at the matching scales b = 2, 4, 8.

Stages save their artefacts (dataset, models) in the experiment folder, under names hashing
what made them, so an interrupted run resumes at the first unfinished stage. The run's seed is
split into independent streams: dataset, the L1 network, the network without L1, analysis.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ...io import read_npz, write_json, write_npz
from .config import NAME, Config

__all__ = ["run"]

#: the stages' independent streams, in the order they are spawned from the run's seed
STREAMS = ("dataset", "train_l1", "train_no_l1", "analysis")


def _spins_from_units(x: Any, units: str) -> np.ndarray:
    """±1 float array from unit values (bits, probabilities or spins)."""
    a = x.detach().cpu().numpy().astype(np.float64) if hasattr(x, "detach") else np.asarray(x)
    return 2.0 * a - 1.0 if units == "binary" else a


def _sample_spins(mean_spin: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw ±1 spins with the given expectations (independent sites)."""
    return np.where(rng.random(mean_spin.shape) < 0.5 * (1 + mean_spin), 1, -1).astype(np.int8)


def _key(*parts: Any) -> str:
    """Short hash naming a stage's artefact, so a changed config never reuses a stale one."""
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:10]


def _dataset_key(config: Config, seed: int, device: str) -> str:
    parts = (config.L, config.K, config.n_samples, config.algorithm, seed)
    return _key(*parts, *(() if device == "cpu" else (device,)))


def _train_key(config: Config, l1: float, seed: int, data_key: str) -> str:
    parts = (data_key, config.hidden, config.preset, config.epochs, l1, seed)
    return _key(*parts, *(() if config.precision is None else (config.precision,)))


def _dataset_device(config: Config, device: str) -> str:
    """The training device where the sampler has an implementation there, else the CPU."""
    from ...ising import IsingModel
    from ...ising.samplers import resolve_device
    from ...lattice import SquareLattice

    model = IsingModel(SquareLattice(config.L), config.K)
    return resolve_device(config.algorithm, model, "cpu" if device == "cpu" else "auto")


def _stage_dataset(
    config: Config, path: Path, stream: np.random.SeedSequence, device: str, progress: bool
) -> np.ndarray:
    from ...ising import IsingModel
    from ...ising.dataset import checkpoint_path, generate_dataset, load_dataset, save_dataset
    from ...lattice import SquareLattice

    if path.exists():
        return load_dataset(path).spins
    ds = generate_dataset(
        IsingModel(SquareLattice(config.L), config.K),
        config.n_samples,
        algorithm=config.algorithm,
        seed=stream,
        device=device,
        progress=progress,
        checkpoint=checkpoint_path(path),  # not `path`: a checkpoint there would pass for done
    )
    save_dataset(ds, path)
    return ds.spins


def _stage_train(
    config: Config,
    data: np.ndarray,
    path: Path,
    l1: float,
    stream: np.random.SeedSequence,
    device: str,
    progress: bool,
) -> tuple[Any, list[list[dict[str, Any]]]]:
    """The trained DBN at ``path`` and its per-layer training histories (``[layer][epoch]``),
    trained and saved (histories first: the model file marks the stage done) unless there."""
    from ...dbn import load_model, save_model, train_dbn
    from ...rbm.train import get_preset

    history_path = _history_path(path)
    if path.exists() and history_path.exists():
        return load_model(path), json.loads(history_path.read_text())
    train_config = get_preset(
        config.preset, epochs=config.epochs, l1=l1, device=device, precision=config.precision
    )
    x = data.reshape(len(data), -1).astype(np.float32)
    fit = train_dbn(
        [x.shape[1], *config.hidden],
        x,
        train_config,
        seed=stream,
        progress=progress,
        checkpoint_dir=_beside("checkpoints_", path, ""),
    )
    write_json(history_path, fit.histories)
    save_model(fit.dbn, path, metadata={"train_config": train_config.to_dict(), "l1": l1})
    return fit.dbn, fit.histories


def _beside(prefix: str, model_path: Path, suffix: str) -> Path:
    """``dbn_<tag>_<key>.safetensors`` -> ``<prefix><tag>_<key><suffix>`` beside it."""
    return model_path.with_name(prefix + model_path.stem.removeprefix("dbn_") + suffix)


def _history_path(model_path: Path) -> Path:
    return _beside("history_", model_path, ".json")


def run(
    config: Config,
    folder: Path,
    *,
    seed: int | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> dict:
    """Sample, train, analyse; save arrays in ``folder``; return the metrics.

    ``seed`` (default ``config.seed``) is split into the independent streams :data:`STREAMS`.
    """
    import numpy.random as npr

    seed = config.seed if seed is None else seed
    streams = dict(zip(STREAMS, npr.SeedSequence(seed).spawn(len(STREAMS)), strict=True))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    data_device = _dataset_device(config, device)
    data_key = _dataset_key(config, seed, data_device)
    data_path = folder / f"dataset_{data_key}.npz"
    data = _stage_dataset(config, data_path, streams["dataset"], data_device, progress)
    timings["dataset"] = time.perf_counter() - t0

    nets, histories = {}, {}
    for tag, l1 in [("l1", config.l1)] + ([("no_l1", 0.0)] if config.ablation else []):
        t0 = time.perf_counter()
        stream = streams[f"train_{tag}"]
        path = folder / f"dbn_{tag}_{_train_key(config, l1, seed, data_key)}.safetensors"
        net, histories[tag] = _stage_train(config, data, path, l1, stream, device, progress)
        nets[tag] = net.to("cpu")
        timings[f"train_{tag}"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    arrays, metrics = _analyse(config, data, nets, streams["analysis"])
    timings["analysis"] = time.perf_counter() - t0
    write_npz(
        folder / "results.npz",
        arrays,
        {"experiment": NAME, "L": config.L, "sizes": nets["l1"].sizes},
    )
    metrics["dataset_meta"] = _dataset_meta(data_path)
    metrics["timings_s"] = timings
    per_layer = {f"{t}/layer{i}": h for t, hs in histories.items() for i, h in enumerate(hs)}
    write_json(folder / "training_history.json", per_layer)
    return metrics


def _analyse(
    config: Config, data: np.ndarray, nets: dict[str, Any], stream: Any
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Receptive fields, reconstructions, top-down samples, block spins and their observables.

    ``data``: (n_samples, L, L) ±1 spins; ``nets``: the trained DBNs by tag ("l1", "no_l1").
    Returns the arrays of the plots and the metrics.
    """
    import torch

    from ..._rng import spawn
    from ...analysis import observables as obs
    from ...analysis.receptive_fields import field_metrics
    from ...ising import K_CRITICAL
    from ...ising.exact import kaufman_energy_per_site, kaufman_specific_heat_per_site
    from ...lattice import SquareLattice
    from ...rg import block_spin_levels

    L, K = config.L, config.K
    rng_eval, rng_recon, seed_top, rng_block = spawn(stream, 4)
    net = nets["l1"]
    units = net.layers[0].units
    eval_idx = rng_eval.choice(len(data), size=min(config.n_eval, len(data)), replace=False)
    eval_spins = data[eval_idx]

    # receptive fields and their metrics; Kadanoff b x b blocks as fields, for scale
    fields = {tag: [r.numpy() for r in n.receptive_fields()] for tag, n in nets.items()}
    field_stats = {tag: [field_metrics(r, L) for r in rs] for tag, rs in fields.items()}
    block_fields = {}
    for b in config.block_sizes:
        ind = SquareLattice(L).blocks(b)
        r = np.zeros((L * L, len(ind)))
        r[ind, np.arange(len(ind))[:, None]] = 1.0
        block_fields[b] = field_metrics(r, L)

    def visible(s: np.ndarray) -> Any:
        x = torch.as_tensor(s.reshape(len(s), -1), dtype=net.layers[0].dtype)
        return (x + 1) / 2 if units == "binary" else x

    # reconstructions through every depth, and top-down samples
    x = visible(eval_spins)
    recon_mean = {
        d: _spins_from_units(net.reconstruct(x, d), units).reshape(-1, L, L)
        for d in range(1, net.depth + 1)
    }
    recon = {d: _sample_spins(m, rng_recon) for d, m in recon_mean.items()}
    drawn = net.sample(len(eval_spins), seed=seed_top, n_gibbs=config.top_down_gibbs)
    top = _spins_from_units(drawn, units).reshape(-1, L, L).astype(np.int8)

    # Kadanoff majority-rule block spins of the same data
    n_levels = int(np.log2(max(config.block_sizes)))
    levels = block_spin_levels(
        eval_spins, SquareLattice(L), 2, n_levels, rule="majority", tie="random", seed=rng_block
    )

    exact_u = float(kaufman_energy_per_site(L, K))  # per site, units of J
    exact_c = float(kaufman_specific_heat_per_site(L, K))
    data_obs = obs.summary(data, K)
    recon_name = {d: f"reconstruction via layer {d} ({net.sizes[d]} units)" for d in recon}
    sets = {"data": obs.summary(eval_spins, K), "top-down samples": obs.summary(top, K)}
    for d, s in recon.items():
        sets[recon_name[d]] = obs.summary(s, K)
    blocks = {2**i: obs.summary(s.astype(np.int8), K) for i, s in enumerate(levels[1:], start=1)}

    # arrays for the plots
    show = eval_spins[:3]
    arrays = {
        "examples": show,
        "examples_reconstructed": _spins_from_units(net.reconstruct(visible(show)), units).reshape(
            3, L, L
        ),
        "top_down": top[:3],
        "corr_data": np.array(sets["data"]["correlation"]),
        "corr_top_down": np.array(sets["top-down samples"]["correlation"]),
    }
    for d in recon:
        arrays[f"corr_recon_{d}"] = np.array(sets[recon_name[d]]["correlation"])
    for b, o in blocks.items():
        arrays[f"corr_block_{b}"] = np.array(o["correlation"])
        arrays[f"block_example_{b}"] = levels[int(np.log2(b))][0]
    for tag, rs in fields.items():
        for i, r in enumerate(rs):  # strongest units first (L1 switches some units off)
            order = np.argsort(-np.linalg.norm(r, axis=0), kind="stable")
            arrays[f"fields_{tag}_{i + 1}"] = r[:, order].astype(np.float32)

    u: Any = data_obs["energy_per_site"]  # {"mean", "stderr"}
    c: Any = data_obs["specific_heat_per_site"]
    metrics: dict[str, Any] = {
        "L": L,
        "K": K,
        "K_over_Kc": K / K_CRITICAL,
        "l1": config.l1,
        "epochs": config.epochs,
        "n_samples": int(len(data)),
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
    }
    return arrays, metrics


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
        "seed",  # None: the dataset's stream was spawned from the run's seed, recorded here
        "seed_entropy",
        "seed_spawn_key",
    )
    return {k: meta[k] for k in keep if k in meta}
