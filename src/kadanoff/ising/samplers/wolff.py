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

import numpy as np
from numba import njit, prange

from ...kernels.xoshiro import bounded, load_state, store_state, xoshiro_next
from ..model import IsingModel
from .base import SweepInfo
from .cluster import PARALLEL_MIN_WORK as PARALLEL_MIN_WORK  # re-exported (moved there)
from .cluster import ClusterSampler, grow_cluster, use_threads
from .cluster import bond_threshold as bond_threshold
from .cluster import cluster_setup as cluster_setup
from .registry import Capabilities, register_sampler

__all__ = ["WolffSampler"]


@njit(inline="always", cache=True)
def _visit(s, seen, j, s0, delta, bond, stack, top):
    """Branch-free: if ``s[j] == s0`` and the bond is open, flip ``j`` (``delta = -2 s0``)
    and push it; ``seen`` is unused (a flipped site no longer has the seed's sign)."""
    add = (s[j] == s0) & bond
    stack[top] = j
    s[j] = s[j] + delta * add
    return top + add


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
        first = bounded(r, n)  # the cluster's seed site
        s0 = s[first]
        s[first] = -s0
        stack[0] = first
        size, r0, r1, r2, r3 = grow_cluster(
            _visit, s, s, nbr, z, s0, -2 * s0, thr_hi, thr_lo, stack, r0, r1, r2, r3
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


@register_sampler(
    "wolff",
    capabilities=Capabilities(field=False, reports=("cluster_sizes", "flipped")),
    rank=30,
)
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
        self, spins: np.ndarray, n_sweeps: int, n_out: int, states: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, SweepInfo]:
        flat = self._gauged_copy(spins)
        n_chains = flat.shape[0]
        n_clusters = n_sweeps * self.clusters_per_sweep
        sizes = np.zeros((n_chains, n_clusters), dtype=np.int32)
        out = np.empty((n_out, n_chains, flat.shape[1]), dtype=np.int8)
        every = max(1, n_clusters // n_out) if n_out else 1
        if n_clusters:
            work = n_chains * n_clusters * min(flat.shape[1], 32.0)  # a guess at cluster sizes
            kernel = _wolff_parallel if use_threads(n_chains, work) else _wolff_serial
            kernel(flat, *self._bonds, n_clusters, states, sizes, out, every)
        sizes64 = sizes.astype(np.int64).ravel()
        info = SweepInfo(
            n_sweeps=n_sweeps,
            attempted=n_chains * n_clusters,
            accepted=n_chains * n_clusters,
            flipped=int(sizes64.sum()),
            cluster_sizes=sizes64,
        )
        return (*self._ungauged(out, flat), info)
