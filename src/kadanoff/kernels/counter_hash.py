"""Counter-based random numbers: one uniform uint32 per ``(key, chain, sweep, row, column)``.

The checkerboard kernels (Numba and Triton) and the RBM trainer's Bernoulli kernels draw their
random numbers here, so every update consumes its own number and results do not depend on the
thread count or work split. Construction: ``splitmix64`` gives a per-chain key and a per-row
64-bit seed ``hi:lo``; two rounds of Chris Wellons' ``lowbias32`` bijection hash the column,
``lowbias32(lowbias32(lo + y) ^ hi)``. The 32-bit hash is emitted as LLVM IR because Numba
widens uint32 arithmetic to 64 bits, which keeps LLVM from vectorizing with 32-bit lanes.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = [
    "GOLDEN",
    "C1",
    "C2",
    "CHAIN_SALT",
    "U32",
    "mix64",
    "chain_key",
    "row_seed",
    "hash32",
    "site_u32",
    "split",
    "counter_uniform32",
]

M32 = np.uint64(0xFFFFFFFF)
#: splitmix64 increment and finalizer multipliers
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
C1 = np.uint64(0xBF58476D1CE4E5B9)
C2 = np.uint64(0x94D049BB133111EB)
#: multiplier that spreads chain indices before mixing them into the key
CHAIN_SALT = np.uint64(0xD1B54A32D192ED03)
U32 = np.uint32
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)


@njit(inline="always", cache=True)
def mix64(z):
    """splitmix64 finalizer (a bijection of uint64)."""
    z = (z ^ (z >> _S30)) * C1
    z = (z ^ (z >> _S27)) * C2
    return z ^ (z >> _S31)


@njit(inline="always", cache=True)
def chain_key(key, b):
    """Key of chain ``b`` under the run's 64-bit ``key``."""
    return mix64(key ^ mix64(np.uint64(b) * CHAIN_SALT + GOLDEN))


@njit(inline="always", cache=True)
def row_seed(chain_key, t, x, n_rows):
    """Seed of row ``x`` in sweep ``t``: the splitmix64 stream of the chain key."""
    return mix64(chain_key + (np.uint64(t) * np.uint64(n_rows) + np.uint64(x + 1)) * GOLDEN)


def _lowbias32_ir(builder, x):
    """Chris Wellons' ``lowbias32`` integer hash (a bijection of uint32), as LLVM IR."""
    i32 = ir.IntType(32)
    x = builder.xor(x, builder.lshr(x, ir.Constant(i32, 16)))
    x = builder.mul(x, ir.Constant(i32, 0x7FEB352D))
    x = builder.xor(x, builder.lshr(x, ir.Constant(i32, 15)))
    x = builder.mul(x, ir.Constant(i32, 0x846CA68B))
    return builder.xor(x, builder.lshr(x, ir.Constant(i32, 16)))


@intrinsic
def hash32(typingctx, lo, hi, y):
    """``lowbias32(lowbias32(lo + y) ^ hi)`` on uint32 (32-bit IR, see the module docstring)."""
    sig = types.uint32(types.uint32, types.uint32, types.uint32)

    def codegen(context, builder, signature, args):
        lo_, hi_, y_ = args
        inner = _lowbias32_ir(builder, builder.add(lo_, y_))
        return _lowbias32_ir(builder, builder.xor(inner, hi_))

    return sig, codegen


@njit(inline="always", cache=True)
def site_u32(lo, hi, y):
    """Uniform uint32 for column ``y`` of a row whose 64-bit seed is ``hi:lo`` (uint32 each)."""
    return hash32(U32(lo), U32(hi), U32(y))


@njit(inline="always", cache=True)
def split(seed):
    """A uint64 seed as ``(lo, hi)`` uint32 halves."""
    return U32(seed & M32), U32(seed >> _S32)


@njit(cache=True)
def _uniform_grid(key, chains, sweeps, rows, cols, n_rows):
    out = np.empty((chains.size, sweeps.size, rows.size, cols.size), dtype=np.uint32)
    for a in range(chains.size):
        ck = chain_key(key, chains[a])
        for c in range(sweeps.size):
            for d in range(rows.size):
                lo, hi = split(row_seed(ck, sweeps[c], rows[d], n_rows))
                for e in range(cols.size):
                    out[a, c, d, e] = site_u32(lo, hi, cols[e])
    return out


def counter_uniform32(
    key: int | np.uint64,
    chains: np.ndarray,
    sweeps: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    n_rows: int,
) -> np.ndarray:
    """The kernels' random numbers, for testing the hash.

    Returns the uint32 used for site ``(row, col)`` of chain ``chain`` in sweep ``sweep``
    of a lattice with ``n_rows`` rows (1 for a chain), shape
    ``(len(chains), len(sweeps), len(rows), len(cols))``.
    """
    as64 = lambda a: np.ascontiguousarray(np.atleast_1d(a), dtype=np.int64)
    return _uniform_grid(
        np.uint64(key), as64(chains), as64(sweeps), as64(rows), as64(cols), int(n_rows)
    )
