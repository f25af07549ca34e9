"""Wolff single-cluster sampler for the zero-field Ising model (2D torus, 1D ring or chain).

One cluster update (U. Wolff, PRL 62, 361 (1989)): pick a uniformly random seed site,
grow the Fortuin-Kasteleyn cluster by adding each aligned neighbour across a bond with
probability ``p = 1 - exp(-2K)`` (every bond tested at most once), and flip the cluster.
Rejection-free, exact (detailed balance with respect to ``exp(-H)``) for ``K >= 0``.

``K < 0`` is handled exactly on bipartite lattices (even ``L`` torus, even ring, any open
chain) by the gauge map ``v_i -> eps_i v_i`` with the staggered sign ``eps_i``, which
maps the antiferromagnet onto the ferromagnet with ``|K|``. The cluster algorithm needs
zero field.

The compiled kernel flips each site as it joins the cluster, so "still has the seed's
sign" doubles as "not yet in the cluster": no visited array is needed. Independent chains
run in parallel (``prange``), each with its own xoshiro256** stream.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from numba import njit, prange

from ..._rng import SeedLike
from ...lattice import Chain, SquareLattice
from ..model import IsingModel
from ._random import bounded, load_state, seed_states, store_state, xoshiro_next
from .base import Sampler, SweepInfo

__all__ = ["WolffSampler"]

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
def _bond(u, thr_hi, thr_lo, r0, r1, r2, r3):
    """Bond test from a 32-bit uniform ``u``: open with probability ``(hi 2^32 + lo) 2^-64``.

    A tie ``u == hi`` (probability 2^-32, so this branch is never mispredicted) is
    resolved with 32 fresh bits. Returns ``(open, r0, r1, r2, r3)``.
    """
    if u == thr_hi:
        x, r0, r1, r2, r3 = xoshiro_next(r0, r1, r2, r3)
        return (x >> _S32) < thr_lo, r0, r1, r2, r3
    return u < thr_hi, r0, r1, r2, r3


@njit(inline="always", cache=True)
def _visit(s, j, s0, bond, stack, top):
    """Branch-free: if ``s[j] == s0`` and the bond is open, flip ``j`` and push it."""
    add = (s[j] == s0) & bond
    stack[top] = j
    s[j] = s[j] - 2 * s0 * add
    return top + add


@njit(inline="always", cache=True)
def _grow(s, nbr, z, seed, thr_hi, thr_lo, stack, r0, r1, r2, r3):
    """Grow and flip the Wolff cluster of ``seed``; returns ``(size, r0, r1, r2, r3)``.

    Each site's ``z`` (4 or 2) bonds get 32-bit uniforms, two per xoshiro draw.
    """
    s0 = s[seed]
    s[seed] = -s0
    stack[0] = seed
    top = 1
    size = 1
    while top > 0:
        top -= 1
        base = stack[top] * z
        t0 = top
        ra, r0, r1, r2, r3 = xoshiro_next(r0, r1, r2, r3)
        b, r0, r1, r2, r3 = _bond(ra >> _S32, thr_hi, thr_lo, r0, r1, r2, r3)
        top = _visit(s, nbr[base], s0, b, stack, top)
        b, r0, r1, r2, r3 = _bond(ra & _LO32, thr_hi, thr_lo, r0, r1, r2, r3)
        top = _visit(s, nbr[base + 1], s0, b, stack, top)
        if z == 4:
            rb, r0, r1, r2, r3 = xoshiro_next(r0, r1, r2, r3)
            b, r0, r1, r2, r3 = _bond(rb >> _S32, thr_hi, thr_lo, r0, r1, r2, r3)
            top = _visit(s, nbr[base + 2], s0, b, stack, top)
            b, r0, r1, r2, r3 = _bond(rb & _LO32, thr_hi, thr_lo, r0, r1, r2, r3)
            top = _visit(s, nbr[base + 3], s0, b, stack, top)
        size += top - t0
    return size, r0, r1, r2, r3


@njit(inline="always", cache=True)
def _wolff_chain(spins, c, nbr, z, thr_hi, thr_lo, n_clusters, states, sizes, out, every):
    """Chain ``c`` of :func:`_wolff_parallel` (the arguments are described there)."""
    n = spins.shape[1]
    n_out = out.shape[0]
    s = spins[c]
    stack = np.empty(n + 4, dtype=np.int32)
    r0, r1, r2, r3 = load_state(states, c)
    for k in range(n_clusters):
        r, r0, r1, r2, r3 = xoshiro_next(r0, r1, r2, r3)
        size, r0, r1, r2, r3 = _grow(
            s, nbr, z, bounded(r, n), thr_hi, thr_lo, stack, r0, r1, r2, r3
        )
        sizes[c, k] = size
        if n_out > 0 and (k + 1) % every == 0:
            out[(k + 1) // every - 1, c, :] = s
    store_state(states, c, r0, r1, r2, r3)


@njit(parallel=True, cache=True)
def _wolff_parallel(spins, nbr, z, thr_hi, thr_lo, n_clusters, states, sizes, out, every):
    """``n_clusters`` Wolff updates of every chain, in place, chains in parallel.

    spins (n_chains, n) int8; nbr (n*z,) int32, z = 4 or 2, with no missing entries (a
    missing neighbour is the site itself, which is already flipped when it is scanned);
    ``thr_hi, thr_lo`` the 64-bit bond threshold in 32-bit halves (``bond_threshold``);
    states (n_chains, 4) uint64; sizes (n_chains, n_clusters) int32 receives the sizes;
    out (n_out, n_chains, n) int8 receives the state after every ``every`` clusters
    (``n_out = 0``: nothing recorded).
    """
    for c in prange(spins.shape[0]):
        _wolff_chain(spins, c, nbr, z, thr_hi, thr_lo, n_clusters, states, sizes, out, every)


@njit(cache=True)
def _wolff_serial(spins, nbr, z, thr_hi, thr_lo, n_clusters, states, sizes, out, every):
    """:func:`_wolff_parallel` on one thread (no thread-pool start-up for small jobs)."""
    for c in range(spins.shape[0]):
        _wolff_chain(spins, c, nbr, z, thr_hi, thr_lo, n_clusters, states, sizes, out, every)


def use_threads(n_chains: int, work: float) -> bool:
    """Whether a job of ``work`` site visits over ``n_chains`` chains is worth the thread pool.

    Waking the pool costs microseconds on an idle machine but milliseconds on a busy
    one, so a single chain or a small job runs serially.
    """
    return n_chains > 1 and work >= PARALLEL_MIN_WORK


#: smallest job (site visits, all chains) that :func:`use_threads` runs in parallel
PARALLEL_MIN_WORK = 1 << 16


class ClusterSampler(Sampler):
    """Shared driver of the cluster samplers: neighbour table, gauge and bond threshold, and
    ``run`` and ``record`` over the subclass's ``_advance``."""

    #: algorithm name used in error messages
    algorithm = ""

    def __init__(self, model: IsingModel) -> None:
        super().__init__(model)
        self._nbr, self._z, self._gauge = cluster_setup(model, self.algorithm)
        self._thr_hi, self._thr_lo = bond_threshold(model.K)

    def _gauged_copy(self, spins: np.ndarray) -> np.ndarray:
        """Validated ``(n_chains, n_sites)`` copy of ``spins``, gauge-transformed if K < 0."""
        s = self.check_state(spins)
        flat = s.reshape(s.shape[0], -1).copy()
        if self._gauge is not None:
            flat *= self._gauge.reshape(1, -1)
        return flat

    def run(
        self, spins: np.ndarray, n_sweeps: int = 1, *, seed: SeedLike = None
    ) -> tuple[np.ndarray, SweepInfo]:
        """Advance every chain by ``n_sweeps`` sweeps (see the subclass for what a sweep is).

        Parameters
        ----------
        spins : ndarray, shape ``(n_chains, *model.shape)``, ±1
            Not modified; the new state is returned.
        n_sweeps : int
            Number of sweeps (``>= 0``).
        seed : int, SeedSequence or Generator
            Chain ``c`` uses stream ``c`` spawned from ``seed``.

        Returns
        -------
        spins : ndarray, same shape, int8
        info : SweepInfo
        """
        n_sweeps = _check_sweeps(n_sweeps)
        _, out, info = self._advance(spins, n_sweeps, 0, seed)
        return out, info

    def record(
        self, spins: np.ndarray, n_samples: int, *, thin: int = 1, seed: SeedLike = None
    ) -> tuple[np.ndarray, np.ndarray, SweepInfo]:
        """Run ``n_samples * thin`` sweeps in one compiled call, saving every ``thin``-th state.

        Equivalent to ``n_samples`` calls of ``run(spins, thin)`` (with other random
        streams) without the per-call overhead: the fast way to make datasets.

        Returns
        -------
        samples : ndarray, shape ``(n_samples, n_chains, *model.shape)``, int8
            The state after sweeps ``thin, 2 thin, ...``.
        spins : ndarray, shape ``(n_chains, *model.shape)``, int8
            The final state (equal to ``samples[-1]`` when ``n_samples >= 1``).
        info : SweepInfo
        """
        n_samples = _check_sweeps(n_samples, "n_samples")
        thin = _check_sweeps(thin, "thin")
        if thin < 1:
            raise ValueError(f"thin must be >= 1, got {thin}")
        return self._advance(spins, n_samples * thin, n_samples, seed)

    def _advance(
        self, spins: np.ndarray, n_sweeps: int, n_out: int, seed: SeedLike
    ) -> tuple[np.ndarray, np.ndarray, SweepInfo]:
        """``n_sweeps`` sweeps saving ``n_out`` evenly spaced states: ``(saved, spins, info)``."""
        raise NotImplementedError


