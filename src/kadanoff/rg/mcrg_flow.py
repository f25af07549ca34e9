"""RG flow of measured couplings, and the critical point by MCRG matching (theory.md 7).

:func:`coupling_flow` samples the nearest-neighbour model at several ``K`` on both sides of
``K_c``, coarse-grains with any :class:`~kadanoff.rg.coarse_graining.Compose` of block rules,
and estimates the couplings of every level by pseudo-likelihood
(:func:`~kadanoff.rg.mcrg_couplings.fit_couplings`): the trajectories ``K^(n)`` run away from
the critical fixed point, to ``K = 0`` above ``T_c`` and to large ``K`` below.

:func:`match_critical_point` is Swendsen's matching: the observables of an ``L`` lattice after
``n`` blockings and of an ``L / b`` lattice after ``n - 1`` live on the same coarse lattice and
agree only at ``K_c`` (up to irrelevant corrections that shrink with ``n``). For each level and
operator the difference is fitted linearly in ``K`` over a grid and its root is the estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._rng import SeedLike, spawn
from ..lattice import SquareLattice
from .coarse_graining import Compose, block_rule
from .mcrg import level_means, measure
from .mcrg_couplings import CouplingBasis, fit_couplings
from .mcrg_matrix import MIN_COARSE_SIDE

__all__ = ["CouplingFlow", "coupling_flow", "Matching", "match_critical_point"]


@dataclass
class CouplingFlow:
    """``couplings[i, n, a]`` (NaN where no finite estimate) and ``errors`` of the same shape:
    start ``K[i]``, level ``n`` (0 = the sampled lattice), coupling ``names[a]``."""

    K: list[float]
    names: list[str]
    sides: list[int]
    couplings: np.ndarray
    errors: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, one key per coupling (``K_nn``, ``K_nn_error``, ...), theory.md 7."""
        out: dict[str, Any] = {"K_start": self.K, "coarse_sides": self.sides}
        for a, n in enumerate(self.names):
            out[f"K_{n}"] = _none_for_nan(self.couplings[:, :, a])
            out[f"K_{n}_error"] = _none_for_nan(self.errors[:, :, a])
        return out


def _none_for_nan(x: np.ndarray) -> list[Any]:
    """Nested lists with ``None`` for NaN (strict JSON)."""
    return [[float(v) if np.isfinite(v) else None for v in row] for row in x]


