"""A small Numba-compatible random number generator: xoshiro256** with explicit state.

Used by the cluster samplers (:mod:`kadanoff.ising.samplers.wolff`, ``swendsen_wang``).

Compiled kernels must not use Numba's global ``np.random`` state (it is per thread and
cannot be seeded per chain). Instead every chain owns a row of a ``(n_chains, 4)`` uint64
state array, seeded here from the :class:`numpy.random.SeedSequence` that
:mod:`kadanoff._rng` makes of the seed, so chain ``c`` gets the same stream whatever
``n_chains`` is and a recorded seed replays a run bit for bit.

Generator: xoshiro256** 1.0 (Blackman & Vigna, 2018), period ``2^256 - 1``. Kernels keep
the four state words in local variables (``xoshiro_next`` takes and returns them as a
tuple, which LLVM keeps in registers) and write them back with ``store_state`` at the end.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._rng import SeedLike, seed_sequence
from .counter_hash import GOLDEN

__all__ = [
    "seed_states",
    "xoshiro_next",
    "load_state",
    "store_state",
    "next_u64",
    "to_unit53",
    "threshold53",
    "bounded",
]

_U5 = np.uint64(5)
_U9 = np.uint64(9)
_S7 = np.uint64(7)
_S57 = np.uint64(57)
_S17 = np.uint64(17)
_S45 = np.uint64(45)
_S19 = np.uint64(19)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2^-53


def seed_states(seed: SeedLike, n_streams: int) -> np.ndarray:
    """Independent xoshiro256** states, one per stream, shape ``(n_streams, 4)`` uint64.

    The states are the words of ``SeedSequence(seed).generate_state(4 n_streams)`` (a
    hash of the seed's entropy: well-mixed, prefix-stable), so stream ``c`` does not
    depend on ``n_streams``; distinct 256-bit starting points in a period of ``2^256 - 1``
    never overlap in practice. A Generator ``seed`` is advanced (successive calls
    differ); an int seed always gives the same states.
    """
    if n_streams < 0:
        raise ValueError(f"cannot make a negative number ({n_streams}) of random streams")
    out = seed_sequence(seed).generate_state(4 * n_streams, dtype=np.uint64)
    out = out.reshape(n_streams, 4)
    zero = ~out.any(axis=1)  # the all-zero state is the one fixed point; never in practice
    out[zero, 0] = GOLDEN
    return out


@njit(inline="always", cache=True)
def _rotl(x: np.uint64, k: np.uint64) -> np.uint64:
    return (x << k) | (x >> (np.uint64(64) - k))


@njit(inline="always", cache=True)
def xoshiro_next(s0, s1, s2, s3):
    """One xoshiro256** step: ``(s0, s1, s2, s3) -> (r, s0, s1, s2, s3)``, all uint64."""
    r = _rotl(s1 * _U5, _S7) * _U9
    t = s1 << _S17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, _S45)
    return r, s0, s1, s2, s3


@njit(inline="always", cache=True)
def load_state(states, c):
    """The four state words of stream ``c`` of a ``(n, 4)`` uint64 array."""
    return states[c, 0], states[c, 1], states[c, 2], states[c, 3]


@njit(inline="always", cache=True)
def store_state(states, c, s0, s1, s2, s3) -> None:
    """Write the four state words of stream ``c`` back."""
    states[c, 0] = s0
    states[c, 1] = s1
    states[c, 2] = s2
    states[c, 3] = s3


@njit(cache=True)
def next_u64(states, c):
    """Next uint64 of stream ``c``, updating ``states[c]`` in place (convenience form)."""
    r, s0, s1, s2, s3 = xoshiro_next(states[c, 0], states[c, 1], states[c, 2], states[c, 3])
    store_state(states, c, s0, s1, s2, s3)
    return r


@njit(inline="always", cache=True)
def to_unit53(r) -> float:
    """A uint64 -> a double uniform on ``[0, 1)`` with 53 random bits."""
    return float(r >> _S11) * _INV53


@njit(inline="always", cache=True)
def bounded(r, n: int) -> int:
    """A uint64 -> an integer uniform on ``0 .. n-1`` (bias below ``n 2^-53``)."""
    k = int(float(r >> _S11) * _INV53 * n)
    return k if k < n else n - 1


def threshold53(p: float) -> np.uint64:
    """Integer threshold ``t`` with ``P[(r >> 11) < t] = t / 2^53 = p`` to double precision.

    Compare ``(r >> 11) < t`` for an event of probability ``p`` (one integer comparison).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability must lie in [0, 1], got {p}")
    return np.uint64(round(p * 9007199254740992.0))
