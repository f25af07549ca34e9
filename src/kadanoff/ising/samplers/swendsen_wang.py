"""Swendsen-Wang multi-cluster sampler for the zero-field Ising model.

One sweep (R. H. Swendsen & J.-S. Wang, PRL 58, 86 (1987)): open every satisfied bond
with probability ``p = 1 - exp(-2K)``, and flip each Fortuin-Kasteleyn cluster (connected
component of open bonds) independently with probability 1/2. Exact for ``K >= 0``;
``K < 0`` on bipartite lattices by the same gauge map as :mod:`.wolff`; zero field only.

The compiled kernel labels the clusters one at a time by a depth-first search with an
explicit stack, deciding each bond lazily (when its first endpoint is scanned and the
other is not yet labelled, i.e. at most once) and flipping a cluster's sites as they are
labelled when its coin says so. Independent chains run in parallel (``prange``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ...kernels.xoshiro import load_state, store_state, xoshiro_next
from .base import SweepInfo
from .cluster import ClusterSampler, grow_cluster, use_threads
from .registry import Capabilities, register_sampler

__all__ = ["SwendsenWangSampler"]

_S63 = np.uint64(63)

#: most cluster-size entries buffered per kernel call (int32, i.e. 64 MiB)
_BUFFER_ENTRIES = 1 << 24


@njit(inline="always", cache=True)
def _visit(s, seen, j, s0, delta, bond, stack, top):
    """Branch-free: an unlabelled ``j`` with ``s[j] == s0`` across an open bond joins."""
    add = (seen[j] == 0) & (s[j] == s0) & bond
    stack[top] = j
    seen[j] |= add
    s[j] = s[j] + delta * add
    return top + add


@njit(inline="always", cache=True)
def _sw_chain(spins, c, nbr, z, thr_hi, thr_lo, n_sweeps, states, sizes, counts, out, every):
    """Chain ``c`` of :func:`_sw_parallel` (the arguments are described there)."""
    n = spins.shape[1]
    n_out = out.shape[0]
    s = spins[c]
    stack = np.empty(n + 4, dtype=np.int32)
    seen = np.empty(n, dtype=np.int8)
    r0, r1, r2, r3 = load_state(states, c)
    cnt = 0
    built = 0
    for t in range(n_sweeps):
        seen[:] = 0
        for i in range(n):
            if seen[i]:
                continue
            r, r0, r1, r2, r3 = xoshiro_next(r0, r1, r2, r3)
            flip = np.int8(r >> _S63)  # the cluster's fair coin
            built += 1
            s0 = s[i]
            new = s0 - 2 * s0 * flip
            seen[i] = 1
            s[i] = new
            stack[0] = i
            size, r0, r1, r2, r3 = grow_cluster(
                _visit, s, seen, nbr, z, s0, new - s0, thr_hi, thr_lo, stack, r0, r1, r2, r3
            )
            if flip:
                sizes[c, cnt] = size
                cnt += 1
        if n_out > 0 and (t + 1) % every == 0:
            out[(t + 1) // every - 1, c, :] = s
    counts[c, 0] = cnt
    counts[c, 1] = built
    store_state(states, c, r0, r1, r2, r3)


@njit(parallel=True, cache=True)
def _sw_parallel(spins, nbr, z, thr_hi, thr_lo, n_sweeps, states, sizes, counts, out, every):
    """``n_sweeps`` Swendsen-Wang sweeps of every chain, in place, chains in parallel.

    spins (n_chains, n) int8; nbr (n*z,) int32 (a missing neighbour is the site itself);
    thr_hi, thr_lo the bond threshold halves; states (n_chains, 4) uint64; sizes
    (n_chains, n_sweeps*n) int32 receives the sizes of the flipped clusters; counts
    (n_chains, 2) int64 the number of clusters flipped and built; out (n_out, n_chains, n)
    int8 receives the state after every ``every`` sweeps (``n_out = 0``: nothing recorded).
    """
    for c in prange(spins.shape[0]):
        _sw_chain(spins, c, nbr, z, thr_hi, thr_lo, n_sweeps, states, sizes, counts, out, every)


@njit(cache=True)
def _sw_serial(spins, nbr, z, thr_hi, thr_lo, n_sweeps, states, sizes, counts, out, every):
    """:func:`_sw_parallel` on one thread (no thread-pool start-up for small jobs)."""
    for c in range(spins.shape[0]):
        _sw_chain(spins, c, nbr, z, thr_hi, thr_lo, n_sweeps, states, sizes, counts, out, every)


@register_sampler(
    "sw",
    capabilities=Capabilities(field=False, reports=("cluster_sizes", "flipped")),
    rank=40,
)
class SwendsenWangSampler(ClusterSampler):
    """Swendsen-Wang cluster updates; one sweep relabels and re-flips every cluster.

    Parameters
    ----------
    model : IsingModel
        Zero field; 2D torus, ring or open chain. ``K < 0`` on bipartite lattices only.

    Notes
    -----
    :meth:`run` returns :class:`SweepInfo` with ``flipped`` the total number of spin
    flips, ``attempted`` the number of clusters built, ``accepted`` the number flipped
    and ``cluster_sizes`` the sizes of the **flipped** clusters only (so their sum is
    ``flipped``), chain-major: chain 0's in order, then chain 1's, ...
    """

    name = "sw"
    algorithm = "Swendsen-Wang"

    def __repr__(self) -> str:
        return f"SwendsenWangSampler({self.model!r})"

    def _advance(
        self, spins: np.ndarray, n_sweeps: int, n_out: int, states: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, SweepInfo]:
        flat = self._gauged_copy(spins)
        n_chains, n = flat.shape
        every = max(1, n_sweeps // n_out) if n_out else 1
        chunk = max(1, _BUFFER_ENTRIES // (n_chains * n))
        if n_out:
            chunk = max(every, chunk - chunk % every)  # chunks hold whole thinning intervals
        samples = np.empty((n_out, n_chains, n), dtype=np.int8)
        per_chain: list[list[np.ndarray]] = [[] for _ in range(n_chains)]
        done = built = 0
        while done < n_sweeps:
            m = min(chunk, n_sweeps - done)
            sizes = np.empty((n_chains, m * n), dtype=np.int32)
            counts = np.zeros((n_chains, 2), dtype=np.int64)
            out = samples[done // every : (done + m) // every] if n_out else samples
            kernel = _sw_parallel if use_threads(n_chains, float(n_chains * m * n)) else _sw_serial
            kernel(flat, *self._bonds, m, states, sizes, counts, out, every)
            for c in range(n_chains):
                per_chain[c].append(sizes[c, : counts[c, 0]].astype(np.int64))
            built += int(counts[:, 1].sum())
            done += m
        all_sizes = np.concatenate([a for lst in per_chain for a in lst] or [np.zeros(0, np.int64)])
        info = SweepInfo(
            n_sweeps=n_sweeps,
            attempted=built,
            accepted=len(all_sizes),
            flipped=int(all_sizes.sum()),
            cluster_sizes=all_sizes,
        )
        return (*self._ungauged(samples, flat), info)
