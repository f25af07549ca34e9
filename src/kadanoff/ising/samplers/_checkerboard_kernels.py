"""Numba kernels of the checkerboard samplers (:mod:`.checkerboard`): sweeps and layouts.

Counter-based random numbers from :mod:`kadanoff.kernels.counter_hash`: the uniform used for
site ``(x, y)`` of chain ``b`` in sweep ``t`` hashes ``(key, b, t, x, y)``, so results do
not depend on threads or the work split. Flip thresholds come as a flat ``(18,)`` uint32
table indexed ``TABLE_STRIDE * (s > 0) + nb + NB_OFFSET``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ...kernels.counter_hash import U32, chain_key, row_seed, site_u32, split

__all__ = [
    "NB_OFFSET",
    "TABLE_STRIDE",
    "sweeps_2d_by_chain",
    "sweeps_2d_by_row",
    "sweeps_generic",
    "pack",
    "unpack",
]

_I32 = np.int32
_U64 = np.uint64
#: Width of the threshold table: neighbour sums -4..4 for each of the two spin values.
NB_OFFSET = 4
TABLE_STRIDE = 9


@njit(inline="always", cache=True)
def _update(a, i, nb, tab, lo, hi, y):
    """Update spin ``a[i]`` with neighbour sum ``nb`` (table lookup); return 1 if it flipped."""
    s = np.int64(a[i])
    f = np.int64(site_u32(lo, hi, y) <= tab[nb + NB_OFFSET + TABLE_STRIDE * ((s + 1) >> 1)])
    a[i] = np.int8(s - 2 * s * f)
    return f


@njit(inline="always", cache=True)
def _flip_2d(s, nb, r, t0, t1, t2, t3, t4, t5, t6, t7, t8, t9):
    """1 if spin ``s`` with neighbour sum ``nb`` in -4..4 (even) flips for uniform ``r``.

    Selects instead of a table lookup so that the row loop vectorizes (no gathers).
    """
    if s > 0:
        t = t9 if nb == 4 else (t8 if nb == 2 else (t7 if nb == 0 else (t6 if nb == -2 else t5)))
    else:
        t = t4 if nb == 4 else (t3 if nb == 2 else (t2 if nb == 0 else (t1 if nb == -2 else t0)))
    return _I32(r <= t)


@njit(inline="always", cache=True)
def _site_2d(flat, a, nb, lo, hi, y, t0, t1, t2, t3, t4, t5, t6, t7, t8, t9):
    """Update ``flat[a]`` (neighbour sum ``nb``); return 1 if it flipped.

    Numba widens integer arithmetic to 64 bits; the explicit narrowing casts let LLVM
    vectorize the row loop with 8 x 32-bit lanes (AVX2) instead of 4 x 64-bit.
    """
    s = _I32(flat[a])
    f = _flip_2d(s, nb, site_u32(lo, hi, y), t0, t1, t2, t3, t4, t5, t6, t7, t8, t9)
    flat[a] = np.int8(s - _I32(_I32(2 * s) * f))
    return f


@njit(cache=True)
def _row_update(flat, b, L, x, c, tab, seed):
    """Half-sweep colour ``c`` on row ``x`` of chain ``b``; returns the number of flips.

    ``flat`` is the packed state ``(B, L, 2, L/2 + 2)`` raveled: ``[b, x, p, 1 + j]``
    holds site ``(x, 2j + p)`` and ``[b, x, p, 0]``, ``[b, x, p, L/2 + 1]`` are ghost
    copies of the last and first entries (periodic wrap), so the row loop has no special
    cases. Unsigned offsets into one array: no views (no reference counting in
    threads) and no negative-index checks, so LLVM vectorizes the loop.
    """
    H = L // 2
    S = H + 2
    t0, t1, t2, t3, t4 = tab[0], tab[2], tab[4], tab[6], tab[8]
    t5, t6, t7, t8, t9 = tab[9], tab[11], tab[13], tab[15], tab[17]
    p = (c + x) & 1
    xu = x - 1 if x > 0 else L - 1
    xd = x + 1 if x < L - 1 else 0
    row0 = b * L * 2 * S + 1
    a = _U64(row0 + (x * 2 + p) * S)
    u = _U64(row0 + (xu * 2 + p) * S)
    d = _U64(row0 + (xd * 2 + p) * S)
    w = _U64(row0 + (x * 2 + 1 - p) * S)
    # site (x, 2j): left (x, 2j - 1) = w[j - 1], right w[j]; site (x, 2j + 1): w[j], w[j + 1]
    w2 = _U64(row0 + (x * 2 + 1 - p) * S + 2 * p - 1)
    lo, hi = split(seed)
    nf = _I32(0)
    for jj in range(H):
        j = _U64(jj)
        nb = _I32(_I32(flat[u + j]) + _I32(flat[d + j]) + _I32(flat[w + j]) + _I32(flat[w2 + j]))
        y = U32(2 * jj + p)
        f = _site_2d(flat, a + j, nb, lo, hi, y, t0, t1, t2, t3, t4, t5, t6, t7, t8, t9)
        nf = _I32(nf + f)
    flat[a - _U64(1)] = flat[a + _U64(H - 1)]  # refresh the ghosts
    flat[a + _U64(H)] = flat[a]
    return np.int64(nf)


@njit(parallel=True, cache=True)
def sweeps_2d_by_chain(flat, B, L, tab, key, t0, n_sweeps, flips):
    """All sweeps of one chain per work item; ``flat`` is the raveled ``(B, L, 2, L/2)``."""
    for b in prange(B):
        ck = chain_key(key, b)
        nf = 0
        for t in range(t0, t0 + n_sweeps):
            for c in range(2):
                for x in range(L):
                    nf += _row_update(flat, b, L, x, c, tab, row_seed(ck, t, x, L))
        flips[b] += nf


@njit(parallel=True, cache=True)
def sweeps_2d_by_row(flat, B, L, tab, key, t0, n_sweeps, flips):
    """Work items ``(chain, row)`` per half-sweep (for few chains on a large lattice)."""
    keys = np.empty(B, dtype=np.uint64)
    for b in range(B):
        keys[b] = chain_key(key, b)
    per_item = np.zeros(B * L, dtype=np.int64)
    for t in range(t0, t0 + n_sweeps):
        for c in range(2):
            for item in prange(B * L):
                b = item // L
                x = item - b * L
                per_item[item] += _row_update(flat, b, L, x, c, tab, row_seed(keys[b], t, x, L))
    for item in range(B * L):
        flips[item // L] += per_item[item]


@njit(parallel=True, cache=True)
def sweeps_generic(spins, nbrs, order, rows, cols, n_rows, tab, key, t0, n_sweeps, flips):
    """Any lattice: sites updated one by one in ``order``; ``spins`` is ``(B, N)``.

    ``nbrs`` is ``(N, z)`` with ``-1`` for a missing neighbour; ``rows``/``cols`` give the
    RNG coordinates of each site (the same as the packed 2D kernels use).
    """
    B, N = spins.shape
    z = nbrs.shape[1]
    for b in prange(B):
        ck = chain_key(key, b)
        s = spins[b]
        nf = 0
        for t in range(t0, t0 + n_sweeps):
            for k in range(N):
                i = order[k]
                nb = 0
                for m in range(z):
                    q = nbrs[i, m]
                    if q >= 0:
                        nb += s[q]
                lo, hi = split(row_seed(ck, t, rows[i], n_rows))
                nf += _update(s, i, nb, tab, lo, hi, cols[i])
        flips[b] += nf


def pack(spins: np.ndarray) -> np.ndarray:
    """``(B, L, L) -> (B, L, 2, L/2 + 2)``: ``packed[b, x, p, 1 + j] = spins[b, x, 2j + p]``.

    Entries 0 and ``L/2 + 1`` of the last axis are ghosts (copies of ``L/2`` and 1).
    """
    B, L, _ = spins.shape
    H = L // 2
    packed = np.empty((B, L, 2, H + 2), dtype=np.int8)
    packed[..., 1 : H + 1] = spins.reshape(B, L, H, 2).transpose(0, 1, 3, 2)
    packed[..., 0] = packed[..., H]
    packed[..., H + 1] = packed[..., 1]
    return packed


def unpack(packed: np.ndarray) -> np.ndarray:
    B, L, _, S = packed.shape
    inner = packed[..., 1 : S - 1]
    return np.ascontiguousarray(inner.transpose(0, 1, 3, 2).reshape(B, L, 2 * (S - 2)))
