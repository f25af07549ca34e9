"""What the cluster samplers share: lattice set-up, the bond test and the driver.

:func:`cluster_setup` validates a model for a cluster algorithm (zero field; ``K < 0`` only
on bipartite lattices, by the gauge map ``v_i -> eps_i v_i``) and builds the flat
neighbour table; :func:`bond_threshold` and :func:`bond_open` give the Fortuin-Kasteleyn
bond probability ``p = 1 - exp(-2|K|)`` to 64 bits; :class:`ClusterSampler` holds the
chain state (one xoshiro256** stream per chain) and drives the subclass's kernel.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import overload

import numpy as np
from numba import njit

from ..._rng import SeedLike
from ...kernels.xoshiro import seed_states, xoshiro_next
from ...lattice import Chain, SquareLattice
from ..model import IsingModel
from .base import ChainState, Sampler, SweepInfo, check_count

__all__ = [
    "ClusterSampler",
    "cluster_setup",
    "bond_threshold",
    "bond_open",
    "grow_cluster",
    "use_threads",
    "PARALLEL_MIN_WORK",
]

_S32 = np.uint64(32)
_LO32 = np.uint64(0xFFFFFFFF)


def cluster_setup(model: IsingModel, algorithm: str) -> tuple[np.ndarray, int, np.ndarray | None]:
    """Validate ``model`` for a cluster algorithm; return its flat neighbour table.

    Returns
    -------
    nbr : ndarray, shape ``(n_sites * z,)``, int32
        Neighbours of site ``i`` at ``nbr[i*z:(i+1)*z]``; a missing one (open-chain
        ends) is ``i`` itself. Multiple bonds between one pair (``L = 2`` torus, 2-ring) appear
        once per bond, as the Hamiltonian counts them.
    z : int
        Coordination number of the table (4 on the torus, 2 on a chain).
    gauge : ndarray of shape ``model.shape`` (int8) or None
        The staggered signs mapping ``K < 0`` onto ``|K|``; ``None`` when ``K >= 0``.
    """
    if not isinstance(model, IsingModel):
        raise TypeError(f"{algorithm} needs an IsingModel, got {type(model).__name__}")
    if model.field != 0.0:
        raise ValueError(
            f"the {algorithm} cluster algorithm needs zero field, got field = {model.field}; "
            "use a local sampler (Metropolis / heat bath) or, in 1D, ExactChainSampler"
        )
    lat = model.lattice
    if not isinstance(lat, (Chain, SquareLattice)):
        raise TypeError(f"{algorithm} supports Chain and SquareLattice, got {type(lat).__name__}")
    nb = np.array(lat.neighbours, dtype=np.int32)
    z = nb.shape[1]
    # a missing neighbour (open chain) points at the site itself: the kernels scan a site
    # only after it has joined a cluster, so a self-entry never opens a bond
    rows = np.nonzero(nb < 0)[0]
    nb[nb < 0] = rows.astype(np.int32)
    gauge = None
    if model.K < 0:
        if isinstance(lat, SquareLattice):
            if lat.L % 2:
                raise ValueError(
                    f"{algorithm} with K = {model.K} < 0 needs a bipartite lattice "
                    f"(even L), got L = {lat.L}; use an even L or a local sampler"
                )
            gauge = (1 - 2 * lat.checkerboard()).astype(np.int8)
        else:
            if lat.periodic and lat.n % 2:
                raise ValueError(
                    f"{algorithm} with K = {model.K} < 0 on a ring needs an even length "
                    f"(an odd antiferromagnetic ring is frustrated), got n = {lat.n}"
                )
            gauge = (1 - 2 * (np.arange(lat.n) % 2)).astype(np.int8)
    return nb.ravel(), z, gauge


def bond_threshold(K: float) -> tuple[np.uint64, np.uint64]:
    """The bond probability ``p = 1 - exp(-2|K|)`` as a 64-bit threshold ``round(p 2^64)``.

    Returned as its high and low 32-bit halves ``(hi, lo)``; a bond is open when a 64-bit
    uniform, compared half by half, lies below it (exact to 2^-64).
    """
    p = -math.expm1(-2.0 * abs(K))
    t = min(round(Fraction(p) * 2**64), 2**64 - 1)
    return np.uint64(t >> 32), np.uint64(t & 0xFFFFFFFF)


@njit(inline="always", cache=True)
def bond_open(u, thr_hi, thr_lo, r0, r1, r2, r3):
    """Bond test from a 32-bit uniform ``u``: open with probability ``(hi 2^32 + lo) 2^-64``.

    A tie ``u == hi`` (probability 2^-32, so this branch is never mispredicted) is
    resolved with 32 fresh bits. Returns ``(open, r0, r1, r2, r3)``.
    """
    if u == thr_hi:
        x, r0, r1, r2, r3 = xoshiro_next(r0, r1, r2, r3)
        return (x >> _S32) < thr_lo, r0, r1, r2, r3
    return u < thr_hi, r0, r1, r2, r3


@njit(inline="always", cache=True)
def grow_cluster(visit, s, seen, nbr, z, s0, delta, thr_hi, thr_lo, stack, r0, r1, r2, r3):
    """Grow the Fortuin-Kasteleyn cluster whose first site is on ``stack`` (both algorithms).

    Pops sites and tests the bond of each to its ``z`` (4 or 2) neighbours with 32-bit
    uniforms, two per xoshiro draw (:func:`bond_open`); ``visit(s, seen, j, s0, delta,
    open, stack, top)`` adds neighbour ``j`` when it belongs (pushing it and adding
    ``delta`` to ``s[j]``) and returns the new ``top``. Returns ``(size, r0, r1, r2, r3)``.
    """
    top = 1
    size = 1
    while top > 0:
        top -= 1
        base = stack[top] * z
        t0 = top
        ra, r0, r1, r2, r3 = xoshiro_next(r0, r1, r2, r3)
        b, r0, r1, r2, r3 = bond_open(ra >> _S32, thr_hi, thr_lo, r0, r1, r2, r3)
        top = visit(s, seen, nbr[base], s0, delta, b, stack, top)
        b, r0, r1, r2, r3 = bond_open(ra & _LO32, thr_hi, thr_lo, r0, r1, r2, r3)
        top = visit(s, seen, nbr[base + 1], s0, delta, b, stack, top)
        if z == 4:
            rb, r0, r1, r2, r3 = xoshiro_next(r0, r1, r2, r3)
            b, r0, r1, r2, r3 = bond_open(rb >> _S32, thr_hi, thr_lo, r0, r1, r2, r3)
            top = visit(s, seen, nbr[base + 2], s0, delta, b, stack, top)
            b, r0, r1, r2, r3 = bond_open(rb & _LO32, thr_hi, thr_lo, r0, r1, r2, r3)
            top = visit(s, seen, nbr[base + 3], s0, delta, b, stack, top)
        size += top - t0
    return size, r0, r1, r2, r3


def use_threads(n_chains: int, work: float) -> bool:
    """Whether a job of ``work`` site visits over ``n_chains`` chains is worth the thread pool.

    Waking the pool costs microseconds on an idle machine but milliseconds on a busy
    one, so a single chain or a small job runs serially.
    """
    return n_chains > 1 and work >= PARALLEL_MIN_WORK


#: smallest job (site visits, all chains) that :func:`use_threads` runs in parallel
PARALLEL_MIN_WORK = 1 << 16


class ClusterSampler(Sampler):
    """Shared driver of the cluster samplers: neighbour table, gauge and bond threshold,
    the chain state (one xoshiro256** stream per chain, ``rng`` of shape
    ``(n_chains, 4)`` uint64), and ``run``/``record`` over the subclass's ``_advance``."""

    #: algorithm name used in error messages
    algorithm = ""

    def __init__(self, model: IsingModel) -> None:
        super().__init__(model)
        self._nbr, self._z, self._gauge = cluster_setup(model, self.algorithm)
        self._thr_hi, self._thr_lo = bond_threshold(model.K)
        #: the kernels' lattice arguments ``(nbr, z, thr_hi, thr_lo)``
        self._bonds = (self._nbr, self._z, self._thr_hi, self._thr_lo)

    def _gauged_copy(self, spins: np.ndarray) -> np.ndarray:
        """Validated ``(n_chains, n_sites)`` copy of ``spins``, gauge-transformed if K < 0."""
        s = self.check_state(spins)
        flat = s.reshape(s.shape[0], -1).copy()
        if self._gauge is not None:
            flat *= self._gauge.reshape(1, -1)
        return flat

    def _ungauged(self, saved: np.ndarray, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Undo the gauge map in place and give the lattice shape: saved states
        ``(n_out, n_chains, n_sites)`` and final spins ``(n_chains, n_sites)``."""
        if self._gauge is not None:
            flat *= self._gauge.reshape(1, -1)
            saved *= self._gauge.reshape(1, 1, -1)
        n_chains = flat.shape[0]
        return (
            saved.reshape(saved.shape[0], n_chains, *self.model.shape),
            flat.reshape(n_chains, *self.model.shape),
        )

    def _start_rng(self, n_chains: int, seed: SeedLike) -> np.ndarray:
        """Chain ``c`` gets xoshiro stream ``c`` of ``seed`` (:func:`seed_states`)."""
        return seed_states(seed, n_chains)

    def advance(self, state: ChainState, n_sweeps: int) -> tuple[ChainState, SweepInfo]:
        """``n_sweeps`` sweeps continuing every chain's xoshiro stream.

        Returns the new state and a :class:`SweepInfo` (see the subclass for its fields).
        """
        n_sweeps = check_count(n_sweeps)
        self.check_chain_state(state, (-1, 4))
        rng = state.rng.copy()
        _, out, info = self._advance(state.spins, n_sweeps, 0, rng)
        return ChainState(out, rng, state.kind, state.sweeps + n_sweeps), info

    @overload
    def record(
        self, spins: ChainState, n_samples: int, *, thin: int = 1, seed: None = None
    ) -> tuple[np.ndarray, ChainState, SweepInfo]: ...

    @overload
    def record(
        self, spins: np.ndarray, n_samples: int, *, thin: int = 1, seed: SeedLike = None
    ) -> tuple[np.ndarray, np.ndarray, SweepInfo]: ...

    def record(self, spins, n_samples, *, thin=1, seed=None):
        """Run ``n_samples * thin`` sweeps in one compiled call, saving every ``thin``-th state.

        Equivalent to ``n_samples`` calls of ``run(state, thin)`` without the per-call
        overhead: the fast way to make datasets.

        Parameters
        ----------
        spins : ChainState, or ndarray of shape ``(n_chains, *model.shape)``
            A state continues its streams (no ``seed``); an array starts from ``seed``.

        Returns
        -------
        samples : ndarray, shape ``(n_samples, n_chains, *model.shape)``, int8
            The state after sweeps ``thin, 2 thin, ...``.
        spins : ChainState or ndarray of shape ``(n_chains, *model.shape)``, int8
            The final state (its spins equal ``samples[-1]`` when ``n_samples >= 1``), of
            the type given.
        info : SweepInfo
        """
        n_samples = check_count(n_samples, "n_samples")
        thin = check_count(thin, "thin")
        if thin < 1:
            raise ValueError(f"thin must be >= 1, got {thin}")
        if isinstance(spins, ChainState):
            if seed is not None:
                raise TypeError("a ChainState carries its own random stream: omit seed")
            state = spins
        else:
            state = self.start(spins, seed=seed)
        self.check_chain_state(state, (-1, 4))
        rng = state.rng.copy()
        samples, out, info = self._advance(state.spins, n_samples * thin, n_samples, rng)
        if not isinstance(spins, ChainState):
            return samples, out, info
        return samples, ChainState(out, rng, state.kind, state.sweeps + n_samples * thin), info

    def _advance(
        self, spins: np.ndarray, n_sweeps: int, n_out: int, states: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, SweepInfo]:
        """``n_sweeps`` sweeps saving ``n_out`` evenly spaced states: ``(saved, spins, info)``.

        ``states`` (``(n_chains, 4)`` uint64 xoshiro words) is advanced in place.
        """
        raise NotImplementedError
