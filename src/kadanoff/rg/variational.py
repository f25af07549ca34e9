"""Exact variational RG by enumeration: H^RG, the trace condition, F^h and F^v (MS 6-9, 18-22).

All results are float64 tables over states in :func:`kadanoff.spins.all_states` order
(site 0 the most significant bit); ``v`` has ``n_visible`` spins, ``h`` has ``n_hidden``.
Loops run over chunks of visible states so ``2^nv x 2^nh`` never has to fit in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..spins import all_states
from ._common import (
    CHUNK_ENTRIES,
    HamiltonianLike,
    energy_table,
    logsumexp,
    spins_to_units,
    state_chunks,
)
from .machines import GeneralBoltzmannMachine, MachineOperator
from .operators import CouplingOperator

__all__ = [
    "renormalized_hamiltonian",
    "log_trace",
    "trace_condition_violation",
    "free_energy",
    "rg_step",
    "RGStep",
    "machine_hamiltonian_visible",
    "machine_hamiltonian_hidden",
    "mapping_decomposition",
    "MappingDecomposition",
]


def _resolve_hamiltonian(operator: CouplingOperator, hamiltonian: HamiltonianLike | None) -> Any:
    if hamiltonian is not None:
        return hamiltonian
    if isinstance(operator, MachineOperator):
        return operator.hamiltonian
    raise ValueError("give the Hamiltonian H(v) of the fine spins (only a MachineOperator has one)")


def _v_chunk(operator: CouplingOperator) -> int:
    return max(1, CHUNK_ENTRIES >> operator.n_hidden)


def renormalized_hamiltonian(
    operator: CouplingOperator, hamiltonian: HamiltonianLike | None = None
) -> np.ndarray:
    """``H^RG(h) = -ln Tr_v exp(T(v, h) - H(v))`` for every ``h`` (MS 6), shape ``(2^nh,)``.

    ``hamiltonian`` may be omitted for a :class:`MachineOperator` (its own ``H``).
    Constants are kept, so ``-ln Tr_h exp(-H^RG) = F^h``.
    """
    H = energy_table(_resolve_hamiltonian(operator, hamiltonian), operator.n_visible)
    hs = all_states(operator.n_hidden)
    acc = np.full(len(hs), -np.inf)
    for start, vs in state_chunks(operator.n_visible, _v_chunk(operator)):
        t = operator.log_weight_table(vs, hs) - H[start : start + len(vs), None]
        acc = np.logaddexp(acc, logsumexp(t, axis=0))
    return -acc


def log_trace(operator: CouplingOperator) -> np.ndarray:
    """``ln Tr_h exp(T(v, h))`` for every ``v`` (MS 9), shape ``(2^nv,)``; 0 when exact."""
    hs = all_states(operator.n_hidden)
    out = np.empty(2**operator.n_visible)
    for start, vs in state_chunks(operator.n_visible, _v_chunk(operator)):
        out[start : start + len(vs)] = logsumexp(operator.log_weight_table(vs, hs), axis=1)
    return out


def trace_condition_violation(operator: CouplingOperator) -> float:
    """``max_v |ln Tr_h exp(T(v, h))|`` (MS 9): 0 exactly when the RG step is exact."""
    return float(np.max(np.abs(log_trace(operator))))


def free_energy(hamiltonian: HamiltonianLike, n: int) -> float:
    """``F = -ln Tr exp(-H)`` over ``n`` spins by enumeration (``F^v`` of MS 7-8)."""
    return float(-logsumexp(-energy_table(hamiltonian, n)))


@dataclass(frozen=True)
class RGStep:
    """One exact RG step (MS 6-9).

    Attributes
    ----------
    hamiltonian : (2^nh,) array
        ``H^RG(h)`` with its constant.
    log_trace : (2^nv,) array
        ``ln Tr_h exp(T(v, h))``.
    free_energy_visible, free_energy_hidden : float
        ``F^v = -ln Tr_v exp(-H)`` and ``F^h = -ln Tr_h exp(-H^RG)``.
    """

    hamiltonian: np.ndarray
    log_trace: np.ndarray
    free_energy_visible: float
    free_energy_hidden: float

    @property
    def trace_violation(self) -> float:
        """``max_v |ln Tr_h exp T|`` (MS 9)."""
        return float(np.max(np.abs(self.log_trace)))

    @property
    def free_energy_difference(self) -> float:
        """``F^h - F^v``: zero when the trace condition holds (MS 8; converse false)."""
        return self.free_energy_hidden - self.free_energy_visible


def rg_step(operator: CouplingOperator, hamiltonian: HamiltonianLike | None = None) -> RGStep:
    """Exact RG step: ``H^RG`` (MS 6), the trace (MS 9), ``F^v`` and ``F^h`` (MS 7-8)."""
    ham = _resolve_hamiltonian(operator, hamiltonian)
    h_rg = renormalized_hamiltonian(operator, ham)
    return RGStep(
        hamiltonian=h_rg,
        log_trace=log_trace(operator),
        free_energy_visible=free_energy(ham, operator.n_visible),
        free_energy_hidden=float(-logsumexp(-h_rg)),
    )


def _as_machine(machine: Any) -> GeneralBoltzmannMachine:
    if isinstance(machine, MachineOperator):
        return machine.machine
    if isinstance(machine, GeneralBoltzmannMachine):
        return machine
    return GeneralBoltzmannMachine.from_rbm(machine)


def machine_hamiltonian_visible(machine: Any) -> np.ndarray:
    """``H^lambda(v) = -ln Tr_h exp(-E)`` for every ±1 state ``v`` (MS 12), ``(2^nv,)``."""
    m = _as_machine(machine)
    return m.free_energy_visible(spins_to_units(all_states(m.n_visible), m.units))


def machine_hamiltonian_hidden(machine: Any) -> np.ndarray:
    """``H^lambda(h) = -ln Tr_v exp(-E)`` for every ±1 state ``h`` (MS 13), ``(2^nh,)``."""
    m = _as_machine(machine)
    return m.free_energy_hidden(spins_to_units(all_states(m.n_hidden), m.units))


@dataclass(frozen=True)
class MappingDecomposition:
    """``exp(T(v, h)) = p_lambda(h | v) exp(H(v) - H^lambda(v))`` term by term (MS 18-22).

    Attributes
    ----------
    log_weight : (2^nv, 2^nh) array
        ``T(v, h)``.
    log_conditional : (2^nv, 2^nh) array
        ``ln p_lambda(h | v)``.
    log_ratio : (2^nv,) array
        ``H(v) - H^lambda(v)``; equals ``ln Tr_h exp(T)``.
    """

    log_weight: np.ndarray
    log_conditional: np.ndarray
    log_ratio: np.ndarray

    def max_error(self) -> float:
        """``max |T - ln p(h|v) - (H - H^lambda(v))|`` (MS 18-22): 0 up to rounding."""
        return float(
            np.max(np.abs(self.log_weight - self.log_conditional - self.log_ratio[:, None]))
        )


def mapping_decomposition(operator: MachineOperator) -> MappingDecomposition:
    """The decomposition ``exp(T) = p(h|v) exp(H - H^lambda(v))`` (MS 18-22) by enumeration."""
    if not isinstance(operator, MachineOperator):
        raise TypeError("mapping_decomposition needs a MachineOperator (T = -E + H)")
    m = operator.machine
    vs = all_states(m.n_visible)
    hs = all_states(m.n_hidden)
    H = energy_table(operator.hamiltonian, m.n_visible)
    return MappingDecomposition(
        log_weight=operator.log_weight_table(vs, hs),
        log_conditional=m.log_hidden_conditional(spins_to_units(vs, m.units)),
        log_ratio=H - m.free_energy_visible(spins_to_units(vs, m.units)),
    )
