"""Monte Carlo RG runs: sample the 2D Ising model, coarse-grain, measure (theory.md 7).

:func:`measure` draws configurations of the nearest-neighbour model at ``K`` with a cluster
sampler (Wolff by default: at ``K_c`` it decorrelates best per CPU second, see
``benchmarks/mcrg.py``), coarse-grains every configuration with a chain of
:class:`~kadanoff.rg.coarse_graining.CoarseGraining` rules (a ``Compose``) and accumulates the
operator moments of every level (:class:`~kadanoff.rg.mcrg_matrix.Moments`); optionally it
keeps an evenly thinned subset of the coarse configurations for the coupling estimates of
:mod:`kadanoff.rg.mcrg_couplings`. Sampling and measurement are timed separately.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._rng import SeedLike, spawn
from ..ising.model import IsingModel
from ..lattice import SquareLattice
from .coarse_graining import Compose
from .mcrg_matrix import ExponentTable, Moments, Sums, exponent_table, without
from .mcrg_operators import OperatorSet

__all__ = ["MCRGRun", "measure", "exponents", "level_means", "SAMPLERS"]

#: cluster samplers :func:`measure` accepts
SAMPLERS = ("wolff", "sw")


@dataclass
class MCRGRun:
    """What :func:`measure` returns (theory.md 7).

    ``moments``: operator moments per level; ``kept``: thinned coarse configurations per level
    (``(n_kept, side, side)`` int8 each, empty lists unless asked); ``sampling_seconds`` and
    ``measurement_seconds`` (coarse-graining plus operators, all levels); ``meta``: the run's
    settings (JSON-ready).
    """

    moments: Moments
    operators: OperatorSet
    b: int
    L: int
    kept: list[np.ndarray] = field(default_factory=list)
    sampling_seconds: float = 0.0
    measurement_seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _sampler(name: str, model: IsingModel, clusters: int):
    from ..ising.samplers.swendsen_wang import SwendsenWangSampler
    from ..ising.samplers.wolff import WolffSampler

    if name == "wolff":
        return WolffSampler(model, clusters_per_sweep=clusters)
    if name == "sw":
        return SwendsenWangSampler(model)
    raise ValueError(f"unknown sampler {name!r} for MCRG: choose one of {', '.join(SAMPLERS)}")


def measure(
    L: int,
    K: float,
    rule: Compose,
    n_samples: int,
    *,
    seed: SeedLike,
    operators: OperatorSet | Sequence[str] | None = None,
    sampler: str = "wolff",
    n_chains: int = 2,
    clusters: int | None = None,
    thermalize: int = 500,
    keep: int = 0,
    chunk: int | None = None,
    progress: bool = False,
) -> MCRGRun:
    """Sample configurations of the ``L x L`` model at ``K``, coarse-grain, measure (theory.md 7).

    Parameters
    ----------
    L, K : lattice side and nearest-neighbour coupling (``H = -K sum_<ij> v_i v_j``)
    rule : Compose
        The levels: ``rule.fine_shape == (L, L)``; level ``n`` is ``rule.rules[n - 1]`` applied
        to level ``n - 1``. Every rule must give square ``side x side`` lattices.
    n_samples : int
        Measured configurations in all (split evenly over ``n_chains`` chains).
    seed : int, SeedSequence or Generator
        Independent streams for thermalization, sampling and coarse-graining are spawned.
    sampler : ``"wolff"`` (default) or ``"sw"``
    clusters : int, optional
        Wolff clusters between measured configurations; default ``round(L^2 / <|C|>)`` from
        the thermalization (about one sweep).
    thermalize : int
        Swendsen-Wang warm-up sweeps per chain before measuring; a Wolff run then grows 400
        pilot clusters to set ``clusters`` and discards ``thermalize // 4`` samples more.
    keep : int
        Keep this many configurations per level (evenly thinned) in ``MCRGRun.kept``.
    chunk : int, optional
        Configurations per chain per compiled call (default: about 8 MB of spins).
    """
    L = _check_int("L", L, 2)
    n_samples = _check_int("n_samples", n_samples, 1)
    n_chains = _check_int("n_chains", n_chains, 1)
    if tuple(rule.fine_shape) != (L, L):
        raise ValueError(f"the rule takes {rule.fine_shape}, the lattice is ({L}, {L})")
    ops = operators if isinstance(operators, OperatorSet) else OperatorSet(operators)
    model = IsingModel(SquareLattice(L), float(K))
    s_therm, s_samp, s_coarse = spawn(seed, 3)
    per_chain = -(-n_samples // n_chains)
    if chunk is None:
        chunk = max(16, (8 << 20) // (n_chains * L * L))
    chunk = min(_check_int("chunk", chunk, 1), per_chain)
    base = _sampler(sampler, model, 1)
    state = base.init_state(n_chains, seed=s_therm)
    t0 = time.perf_counter()
    # warm-up by Swendsen-Wang sweeps (each touches every site): from a hot start single Wolff
    # clusters stay small for a long time
    state, _ = _sampler("sw", model, 1).run(state, max(1, thermalize), seed=s_therm)
    if sampler == "wolff" and clusters is None:
        # pilot after the warm-up: clusters grown from a hot start are far too small
        state, info = base.run(state, 400, seed=s_therm)
        mean_size = float(np.mean(info.cluster_sizes)) if len(info.cluster_sizes) else 1.0
        clusters = max(1, round(L * L / mean_size))
    clusters = _check_int("clusters", clusters, 1) if sampler == "wolff" else 1
    smp = _sampler(sampler, model, clusters)
    state, _ = smp.run(state, max(1, thermalize // 4), seed=s_therm)
    t_sample = time.perf_counter() - t0
    n_levels = len(rule.rules) + 1
    bin_size = max(1, per_chain // 200)
    moments = Moments(n_levels, len(ops), bin_size)
    track = [i for i in (ops.names.index(n) if n in ops.names else -1 for n in ("nn", "field"))
             if i >= 0]  # fmt: skip
    stride = max(1, (per_chain * n_chains) // keep) if keep else 0
    kept: list[list[np.ndarray]] = [[] for _ in range(n_levels)]
    t_measure = 0.0
    done = 0
    bar = _progress(per_chain * n_chains, progress, f"MCRG L={L} K={K:.6g}")
    while done < per_chain:
        m = min(chunk, per_chain - done)
        t1 = time.perf_counter()
        samples, state, _ = smp.record(state, m, seed=s_samp)
        t2 = time.perf_counter()
        levels = rule.levels(samples.reshape(m * n_chains, L, L), seed=s_coarse)
        S = np.stack([ops.evaluate(x) for x in levels], axis=1)  # (m * chains, levels, ops)
        S = S.reshape(m, n_chains, n_levels, len(ops))
        for c in range(n_chains):
            moments.add(S[:, c], chain=c, track=track)
        t_measure += time.perf_counter() - t2
        t_sample += t2 - t1
        if stride:
            start = (-(done * n_chains)) % stride
            for lv, x in enumerate(levels):
                kept[lv].append(x[start::stride])
        done += m
        if bar is not None:
            bar.update(m * n_chains)
    if bar is not None:
        bar.close()
    return MCRGRun(
        moments=moments,
        operators=ops,
        b=int(L // rule.rules[0].coarse_shape[0]),
        L=L,
        kept=[np.concatenate(k)[:keep] if k else np.zeros((0, 0, 0), np.int8) for k in kept]
        if keep
        else [],
        sampling_seconds=t_sample,
        measurement_seconds=t_measure,
        meta={
            "L": L,
            "K": float(K),
            "sampler": sampler,
            "clusters_per_sample": clusters,
            "n_chains": n_chains,
            "n_samples": per_chain * n_chains,
            "thermalize": thermalize,
            "bin_size": bin_size,
            "levels": n_levels - 1,
            "coarse_sides": [int(x) for x in _sides(rule)],
            "operators": list(ops.names),
        },
    )


def _sides(rule: Compose) -> list[int]:
    return [rule.fine_shape[0]] + [r.coarse_shape[0] for r in rule.rules]


def _progress(total: int, enabled: bool, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="config", smoothing=0.1)


def exponents(
    run: MCRGRun, *, n_blocks: int = 50, sectors: Sequence[str] = ("even", "odd")
) -> list[ExponentTable]:
    """The ``y_t`` (``"even"``) and ``y_h`` (``"odd"``) tables of a run (theory.md 7)."""
    names, par = run.operators.names, run.operators.parities
    return [
        exponent_table(
            run.moments, names, par, sector=s, b=run.b, fine_side=run.L, n_blocks=n_blocks
        )
        for s in sectors
    ]


def level_means(run: MCRGRun, *, n_blocks: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """``<S_a^(l)>`` per site of each level's lattice and its jackknife error, theory.md 7.

    Returns two arrays ``(levels, operators)``: the means divided by the number of sites of the
    level's lattice (so levels compare), and their errors.
    """
    total = run.moments.totals()
    blocks = run.moments.blocks(n_blocks)
    sites = np.array([s * s for s in run.meta["coarse_sides"]], dtype=np.float64)[:, None]
    shift = run.moments.shift if run.moments.shift is not None else 0.0

    def mean(t: Sums) -> np.ndarray:
        return (t[1] / t[0] + shift) / sites

    full = mean(total)
    loo = np.array([mean(without(total, blk)) for blk in blocks])
    B = len(blocks)
    err = np.sqrt((B - 1) / B * np.sum((loo - loo.mean(axis=0)) ** 2, axis=0))
    return full, err
