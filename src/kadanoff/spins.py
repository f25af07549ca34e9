"""Spin conventions: ±1 spins and {0,1} bits, enumeration of all states.

Spins are ``int8`` ±1 unless a function says otherwise. The map between the two
parametrizations is ``x = (s + 1) / 2`` and ``s = 2 x - 1`` (:class:`Units`, the only place
it is written).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import numpy as np

__all__ = [
    "Units",
    "log_2cosh",
    "spin_to_binary",
    "binary_to_spin",
    "all_states",
    "state_index",
    "index_to_state",
    "check_spins",
    "MAX_ENUMERATION_SITES",
]

#: Enumeration refuses larger systems: 2^24 states x 24 sites of int8 is 400 MB.
MAX_ENUMERATION_SITES = 24


class Units(str, Enum):
    """The values of a layer's units: ``SPIN`` (±1) or ``BINARY`` ({0,1}, ``x = (s + 1) / 2``).

    A ``str`` enum: ``Units("spin") is Units.SPIN`` and ``Units.SPIN == "spin"``, so public
    functions accept the plain strings and JSON writes them as such.
    """

    SPIN = "spin"
    BINARY = "binary"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def parse(cls, units: Any) -> Units:
        """``Units(units)`` with a one-line error naming the choices."""
        try:
            return cls(units)
        except ValueError:
            raise ValueError(
                f"unknown unit type {units!r}: use 'spin' (±1) or 'binary' ({{0,1}})"
            ) from None

    @property
    def down_value(self) -> float:
        """The value of a "down" unit (-1 or 0; "up" is 1 for both)."""
        return -1.0 if self is Units.SPIN else 0.0

    def from_spins(self, s: Any) -> Any:
        """±1 spins (array or tensor) -> these units: ``s`` itself, or ``(s + 1) / 2``."""
        return s if self is Units.SPIN else (s + 1) / 2

    def flip(self, x: Any) -> Any:
        """Each unit turned over: ``-s``, or ``1 - x``."""
        return -x if self is Units.SPIN else 1 - x

    def to_spins(self, x: Any) -> Any:
        """Values of these units (array or tensor) -> ±1 spins: ``x`` itself, or ``2 x - 1``."""
        return x if self is Units.SPIN else 2 * x - 1


def log_2cosh(x: Any) -> Any:
    """``ln(2 cosh x) = ln sum_{s=±1} exp(s x)``, elementwise, stable for any ``|x|``:
    ``|x| + log1p(exp(-2|x|))``. NumPy input gives float64; a torch tensor stays a tensor."""
    if type(x).__module__.startswith("torch"):
        a = x.abs()
        return a + (-2.0 * a).exp().log1p()
    a = np.abs(np.asarray(x, dtype=np.float64))
    return a + np.log1p(np.exp(-2.0 * a))


def spin_to_binary(s: np.ndarray) -> np.ndarray:
    """±1 spins -> {0,1} bits (``x = (s + 1) / 2``), same shape, int8."""
    return Units.BINARY.from_spins(np.asarray(s)).astype(np.int8)


def binary_to_spin(x: np.ndarray) -> np.ndarray:
    """{0,1} bits -> ±1 spins (``s = 2 x - 1``), same shape, int8."""
    return Units.BINARY.to_spins(np.asarray(x)).astype(np.int8)


def all_states(n: int, dtype=np.int8) -> np.ndarray:
    """Every ±1 configuration of ``n`` spins, shape ``(2**n, n)``.

    Row ``k`` is the state whose index (see :func:`state_index`) is ``k``: site ``i``
    is ``+1`` when bit ``n - 1 - i`` of ``k`` is set (site 0 is the most significant bit).
    """
    if not 0 <= n <= MAX_ENUMERATION_SITES:
        raise ValueError(
            f"cannot enumerate {n} spins: use 0 <= n <= {MAX_ENUMERATION_SITES} "
            "(or a transfer-matrix / Kaufman / Monte Carlo method for larger systems)"
        )
    k = np.arange(2**n, dtype=np.int64)[:, None]
    bits = (k >> np.arange(n - 1, -1, -1, dtype=np.int64)[None, :]) & 1
    return Units.BINARY.to_spins(bits).astype(dtype)


def state_index(s: np.ndarray) -> np.ndarray:
    """Index of ±1 states, shape ``(..., n) -> (...)``, inverse of :func:`all_states`."""
    s = np.asarray(s)
    n = s.shape[-1]
    if n > 62:
        raise ValueError(f"state_index supports at most 62 sites, got {n}")
    bits = (s > 0).astype(np.int64)
    weights = np.left_shift(np.int64(1), np.arange(n - 1, -1, -1, dtype=np.int64))
    return bits @ weights


def index_to_state(index: np.ndarray, n: int) -> np.ndarray:
    """±1 states for integer indices, shape ``(...) -> (..., n)``."""
    k = np.asarray(index, dtype=np.int64)[..., None]
    bits = (k >> np.arange(n - 1, -1, -1, dtype=np.int64)) & 1
    return Units.BINARY.to_spins(bits).astype(np.int8)


def check_spins(s: np.ndarray, name: str = "spins") -> np.ndarray:
    """Validate that ``s`` holds only ±1 values; return it as int8."""
    s = np.asarray(s)
    if s.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a numeric array of ±1 values, got dtype {s.dtype}")
    if s.size and not np.all((s == 1) | (s == -1)):
        bad = s[(s != 1) & (s != -1)].ravel()[:3]
        raise ValueError(
            f"{name} must contain only ±1 values (found e.g. {bad.tolist()}); "
            "convert {0,1} bits with kadanoff.spins.binary_to_spin"
        )
    return s.astype(np.int8, copy=False)
