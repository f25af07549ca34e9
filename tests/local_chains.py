"""Exact one-sweep Markov chains of the local samplers, for tests (no transition matrix needed).

:class:`SweepChain` holds, for every state ``x`` of a small lattice and every site ``i``,
the probability ``p[x, i]`` that site ``i`` flips when it is updated in state ``x``, and
applies the sweep in the documented update order (:func:`update_order`) to sets of
states (support graph) or to probability vectors (exact distributions after ``n``
sweeps), site by site: ``2^N * N`` work per sweep, so the 4 x 4 torus (65,536 states) is
cheap. Also the old Metropolis rule of issue 8 (every ``Delta H = 0`` move accepted),
kept here only to show that the tests reject it.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import LinearOperator

from kadanoff.ising.model import IsingModel
from kadanoff.ising.samplers import checkerboard as cb
from kadanoff.ising.samplers.checkerboard import MetropolisSampler, update_order
from kadanoff.ising.samplers.torch_checkerboard import TorchCheckerboardSampler
from kadanoff.lattice import Chain, SquareLattice
from kadanoff.spins import all_states


def old_metropolis_probabilities(K: float, field: float) -> np.ndarray:
    """The rule before issue 8: ``min(1, exp(-dH))``, so every ``dH = 0`` move is accepted."""
    p = np.empty((2, 9))
    for row, s in enumerate((-1, 1)):
        for n in range(-4, 5):
            dh = 2.0 * s * (K * n + field)
            p[row, n + 4] = 1.0 if dh <= 0 else math.exp(-dh)
    return p


def old_metropolis_realized(K: float, field: float) -> np.ndarray:
    """What the Numba kernel realized with the old table (same quantization as today)."""
    t = cb._quantize(old_metropolis_probabilities(K, field))
    return ((t.astype(np.float64) + 1.0) / 2.0**32).reshape(2, 9)


# ----------------------------------------------------------------------------- support graph


@functools.cache
def _spins_and_neighbour_sums(lattice: Chain | SquareLattice) -> tuple[np.ndarray, np.ndarray]:
    """All states ``(2^N, N)`` and each site's neighbour sum in each state ``(2^N, N)``."""
    n = lattice.n_sites
    states = all_states(n).astype(np.int64)
    nb = np.zeros((len(states), n), dtype=np.int64)
    for i, j in lattice.bonds:  # a doubled bond (2x2 torus, 2-ring) counts twice
        nb[:, i] += states[:, j]
        nb[:, j] += states[:, i]
    return states, nb


class SweepChain:
    """The one-sweep chain of a ``(2, 9)`` table of flip probabilities, in update order.

    ``p[x, i]`` is the probability that site ``i`` flips when it is updated in state ``x``.
    """

    def __init__(self, model: IsingModel, table: np.ndarray) -> None:
        n = model.n_sites
        states, nb = _spins_and_neighbour_sums(model.lattice)
        self.p = table[(states > 0).astype(np.int64), nb + 4]  # (2^N, N)
        self.n_states = len(states)
        self.stay = self.p < 1.0  # staying is possible
        self.move = self.p > 0.0  # flipping is possible
        self.order = [int(i) for g in update_order(model.lattice) for i in g]
        self.bits = [1 << (n - 1 - i) for i in range(n)]  # site i <-> bit of state_index
        self.index = np.arange(self.n_states)

    def successors(self, S: np.ndarray) -> np.ndarray:
        """States reachable in one sweep from the set ``S`` (boolean, ``(2^N,)``)."""
        for i in self.order:
            new = S & self.stay[:, i]
            new[np.flatnonzero(S & self.move[:, i]) ^ self.bits[i]] = True
            S = new
        return S

    def predecessors(self, S: np.ndarray) -> np.ndarray:
        """States from which one sweep can end in ``S``."""
        for i in reversed(self.order):
            S = (S & self.stay[:, i]) | (self.move[:, i] & S[self.index ^ self.bits[i]])
        return S

    def closure(self, start: int, step) -> np.ndarray:
        """States reached from ``start`` by one or more applications of ``step``."""
        S = np.zeros(self.n_states, dtype=bool)
        S[start] = True
        reached = np.zeros_like(S)
        while True:
            S = step(S)
            if not (S & ~reached).any():
                return reached
            reached |= S

    def strongly_connected(self, start: int = 0) -> bool:
        return bool(
            self.closure(start, self.successors).all()
            and self.closure(start, self.predecessors).all()
        )

    def self_loops(self) -> np.ndarray:
        """States ``x`` with ``P(x, x) > 0``: no spin of ``x`` is forced to flip."""
        return self.stay.all(axis=1)

    def ergodic(self) -> bool:
        """Irreducible and aperiodic: exactly one eigenvalue of modulus 1."""
        return bool(self.self_loops().any()) and self.strongly_connected()

    def propagate(self, mu: np.ndarray, n_sweeps: int) -> np.ndarray:
        """The distribution ``mu P^n`` after ``n_sweeps`` sweeps from ``mu`` (shape ``(2^N,)``)."""
        v = np.array(mu, dtype=np.float64)
        for _ in range(n_sweeps):
            for i in self.order:
                w = v * self.p[:, i]
                v = v - w + w[self.index ^ self.bits[i]]
        return v

    def operator(self) -> LinearOperator:
        """``v -> P v`` as a LinearOperator (for :func:`scipy.sparse.linalg.eigs`)."""

        def matvec(v: np.ndarray) -> np.ndarray:
            v = np.asarray(v, dtype=np.float64).ravel()
            for i in reversed(self.order):
                p = self.p[:, i]
                v = (1 - p) * v + p * v[self.index ^ self.bits[i]]
            return v

        return LinearOperator((self.n_states,) * 2, matvec=matvec, dtype=np.float64)


def sweep_matrix_sparse(chain: SweepChain):
    """The exact sweep matrix ``P = P_{i_1} ... P_{i_N}`` (CSR), from single-site updates."""
    P = sparse.identity(chain.n_states, format="csr")
    r = chain.index
    for i in chain.order:
        p = chain.p[:, i]
        site = sparse.csr_matrix(
            (
                np.concatenate([1 - p, p]),
                (np.concatenate([r, r]), np.concatenate([r, r ^ chain.bits[i]])),
            ),
            shape=(chain.n_states, chain.n_states),
        )
        P = P @ site
    return P


def old_metropolis_sampler(model: IsingModel) -> MetropolisSampler:
    """The Numba Metropolis sampler with the old table (test use only)."""
    smp = MetropolisSampler(model)
    smp._table = cb._quantize(old_metropolis_probabilities(model.K, model.field))
    return smp


def old_torch_metropolis_sampler(model: IsingModel, **kwargs) -> TorchCheckerboardSampler:
    """The torch Metropolis sampler with the old table (test use only)."""
    import torch

    smp = TorchCheckerboardSampler(model, "metropolis", **kwargs)
    old = old_metropolis_probabilities(model.K, model.field).ravel()
    smp._table = torch.as_tensor(old, dtype=smp.dtype, device=smp.device)
    return smp
