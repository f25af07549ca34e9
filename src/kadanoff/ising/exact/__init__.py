"""Exact results for the Ising model: test oracles for every sampler and RG check.

Conventions (theory.md sections 1, 5, 8): ``H = -K sum_<ij> v_i v_j - field sum_i v_i``
is dimensionless and the weight is ``exp(-H)``.

* **Energy per site** ``u`` is in units of the coupling ``J`` (Onsager's convention, so
  ``u(K_c) = -sqrt 2`` in 2D and ``u = -tanh K`` for the infinite chain):
  ``u = <H> / (K N)``; at zero field this is ``-<sum_<ij> v_i v_j> / N = -(1/N) d lnZ/dK``
  and is defined for every ``K`` (with a field it needs ``K != 0``).
* **Specific heat per site** ``c = var(H) / N``; at zero field ``c = K^2 d^2 lnZ/dK^2 / N``.
  With a field it is the derivative along ``(K, field) -> (beta K, beta field)`` (the
  physical specific heat at fixed field in units of ``J``).

Contents (one module each; every public name is re-exported here)

* :mod:`.enumeration`: :func:`enumerate_model` -> :class:`Enumeration`, brute force over
  all ``2^N`` states.
* :mod:`.chain`: 1D transfer matrices (ring and open chain, with field), exact derivatives
  by forward-mode differentiation of the matrix product; infinite-chain formulas.
* :mod:`.onsager`: 2D infinite lattice (Onsager 1944, Yang 1952): free energy, energy,
  specific heat, spontaneous magnetization, axis correlation length.
* :mod:`.kaufman`: 2D finite ``m x n`` torus (Kaufman 1949) in log space with analytic
  derivatives.
"""

from __future__ import annotations

from . import chain, enumeration, kaufman, onsager
from .chain import *  # noqa: F403
from .enumeration import *  # noqa: F403
from .kaufman import *  # noqa: F403
from .onsager import *  # noqa: F403

__all__ = [*enumeration.__all__, *chain.__all__, *onsager.__all__, *kaufman.__all__]
