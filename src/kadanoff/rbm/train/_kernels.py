"""Compiled Bernoulli kernels of the trainer: one fused, vectorized pass per layer.

The uniforms come from the counter-based hash of :mod:`kadanoff.kernels.counter_hash`, one per
unit, keyed by the stream's 64-bit key and the unit's (row, column): independent of the thread
count and of how a batch is split. The bf16 variants (for :mod:`.mixed`) draw the same uniforms
and write bfloat16 bit patterns (uint16 views of the buffers).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...kernels.counter_hash import GOLDEN, U32, hash32, mix64, split

__all__ = ["bernoulli32", "bernoulli64", "affine", "bernoulli_bf16", "affine_bf16", "bf16_bits"]

_S1 = np.uint32(1)
_S8 = np.uint32(8)
_S16 = np.uint32(16)
_ONE = np.uint32(1)
_RND = np.uint32(0x7FFF)
_INV24 = np.float32(2.0**-24)
_INV31 = 2.0**-31


@njit(inline="always", cache=True)
def _row_words(key, row):  # pragma: no cover - compiled
    """The ``(lo, hi)`` uint32 seed of stream row ``row``: splitmix64 of ``key`` and ``row``."""
    return split(mix64(key + np.uint64(row) * GOLDEN))


@njit(inline="always", cache=True)
def _uniform24(lo, hi, c):  # pragma: no cover - compiled
    """The float32 uniform of column ``c`` of a row, on multiples of 2^-24 in [0, 1)."""
    return np.float32(np.int32(hash32(lo, hi, U32(c)) >> _S8)) * _INV24


@njit(inline="always", cache=True)
def _bf16(x):  # pragma: no cover - compiled
    """bfloat16 bits of float32 ``x``, round to nearest even (finite ``x``)."""
    b = np.float32(x).view(np.uint32)
    return np.uint16((b + _RND + ((b >> _S16) & _ONE)) >> _S16)


def bf16_bits(x: float) -> np.uint16:
    """The bfloat16 bit pattern of ``x`` (round to nearest even), as the kernels write it."""
    return _bf16(np.float32(x))


@njit(cache=True)
def bernoulli32(p, out, row0, mean, mrow0, scale, shift, key, ctr, up, down):  # pragma: no cover
    """``out[row0 + r, c] = up if u < p[r, c] else down`` (float32), ``u`` uniform on 2^-24.

    ``u`` comes from the counter-based hash of :mod:`kadanoff.kernels.counter_hash`
    (``lowbias32`` twice, seeded per row by splitmix64 of ``key`` and row ``ctr + r``). If
    ``mrow0 >= 0`` also ``mean[mrow0 + r, c] = scale p + shift``. ``out`` and ``mean`` are
    the C-contiguous padded buffers (rows offset by ``row0``, ``mrow0``), so the inner loop
    is contiguous and vectorizes (8 lanes). ``out`` may also hold bf16 bits (uint16, with
    ``up``/``down`` bit patterns) when ``mrow0 < 0``.
    """
    n, m = p.shape
    for r in range(n):
        lo, hi = _row_words(key, ctr + r)
        if mrow0 >= 0:
            for c in range(m):
                x = p[r, c]
                out[row0 + r, c] = up if _uniform24(lo, hi, c) < x else down
                mean[mrow0 + r, c] = x * scale + shift
        else:
            for c in range(m):
                out[row0 + r, c] = up if _uniform24(lo, hi, c) < p[r, c] else down


@njit(cache=True)
def bernoulli_bf16(p, out, row0, mean, mrow0, scale, shift, key, ctr, up, down):  # pragma: no cover
    """:func:`bernoulli32` (the same uniforms) writing bf16 bits: ``p`` float32 (n, m);
    ``out``/``mean`` uint16 views of bf16 buffers; ``up``/``down`` bf16 bit patterns;
    ``mean[mrow0 + r, c] = bf16(scale p + shift)`` if ``mrow0 >= 0``."""
    if mrow0 < 0:
        bernoulli32(p, out, row0, out, -1, scale, shift, key, ctr, up, down)
        return
    n, m = p.shape
    for r in range(n):
        lo, hi = _row_words(key, ctr + r)
        for c in range(m):
            x = p[r, c]
            out[row0 + r, c] = up if _uniform24(lo, hi, c) < x else down
            mean[mrow0 + r, c] = _bf16(x * scale + shift)


@njit(cache=True)
def bernoulli64(p, out, row0, mean, mrow0, scale, shift, key, ctr, up, down):  # pragma: no cover
    """As :func:`bernoulli32` for float64, ``u`` uniform on multiples of 2^-31."""
    n, m = p.shape
    for r in range(n):
        lo, hi = _row_words(key, ctr + r)
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


@njit(cache=True)
def affine_bf16(p, out, row0, scale, shift):  # pragma: no cover
    """``out[row0 + r, c] = bf16(scale p[r, c] + shift)`` (``out`` uint16 bits)."""
    n, m = p.shape
    for r in range(n):
        for c in range(m):
            out[row0 + r, c] = _bf16(p[r, c] * scale + shift)
