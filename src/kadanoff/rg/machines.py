"""General Boltzmann machines (v-v, h-h and v-h couplings), float64 numpy, exact marginals.

Energy in kadanoff's sign convention (theory.md section 3), on unit values ``v``, ``h``
(±1 for ``units="spin"``, {0,1} for ``"binary"``)::

    E(v, h) = -(v W h + a.v + b.h + 1/2 v L v + 1/2 h J h) + offset

with ``L``, ``J`` symmetric and zero on the diagonal. ``L = J = 0`` is an RBM (MS 10, with
paper ``(w, c, b) = -(W, a, b)``). The marginal Hamiltonians keep their constants (MS 12-13).
:class:`MachineOperator` is the coupling operator ``T = -E(v, h) + H(v)`` a machine defines
(MS 18).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._rng import SeedLike, make_rng
from ..spins import MAX_ENUMERATION_SITES, all_states, check_spins
from ._common import (
    HamiltonianLike,
    as_energy_function,
    check_units,
    energy_table,
    log_two_state_sum,
    logsumexp,
    rbm_arrays,
    spins_to_units,
)
from .operators import CouplingOperator

__all__ = ["GeneralBoltzmannMachine", "MachineOperator"]


def _coupling_matrix(m: np.ndarray | None, n: int, name: str) -> np.ndarray:
    if m is None:
        return np.zeros((n, n))
    m = np.array(m, dtype=np.float64)
    if m.shape != (n, n):
        raise ValueError(f"{name} must have shape ({n}, {n}), got {m.shape}")
    if not np.allclose(m, m.T, rtol=0, atol=1e-12):
        raise ValueError(f"{name} must be symmetric; pass (M + M.T) / 2")
    if np.any(np.diag(m) != 0):
        raise ValueError(f"{name} must have a zero diagonal (put self-terms in the biases)")
    return m


class GeneralBoltzmannMachine:
    """A Boltzmann machine with visible-visible, hidden-hidden and visible-hidden couplings.

    Parameters
    ----------
    weights : (n_visible, n_hidden) array
        ``W`` (v-h couplings).
    visible_bias : (n_visible,) array
    hidden_bias : (n_hidden,) array
    visible_couplings : (n_visible, n_visible) array, optional
        ``L``, symmetric, zero diagonal; ``E`` gains ``-1/2 v L v``.
    hidden_couplings : (n_hidden, n_hidden) array, optional
        ``J``, symmetric, zero diagonal; ``E`` gains ``-1/2 h J h``.
    units : {"spin", "binary"}
    offset : float
        Constant added to ``E`` (fixes the normalization ``Z_lambda``, theory.md section 4).

    Notes
    -----
    Exact marginals (MS 12-13) use closed forms when the summed layer has no internal
    couplings and enumeration (at most 24 units) otherwise.
    """

    def __init__(
        self,
        weights: Any,
        visible_bias: Any,
        hidden_bias: Any,
        visible_couplings: Any = None,
        hidden_couplings: Any = None,
        *,
        units: str = "spin",
        offset: float = 0.0,
    ) -> None:
        W = np.array(weights, dtype=np.float64)
        if W.ndim != 2:
            raise ValueError(f"weights must be a (n_visible, n_hidden) matrix, got {W.shape}")
        nv, nh = W.shape
        a = np.array(visible_bias, dtype=np.float64).reshape(-1)
        b = np.array(hidden_bias, dtype=np.float64).reshape(-1)
        if a.shape != (nv,) or b.shape != (nh,):
            raise ValueError(
                f"biases must have shapes ({nv},) and ({nh},) to match weights {W.shape}; "
                f"got {a.shape} and {b.shape}"
            )
        self.weights = W
        self.visible_bias = a
        self.hidden_bias = b
        self.visible_couplings = _coupling_matrix(visible_couplings, nv, "visible_couplings")
        self.hidden_couplings = _coupling_matrix(hidden_couplings, nh, "hidden_couplings")
        self.units = check_units(units)
        self.offset = float(offset)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_rbm(cls, rbm: Any, *, offset: float = 0.0) -> GeneralBoltzmannMachine:
        """The machine with the parameters of any RBM-like object (MS 10), ``L = J = 0``."""
        W, a, b, units = rbm_arrays(rbm)
        return cls(W, a, b, units=units, offset=offset)

    @classmethod
    def random(
        cls,
        n_visible: int,
        n_hidden: int,
        *,
        scale: float = 0.5,
        restricted: bool = False,
        units: str = "spin",
        seed: SeedLike,
    ) -> GeneralBoltzmannMachine:
        """Random Gaussian parameters of standard deviation ``scale`` (MS 10 energy form)."""
        rng = make_rng(seed)
        W = scale * rng.standard_normal((n_visible, n_hidden))
        a = scale * rng.standard_normal(n_visible)
        b = scale * rng.standard_normal(n_hidden)
        if restricted:
            return cls(W, a, b, units=units)
        L = np.triu(scale * rng.standard_normal((n_visible, n_visible)), 1)
        J = np.triu(scale * rng.standard_normal((n_hidden, n_hidden)), 1)
        return cls(W, a, b, L + L.T, J + J.T, units=units)

    # -- properties ---------------------------------------------------------------------
    @property
    def n_visible(self) -> int:
        """Number of visible units (MS 10)."""
        return self.weights.shape[0]

    @property
    def n_hidden(self) -> int:
        """Number of hidden units (MS 10)."""
        return self.weights.shape[1]

    @property
    def is_restricted(self) -> bool:
        """True when there are no v-v or h-h couplings (an RBM, MS 10)."""
        return not (np.any(self.visible_couplings) or np.any(self.hidden_couplings))

    def with_offset(self, offset: float) -> GeneralBoltzmannMachine:
        """A copy with energy constant ``offset`` (fixes ``Z_lambda``, theory.md 4)."""
        return GeneralBoltzmannMachine(
            self.weights,
            self.visible_bias,
            self.hidden_bias,
            self.visible_couplings,
            self.hidden_couplings,
            units=self.units,
            offset=offset,
        )

    # -- energies -----------------------------------------------------------------------
    def _unit_values(self, n: int) -> np.ndarray:
        if n > MAX_ENUMERATION_SITES:
            raise ValueError(f"cannot enumerate {n} units exactly (at most 24)")
        s = all_states(n).astype(np.float64)
        return s if self.units == "spin" else 0.5 * (s + 1.0)

    def _visible_terms(self, v: np.ndarray) -> np.ndarray:
        return v @ self.visible_bias + 0.5 * np.einsum(
            "...i,ij,...j->...", v, self.visible_couplings, v
        )

    def _hidden_terms(self, h: np.ndarray) -> np.ndarray:
        return h @ self.hidden_bias + 0.5 * np.einsum(
            "...i,ij,...j->...", h, self.hidden_couplings, h
        )

    def energy(self, v: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``E(v, h)`` (MS 10 in kadanoff's signs), shapes ``(..., nv), (..., nh) -> (...)``."""
        v = np.asarray(v, dtype=np.float64)
        h = np.asarray(h, dtype=np.float64)
        vWh = np.einsum("...i,ij,...j->...", v, self.weights, h)
        return -(vWh + self._visible_terms(v) + self._hidden_terms(h)) + self.offset

    def energy_table(self, v: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``E`` (MS 10) for every pair: ``v (n_a, nv)``, ``h (n_b, nh)`` -> ``(n_a, n_b)``."""
        v = np.asarray(v, dtype=np.float64)
        h = np.asarray(h, dtype=np.float64)
        out = (v @ self.weights) @ h.T
        out += self._visible_terms(v)[:, None]
        out += self._hidden_terms(h)[None, :]
        return self.offset - out

    def free_energy_visible(self, v: np.ndarray) -> np.ndarray:
        """``H^lambda(v) = -ln Tr_h exp(-E(v, h))`` (MS 12), ``(..., nv) -> (...)``."""
        v = np.asarray(v, dtype=np.float64)
        field = self.hidden_bias + v @ self.weights
        if not np.any(self.hidden_couplings):
            s = log_two_state_sum(field, self.units).sum(-1)
        else:
            h = self._unit_values(self.n_hidden)
            hj = 0.5 * np.einsum("ki,ij,kj->k", h, self.hidden_couplings, h)
            s = logsumexp(field @ h.T + hj, axis=-1)  # b.h is inside field
        vv = v @ self.visible_bias + 0.5 * np.einsum(
            "...i,ij,...j->...", v, self.visible_couplings, v
        )
        return self.offset - vv - s

    def free_energy_hidden(self, h: np.ndarray) -> np.ndarray:
        """``H^lambda(h) = -ln Tr_v exp(-E(v, h))`` (MS 13), ``(..., nh) -> (...)``."""
        h = np.asarray(h, dtype=np.float64)
        field = self.visible_bias + h @ self.weights.T
        if not np.any(self.visible_couplings):
            s = log_two_state_sum(field, self.units).sum(-1)
        else:
            v = self._unit_values(self.n_visible)
            vl = 0.5 * np.einsum("ki,ij,kj->k", v, self.visible_couplings, v)
            s = logsumexp(field @ v.T + vl, axis=-1)
        hh = h @ self.hidden_bias + 0.5 * np.einsum(
            "...i,ij,...j->...", h, self.hidden_couplings, h
        )
        return self.offset - hh - s

    def log_partition(self) -> float:
        """``ln Z_lambda = ln Tr_v Tr_h exp(-E)`` by enumerating the smaller layer (MS 10)."""
        if self.n_visible <= self.n_hidden or np.any(self.hidden_couplings):
            f = self.free_energy_visible(self._unit_values(self.n_visible))
        else:
            f = self.free_energy_hidden(self._unit_values(self.n_hidden))
        return float(logsumexp(-f))

    def log_hidden_conditional(self, v: np.ndarray) -> np.ndarray:
        """``ln p(h | v)`` for every hidden state (all_states order), ``(n_a, nv) -> (n_a, 2^nh)``.

        The factor in the decomposition ``exp(T) = p(h|v) exp(H - H^lambda(v))`` (MS 18-22).
        """
        v = np.atleast_2d(np.asarray(v, dtype=np.float64))
        h = self._unit_values(self.n_hidden)
        logits = -self.energy_table(v, h)
        return logits - logsumexp(logits, axis=1)[:, None]

    def hidden_up_probability(self, v: np.ndarray) -> np.ndarray:
        """``p(h_j = up | v)`` when ``J = 0`` (MS 18-22), ``(..., nv) -> (..., nh)``.

        ``sigmoid(2 field)`` for spins, ``sigmoid(field)`` for bits (theory.md section 3).
        """
        if np.any(self.hidden_couplings):
            raise ValueError(
                "hidden units are coupled (J != 0): p(h|v) does not factorize; "
                "use log_hidden_conditional"
            )
        field = self.hidden_bias + np.asarray(v, dtype=np.float64) @ self.weights
        x = 2.0 * field if self.units == "spin" else field
        return 0.5 * (1.0 + np.tanh(0.5 * x))

    def __repr__(self) -> str:
        kind = "restricted" if self.is_restricted else "general"
        return (
            f"GeneralBoltzmannMachine({self.n_visible} visible, {self.n_hidden} hidden, "
            f"{kind}, units={self.units!r})"
        )


class MachineOperator(CouplingOperator):
    """``T(v, h) = -E(v, h) + H(v)`` from a Boltzmann machine and a Hamiltonian (MS 18).

    Parameters
    ----------
    machine : GeneralBoltzmannMachine or RBM-like
        Any object with ``.weights``, ``.visible_bias``, ``.hidden_bias`` (torch or numpy)
        and ``.units`` is converted to a float64 :class:`GeneralBoltzmannMachine`.
    hamiltonian : callable, table or model
        ``H(v)`` on flat ±1 spins, a table of ``2**nv`` energies, or an ``IsingModel``.
    match_normalization : bool
        Shift the machine's energy constant so that ``Z_lambda = Tr_v exp(-H)`` (by
        enumeration of ``v``); then the trace condition holds exactly when KL = 0
        (theory.md section 4). The shifted machine is ``self.machine``.

    Notes
    -----
    ``v`` and ``h`` are always ±1 spins; for binary machines they are evaluated at the
    unit values ``(s + 1) / 2``.
    """

    def __init__(
        self, machine: Any, hamiltonian: HamiltonianLike, *, match_normalization: bool = False
    ) -> None:
        if not isinstance(machine, GeneralBoltzmannMachine):
            machine = GeneralBoltzmannMachine.from_rbm(machine)
        self.n_visible = machine.n_visible
        self.n_hidden = machine.n_hidden
        self.coarse_shape = (self.n_hidden,)
        self.hamiltonian = hamiltonian
        self._H = as_energy_function(hamiltonian, self.n_visible)
        if match_normalization:
            log_z_h = float(logsumexp(-energy_table(hamiltonian, self.n_visible)))
            machine = machine.with_offset(machine.offset + machine.log_partition() - log_z_h)
        self.machine = machine

    def log_weight(self, v: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``T(v, h) = -E(v, h) + H(v)`` (MS 18), broadcasting batches of ±1 spins."""
        v, h = self._check(v, h)
        u = self.machine.units
        return -self.machine.energy(spins_to_units(v, u), spins_to_units(h, u)) + self._H(v)

    def log_weight_table(self, v: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``T`` for every pair of rows, ``(n_a, nv), (n_b, nh) -> (n_a, n_b)`` (MS 18)."""
        u = self.machine.units
        e = self.machine.energy_table(spins_to_units(v, u), spins_to_units(h, u))
        return self._H(np.asarray(v))[:, None] - e

    def sample_hidden(self, v: np.ndarray, *, seed: SeedLike) -> np.ndarray:
        """Draw ``h ~ p_lambda(h | v)`` (MS 18-22), int8 spins; factorized when ``J = 0``."""
        m = self.machine
        if np.any(m.hidden_couplings):
            return super().sample_hidden(v, seed=seed)
        v = check_spins(v, "v")
        p = m.hidden_up_probability(spins_to_units(v, m.units))
        u = make_rng(seed).random(p.shape)
        return np.where(u < p, 1, -1).astype(np.int8)
