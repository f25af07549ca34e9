"""Compiled Bernoulli kernels of the trainer: one fused, vectorized pass per layer.

The uniforms come from the counter-based hash of :mod:`kadanoff.kernels.counter_hash`, one per
unit, keyed by the stream's 64-bit key and the unit's (row, column): independent of the thread
count and of how a batch is split.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...kernels.counter_hash import GOLDEN, U32, hash32, mix64, split

__all__ = ["bernoulli32", "bernoulli64", "affine"]

_S1 = np.uint32(1)
_S8 = np.uint32(8)
_INV24 = np.float32(2.0**-24)
_INV31 = 2.0**-31


@njit(cache=True)
def bernoulli32(p, out, row0, mean, mrow0, scale, shift, key, ctr, up, down):  # pragma: no cover
    """``out[row0 + r, c] = up if u < p[r, c] else down`` (float32), ``u`` uniform on 2^-24.

    ``u`` comes from the counter-based hash of :mod:`kadanoff.kernels.counter_hash`
    (``lowbias32`` twice, seeded per row by splitmix64 of ``key`` and row ``ctr + r``). If
    ``mrow0 >= 0`` also ``mean[mrow0 + r, c] = scale p + shift``. ``out`` and ``mean`` are
    the C-contiguous padded buffers (rows offset by ``row0``, ``mrow0``), so the inner loop
    is contiguous and vectorizes (8 lanes).
    """
    n, m = p.shape
    for r in range(n):
        lo, hi = split(mix64(key + np.uint64(ctr + r) * GOLDEN))
        if mrow0 >= 0:
            for c in range(m):
                x = p[r, c]
                u = np.float32(np.int32(hash32(lo, hi, U32(c)) >> _S8)) * _INV24
                out[row0 + r, c] = up if u < x else down
                mean[mrow0 + r, c] = x * scale + shift
        else:
            for c in range(m):
                u = np.float32(np.int32(hash32(lo, hi, U32(c)) >> _S8)) * _INV24
                out[row0 + r, c] = up if u < p[r, c] else down


@njit(cache=True)
def bernoulli64(p, out, row0, mean, mrow0, scale, shift, key, ctr, up, down):  # pragma: no cover
    """As :func:`bernoulli32` for float64, ``u`` uniform on multiples of 2^-31."""
    n, m = p.shape
    for r in range(n):
        lo, hi = split(mix64(key + np.uint64(ctr + r) * GOLDEN))
        for c in range(m):
            x = p[r, c]
            u = np.float64(np.int32(hash32(lo, hi, U32(c)) >> _S1)) * _INV31
            out[row0 + r, c] = up if u < x else down
            if mrow0 >= 0:
                mean[mrow0 + r, c] = x * scale + shift


@njit(cache=True)
def affine(p, out, row0, scale, shift):  # pragma: no cover
    """``out[row0 + r, c] = scale p[r, c] + shift`` (``out`` a padded C-contiguous buffer)."""
    n, m = p.shape
    for r in range(n):
        for c in range(m):
            out[row0 + r, c] = p[r, c] * scale + shift
