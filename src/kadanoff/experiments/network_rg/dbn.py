"""Does the network do RG? The trained DBN layer measured like a block spin (issue 11, item 1).

The paper's DBN (theory.md 6) is trained greedily on 2D Ising data; each hidden level is read as
a coarse lattice by placing its units at their receptive-field centres (optimal assignment,
:mod:`kadanoff.rg.placement`). Measured, beside the majority rule on the same lattice:

1. placement statistics per level (share of units within one site of their grid point, units
   switched off by L1);
2. the **distance from an exact RG step**, ``KL(P || p)`` per spin (:mod:`kadanoff.rg.rg_distance`):
   an estimate for level 1 (exact Kaufman ``ln Z``, AIS for the RBM), a Salakhutdinov-Murray
   upper bound for deeper levels; and an exact check on a 4 x 4 torus, where enumeration gives
   the true KL of a trained layer and of a trained two-level network;
3. Monte Carlo RG exponents ``y_t``, ``y_h`` at ``K_c`` of DBN levels 1-2 (the same
   :func:`kadanoff.rg.mcrg.measure` and :func:`~kadanoff.rg.mcrg.exponents` as the majority rule),
   and the renormalized couplings per level fitted to the same MCRG configurations
   (:func:`kadanoff.rg.fit_couplings`, ``keep`` of them per level);
4. coarse correlation functions on held-out data at the training coupling, in units of
   original sites (DBN levels sampled and sign-of-mean, majority rule at the same scale).

Coarse spins are oriented by the sign of each unit's receptive field (a spin RBM's hidden sign
is a gauge, :mod:`kadanoff.rg.placement`); ``mode`` picks sampled or sign-of-mean spins for MCRG.
QUICK (8 x 8, a few epochs) checks the pipeline; PAPER is the paper's 40 x 40 1600-400-100-25
network with its recipe (binary units, CD-1, L1 2e-4, 200 epochs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...io import write_json, write_npz

NAME = "network_rg_dbn"
TITLE = "Does the network do RG? A trained DBN layer as a coarse-graining"


@dataclass(frozen=True)
class Config:
    """Settings: data and network, distance (AIS), 4 x 4 exact check, MCRG."""

    L: int = 8
    K: float = 0.408  # the paper's training coupling (theory.md 6)
    n_samples: int = 2000  # training configurations
    kl_samples: int = 1000  # held-out configurations for the KL estimate and correlations
    hidden: tuple[int, ...] = (16, 4)
    preset: str = "spin"
    epochs: int = 5
    l1: float = 2e-4
    algorithm: str = "wolff"
    ais_chains: int = 64
    ais_betas: int = 1000
    exact_hidden: tuple[int, int] = (8, 4)
    exact_samples: int = 4000
    exact_epochs: int = 10
    mcrg_levels: int = 2
    mcrg_samples: int = 1500
    mcrg_operators: tuple[str, ...] | None = ("nn", "nnn", "field", "three")  # None: all
    mode: str = "sample"
    keep: int = 300  # MCRG configurations per level kept for the coupling fits

    def __post_init__(self) -> None:
        sides = [int(round(np.sqrt(h))) for h in self.hidden]
        if any(s * s != h for s, h in zip(sides, self.hidden, strict=True)):
            raise ValueError(f"hidden sizes {self.hidden} must be squares (coarse lattices)")
        if any(self.L % s for s in sides):
            raise ValueError(f"each coarse side {sides} must divide L = {self.L}")
        if not 1 <= self.mcrg_levels <= len(self.hidden):
            raise ValueError(f"mcrg_levels must lie in 1..{len(self.hidden)}")
        for lv in range(1, self.mcrg_levels + 1):
            if sides[lv - 1] * 2**lv != self.L:
                raise ValueError(f"MCRG needs b = 2 per level: level {lv} side must be L / 2^{lv}")


QUICK = Config()
PAPER = Config(
    L=40, n_samples=20_000, kl_samples=5000, hidden=(400, 100, 25), preset="mehta-schwab",
    epochs=200, ais_chains=100, ais_betas=10_000, exact_samples=20_000, exact_epochs=30,
    mcrg_samples=50_000, mcrg_operators=None, keep=2000,
)  # fmt: skip


def _as_dbn(result: Any) -> Any:
    """The network from ``train_dbn``'s result, a ``DBNFit`` (``.dbn``) or the DBN itself."""
    return getattr(result, "dbn", result)


