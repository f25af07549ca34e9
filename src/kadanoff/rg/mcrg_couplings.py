"""Renormalized couplings from coarse configurations by pseudo-likelihood (theory.md 7).

Coarse configurations at level ``n`` are samples of ``exp(-H^(n))``. With the ansatz
``H = c - sum_a K_a S_a`` (operators with the normalization of :mod:`kadanoff.rg.projection`),
the conditional of spin ``i`` given the others is exactly

    ln p(v_i | rest) = K . d_i - ln 2cosh(K . d_i),   d_{a,i} = (S_a(v) - S_a(v^i)) / 2

(``v^i``: ``v`` with spin ``i`` flipped; this holds for any operator, even one that wraps onto
itself on a small torus). The translation-invariant pseudo-likelihood sums this over all sites
and configurations; it is concave in ``K``, and depends on the data only through the counts of
distinct vectors ``d_i`` (:class:`PseudoLikelihood` stores those), so fits over millions of sites
are cheap. The error bars are the sandwich estimator ``H^-1 J H^-1`` with ``J`` from the scores
of blocks of consecutive configurations (valid for correlated samples when blocks are long).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, sparse

from ..lattice import Chain, SquareLattice
from .mcrg_operators import OperatorSet
from .projection import Term, standard_term

__all__ = ["CouplingBasis", "PseudoLikelihood", "CouplingFit", "fit_couplings"]

#: couplings fitted by default on the square lattice
DEFAULT_COUPLINGS = ("nn", "nnn", "3nn", "plaquette", "field")


class CouplingBasis:
    """The operators ``S_a`` of a coupling ansatz on one lattice, as sparse products (theory.md 7).

    Build with :meth:`square` (operators of :mod:`~kadanoff.rg.mcrg_operators` on an ``L x L``
    torus) or :meth:`from_terms` (any :class:`~kadanoff.rg.projection.Term`, e.g. chain terms).
    """

    def __init__(
        self,
        names: Sequence[str],
        shape: tuple[int, ...],
        products: Sequence[tuple[list[np.ndarray], np.ndarray, int]],
    ) -> None:
        self.names = tuple(names)
        self.shape = tuple(shape)
        self.n_sites = int(np.prod(shape))
        self._inc: list[sparse.csr_matrix] = []
        self._mult: list[np.ndarray] = []
        self._const: list[int] = []
        for name, (sites, mult, const) in zip(self.names, products, strict=True):
            if not sites:
                raise ValueError(
                    f"coupling {name!r} is a constant on a lattice of shape {self.shape}: "
                    "it cannot be estimated; drop it or use a larger lattice"
                )
            rows = np.repeat(np.arange(len(sites)), [len(s) for s in sites])
            cols = np.concatenate(sites)
            inc = sparse.csr_matrix(
                (np.ones(len(cols), np.int64), (rows, cols)), shape=(len(sites), self.n_sites)
            )
            self._inc.append(inc)
            self._mult.append(np.asarray(mult, dtype=np.int64))
            self._const.append(int(const))
        # the largest |d_{a,i}| any configuration can reach (for the row keys)
        self.bounds = np.array(
            [int((inc.T @ m).max()) for inc, m in zip(self._inc, self._mult, strict=True)]
        )

    @classmethod
    def square(cls, L: int, names: Sequence[str] = DEFAULT_COUPLINGS) -> CouplingBasis:
        """Operators of ``mcrg_operators.BASIS`` on the ``L x L`` torus (theory.md 7)."""
        prods = OperatorSet(names).products(L)
        return cls(names, (L, L), [(p.sites, p.mult, p.constant) for p in prods])

    @classmethod
    def from_terms(cls, terms: Sequence[Term], shape: tuple[int, ...]) -> CouplingBasis:
        """Any :class:`~kadanoff.rg.projection.Term` on ``prod(shape)`` sites (theory.md 7)."""
        products = []
        for t in terms:
            if t.n != int(np.prod(shape)):
                raise ValueError(f"term {t.name!r} has {t.n} sites, shape {shape} has more/less")
            sets = t.site_sets()
            products.append(([np.array(s, np.int64) for s, _ in sets],
                             np.array([c for _, c in sets]), 0))  # fmt: skip
        return cls([t.name for t in terms], shape, products)

    @classmethod
    def chain(cls, n: int, names: Sequence[str] = ("nn", "nnn", "field")) -> CouplingBasis:
        """Chain terms of ``projection.standard_term`` on an ``n``-ring (theory.md 5)."""
        lat = Chain(n)
        return cls.from_terms([standard_term(lat, x) for x in names], (n,))

    def _flat(self, configs: np.ndarray) -> np.ndarray:
        v = np.asarray(configs)
        if v.shape[1:] != self.shape:
            raise ValueError(
                f"configurations of shape {v.shape[1:]} do not fit the basis shape {self.shape}"
            )
        return v.reshape(len(v), self.n_sites)

    def _products(self, a: int, v: np.ndarray) -> np.ndarray:
        down = np.ascontiguousarray((v < 0).T, dtype=np.int64)  # (N, n)
        count = np.asarray(self._inc[a] @ down)
        return 1 - 2 * (count % 2)  # (n_products, n)

    def evaluate(self, configs: np.ndarray) -> np.ndarray:
        """``S_a`` of each configuration, ``(n, *shape) -> (n, m)`` int64 (theory.md 7)."""
        v = self._flat(configs)
        out = np.empty((len(v), len(self.names)), dtype=np.int64)
        for a in range(len(self.names)):
            out[:, a] = self._const[a] + self._mult[a] @ self._products(a, v)
        return out

    def differences(self, configs: np.ndarray) -> np.ndarray:
        """``d_{a,i} = (S_a(v) - S_a(v^i)) / 2``: ``(n, *shape) -> (n, N, m)`` (theory.md 7)."""
        v = self._flat(configs)
        out = np.empty((len(v), self.n_sites, len(self.names)), dtype=np.int64)
        for a in range(len(self.names)):
            p = self._products(a, v) * self._mult[a][:, None]
            out[:, :, a] = (self._inc[a].T @ p).T
        return out


class PseudoLikelihood:
    """Counts of distinct local vectors ``d_i`` per block of configurations (theory.md 7).

    Parameters
    ----------
    basis : CouplingBasis
    configs : (n, *basis.shape) ±1
        Time-ordered; consecutive configurations form ``n_blocks`` blocks for the errors.
    n_blocks : int
        Blocks for the sandwich error (default: ``min(n, 100)``).
    """

    def __init__(self, basis: CouplingBasis, configs: Any, *, n_blocks: int | None = None):
        v = np.asarray(configs)
        if v.ndim != len(basis.shape) + 1 or len(v) < 2:
            raise ValueError(
                f"need at least 2 configurations of shape {basis.shape}, got {v.shape}"
            )
        n = len(v)
        n_blocks = min(n, 100) if n_blocks is None else int(n_blocks)
        if not 2 <= n_blocks <= n:
            raise ValueError(f"n_blocks must be in [2, {n}], got {n_blocks}")
        self.basis, self.n_configs, self.n_blocks = basis, n, n_blocks
        radix = 2 * basis.bounds + 1
        if float(np.prod(radix.astype(np.float64))) * n_blocks > 2**62:
            raise ValueError("too many couplings for the compact row keys; fit fewer at once")
        weights = np.cumprod(np.concatenate([[1], radix[:-1]])).astype(np.int64)
        block_of = np.minimum(np.arange(n) * n_blocks // n, n_blocks - 1)
        chunk = max(1, (1 << 21) // basis.n_sites)
        keys, counts = [], []
        for s in range(0, n, chunk):
            d = basis.differences(v[s : s + chunk])  # (c, N, m)
            key = ((d + basis.bounds) @ weights) * n_blocks + block_of[s : s + chunk, None]
            u, c = np.unique(key.ravel(), return_counts=True)
            keys.append(u)
            counts.append(c)
        allk = np.concatenate(keys)
        u, inv = np.unique(allk, return_inverse=True)
        c = np.bincount(inv, weights=np.concatenate(counts)).astype(np.int64)
        block = u % n_blocks
        row_key, row = np.unique(u // n_blocks, return_inverse=True)
        digits = (row_key[:, None] // weights[None, :]) % radix[None, :]
        self.rows = (digits - basis.bounds).astype(np.float64)  # (U, m) distinct d vectors
        self.counts = np.zeros((len(row_key), n_blocks))  # (U, blocks)
        np.add.at(self.counts, (row, block), c)
        self.total = self.counts.sum(axis=1)
        self.n_sites_total = float(self.total.sum())

    def objective(self, K: np.ndarray) -> float:
        """Mean over sites of ``-ln p(v_i | rest)`` (theory.md 7)."""
        x = self.rows @ np.asarray(K, dtype=np.float64)
        a = np.abs(x)
        return float(self.total @ (a + np.log1p(np.exp(-2 * a)) - x) / self.n_sites_total)

    def gradient(self, K: np.ndarray) -> np.ndarray:
        """Analytic gradient of :meth:`objective`: ``<(tanh(K.d) - 1) d>``."""
        x = self.rows @ np.asarray(K, dtype=np.float64)
        return ((self.total * (np.tanh(x) - 1.0)) @ self.rows) / self.n_sites_total

    def hessian(self, K: np.ndarray) -> np.ndarray:
        """Hessian of :meth:`objective`: ``<(1 - tanh^2(K.d)) d d^T>`` (positive semi-definite)."""
        x = self.rows @ np.asarray(K, dtype=np.float64)
        w = self.total * (1.0 - np.tanh(x) ** 2)
        return (self.rows.T * w) @ self.rows / self.n_sites_total

    def block_scores(self, K: np.ndarray) -> np.ndarray:
        """Score (gradient of the summed log pseudo-likelihood) of each block, ``(blocks, m)``."""
        x = self.rows @ np.asarray(K, dtype=np.float64)
        g = (np.tanh(x) - 1.0)[:, None] * self.rows  # (U, m)
        return self.counts.T @ g


@dataclass(frozen=True)
class CouplingFit:
    """Estimated couplings ``K_a`` (``H = c - sum_a K_a S_a``) and their standard errors."""

    names: tuple[str, ...]
    couplings: np.ndarray
    errors: np.ndarray
    covariance: np.ndarray
    n_configs: int
    n_blocks: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"K_nn": ..., "K_nn_error": ..., ...}`` (theory.md 7)."""
        out: dict[str, Any] = {}
        for n, k, e in zip(self.names, self.couplings, self.errors, strict=True):
            out[f"K_{n}"] = float(k)
            out[f"K_{n}_error"] = float(e)
        out["n_configs"], out["n_blocks"] = self.n_configs, self.n_blocks
        return out

    def z_scores(self, exact: dict[str, float]) -> dict[str, float]:
        """``(K_a - exact_a) / error_a`` for every coupling (missing ones count as 0)."""
        return {
            n: float((k - exact.get(n, 0.0)) / e)
            for n, k, e in zip(self.names, self.couplings, self.errors, strict=True)
        }


