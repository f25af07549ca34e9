"""Brute-force enumeration of a small Ising model: every state with its exact probability.

Conventions as in :mod:`kadanoff.ising.exact` (dimensionless ``H``, weight ``exp(-H)``,
energy per site in units of ``J``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import special

from ...spins import MAX_ENUMERATION_SITES, all_states
from ..model import IsingModel

__all__ = ["Enumeration", "enumerate_model"]

_CHUNK = 1 << 18  # states per chunk when computing energies (keeps int64 temporaries small)


@dataclass(frozen=True)
class Enumeration:
    """Every state of a small Ising model with its exact Boltzmann probability.

    Attributes
    ----------
    model : IsingModel
    states : ndarray, shape ``(2^N, *lattice.shape)``, int8
        All states in :func:`kadanoff.spins.all_states` order (flat site 0 is the most
        significant bit, flat index ``x * L + y`` on the square lattice).
    energies : ndarray, shape ``(2^N,)``, float64
        Dimensionless ``H(v)``.
    log_z : float
        ``ln Z = ln sum_v exp(-H(v))``.
    probabilities : ndarray, shape ``(2^N,)``, float64
        ``exp(-H(v)) / Z``; sums to 1.
    """

    model: IsingModel
    states: np.ndarray
    energies: np.ndarray
    log_z: float
    probabilities: np.ndarray

    @property
    def n_sites(self) -> int:
        return self.model.n_sites

    @cached_property
    def _flat(self) -> np.ndarray:
        return self.states.reshape(len(self.states), self.n_sites)

    def mean(self, values: np.ndarray) -> float | np.ndarray:
        """Exact expectation ``sum_v p(v) f(v)`` of per-state values, shape ``(2^N, ...)``."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape[:1] != self.probabilities.shape:
            raise ValueError(
                f"values must have one entry per state on axis 0 ({len(self.probabilities)}), "
                f"got shape {values.shape}"
            )
        out = np.tensordot(self.probabilities, values, axes=(0, 0))
        return float(out) if np.ndim(out) == 0 else out

    @cached_property
    def bond_sums(self) -> np.ndarray:
        """``sum_<ij> v_i v_j`` per state, shape ``(2^N,)``, int64."""
        return _chunked(self.model.bond_sum, self.states, np.int64)

    @cached_property
    def magnetization_sums(self) -> np.ndarray:
        """``M = sum_i v_i`` per state, shape ``(2^N,)``, int64."""
        return self._flat.sum(axis=1, dtype=np.int64)

    @property
    def free_energy_per_site(self) -> float:
        """``-ln Z / N``."""
        return -self.log_z / self.n_sites

    @property
    def energy_per_site(self) -> float:
        """``u = <H> / (K N)`` in units of ``J`` (``-<sum_<ij> v_i v_j>/N`` at zero field)."""
        n = self.n_sites
        u = -self.mean(self.bond_sums) / n
        if self.model.field:
            if self.model.K == 0:
                raise ValueError(
                    "the energy per site in units of J needs K != 0 when a field is present; "
                    "use mean(energies) for the dimensionless <H>"
                )
            u -= self.model.field / self.model.K * self.mean(self.magnetization_sums) / n
        return float(u)

    @property
    def specific_heat_per_site(self) -> float:
        """``c = var(H) / N`` (``H`` is dimensionless and already includes ``K``)."""
        e = self.energies - self.mean(self.energies)
        return float(self.mean(e * e) / self.n_sites)

    @property
    def magnetization_per_site(self) -> float:
        """``<M> / N`` (zero by symmetry without a field)."""
        return float(self.mean(self.magnetization_sums) / self.n_sites)

    @property
    def abs_magnetization_per_site(self) -> float:
        """``<|M|> / N``."""
        return float(self.mean(np.abs(self.magnetization_sums)) / self.n_sites)

    @property
    def magnetization2(self) -> float:
        """``<m^2>`` with ``m = M / N`` the magnetization per site."""
        m = self.magnetization_sums.astype(np.float64) / self.n_sites
        return float(self.mean(m * m))

    @property
    def susceptibility_per_site(self) -> float:
        """``chi = var(M) / N`` (dimensionless, ``d <M> / d field / N``)."""
        m = self.magnetization_sums.astype(np.float64)
        m = m - self.mean(m)
        return float(self.mean(m * m) / self.n_sites)

    def _site(self, i: int | tuple[int, ...]) -> int:
        shape = self.model.shape
        if isinstance(i, tuple):
            if len(i) != len(shape):
                raise ValueError(f"site {i} does not match the lattice shape {shape}")
            return int(
                np.ravel_multi_index(
                    tuple(int(a) % s for a, s in zip(i, shape, strict=True)), shape
                )
            )
        i = int(i)
        if not 0 <= i < self.n_sites:
            raise ValueError(f"flat site index {i} out of range [0, {self.n_sites})")
        return i

    def correlation(self, i: int | tuple[int, ...], j: int | tuple[int, ...]) -> float:
        """``<v_i v_j>`` for flat site indices or lattice coordinates (tuples)."""
        a, b = self._site(i), self._site(j)
        s = self._flat
        return float(self.mean(s[:, a].astype(np.int64) * s[:, b]))

    def correlation_function(self, axis: int = -1) -> np.ndarray:
        """``<v_0 v_r>`` for ``r = 0 .. size-1`` along ``axis`` from the origin, shape ``(size,)``.

        Not connected: with a field it tends to ``<v>^2`` (a ring wraps, so it is
        symmetric ``r <-> size - r`` there).
        """
        shape = self.model.shape
        ax = axis % len(shape)
        out = np.empty(shape[ax])
        for r in range(shape[ax]):
            site = [0] * len(shape)
            site[ax] = r
            out[r] = self.correlation(0, tuple(site))
        return out


def _chunked(func, states: np.ndarray, dtype) -> np.ndarray:
    out = np.empty(len(states), dtype=dtype)
    for a in range(0, len(states), _CHUNK):
        out[a : a + _CHUNK] = func(states[a : a + _CHUNK])
    return out


def enumerate_model(model: IsingModel) -> Enumeration:
    """Exact Boltzmann distribution of ``model`` by brute force over all ``2^N`` states.

    ``N <= 24`` (the states alone take ``2^N N`` bytes); use the transfer matrix
    (chains) or :func:`kaufman_log_partition` (tori) for larger systems.
    """
    n = model.n_sites
    if n > MAX_ENUMERATION_SITES:
        raise ValueError(
            f"cannot enumerate {n} sites (at most {MAX_ENUMERATION_SITES}); use "
            "chain_log_partition for chains or kaufman_log_partition for tori"
        )
    states = all_states(n).reshape((2**n, *model.shape))
    energies = _chunked(model.energy, states, np.float64)
    log_z = float(special.logsumexp(-energies))
    probabilities = np.exp(-energies - log_z)
    probabilities /= probabilities.sum()  # remove the last ulp of drift
    return Enumeration(model, states, energies, log_z, probabilities)