def _fields(layers: list[Any]) -> list[np.ndarray]:
    """Effective receptive fields ``r^(l) = W^(1) ... W^(l)`` (theory.md 6), float64."""
    out, r = [], None
    for m in layers:
        W = m.numpy()["weights"]
        r = W if r is None else r @ W
        out.append(r)
    return out


def _dataset(config: Config, seed: Any, progress: bool) -> tuple[np.ndarray, float]:
    from ...ising import IsingModel
    from ...ising.dataset import generate_dataset
    from ...lattice import SquareLattice

    ds = generate_dataset(
        IsingModel(SquareLattice(config.L), config.K), config.n_samples + config.kl_samples,
        algorithm=config.algorithm, seed=seed, progress=progress,
    )  # fmt: skip
    taus = [ds.meta.get(k) for k in ("saved_tau_energy", "saved_tau_abs_magnetization")]
    tau = max([1.0] + [float(t) for t in taus if t is not None and np.isfinite(t)])
    return ds.spins, tau


def _train(sizes: list[int], x: np.ndarray, config: Config, epochs: int, seed: Any, device: str,
           progress: bool) -> tuple[Any, list[Any]]:  # fmt: skip
    """``(network, CPU copies of its layers)`` trained greedily with ``config``'s recipe."""
    from ...dbn import train_dbn
    from ...rbm.train import get_preset

    tc = get_preset(config.preset, epochs=epochs, l1=config.l1, device=device)
    fit = train_dbn(sizes, x.reshape(len(x), -1).astype(np.float32), tc, seed=seed,
                    progress=progress)  # fmt: skip
    net = _as_dbn(fit)
    return net, [m.to(device="cpu") for m in net.layers]