def fit_couplings(
    configs: Any,
    basis: CouplingBasis | Sequence[str] | None = None,
    *,
    n_blocks: int | None = None,
) -> CouplingFit:
    """Maximum pseudo-likelihood couplings of configurations, with sandwich errors (theory.md 7).

    Parameters
    ----------
    configs : (n, L, L) or (n, *basis.shape) ±1
        Samples of ``exp(-H)``, time-ordered.
    basis : CouplingBasis or operator names
        Default :data:`DEFAULT_COUPLINGS` on the square lattice of ``configs``.
    n_blocks : int, optional
        Blocks of consecutive configurations for the errors (default ``min(n, 100)``).
    """
    v = np.asarray(configs)
    if not isinstance(basis, CouplingBasis):
        if v.ndim != 3 or v.shape[1] != v.shape[2]:
            raise ValueError(
                f"configs must be (n, L, L) for square-lattice couplings, got {v.shape}"
            )
        SquareLattice(int(v.shape[1]))
        basis = CouplingBasis.square(int(v.shape[1]), basis or DEFAULT_COUPLINGS)
    pl = PseudoLikelihood(basis, v, n_blocks=n_blocks)
    m = len(basis.names)
    H0 = pl.hessian(np.zeros(m))
    if np.linalg.matrix_rank(H0, tol=1e-10 * max(1.0, np.abs(H0).max())) < m:
        raise ValueError(
            f"the couplings {list(basis.names)} are not identifiable from these data (their "
            "local fields are linearly dependent on this lattice); drop one"
        )
    res = optimize.minimize(
        pl.objective, np.zeros(m), jac=pl.gradient, hess=pl.hessian, method="trust-exact",
        options={"gtol": 1e-10, "maxiter": 200},
    )  # fmt: skip
    K = np.asarray(res.x)
    if not np.all(np.isfinite(K)) or np.abs(K).max() > 20 or np.abs(pl.gradient(K)).max() > 1e-6:
        raise ValueError(
            "the pseudo-likelihood has no finite maximum for these data (nearly ordered or "
            "frozen configurations); use data with fluctuations or fewer couplings"
        )
    Hs = pl.hessian(K) * pl.n_sites_total  # of the summed objective
    g = pl.block_scores(K)
    B = pl.n_blocks
    J = B / (B - 1) * (g - g.mean(axis=0)).T @ (g - g.mean(axis=0))
    Hinv = np.linalg.inv(Hs)
    cov = Hinv @ J @ Hinv
    return CouplingFit(
        names=basis.names,
        couplings=K,
        errors=np.sqrt(np.diag(cov)),
        covariance=cov,
        n_configs=pl.n_configs,
        n_blocks=B,
    )
