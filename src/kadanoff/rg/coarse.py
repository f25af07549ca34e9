"""Monte Carlo RG: coarse-grain datasets with a kernel or an RBM's ``p(h | v)`` (MS 9, 18-22).

For lattices too large to enumerate, an RG step acts on samples: each fine configuration
``v`` drawn from ``exp(-H)/Z`` is mapped to ``h ~ exp(T(v, h))`` (a probability when the
trace condition holds), so the coarse configurations are samples of ``exp(-H^RG)``
(MS 6). Block spins and learned networks return the same thing, ±1 int8 configurations
of shape ``(n_samples, *coarse_shape)``, so one analysis path serves both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._rng import SeedLike, make_rng, spawn
from ..lattice import Chain, SquareLattice
from ..spins import check_spins
from ._common import rbm_arrays, spins_to_units
from .coarse_graining import coarse_graining_class
from .operators import CouplingOperator

__all__ = ["coarse_grain", "coarse_grain_rbm", "block_spin_levels"]


def _flatten(configs: Any, n_visible: int) -> tuple[np.ndarray, tuple[int, ...]]:
    v = check_spins(np.asarray(configs), "configs")
    if v.ndim == 0:
        raise ValueError("configs must be an array of configurations (n_samples, ...)")
    size = 1
    for k in range(v.ndim - 1, -1, -1):
        size *= v.shape[k]
        if size == n_visible:
            batch = v.shape[:k]
            return v.reshape(batch + (n_visible,)), batch
        if size > n_visible:
            break
    raise ValueError(
        f"configs of shape {v.shape} do not end with {n_visible} sites; pass "
        "(n_samples, *lattice.shape) or (n_samples, n_sites)"
    )


def coarse_grain(configs: Any, operator: CouplingOperator, *, seed: SeedLike) -> np.ndarray:
    """Coarse configurations ``h ~ exp(T(v, h))`` for each ``v`` in ``configs`` (MS 6, 9).

    Parameters
    ----------
    configs : (..., *fine_shape) ±1 array
        Trailing axes hold the ``operator.n_visible`` fine spins (lattice row-major).
    operator : CouplingOperator
        E.g. :class:`MajorityRule`, :class:`SoftKernel`, a :class:`MachineOperator`.
    seed : int, SeedSequence or Generator
        Used by stochastic kernels (soft kernels, random ties, machines).

    Returns
    -------
    (..., *operator.coarse_shape) int8 array.
    """
    v, batch = _flatten(configs, operator.n_visible)
    h = operator.sample_hidden(v, seed=seed)
    return np.asarray(h, dtype=np.int8).reshape(batch + tuple(operator.coarse_shape))


def coarse_grain_rbm(
    configs: Any,
    rbm: Any,
    *,
    seed: SeedLike = None,
    mode: str = "sample",
    coarse_shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Hidden configurations of an RBM for a dataset: ``h ~ p_lambda(h | v)`` (MS 18-22).

    Parameters
    ----------
    configs : (..., *fine_shape) ±1 array
    rbm : RBM-like
        ``.weights``, ``.visible_bias``, ``.hidden_bias`` (torch or numpy), ``.units``.
        Binary units are fed ``(v + 1) / 2`` and their hidden bits returned as ±1 spins.
    mode : {"sample", "mean"}
        ``"sample"``: ±1 int8 draws (``seed`` required); ``"mean"``: ``E[h | v]`` in spin
        variables, ``2 p(h = up | v) - 1``, float64.
    coarse_shape : tuple, optional
        Shape of each coarse configuration (default ``(n_hidden,)``), e.g. ``(20, 20)``.
    """
    W, a, b, units = rbm_arrays(rbm)
    v, batch = _flatten(configs, W.shape[0])
    field = b + spins_to_units(v, units) @ W
    x = 2.0 * field if units == "spin" else field
    p = 0.5 * (1.0 + np.tanh(0.5 * x))
    shape = tuple(coarse_shape) if coarse_shape is not None else (W.shape[1],)
    if int(np.prod(shape)) != W.shape[1]:
        raise ValueError(f"coarse_shape {shape} does not hold {W.shape[1]} hidden units")
    if mode == "mean":
        return (2.0 * p - 1.0).reshape(batch + shape)
    if mode != "sample":
        raise ValueError(f"mode must be 'sample' or 'mean', got {mode!r}")
    if seed is None:
        raise ValueError("mode='sample' needs a seed (int, SeedSequence or Generator)")
    u = make_rng(seed).random(p.shape)
    return np.where(u < p, 1, -1).astype(np.int8).reshape(batch + shape)


def block_spin_levels(
    configs: Any,
    lattice: Chain | SquareLattice,
    b: int,
    n_levels: int,
    *,
    rule: str | type[CouplingOperator] = "majority",
    seed: SeedLike = None,
    **options: Any,
) -> list[np.ndarray]:
    """Iterated block spins ``[level 0 (= configs), level 1, ..., level n_levels]`` (MS 6).

    ``rule`` is a registered block rule (:func:`~.coarse_graining.coarse_graining_classes`:
    ``"majority"``, ``"decimation"``, ``"soft"``, ...) or its class, built on each level as
    ``rule(lattice, b, **options)`` (e.g. ``tie="random"`` for the majority rule, ``lam=``
    for the soft kernel). Each level has shape ``(n_samples, *coarse lattice shape)``;
    level ``k`` draws from the ``k``-th stream spawned from ``seed``. A level that has to
    draw (random ties, a soft kernel) without a ``seed`` raises ``ValueError``.
    """
    cls = coarse_graining_class(rule) if isinstance(rule, str) else rule
    if not (isinstance(cls, type) and issubclass(cls, CouplingOperator)):
        raise ValueError(
            f"block_spin_levels needs a block rule (a CouplingOperator built from a lattice and "
            f"b, e.g. 'majority' or 'decimation'), got {rule!r}"
        )
    build: Any = cls  # a block rule class: (lattice, b, **options) -> rule
    streams: list[Any] = spawn(seed, max(n_levels, 0)) if seed is not None else [None] * n_levels
    v = check_spins(np.asarray(configs), "configs")
    if v.shape[v.ndim - len(lattice.shape) :] != lattice.shape:
        raise ValueError(
            f"configs of shape {v.shape} must end with the lattice shape {lattice.shape}"
        )
    levels = [v]
    lat: Chain | SquareLattice = lattice
    for level in range(n_levels):
        op: CouplingOperator = build(lat, b, **options)
        if seed is None and _draws(op, levels[-1]):
            raise ValueError(
                f"block_spin_levels: {cls.__name__} with options {options} draws random numbers "
                "on these configurations (e.g. tied blocks); pass seed=..."
            )
        levels.append(coarse_grain(levels[-1], op, seed=streams[level]))
        if level + 1 < n_levels:
            lat = (
                Chain(lat.n // b, periodic=lat.periodic)
                if isinstance(lat, Chain)
                else SquareLattice(lat.L // b)
            )
    return levels


def _draws(op: CouplingOperator, configs: np.ndarray) -> bool:
    """Whether coarse-graining ``configs`` with the block rule ``op`` draws random numbers,
    i.e. some ``|E[h | v]| < 1`` (``op.coarse_mean`` on the flattened batch)."""
    rule: Any = op  # a block rule: also a CoarseGraining
    v = configs.reshape(-1, *rule.fine_shape)
    return bool(np.any(np.abs(rule.coarse_mean(v)) < 1))
