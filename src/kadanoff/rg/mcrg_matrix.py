"""Linearized RG matrix of Monte Carlo RG (Swendsen, PRL 42, 859 (1979); theory.md 7).

Configurations of one run are coarse-grained to levels ``0..N``; at each level the operators
``S_a`` of :mod:`kadanoff.rg.mcrg_operators` are measured. Step ``n`` (1-based: from the lattice
of level ``n - 1`` to that of level ``n``) has the linearized RG matrix
``T = dK^(n)/dK^(n-1) = G^-1 F`` with

    F_ab = <S_a^(n) S_b^(n-1)> - <S_a^(n)><S_b^(n-1)>,
    G_ab = <S_a^(n) S_b^(n)>   - <S_a^(n)><S_b^(n)>

(theory.md writes the same matrix with levels ``n + 1, n``). Its largest eigenvalue in the even
sector is ``b^y_t``, in the odd sector ``b^y_h``. Errors come from a jackknife over blocks of
consecutive configurations (:class:`Moments` keeps sums per bin, so the jackknife never stores
the configurations).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..stats import integrated_time

__all__ = ["Moments", "linearized_matrix", "leading_exponent", "ExponentTable", "exponent_table"]

Sums = tuple[int, np.ndarray, np.ndarray, np.ndarray]  # count, sum S, sum S S, sum S^(l) S^(l-1)

#: coarse lattices smaller than this (per side) are flagged in every table (theory.md 7)
MIN_COARSE_SIDE = 8
#: a G with a larger condition number is treated as singular
MAX_CONDITION = 1e12


class Moments:
    """First and second moments of ``S^(l)`` per bin of consecutive configurations.

    Parameters
    ----------
    n_levels : int
        Number of levels including level 0 (``N + 1``).
    n_operators : int
    bin_size : int
        Configurations per bin; a bin holds consecutive configurations of one chain.
    """

    def __init__(self, n_levels: int, n_operators: int, bin_size: int) -> None:
        if bin_size < 1:
            raise ValueError(f"bin_size must be >= 1, got {bin_size}")
        self.n_levels, self.m, self.bin_size = int(n_levels), int(n_operators), int(bin_size)
        self.shift: np.ndarray | None = None  # subtracted before summing (less cancellation)
        self._bins: list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]] = []
        self._open: dict[int, list[np.ndarray]] = {}
        self.series: dict[int, list[np.ndarray]] = {}  # per chain: (t, levels, 2) nn, |field|

    def add(self, S: np.ndarray, *, chain: int = 0, track: Sequence[int] = ()) -> None:
        """Add consecutive configurations of one chain: ``S`` of shape ``(t, n_levels, m)``.

        ``track`` names up to two operator columns whose time series (per level) are kept
        for the autocorrelation time (their absolute values for odd ones).
        """
        S = np.asarray(S, dtype=np.float64)
        if S.ndim != 3 or S.shape[1:] != (self.n_levels, self.m):
            raise ValueError(f"S must have shape (t, {self.n_levels}, {self.m}), got {S.shape}")
        if self.shift is None:
            self.shift = S.mean(axis=0)
        if track:
            self.series.setdefault(chain, []).append(
                np.abs(S[:, :, list(track)]).astype(np.float32)
            )
        pending = self._open.setdefault(chain, [])
        pending.append(S - self.shift)
        have = sum(len(p) for p in pending)
        if have < self.bin_size:
            return
        X = np.concatenate(pending)
        n_full = len(X) // self.bin_size
        for k in range(n_full):
            self._close(chain, X[k * self.bin_size : (k + 1) * self.bin_size])
        rest = X[n_full * self.bin_size :]
        self._open[chain] = [rest] if len(rest) else []

    def _close(self, chain: int, X: np.ndarray) -> None:
        s1 = X.sum(axis=0)  # (levels, m)
        same = np.einsum("tla,tlb->lab", X, X)
        cross = np.einsum("tla,tlb->lab", X[:, 1:], X[:, :-1])
        self._bins.append((chain, len(X), s1, same, cross))

    @property
    def n_configs(self) -> int:
        """Configurations in closed bins (a partial last bin is left out)."""
        return sum(b[1] for b in self._bins)

    @property
    def n_bins(self) -> int:
        return len(self._bins)

    def blocks(self, n_blocks: int) -> list[Sums]:
        """Sums over ``n_blocks`` groups of consecutive bins of the same chain."""
        by_chain: dict[int, list[int]] = {}
        for i, b in enumerate(self._bins):
            by_chain.setdefault(b[0], []).append(i)
        n_chains = len(by_chain)
        if n_blocks < 2 or self.n_bins < n_blocks:
            raise ValueError(
                f"a jackknife over {n_blocks} blocks needs at least {n_blocks} bins of "
                f"{self.bin_size} configurations, have {self.n_bins}: use more samples"
            )
        per = [n_blocks // n_chains + (k < n_blocks % n_chains) for k in range(n_chains)]
        out = []
        for (_, idx), k in zip(sorted(by_chain.items()), per, strict=True):
            for grp in np.array_split(np.array(idx), max(1, min(k, len(idx)))):
                out.append(self._sum([self._bins[i] for i in grp]))
        return out

    @staticmethod
    def _sum(bins: list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]) -> Sums:
        return (
            int(sum(b[1] for b in bins)),
            np.sum([b[2] for b in bins], axis=0),
            np.sum([b[3] for b in bins], axis=0),
            np.sum([b[4] for b in bins], axis=0),
        )

    def totals(self) -> Sums:
        """Sums over every closed bin: ``(count, sum S, sum S S^T, sum S^(l) S^(l-1)^T)``."""
        if not self._bins:
            raise ValueError("no complete bin of configurations yet: use more samples")
        return self._sum(self._bins)

    def autocorrelation(self) -> np.ndarray:
        """Integrated autocorrelation times ``(levels, tracked)`` averaged over chains."""
        taus = []
        for parts in self.series.values():
            x = np.concatenate(parts).astype(np.float64)
            taus.append(
                [
                    [integrated_time(x[:, lv, j]).tau for j in range(x.shape[2])]
                    for lv in range(x.shape[1])
                ]  # fmt: skip
            )
        return np.mean(np.array(taus), axis=0) if taus else np.zeros((0, 0))


def without(total: Sums, block: Sums) -> Sums:
    """The sums with one jackknife block left out."""
    return (
        total[0] - block[0],
        total[1] - block[1],
        total[2] - block[2],
        total[3] - block[3],
    )


def _covariances(sums: Sums, n: int) -> tuple[np.ndarray, np.ndarray]:
    count, s1, same, cross = sums
    mean = s1 / count
    G = same[n] / count - np.outer(mean[n], mean[n])
    F = cross[n - 1] / count - np.outer(mean[n], mean[n - 1])
    return G, F


def linearized_matrix(G: np.ndarray, F: np.ndarray, *, where: str = "") -> np.ndarray:
    """``T = G^-1 F`` (Swendsen 1979, theory.md 7); ``ValueError`` when ``G`` is singular."""
    m = len(G)
    cond = np.linalg.cond(G) if m else 1.0
    if not np.isfinite(cond) or cond > MAX_CONDITION:
        raise ValueError(
            f"the correlation matrix G{where} of {m} operators is singular (condition number "
            f"{cond:.3g}): too few samples for that many operators, or operators that coincide "
            "on so small a lattice; use more samples, fewer operators or fewer levels"
        )
    return np.linalg.solve(G, F)


def leading_exponent(T: np.ndarray, b: int) -> tuple[float, np.ndarray]:
    """``y = ln(lambda_max) / ln b`` of the largest real eigenvalue, and all eigenvalues.

    Eigenvalues are sorted by decreasing real part (theory.md 7: ``lambda = b^y``).
    """
    ev = np.linalg.eigvals(T)
    ev = ev[np.argsort(-ev.real)]
    lam = float(ev[0].real)
    y = float(np.log(lam) / np.log(b)) if lam > 0 else float("nan")
    return y, ev


@dataclass
class ExponentTable:
    """``y`` of one sector by level (rows) and number of operators (columns), theory.md 7.

    ``y[i][k]`` uses the first ``k + 1`` operators of ``operators`` at step ``levels[i]``;
    ``error`` is its jackknife error; ``eigenvalues[i]`` are those of the full set.
    """

    sector: str  # "even" (y_t) or "odd" (y_h)
    quantity: str  # "y_t" or "y_h"
    exact: float
    b: int
    operators: list[str]
    levels: list[int]
    coarse_sides: list[int]
    y: list[list[float]]
    error: list[list[float]]
    eigenvalues: list[list[float]] = field(default_factory=list)

    @property
    def flagged(self) -> list[bool]:
        """Levels whose coarse lattice is smaller than 8 x 8 (unreliable, theory.md 7)."""
        return [s < MIN_COARSE_SIDE for s in self.coarse_sides]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: keys name the quantity (``y_t``, ``y_t_error``, ...)."""
        q = self.quantity
        return {
            "quantity": q,
            "sector": self.sector,
            "exact": self.exact,
            "b": self.b,
            "operators": self.operators,
            "levels": self.levels,
            "coarse_sides": self.coarse_sides,
            "flagged_small_lattice": self.flagged,
            q: self.y,
            f"{q}_error": self.error,
            f"{q}_full_set": [row[-1] for row in self.y],
            f"{q}_full_set_error": [row[-1] for row in self.error],
            "eigenvalues_full_set": self.eigenvalues,
        }


