"""Does the network do RG? The mutual-information rule measured like a block spin (issue 11.3).

A ``b x b`` block filter is trained to maximize the mutual information ``I(H : E)`` between the
block's coarse spin and its environment (Koch-Janusz & Ringel, Nature Physics 14, 578, 2018;
:mod:`kadanoff.rg.mi_rule`) on 2D Ising configurations at ``K_c``, with a free bias and with the
Z2-symmetric ``c = 0``, and by the model-free Barber-Agakov bound; and on a 1D chain. Measured:

1. the learned filters against the known answers (2D: majority-like; 1D: decimation-like): cosine
   with the uniform filter, concentration, and ``I(H : E)`` of learned, majority and decimation
   filters on held-out samples (exact-conditional estimator, jackknife errors), plus exact values
   on a 4 x 4 torus and a 16-site ring;
2. beside the majority rule on the same configurations (same seed): MCRG exponents ``y_t``,
   ``y_h`` at ``K_c`` by level (:func:`kadanoff.rg.measure`, :func:`kadanoff.rg.exponents`), the
   renormalized couplings per level (:func:`kadanoff.rg.fit_couplings`) and the coarse
   correlation functions in units of original sites. The learned filter (sign of ``w . v + c``)
   is applied at every level.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...io import write_json

NAME = "network_rg_mi"
TITLE = "Does the network do RG? The mutual-information rule as a coarse-graining"

#: couplings fitted at every level
COUPLINGS = ("nn", "nnn", "plaquette", "field")


@dataclass(frozen=True)
class Config:
    """Settings: training data and filter, 1D chain, exact checks, MCRG."""

    b: int = 2
    train_L: int = 16
    train_samples: int = 600
    test_samples: int = 600
    buffer: int = 0
    width: int = 2
    steps: int = 240
    beta: tuple[float, float] = (0.5, 4.0)
    chain_N: int = 64
    chain_K: float = 1.0
    chain_buffer: int = 2
    chain_samples: int = 1000
    buffered_samples: int = 0  # > 0: also train with a one-shell buffer (2D, exact region 4x4)
    mcrg_L: tuple[int, ...] = (16,)
    mcrg_min_side: int = 8
    mcrg_samples: int = 1500
    keep: int = 300

    def __post_init__(self) -> None:
        for L in (self.train_L, *self.mcrg_L):
            if L % self.b or L < 4 * self.b:
                raise ValueError(f"lattice side {L} must be a multiple of b = {self.b}, >= 4 b")


QUICK = Config()
PAPER = Config(
    train_L=32, train_samples=4000, test_samples=4000, steps=600, chain_samples=8000,
    buffered_samples=600,
    mcrg_L=(64, 128), mcrg_samples=20_000, keep=2000,
)  # fmt: skip


def _levels(L: int, b: int, min_side: int) -> int:
    n = 0
    while L // b ** (n + 1) >= min_side and (L // b**n) % b == 0:
        n += 1
    return n


def _train(config: Config, seed: Any) -> dict[str, Any]:
    """Filters on 2D K_c data and on the chain; MI estimates on held-out samples."""
    from ..._rng import spawn
    from ...ising import K_CRITICAL
    from ...rg.mi_rule import ising_samples, train_filter
    from ...rg.mutual_information import (
        block_conditionals,
        block_geometry,
        decimation_table,
        filter_table,
        majority_table,
        mutual_information_difference,
        mutual_information_estimate,
    )

    s = spawn(seed, 8)
    b, L = config.b, config.train_L
    kw: dict[str, Any] = dict(
        buffer=config.buffer, width=config.width, steps=config.steps, beta=config.beta
    )
    train = ising_samples((L, L), K_CRITICAL, config.train_samples, seed=s[0])
    test = ising_samples((L, L), K_CRITICAL, config.test_samples, seed=s[1])
    fits = {
        "symmetric": train_filter(train, b, K=K_CRITICAL, symmetric=True, seed=s[2], **kw),
        "free_bias": train_filter(train, b, K=K_CRITICAL, symmetric=False, seed=s[3], **kw),
        "bound": train_filter(train, b, objective="bound", symmetric=True, seed=s[4], **kw),
    }
    geom = block_geometry((L, L), b, buffer=config.buffer, width=config.width)
    P, owner = block_conditionals(test, K_CRITICAL, geom)
    tables = {"majority": majority_table(b * b), "decimation": decimation_table(b * b)}
    for name, fit in fits.items():
        tables[f"{name}_soft"] = fit.filter.table()
        tables[f"{name}_sign"] = fit.filter.as_mode("sign").table()
    mi2 = {k: mutual_information_estimate(P, owner, q) for k, q in tables.items()}
    maj = tables["majority"]
    decided = (maj == 0) | (maj == 1)
    out: dict[str, Any] = {"K": K_CRITICAL, "L": L, "b": b, "filters": {}, "mi": {}}
    for k, (v, e) in mi2.items():
        out["mi"][k], out["mi"][f"{k}_err"] = float(v), float(e)
    out["mi_diff"] = {}
    for a, bb in (("symmetric_sign", "majority"), ("free_bias_sign", "symmetric_sign"),
                  ("bound_sign", "symmetric_sign"), ("majority", "decimation")):  # fmt: skip
        v, e = mutual_information_difference(P, owner, tables[a], tables[bb])
        out["mi_diff"][f"{a}-{bb}"], out["mi_diff"][f"{a}-{bb}_err"] = float(v), float(e)
    for name, fit in fits.items():
        f = fit.filter
        sign = tables[f"{name}_sign"]
        out["filters"][name] = {
            "weights": f.weights.tolist(), "bias": f.bias, "cosine_uniform": f.cosine_uniform(),
            "concentration": f.concentration(), "objective_final": fit.history[-1],
            "bias_over_norm": f.bias / float(np.linalg.norm(f.weights)),
            "sign_equals_majority_off_ties": bool(np.array_equal(sign[decided], maj[decided])),
            "sign_equals_majority": bool(np.array_equal(sign, maj)),
        }  # fmt: skip
    # 1D chain: 2-site blocks with a buffer
    N, Kc = config.chain_N, config.chain_K
    ctrain = ising_samples((N,), Kc, config.chain_samples, seed=s[5])
    ctest = ising_samples((N,), Kc, config.chain_samples, seed=s[6])
    cfit = train_filter(ctrain, b, K=Kc, buffer=config.chain_buffer, width=3, symmetric=True,
                        steps=config.steps, beta=config.beta, seed=s[7])  # fmt: skip
    cgeom = block_geometry((N,), b, buffer=config.chain_buffer, width=3)
    cP, cown = block_conditionals(ctest, Kc, cgeom)
    ctables = {
        "majority": majority_table(b),
        "decimation": decimation_table(b),
        "learned_soft": cfit.filter.table(),
        "learned_sign": cfit.filter.as_mode("sign").table(),
    }
    chain: dict[str, Any] = {"K": Kc, "N": N, "buffer": config.chain_buffer, "mi": {}}
    for k, q in ctables.items():
        v, e = mutual_information_estimate(cP, cown, q)
        chain["mi"][k], chain["mi"][f"{k}_err"] = float(v), float(e)
    chain["mi_diff"] = {}
    for a, bb in (("learned_sign", "majority"), ("decimation", "majority")):
        v, e = mutual_information_difference(cP, cown, ctables[a], ctables[bb])
        chain["mi_diff"][f"{a}-{bb}"], chain["mi_diff"][f"{a}-{bb}_err"] = float(v), float(e)
    decimations = [filter_table(np.eye(b)[i], mode="sign") for i in range(b)]
    chain["filter"] = {
        "weights": cfit.filter.weights.tolist(), "concentration": cfit.filter.concentration(),
        "cosine_uniform": cfit.filter.cosine_uniform(),
        "sign_is_decimation": any(np.array_equal(ctables["learned_sign"], d) for d in decimations),
    }  # fmt: skip
    out["chain"] = chain
    if config.buffered_samples:
        out["buffered"] = _buffered(config, train, test)
    out["_filters"] = {k: f.filter for k, f in fits.items()}
    return out


def _buffered(config: Config, train: np.ndarray, test: np.ndarray) -> dict[str, Any]:
    """The c = 0 filter trained with a one-shell buffer between block and environment."""
    from ...ising import K_CRITICAL
    from ...rg.mi_rule import train_filter
    from ...rg.mutual_information import (
        block_conditionals,
        block_geometry,
        majority_table,
        mutual_information_difference,
    )

    n = config.buffered_samples
    fit = train_filter(train[:n], config.b, K=K_CRITICAL, buffer=1, width=1, symmetric=True,
                       steps=config.steps, beta=config.beta, seed=0)  # fmt: skip
    geom = block_geometry(test.shape[1:], config.b, buffer=1, width=1)
    P, owner = block_conditionals(test[:n], K_CRITICAL, geom)
    sign, maj = fit.filter.as_mode("sign").table(), majority_table(config.b**2)
    d, e = mutual_information_difference(P, owner, sign, maj)
    decided = (maj == 0) | (maj == 1)
    return {
        "samples": n, "weights": fit.filter.weights.tolist(),
        "cosine_uniform": fit.filter.cosine_uniform(),
        "sign_equals_majority_off_ties": bool(np.array_equal(sign[decided], maj[decided])),
        "sign-majority": d, "sign-majority_err": e,
    }  # fmt: skip


def _exact(config: Config, filters: dict[str, Any]) -> dict[str, Any]:
    """Exact MI on a 4 x 4 torus at K_c (2 x 2 blocks) and a 16-site ring (2-site blocks)."""
    from ...ising import K_CRITICAL
    from ...rg.mutual_information import (
        block_geometry,
        decimation_table,
        exact_mutual_information,
        majority_table,
    )

    out: dict[str, Any] = {}
    if config.b == 2:
        g = block_geometry((4, 4), 2)
        out["torus_majority"] = exact_mutual_information(K_CRITICAL, g, majority_table(4))
        out["torus_decimation"] = exact_mutual_information(K_CRITICAL, g, decimation_table(4))
        for k, f in filters.items():
            q = f.as_mode("sign").table()
            out[f"torus_{k}_sign"] = exact_mutual_information(K_CRITICAL, g, q)
        r = block_geometry((16,), 2, buffer=config.chain_buffer, width=3)
        out["ring_majority"] = exact_mutual_information(config.chain_K, r, majority_table(2))
        out["ring_decimation"] = exact_mutual_information(config.chain_K, r, decimation_table(2))
    return out


def _mcrg(config: Config, filters: dict[str, Any], seed: Any, progress: bool) -> dict[str, Any]:
    """Exponents, couplings per level and coarse correlations for majority and MI rules."""
    from ..._rng import spawn
    from ...analysis.observables import correlation_function
    from ...ising import K_CRITICAL
    from ...rg import Compose, exponents, measure
    from ...rg.mi_rule import MIRule
    from .summary import level_couplings

    out: dict[str, Any] = {}
    for L, stream in zip(config.mcrg_L, spawn(seed, len(config.mcrg_L)), strict=True):
        n_lv = _levels(L, config.b, config.mcrg_min_side)
        sides = [L // config.b**k for k in range(n_lv + 1)]
        rules = {"majority": Compose.repeated("majority", L, config.b, n_lv)}
        for name in ("symmetric", "free_bias"):
            f = filters[name].as_mode("sign")
            rules[f"mi_{name}"] = Compose([MIRule((s, s), f) for s in sides[:-1]])
        per_L: dict[str, Any] = {"sides": sides}
        root = int(stream.integers(2**62))  # an int: every rule replays the same stream
        for rname, rule in rules.items():
            # the same root seed: the same configurations for every rule
            run = measure(L, K_CRITICAL, rule, config.mcrg_samples, seed=root, keep=config.keep,
                          progress=progress)  # fmt: skip
            r: dict[str, Any] = {}
            for t in (t.to_dict() for t in exponents(run)):
                q = t["quantity"]
                r[q], r[f"{q}_err"] = t[f"{q}_full_set"], t[f"{q}_full_set_error"]
                r["levels"], r["flagged"] = t["levels"], t["flagged_small_lattice"]
                r[f"{q}_exact"] = t["exact"]
            cpl = level_couplings(run.kept, COUPLINGS)
            corr, mags = [], []
            for n, x in enumerate(run.kept):
                g = correlation_function(x)
                corr.append({"r": [int(k * config.b**n) for k in range(len(g))],
                             "G": g.tolist()})  # fmt: skip
                mags.append(float(np.mean(x)))
            r.update(couplings=cpl, correlations=corr, magnetization=mags,
                     sampling_seconds=run.sampling_seconds)  # fmt: skip
            per_L[rname] = r
        out[str(L)] = per_L
    return out


def compute(
    config: Config, folder: Path, *, seed: int, device: str = "cpu", progress: bool = False
) -> dict[str, Any]:
    """Train the MI filters, measure them beside majority rule; save JSON; return metrics."""
    from ..._rng import spawn

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    s_train, s_mcrg = spawn(seed, 2)
    trained = _train(config, s_train)
    filters = trained.pop("_filters")
    exact = _exact(config, filters)
    mcrg = _mcrg(config, filters, s_mcrg, progress)
    write_json(folder / "filters.json", {"2d": trained, "exact": exact})
    write_json(folder / "mcrg.json", mcrg)
    metrics: dict[str, Any] = {"config": asdict(config), "train": trained, "exact": exact,
                               "mcrg": {}}  # fmt: skip
    for L, per in mcrg.items():
        for rname in ("majority", "mi_symmetric", "mi_free_bias"):
            r = per[rname]
            ok = [i for i, f in enumerate(r["flagged"]) if not f] or [len(r["flagged"]) - 1]
            i = ok[-1]
            metrics["mcrg"][f"L{L}_{rname}"] = {
                "level": r["levels"][i], "y_t": r["y_t"][i], "y_t_err": r["y_t_err"][i],
                "y_h": r["y_h"][i], "y_h_err": r["y_h_err"][i],
                "K_nn_level1": r["couplings"]["K_nn"][1],
                "K_nn_level1_err": r["couplings"]["K_nn_err"][1],
                "K_field_level1": r["couplings"]["K_field"][1],
                "K_field_level1_err": r["couplings"]["K_field_err"][1],
                "magnetization_level1": r["magnetization"][1],
                # every level (step 1..n for exponents, 0..n for couplings)
                "levels_by_step": r["levels"], "small_lattice_by_step": r["flagged"],
                "y_t_exact": r["y_t_exact"], "y_h_exact": r["y_h_exact"],
                "y_t_by_step": r["y_t"], "y_t_by_step_err": r["y_t_err"],
                "y_h_by_step": r["y_h"], "y_h_by_step_err": r["y_h_err"],
                **{k.replace("_err", "") + "_by_level" + ("_err" if k.endswith("_err") else ""): v
                   for k, v in r["couplings"].items()},
            }  # fmt: skip
    write_json(folder / "metrics.json", metrics)
    return metrics


def summary(m: dict[str, Any]) -> dict[str, Any]:
    """Rows for the network_rg summary (:mod:`.summary`): exponents and couplings by level."""
    from .mi_claims import summary_of

    return summary_of(m)


def plot(folder: Path) -> list[Path]:
    """Filters, MI comparison, exponents, couplings and correlations from the saved JSON."""
    from .mi_plots import plot_all

    return plot_all(Path(folder))


def claims(m: dict[str, Any]) -> list[dict[str, Any]]:
    """Claims table rows (claim, how, result, verdict) from the metrics."""
    from .mi_claims import claims_of

    return claims_of(m)


def reading(m: dict[str, Any]) -> str:
    """Plain-language reading, including where the MI rule is not block-spin RG."""
    from .mi_claims import reading_of

    return reading_of(m)
