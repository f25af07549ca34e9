"""Lattices: the 1D chain (ring or open) and the periodic 2D square lattice.

Configurations keep the lattice shape: ``(..., N)`` for a chain and ``(..., L, L)`` for
the square lattice (batch axes first, sites last). ``flat`` site index of ``(x, y)`` on
the square lattice is ``x * L + y`` (row-major, as ``reshape``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["Chain", "SquareLattice", "Lattice", "make_lattice"]


def _check_size(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


@dataclass(frozen=True)
class Chain:
    """A 1D chain of ``n`` spins; a ring when ``periodic`` (the default)."""

    n: int
    periodic: bool = True

    def __post_init__(self) -> None:
        _check_size("chain length n", self.n, 2)

    @property
    def dim(self) -> int:
        return 1

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.n,)

    @property
    def n_sites(self) -> int:
        return self.n

    @cached_property
    def bonds(self) -> np.ndarray:
        """Nearest-neighbour bonds ``(i, j)``, shape ``(n_bonds, 2)``; each bond once."""
        i = np.arange(self.n if self.periodic else self.n - 1)
        b = np.stack([i, (i + 1) % self.n], axis=1)
        return b  # a periodic 2-ring has two bonds between the same pair, as H counts them

    @cached_property
    def neighbours(self) -> np.ndarray:
        """Neighbour sites, shape ``(n, 2)``; ``-1`` marks a missing neighbour (open chain)."""
        i = np.arange(self.n)
        left, right = (i - 1) % self.n, (i + 1) % self.n
        if not self.periodic:
            left = np.where(i == 0, -1, left)
            right = np.where(i == self.n - 1, -1, right)
        return np.stack([left, right], axis=1)

    def blocks(self, b: int) -> np.ndarray:
        """Site indices of consecutive blocks of ``b`` spins, shape ``(n // b, b)``."""
        b = _check_size("block size b", b, 1)
        if self.n % b:
            raise ValueError(f"block size {b} does not divide the chain length {self.n}")
        return np.arange(self.n).reshape(self.n // b, b)


@dataclass(frozen=True)
class SquareLattice:
    """Periodic ``L x L`` square lattice (a torus)."""

    L: int

    def __post_init__(self) -> None:
        _check_size("lattice size L", self.L, 2)

    @property
    def dim(self) -> int:
        return 2

    @property
    def periodic(self) -> bool:
        return True

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.L, self.L)

    @property
    def n_sites(self) -> int:
        return self.L * self.L

    @cached_property
    def bonds(self) -> np.ndarray:
        """Nearest-neighbour bonds as flat site pairs, shape ``(2 L^2, 2)``: right then down.

        For ``L = 2`` each pair of neighbours is joined by two bonds (the torus wraps),
        exactly as the periodic Hamiltonian counts them.
        """
        L = self.L
        x, y = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
        s = (x * L + y).ravel()
        right = (x * L + (y + 1) % L).ravel()
        down = (((x + 1) % L) * L + y).ravel()
        return np.concatenate([np.stack([s, right], 1), np.stack([s, down], 1)])

    @cached_property
    def neighbours(self) -> np.ndarray:
        """Flat neighbour indices (up, down, left, right), shape ``(L^2, 4)``."""
        L = self.L
        x, y = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
        nb = [((x - 1) % L, y), ((x + 1) % L, y), (x, (y - 1) % L), (x, (y + 1) % L)]
        return np.stack([(a * L + c).ravel() for a, c in nb], axis=1)

    def checkerboard(self) -> np.ndarray:
        """Parity ``(x + y) % 2`` of each site, shape ``(L, L)``. Needs even ``L``."""
        if self.L % 2:
            raise ValueError(
                f"a checkerboard update needs an even lattice size, got L = {self.L}; use L + 1"
            )
        x, y = np.meshgrid(np.arange(self.L), np.arange(self.L), indexing="ij")
        return ((x + y) % 2).astype(np.int8)

    def blocks(self, b: int) -> np.ndarray:
        """Flat site indices of ``b x b`` blocks, shape ``((L/b)^2, b*b)``.

        Block ``(X, Y)`` (row-major over the coarse lattice) holds sites
        ``(b X + i, b Y + j)`` in row-major order of ``(i, j)``.
        """
        b = _check_size("block size b", b, 1)
        if self.L % b:
            raise ValueError(f"block size {b} does not divide the lattice size {self.L}")
        n = self.L // b
        idx = np.arange(self.n_sites).reshape(n, b, n, b).transpose(0, 2, 1, 3)
        return idx.reshape(n * n, b * b)


Lattice = Chain | SquareLattice


def make_lattice(kind: str, size: int, *, periodic: bool = True) -> Chain | SquareLattice:
    """``make_lattice("1d", N)`` -> :class:`Chain`; ``"2d", L`` -> :class:`SquareLattice`."""
    if kind in ("1d", "chain", "ring"):
        return Chain(size, periodic=periodic)
    if kind in ("2d", "square"):
        if not periodic:
            raise ValueError("only the periodic square lattice is supported")
        return SquareLattice(size)
    raise ValueError(f"unknown lattice {kind!r}: use '1d' or '2d'")