def exponent_table(
    moments: Moments,
    names: Sequence[str],
    parities: Sequence[str],
    *,
    sector: str,
    b: int,
    fine_side: int,
    n_blocks: int = 50,
) -> ExponentTable:
    """The convergence table of ``y_t`` (``sector="even"``) or ``y_h`` (``"odd"``), theory.md 7.

    Parameters
    ----------
    moments : Moments
        Measured with the operators ``names`` (parities ``parities``) at levels ``0..N``.
    b : int
        Scale factor of one step; ``fine_side`` is the side of the level-0 lattice.
    n_blocks : int
        Jackknife blocks (groups of consecutive bins of one chain).
    """
    if sector not in ("even", "odd"):
        raise ValueError(f"sector must be 'even' or 'odd', got {sector!r}")
    idx = [i for i, p in enumerate(parities) if p == sector]
    if not idx:
        raise ValueError(f"no {sector} operator among {list(names)}")
    levels = list(range(1, moments.n_levels))
    total = moments.totals()
    if total[0] <= len(idx) + 1:
        raise ValueError(
            f"{total[0]} configurations cannot determine a {len(idx)} x {len(idx)} matrix G "
            "(singular): use more samples or fewer operators"
        )
    blocks = moments.blocks(n_blocks)

    def table(sums: Sums) -> np.ndarray:
        out = np.empty((len(levels), len(idx)))
        for i, n in enumerate(levels):
            G, F = _covariances(sums, n)
            for k in range(1, len(idx) + 1):
                sub = idx[:k]
                T = linearized_matrix(
                    G[np.ix_(sub, sub)], F[np.ix_(sub, sub)], where=f" at level {n}"
                )
                out[i, k - 1] = leading_exponent(T, b)[0]
        return out

    full = table(total)
    loo = np.array([table(without(total, blk)) for blk in blocks])
    B = len(blocks)
    err = np.sqrt((B - 1) / B * np.sum((loo - loo.mean(axis=0)) ** 2, axis=0))
    eig = []
    for n in levels:
        G, F = _covariances(total, n)
        eig.append(
            leading_exponent(linearized_matrix(G[np.ix_(idx, idx)], F[np.ix_(idx, idx)]), b)[1]
        )
    return ExponentTable(
        sector=sector,
        quantity="y_t" if sector == "even" else "y_h",
        exact=1.0 if sector == "even" else 15 / 8,
        b=int(b),
        operators=[names[i] for i in idx],
        levels=levels,
        coarse_sides=[fine_side // b**n for n in levels],
        y=full.tolist(),
        error=err.tolist(),
        eigenvalues=[[float(x.real) for x in e[:4]] for e in eig],
    )