def _chain_check(config: Config, seed: Any, progress: bool) -> dict[str, Any]:
    """1D ring of 8 spins (theory.md 5c): the bond RBM's exact KL (0) and a trained RBM's."""
    from ..._rng import spawn
    from ...rg import BondRBM
    from ...rg.rg_distance import exact_distance, ring_distribution
    from ...spins import all_states

    n, K = 8, 0.5
    s_data, s_train = spawn(seed, 2)
    P = ring_distribution(n, K)
    data = all_states(n)[s_data.choice(len(P), size=config.exact_samples, p=P)]
    _, (rbm,) = _train([n, n // 2], data, config, config.exact_epochs, s_train, "cpu", progress)
    return {
        "chain_n": n,
        "chain_K": K,
        "chain_bond_rbm_kl": exact_distance(P, BondRBM(n, K=K)).kl_per_spin,
        "chain_trained_kl": exact_distance(P, rbm).kl_per_spin,
    }


def _exact_check(config: Config, seed: Any, progress: bool) -> dict[str, Any]:
    """4 x 4 torus: trained 16-h1-h2 network, exact KL vs the AIS estimate / the bound."""
    from ..._rng import spawn
    from ...rg.rg_distance import (
        exact_distance,
        exact_network_distance,
        ising_reference,
        network_distance,
        torus_distribution,
    )
    from ...spins import all_states

    s_data, s_train, s_ais, s_bound, s_chain = spawn(seed, 5)
    P = torus_distribution(4, config.K)
    idx = s_data.choice(len(P), size=2 * config.exact_samples, p=P)
    v = all_states(16)[idx].reshape(-1, 4, 4)
    train, test = v[: config.exact_samples], v[config.exact_samples :]
    _, layers = _train([16, *config.exact_hidden], train, config, config.exact_epochs,
                    s_train, "cpu", progress)  # fmt: skip
    H, lz = ising_reference(test, config.K)
    kw: dict[str, Any] = {"n_chains": config.ais_chains, "n_betas": config.ais_betas}
    est = network_distance(layers, 1, test, H, lz, seed=s_ais, **kw)
    exact1 = exact_distance(P, layers[0]).kl_per_spin
    bound = network_distance(layers, 2, test, H, lz, seed=s_bound, **kw)
    exact2 = exact_network_distance(P, layers, 2).kl_per_spin
    return {
        **_chain_check(config, s_chain, progress),
        "L": 4,
        "kl_exact": exact1,
        "kl_estimate": est.kl_per_spin,
        "kl_estimate_err": est.stderr,
        "z": (est.kl_per_spin - exact1) / est.stderr,
        "level2_kl_exact": exact2,
        "level2_bound": bound.kl_per_spin,
        "level2_bound_err": bound.stderr,
        "level2_z_bound_minus_exact": (bound.kl_per_spin - exact2) / bound.stderr,
    }


def _correlations(layers, placements, spins, seed, config: Config) -> dict[str, Any]:
    from ..._rng import spawn
    from ...analysis.observables import correlation_function
    from ...rg.coarse_graining import Compose
    from ...rg.dbn_layer import DBNLayerRule

    out: dict[str, Any] = {"fine_r": list(range(config.L // 2 + 1)),
                           "fine": correlation_function(spins).tolist()}  # fmt: skip
    rngs = iter(spawn(seed, 3 * len(placements)))
    for lv, pl in enumerate(placements, start=1):
        side = pl.coarse_shape[0]
        b = config.L // side
        for mode in ("sample", "sign"):
            h = DBNLayerRule(layers, lv, pl, mode).coarse_grain(spins, seed=next(rngs))
            out[f"level{lv}_{mode}"] = correlation_function(h).tolist()
        if side * 2**lv == config.L:
            maj = Compose.repeated("majority", config.L, 2, lv).coarse_grain(spins, seed=next(rngs))
            out[f"level{lv}_majority"] = correlation_function(maj).tolist()
        else:
            next(rngs)
        out[f"level{lv}_r_sites"] = [b * r for r in range(side // 2 + 1)]
    return out


def _finite(values: list[float]) -> list[float | None]:
    """JSON-safe numbers: non-finite ones (a singular G, no error bar) become None."""
    return [float(x) if x is not None and np.isfinite(x) else None for x in values]


def _mcrg(layers, placements, config: Config, seed: Any, progress: bool) -> dict[str, Any]:
    from ..._rng import spawn
    from ...ising.model import K_CRITICAL
    from ...rg.coarse_graining import Compose
    from ...rg.dbn_layer import dbn_steps
    from ...rg.mcrg import exponents, measure
    from ...rg.mcrg_matrix import MIN_COARSE_SIDE
    from .summary import level_couplings

    n = config.mcrg_levels
    other = "sign" if config.mode == "sample" else "sample"
    fine = (config.L, config.L)
    rules = {
        "dbn": dbn_steps(layers, placements[:n], config.mode, fine_shape=fine),
        f"dbn_{other}": dbn_steps(layers, placements[:n], other, fine_shape=fine),
        "majority": Compose.repeated("majority", config.L, 2, n),
    }
    sides = [config.L // 2**lv for lv in range(1, n + 1)]
    out: dict[str, Any] = {
        "K": K_CRITICAL,
        "levels": list(range(1, n + 1)),
        "coarse_sides": sides,
        "flagged": [x < MIN_COARSE_SIDE for x in sides],
    }
    for (name, rule), s in zip(rules.items(), spawn(seed, len(rules)), strict=True):
        for q in ("y_t", "y_h"):
            out[f"{name}_{q}"], out[f"{name}_{q}_err"] = [None] * n, [None] * n
        # a singular G (e.g. operators that coincide on a 2 x 2 lattice, or a degenerate
        # network level) loses that level only: measure again with one level fewer
        for depth, s_depth in zip(range(n, 0, -1), spawn(s, n), strict=True):
            sub = Compose(rule.rules[:depth])
            res = measure(config.L, K_CRITICAL, sub, config.mcrg_samples, seed=s_depth,
                          progress=progress, operators=config.mcrg_operators,
                          keep=config.keep if depth == n else 0)  # fmt: skip
            if depth == n:  # renormalized couplings, levels 0..n, from the same configurations
                out[f"{name}_couplings"] = level_couplings(res.kept)
            try:
                tables = [t.to_dict() for t in exponents(res)]
            except ValueError as exc:
                out[f"{name}_singular_level_{depth}"] = str(exc)
                continue
            for d in tables:
                q = d["quantity"]
                out[f"{name}_{q}"][:depth] = _finite(d[f"{q}_full_set"])
                out[f"{name}_{q}_err"][:depth] = _finite(d[f"{q}_full_set_error"])
                out[f"{q}_exact"] = d["exact"]
            break
    return out


def compute(config: Config, folder: Path, *, seed: int, device: str = "cpu",
            progress: bool = False) -> dict[str, Any]:  # fmt: skip
    """Data, DBN, placements, KL per level, 4 x 4 exact check, MCRG, correlations (saved)."""
    from ..._rng import spawn
    from ...dbn import save_model
    from ...ising.exact import kaufman_energy_per_site
    from ...rg.placement import place_units, random_within_one
    from ...rg.rg_distance import ising_reference, network_distance

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    s_data, s_train, s_kl, s_exact, s_mcrg, s_corr, s_place = spawn(seed, 7)
    spins, tau = _dataset(config, s_data, progress)
    train, test = spins[: config.n_samples], spins[config.n_samples :]
    t_data = time.perf_counter()
    sizes = [config.L**2, *config.hidden]
    net, layers = _train(sizes, train, config, config.epochs, s_train, device, progress)
    save_model(net, folder / "dbn.safetensors")  # reload with load_model
    t_train = time.perf_counter()
    fields = _fields(layers)
    placements = [
        place_units(r, (config.L, config.L), (int(np.sqrt(r.shape[1])),) * 2) for r in fields
    ]
    H, lz = ising_reference(test, config.K)
    kl: dict[str, Any] = {}
    for lv, s in zip(range(1, len(layers) + 1), spawn(s_kl, len(layers)), strict=True):
        d = network_distance(layers, lv, test, H, lz, seed=s, n_chains=config.ais_chains,
                             n_betas=config.ais_betas, tau=tau, device=device)  # fmt: skip
        kl[f"level{lv}"] = {"value": d.kl_per_spin, "value_err": d.stderr, "kind": d.kind,
                            "relative_err": d.stderr / abs(d.kl_per_spin),
                            "log_z_model": d.log_z_model,
                            "log_z_model_err": d.log_z_model_stderr,
                            "ais_effective_chains": d.ais_effective_chains}  # fmt: skip
    # the independent-spin model at zero field: KL/N = ln 2 - S/N = ln 2 - K u - ln Z / N,
    # exact (Kaufman energy u per site): a scale for "far"
    u = float(kaufman_energy_per_site(config.L, config.K))
    kl["independent_spins"] = float(np.log(2.0) - config.K * u - lz / config.L**2)
    t_kl = time.perf_counter()
    exact = _exact_check(config, s_exact, progress)
    t_exact = time.perf_counter()
    mcrg = _mcrg(layers, placements, config, s_mcrg, progress)
    t_mcrg = time.perf_counter()
    corr = _correlations(layers, placements, test, s_corr, config)
    place = {f"level{lv}": p.summary() for lv, p in enumerate(placements, start=1)}
    for lv, (p, s) in enumerate(zip(placements, spawn(s_place, len(placements)), strict=True), 1):
        place[f"level{lv}"]["within_one_random"] = random_within_one(
            p.fine_shape, p.coarse_shape, seed=s
        )
    write_json(folder / "placement.json", place)
    write_npz(folder / "placement.npz",
              {f"centres_level{lv}": p.centres for lv, p in enumerate(placements, start=1)},
              {"L": config.L})  # fmt: skip
    write_json(folder / "kl.json", {"kl": kl, "exact_check": exact})
    write_json(folder / "mcrg.json", mcrg)
    write_json(folder / "correlations.json", corr)
    return {
        "L": config.L, "K": config.K, "hidden": list(config.hidden), "mode": config.mode,
        "ais_chains": config.ais_chains, "ais_betas": config.ais_betas,
        "tau": tau, "placement": place, "kl": kl, "exact_check": exact, "mcrg": mcrg,
        # correlation at the first coarse distance, per level and rule
        "correlations_r1": {k: v[1] for k, v in corr.items()
                            if k.startswith("level") and not k.endswith("sites")},
        "timing": {"data_s": t_data - t0, "train_s": t_train - t_data, "kl_s": t_kl - t_train,
                   "exact_s": t_exact - t_kl, "mcrg_s": t_mcrg - t_exact,
                   "total_s": time.perf_counter() - t0},
    }  # fmt: skip


def summary(m: dict[str, Any]) -> dict[str, Any]:
    """Rows for the network_rg summary (:mod:`.summary`): exponents, couplings, KL by level."""
    from .dbn_claims import summary_of

    return summary_of(m)


def plot(folder: Path) -> list[Path]:
    """Placement, KL per level, correlations and exponents figures from the saved files."""
    from .dbn_plots import plot_all

    return plot_all(Path(folder))


def claims(m: dict[str, Any]) -> list[dict[str, Any]]:
    """Claim / how checked / result / verdict rows (issue 11; :mod:`.dbn_claims`)."""
    from .dbn_claims import claims_of

    return claims_of(m)


def reading(m: dict[str, Any]) -> str:
    """Plain-language reading, including where the DBN does not behave like block-spin RG."""
    from .dbn_claims import reading_of

    return reading_of(m)