class WolffSampler(ClusterSampler):
    """Wolff single-cluster updates; one sweep is ``clusters_per_sweep`` cluster flips.

    Parameters
    ----------
    model : IsingModel
        Zero field; 2D torus, ring or open chain. ``K < 0`` on bipartite lattices only.
    clusters_per_sweep : int
        Clusters grown and flipped per sweep (a Wolff cluster has on average
        ``chi``-many sites, so about ``n_sites / <|C|>`` clusters move every spin once).

    Notes
    -----
    :meth:`run` returns :class:`SweepInfo` with ``flipped`` the total number of spin
    flips (the sum of all cluster sizes; a spin flipped twice counts twice),
    ``attempted = accepted =`` the number of clusters, and ``cluster_sizes`` every
    cluster's size, chain-major: chain 0's clusters in order, then chain 1's, ...
    """

    name = "wolff"
    algorithm = "Wolff"

    def __init__(self, model: IsingModel, clusters_per_sweep: int = 1) -> None:
        super().__init__(model)
        if isinstance(clusters_per_sweep, bool) or not isinstance(
            clusters_per_sweep, (int, np.integer)
        ):
            raise TypeError(f"clusters_per_sweep must be an integer, got {clusters_per_sweep!r}")
        if clusters_per_sweep < 1:
            raise ValueError(f"clusters_per_sweep must be >= 1, got {clusters_per_sweep}")
        self.clusters_per_sweep = int(clusters_per_sweep)

    def __repr__(self) -> str:
        return f"WolffSampler({self.model!r}, clusters_per_sweep={self.clusters_per_sweep})"

    def _advance(
        self, spins: np.ndarray, n_sweeps: int, n_out: int, seed: SeedLike
    ) -> tuple[np.ndarray, np.ndarray, SweepInfo]:
        flat = self._gauged_copy(spins)
        n_chains = flat.shape[0]
        n_clusters = n_sweeps * self.clusters_per_sweep
        states = seed_states(seed, n_chains)
        sizes = np.zeros((n_chains, n_clusters), dtype=np.int32)
        out = np.empty((n_out, n_chains, flat.shape[1]), dtype=np.int8)
        every = max(1, n_clusters // n_out) if n_out else 1
        if n_clusters:
            work = n_chains * n_clusters * min(flat.shape[1], 32.0)  # a guess at cluster sizes
            kernel = _wolff_parallel if use_threads(n_chains, work) else _wolff_serial
            kernel(
                flat,
                self._nbr,
                self._z,
                self._thr_hi,
                self._thr_lo,
                n_clusters,
                states,
                sizes,
                out,
                every,
            )
        if self._gauge is not None:
            flat *= self._gauge.reshape(1, -1)
            out *= self._gauge.reshape(1, 1, -1)
        sizes64 = sizes.astype(np.int64).ravel()
        info = SweepInfo(
            n_sweeps=n_sweeps,
            attempted=n_chains * n_clusters,
            accepted=n_chains * n_clusters,
            flipped=int(sizes64.sum()),
            cluster_sizes=sizes64,
        )
        return (
            out.reshape(n_out, n_chains, *self.model.shape),
            flat.reshape(n_chains, *self.model.shape),
            info,
        )


def _check_sweeps(n_sweeps: int, name: str = "n_sweeps") -> int:
    if isinstance(n_sweeps, bool) or not isinstance(n_sweeps, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {n_sweeps!r}")
    if n_sweeps < 0:
        raise ValueError(f"{name} must be >= 0, got {n_sweeps}")
    return int(n_sweeps)
