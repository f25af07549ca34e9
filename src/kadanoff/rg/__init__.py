"""Kadanoff's variational RG and its exact mapping to Boltzmann machines (MS 6-22).

Structure (theory.md sections 2, 4, 5; everything float64 numpy, enumeration based):

- :mod:`~kadanoff.rg.operators`: coupling operators ``T(v, h)`` evaluated on batches of
  ±1 spins: :class:`Decimation`, :class:`MajorityRule` (documented tie rule),
  :class:`SoftKernel`, :class:`MachineOperator` (``T = -E + H``, MS 18) and
  :class:`TableOperator`.
- :mod:`~kadanoff.rg.machines`: :class:`GeneralBoltzmannMachine` (v-v, h-h and v-h
  couplings) with exact marginal Hamiltonians ``H^lambda(v)``, ``H^lambda(h)`` (MS 12-13).
- :mod:`~kadanoff.rg.variational`: exact enumeration of ``H^RG(h)`` (MS 6), the trace
  ``Tr_h exp T`` (MS 9), ``F^v`` and ``F^h`` (MS 7-8) and the decomposition
  ``exp(T) = p(h|v) exp(H - H^lambda(v))`` (MS 18-22).
- :mod:`~kadanoff.rg.projection`: exact Walsh (Fourier) projection of any Hamiltonian
  on spin operators (field, nn, nnn, plaquette, k-spin products) with the residual.
- :mod:`~kadanoff.rg.decimation`: the 1D flow ``tanh K' = tanh^2 K`` and the three exact
  network realizations of theory.md 5 (bipartite deep network, soft decimation kernel,
  bond RBM).
- :mod:`~kadanoff.rg.coarse`: Monte Carlo RG on datasets (block spins or an RBM's
  ``p(h|v)``), returning coarse ±1 configurations.
- :mod:`~kadanoff.rg.coarse_graining`: the :class:`CoarseGraining` protocol (block rules,
  :class:`RBMLayer`, :class:`Compose`) that Monte Carlo RG measures (theory.md 7).
- Monte Carlo RG (theory.md 7): :mod:`~kadanoff.rg.mcrg_operators` (operator basis and kernel),
  :mod:`~kadanoff.rg.mcrg_matrix` (``T = G^-1 F``, exponents), :mod:`~kadanoff.rg.mcrg`
  (sampling + measurement runs), :mod:`~kadanoff.rg.mcrg_couplings` (pseudo-likelihood
  couplings), :mod:`~kadanoff.rg.mcrg_flow` (coupling flow, matching for ``K_c``).

Conventions: states are enumerated in :func:`kadanoff.spins.all_states` order, ``v`` are
fine spins and ``h`` coarse (hidden) spins, energies in kadanoff's sign convention
``E = -(v W h + a.v + b.h)`` (theory.md 3).
"""

from __future__ import annotations

from .coarse import block_spin_levels, coarse_grain, coarse_grain_rbm
from .coarse_graining import CoarseGraining, Compose, RBMLayer, block_rule
from .decimation import (
    BondRBM,
    DecimationNetwork,
    bond_rbm_coupling,
    bond_rbm_weight,
    correlation_length,
    decimated_coupling,
    decimated_ring_hamiltonian,
    decimation_constant,
    decimation_flow,
    log_cosh,
    marginalize,
    ring_hamiltonian,
    ring_log_partition,
    soft_decimation_flip_probability,
    soft_decimation_kernel,
)
from .machines import GeneralBoltzmannMachine
from .mcrg import exponents, measure
from .mcrg_couplings import CouplingBasis, fit_couplings
from .mcrg_flow import coupling_flow, match_critical_point
from .mcrg_operators import OperatorSet
from .operators import (
    CouplingOperator,
    Decimation,
    MachineOperator,
    MajorityRule,
    SoftKernel,
    TableOperator,
)
from .projection import (
    ProjectionResult,
    Term,
    hamiltonian_from_couplings,
    project,
    standard_term,
    translation_term,
    walsh_coefficients,
)
from .variational import (
    MappingDecomposition,
    RGStep,
    free_energy,
    log_trace,
    machine_hamiltonian_hidden,
    machine_hamiltonian_visible,
    mapping_decomposition,
    renormalized_hamiltonian,
    rg_step,
    trace_condition_violation,
)

__all__ = [
    # operators
    "CouplingOperator",
    "Decimation",
    "MajorityRule",
    "SoftKernel",
    "MachineOperator",
    "TableOperator",
    # machines
    "GeneralBoltzmannMachine",
    # variational
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
    # projection
    "Term",
    "translation_term",
    "standard_term",
    "walsh_coefficients",
    "project",
    "ProjectionResult",
    "hamiltonian_from_couplings",
    # decimation
    "log_cosh",
    "decimated_coupling",
    "decimation_constant",
    "decimation_flow",
    "correlation_length",
    "ring_log_partition",
    "ring_hamiltonian",
    "marginalize",
    "decimated_ring_hamiltonian",
    "DecimationNetwork",
    "soft_decimation_kernel",
    "soft_decimation_flip_probability",
    "bond_rbm_coupling",
    "bond_rbm_weight",
    "BondRBM",
    # coarse
    "coarse_grain",
    "coarse_grain_rbm",
    "block_spin_levels",
    # coarse-graining protocol and Monte Carlo RG
    "CoarseGraining",
    "Compose",
    "RBMLayer",
    "block_rule",
    "OperatorSet",
    "measure",
    "exponents",
    "CouplingBasis",
    "fit_couplings",
    "coupling_flow",
    "match_critical_point",
]
