"""Exact independent samples of the 1D Ising chain (ring or open, any field): the 1D oracle.

With the symmetric transfer matrix ``T[a, b] = exp(K a b + field (a + b) / 2)``
(``a, b = ±1``), the ring of ``n`` spins has weight ``prod_i T[v_i, v_{i+1}]`` with
``v_n = v_0`` and the open chain ``e(v_0) prod_{i<n-1} T[v_i, v_{i+1}] e(v_{n-1})`` with
``e(a) = exp(field a / 2)``. A sample is drawn site by site from exact conditionals:

- ring: ``P(v_0) ∝ (T^n)[v_0, v_0]``, then
  ``P(v_i | v_{i-1}, v_0) ∝ T[v_{i-1}, v_i] (T^{n-i})[v_i, v_0]``;
- open: ``P(v_0) ∝ e(v_0) (T^{n-1} e)[v_0]``, then
  ``P(v_i | v_{i-1}) ∝ T[v_{i-1}, v_i] (T^{n-1-i} e)[v_i]``.

Matrix powers are rescaled after each product, which leaves every conditional unchanged
and avoids overflow. The input state is ignored: every call returns fresh, exactly
Boltzmann-distributed, mutually independent samples.
"""

from __future__ import annotations

import numpy as np

from ..._rng import SeedLike, make_rng
from ...lattice import Chain
from ..model import IsingModel
from .base import Sampler, SweepInfo
from .wolff import _check_sweeps

__all__ = ["ExactChainSampler"]


def _transfer(K: float, field: float) -> np.ndarray:
    """``T`` of the module docstring over its largest entry, shape ``(2, 2)``; index 0 is -1."""
    a = np.array([-1.0, 1.0])
    log_t = K * a[:, None] * a[None, :] + 0.5 * field * (a[:, None] + a[None, :])
    return np.exp(log_t - log_t.max())


def _scaled_powers(t: np.ndarray, kmax: int) -> np.ndarray:
    """``T^k`` each divided by its largest entry, ``k = 0 .. kmax``, shape ``(kmax + 1, 2, 2)``."""
    out = np.empty((kmax + 1, 2, 2))
    out[0] = np.eye(2)
    for k in range(1, kmax + 1):
        m = out[k - 1] @ t
        out[k] = m / m.max()
    return out


class ExactChainSampler(Sampler):
    """Exact, independent samples of a 1D Ising ring or open chain (field allowed).

    Every call to :meth:`run` with ``n_sweeps >= 1`` returns one fresh exact sample per
    chain, whatever the input state and ``n_sweeps`` (a chain of independent draws has
    the same law after any number of steps, so only one is drawn); ``n_sweeps = 0``
    returns the input unchanged.

    Parameters
    ----------
    model : IsingModel
        On a :class:`~kadanoff.lattice.Chain` (ring or open), any ``K`` and ``field``.
    """

    name = "exact"

    def __init__(self, model: IsingModel) -> None:
        super().__init__(model)
        if not isinstance(model.lattice, Chain):
            raise ValueError(
                "ExactChainSampler samples 1D chains only, got a "
                f"{type(model.lattice).__name__}; use WolffSampler or SwendsenWangSampler in 2D"
            )
        self._n = n = model.lattice.n
        self._periodic = model.lattice.periodic
        self._t = _transfer(model.K, model.field)
        self._powers = _scaled_powers(self._t, n)
        e = np.exp(0.5 * model.field * np.array([-1.0, 1.0]) - 0.5 * abs(model.field))
        self._edge = e  # boundary weights of the open chain, index 0 is -1
        # right vectors of the open chain: (T^k e) / max, k = 0 .. n-1
        right = self._powers[:n] @ e
        self._right = right / right.max(axis=1, keepdims=True)

    def __repr__(self) -> str:
        return f"ExactChainSampler({self.model!r})"

    def marginal_first(self) -> np.ndarray:
        """Exact ``P(v_0 = -1), P(v_0 = +1)``, shape ``(2,)``."""
        n = self._n
        if self._periodic:
            w = np.diag(self._powers[n]).copy()
        else:
            w = self._edge * self._right[n - 1]
        return w / w.sum()

    def sample(self, n_samples: int, *, seed: SeedLike = None) -> np.ndarray:
        """``n_samples`` independent exact samples, shape ``(n_samples, n)``, int8."""
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        rng = make_rng(seed)
        n = self._n
        u = rng.random((n_samples, n))
        idx = np.empty((n_samples, n), dtype=np.intp)  # 0 <-> -1, 1 <-> +1
        p0 = self.marginal_first()
        idx[:, 0] = u[:, 0] < p0[1]
        t = self._t
        periodic = self._periodic
        for i in range(1, n):
            prev = idx[:, i - 1]
            if periodic:
                rest = self._powers[n - i][:, idx[:, 0]].T  # (n_samples, 2): T^{n-i}[s, v_0]
            else:
                rest = self._right[n - 1 - i][None, :]
            w = t[prev] * rest
            idx[:, i] = u[:, i] * (w[:, 0] + w[:, 1]) < w[:, 1]
        return (2 * idx - 1).astype(np.int8)

    def run(
        self, spins: np.ndarray, n_sweeps: int = 1, *, seed: SeedLike = None
    ) -> tuple[np.ndarray, SweepInfo]:
        """Replace every chain by a fresh exact sample (see the class docstring).

        Parameters
        ----------
        spins : ndarray, shape ``(n_chains, n)``, ±1
            Only its shape is used (and returned unchanged when ``n_sweeps = 0``).
        n_sweeps : int
        seed : int, SeedSequence or Generator

        Returns
        -------
        spins : ndarray, shape ``(n_chains, n)``, int8
        info : SweepInfo
            ``flipped`` counts the sites whose sign differs from the input.
        """
        n_sweeps = _check_sweeps(n_sweeps)
        s = self.check_state(spins)
        if n_sweeps == 0:
            return s.copy(), SweepInfo()
        new = self.sample(s.shape[0], seed=seed)
        return new, SweepInfo(n_sweeps=n_sweeps, flipped=int(np.count_nonzero(new != s)))
