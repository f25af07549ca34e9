"""The nearest-neighbour Ising model ``H(v) = -K sum_<ij> v_i v_j - field sum_i v_i``.

Dimensionless couplings (``K = J / k_B T``): the Boltzmann weight is ``exp(-H)``
(theory.md section 1). No randomness here; samplers live in :mod:`kadanoff.ising.samplers`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..lattice import Chain, SquareLattice
from ..spins import check_spins

__all__ = ["IsingModel", "K_CRITICAL", "T_CRITICAL", "coupling_from"]

#: Exact 2D critical coupling ``ln(1 + sqrt 2) / 2`` (the paper's 0.4352 is wrong), as the
#: correctly rounded double. Written as a literal: ``0.5 * math.log(1 + math.sqrt(2))`` rounds to
#: a neighbouring double on some libm builds, and the constant must not depend on the machine.
K_CRITICAL = 0.4406867935097715
#: ``ln(1 + sqrt 2) / 2 - K_CRITICAL`` (the rounding error of the literal), for ``K - K_c`` to
#: full relative precision near the critical point.
K_CRITICAL_RESIDUAL = -1.1252729464129330e-17
#: Exact 2D critical temperature ``1 / K_CRITICAL``.
T_CRITICAL = 1.0 / K_CRITICAL


def coupling_from(*, K: float | None = None, T: float | None = None) -> float:
    """The coupling ``K`` from exactly one of ``K`` or the temperature ``T = 1/K``."""
    if (K is None) == (T is None):
        raise ValueError("give exactly one of K (coupling) or T (temperature, K = 1/T)")
    if T is not None:
        if not math.isfinite(T) or T <= 0:
            raise ValueError(f"temperature T must be positive and finite, got {T}")
        return 1.0 / T
    assert K is not None
    if not math.isfinite(K):
        raise ValueError(f"coupling K must be finite, got {K}")
    return float(K)


@dataclass(frozen=True)
class IsingModel:
    """Ising model on ``lattice`` with coupling ``K`` and uniform field ``field``.

    Parameters
    ----------
    lattice : Chain or SquareLattice
    K : float
        Nearest-neighbour coupling (ferromagnetic for ``K > 0``).
    field : float
        Uniform field (dimensionless, ``H`` gains ``-field * sum_i v_i``).
    """

    lattice: Chain | SquareLattice
    K: float
    field: float = 0.0

    def __post_init__(self) -> None:
        for name in ("K", "field"):
            v = getattr(self, name)
            if not math.isfinite(v):
                raise ValueError(f"{name} must be finite, got {v}")

    @property
    def shape(self) -> tuple[int, ...]:
        return self.lattice.shape

    @property
    def n_sites(self) -> int:
        return self.lattice.n_sites

    def _flat(self, spins: np.ndarray) -> np.ndarray:
        s = check_spins(spins)
        shape = self.lattice.shape
        if s.shape[s.ndim - len(shape) :] != shape:
            raise ValueError(f"spins of shape {s.shape} do not end with the lattice shape {shape}")
        return s.reshape(s.shape[: s.ndim - len(shape)] + (self.n_sites,))

    def bond_sum(self, spins: np.ndarray) -> np.ndarray:
        """``sum_<ij> v_i v_j`` for a batch, shape ``(..., *lattice.shape) -> (...)``, int64."""
        s = self._flat(spins).astype(np.int64)
        b = self.lattice.bonds
        return np.einsum("...k,...k->...", s[..., b[:, 0]], s[..., b[:, 1]])

    def magnetization_sum(self, spins: np.ndarray) -> np.ndarray:
        """``sum_i v_i`` for a batch, shape ``(...)``, int64."""
        return self._flat(spins).astype(np.int64).sum(-1)

    def energy(self, spins: np.ndarray) -> np.ndarray:
        """Dimensionless energy ``H(v)`` of a batch, shape ``(...)``, float64."""
        e = -self.K * self.bond_sum(spins).astype(np.float64)
        if self.field:
            e = e - self.field * self.magnetization_sum(spins)
        return e