def coupling_flow(
    Ks: Sequence[float],
    L: int,
    *,
    rule: str = "majority",
    b: int = 2,
    levels: int = 3,
    n_samples: int = 4000,
    keep: int = 1000,
    names: Sequence[str] = ("nn", "nnn", "plaquette"),
    seed: SeedLike,
    progress: bool = False,
) -> CouplingFlow:
    """Couplings of every level for runs started at each ``K`` of ``Ks`` (theory.md 7).

    ``keep`` configurations per level (evenly thinned from ``n_samples``) enter each fit; a
    level whose fit has no finite maximum (frozen, ordered configurations) is NaN.
    """
    compose = Compose.repeated(rule, L, b, levels)
    sides = [L // b**n for n in range(levels + 1)]
    bases = [CouplingBasis.square(s, names) if s >= 2 else None for s in sides]
    out = np.full((len(Ks), levels + 1, len(names)), np.nan)
    err = np.full_like(out, np.nan)
    for i, (K, stream) in enumerate(zip(Ks, spawn(seed, len(Ks)), strict=True)):
        run = measure(L, K, compose, n_samples, seed=stream, keep=keep, progress=progress)
        for n, (x, basis) in enumerate(zip(run.kept, bases, strict=True)):
            if basis is None:
                continue
            try:
                fit = fit_couplings(x, basis, n_blocks=min(50, len(x)))
            except ValueError:
                continue
            out[i, n], err[i, n] = fit.couplings, fit.errors
    return CouplingFlow(list(map(float, Ks)), list(names), sides, out, err)


@dataclass
class Matching:
    """Matching estimates ``K_star[n - 1][a]`` (and errors) for level ``n`` of the large lattice
    against level ``n - 1`` of the small one, operator ``operators[a]`` (theory.md 7)."""

    L_large: int
    L_small: int
    b: int
    K_grid: list[float]
    operators: list[str]
    levels: list[int]
    coarse_sides: list[int]
    K_star: list[list[float]]
    K_star_error: list[list[float]]
    differences: list[list[list[float]]]  # [K][level][operator]

    def best(self) -> tuple[float, float, int]:
        """The deepest level whose coarse lattice is at least 8 x 8 (not flagged): the ``nn``
        estimate, its error and the level (theory.md 7)."""
        ok = [i for i, s in enumerate(self.coarse_sides) if s >= MIN_COARSE_SIDE]
        i = ok[-1] if ok else len(self.levels) - 1
        a = self.operators.index("nn") if "nn" in self.operators else 0
        return self.K_star[i][a], self.K_star_error[i][a], self.levels[i]

    def to_dict(self) -> dict[str, Any]:
        k, e, lv = self.best()
        return {
            "L_large": self.L_large,
            "L_small": self.L_small,
            "b": self.b,
            "K_grid": self.K_grid,
            "operators": self.operators,
            "levels": self.levels,
            "coarse_sides": self.coarse_sides,
            "K_c": self.K_star,
            "K_c_error": self.K_star_error,
            "K_c_best": k,
            "K_c_best_error": e,
            "K_c_best_level": lv,
            "differences": self.differences,
        }


def match_critical_point(
    K_grid: Sequence[float],
    L: int,
    *,
    rule: str = "majority",
    b: int = 2,
    levels: int = 3,
    n_samples: int = 20_000,
    operators: Sequence[str] = ("nn", "nnn", "plaquette"),
    seed: SeedLike,
    progress: bool = False,
) -> Matching:
    """MCRG matching of an ``L`` and an ``L / b`` lattice over ``K_grid`` (theory.md 7).

    Returns the root in ``K`` of ``<S_a^(n)>_L - <S_a^(n-1)>_{L/b}`` (per site, weighted linear
    fit over the grid) for ``n = 1..levels`` and each operator, with propagated errors.
    """
    if len(K_grid) < 2:
        raise ValueError(f"matching needs at least 2 couplings in K_grid, got {len(K_grid)}")
    small = L // b
    big_rule, small_rule = Compose.repeated(rule, L, b, levels), None
    if levels > 1:
        small_rule = Compose.repeated(rule, small, b, levels - 1)
    D = np.empty((len(K_grid), levels, len(operators)))
    E = np.empty_like(D)
    streams = spawn(seed, 2 * len(K_grid))
    for i, K in enumerate(K_grid):
        big = measure(L, K, big_rule, n_samples, seed=streams[2 * i], operators=operators,
                      progress=progress)  # fmt: skip
        mb, eb = level_means(big)
        if small_rule is None:  # one level only: the small lattice is measured unblocked
            small_rule = Compose([block_rule(rule, SquareLattice(small), b)])
        sm = measure(small, K, small_rule, n_samples, seed=streams[2 * i + 1],
                     operators=operators, progress=progress)  # fmt: skip
        ms, es = level_means(sm)
        D[i] = mb[1:] - ms[:levels]
        E[i] = np.sqrt(eb[1:] ** 2 + es[:levels] ** 2)
    Kg = np.asarray(K_grid, dtype=np.float64)
    K0 = Kg.mean()
    Ks = np.empty((levels, len(operators)))
    Ke = np.empty_like(Ks)
    for n in range(levels):
        for a in range(len(operators)):
            w = 1.0 / E[:, n, a] ** 2
            X = np.stack([np.ones_like(Kg), Kg - K0], axis=1)
            cov = np.linalg.inv((X.T * w) @ X)
            alpha, beta = cov @ ((X.T * w) @ D[:, n, a])
            root = K0 - alpha / beta
            g = np.array([-1.0 / beta, alpha / beta**2])  # d root / d (alpha, beta)
            Ks[n, a], Ke[n, a] = root, float(np.sqrt(g @ cov @ g))
    return Matching(
        L_large=L,
        L_small=small,
        b=b,
        K_grid=[float(k) for k in Kg],
        operators=list(operators),
        levels=list(range(1, levels + 1)),
        coarse_sides=[L // b**n for n in range(1, levels + 1)],
        K_star=Ks.tolist(),
        K_star_error=Ke.tolist(),
        differences=D.tolist(),
    )
