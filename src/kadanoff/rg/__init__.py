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
- Learned coarse-grainings (issue 11, theory.md 7), each a :class:`CoarseGraining`:
  :mod:`~kadanoff.rg.dbn_layer` (:class:`DBNLayerRule`, a trained DBN layer placed on the coarse
  lattice by :mod:`~kadanoff.rg.placement`), :mod:`~kadanoff.rg.conv_rule` (:class:`ConvRBMRule`,
  a convolutional spin RBM), :mod:`~kadanoff.rg.mi_rule` (:class:`MIRule`, a block filter that
  maximizes the mutual information of :mod:`~kadanoff.rg.mutual_information`);
  :mod:`~kadanoff.rg.rg_distance` (per-spin KL from an exact RG step) and
  :mod:`~kadanoff.rg.rbm_flow` (the RBM flow v -> h -> v; imports torch, so not re-exported).

Conventions: states are enumerated in :func:`kadanoff.spins.all_states` order, ``v`` are
fine spins and ``h`` coarse (hidden) spins, energies in kadanoff's sign convention
``E = -(v W h + a.v + b.h)`` (theory.md 3).
"""

from __future__ import annotations

from . import coarse, decimation, machines, operators, projection, variational
from .coarse import *  # noqa: F403
from .coarse_graining import (
    CoarseGraining,
    Compose,
    RBMLayer,
    block_rule,
    coarse_graining_class,
    coarse_graining_classes,
    register_coarse_graining,
)
from .conv_rule import ConvRBMRule
from .dbn_layer import DBNLayerRule, dbn_steps
from .decimation import *  # noqa: F403
from .machines import *  # noqa: F403
from .mcrg import exponents, measure
from .mcrg_couplings import CouplingBasis, fit_couplings
from .mcrg_flow import coupling_flow, match_critical_point
from .mcrg_operators import OperatorSet
from .mi_rule import BlockFilter, MIRule, train_filter
from .mutual_information import exact_mutual_information
from .operators import *  # noqa: F403
from .placement import Placement, place_units
from .projection import *  # noqa: F403
from .rg_distance import Distance, exact_distance, network_distance, rbm_distance
from .variational import *  # noqa: F403

# every public name of the exact-RG modules, then a curated part of the Monte Carlo RG ones
__all__ = [
    *operators.__all__,
    *machines.__all__,
    *variational.__all__,
    *projection.__all__,
    *decimation.__all__,
    *coarse.__all__,
    "CoarseGraining",
    "Compose",
    "RBMLayer",
    "block_rule",
    "register_coarse_graining",
    "coarse_graining_class",
    "coarse_graining_classes",
    "OperatorSet",
    "measure",
    "exponents",
    "CouplingBasis",
    "fit_couplings",
    "coupling_flow",
    "match_critical_point",
    "DBNLayerRule",
    "dbn_steps",
    "Placement",
    "place_units",
    "ConvRBMRule",
    "MIRule",
    "BlockFilter",
    "train_filter",
    "exact_mutual_information",
    "Distance",
    "exact_distance",
    "rbm_distance",
    "network_distance",
]
