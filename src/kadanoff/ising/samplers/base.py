"""The interface every Ising sampler implements.

A sampler object holds only its model and hyperparameters (immutable); the chain state
is a plain int8 array ``(n_chains, *lattice.shape)`` passed in and returned, with a
:class:`SweepInfo` reporting the work actually done.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np

from ..._rng import SeedLike, make_rng
from ...spins import check_spins
from ..model import IsingModel

__all__ = ["Sampler", "SweepInfo"]


@dataclass
class SweepInfo:
    """Work done by :meth:`Sampler.run`.

    ``attempted``/``accepted`` count single-spin updates (local samplers); ``flipped`` is
    the number of spins that changed sign; ``cluster_sizes`` holds the size of every
    cluster flipped (cluster samplers), else is empty.
    """

    n_sweeps: int = 0
    attempted: int = 0
    accepted: int = 0
    flipped: int = 0
    cluster_sizes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def acceptance(self) -> float:
        return self.accepted / self.attempted if self.attempted else float("nan")

    def merge(self, other: SweepInfo) -> SweepInfo:
        return SweepInfo(
            self.n_sweeps + other.n_sweeps,
            self.attempted + other.attempted,
            self.accepted + other.accepted,
            self.flipped + other.flipped,
            np.concatenate([self.cluster_sizes, other.cluster_sizes]),
        )


class Sampler(abc.ABC):
    """Base class: ``run(spins, n_sweeps, *, seed) -> (spins, info)``.

    ``spins`` has shape ``(n_chains, *model.shape)``, dtype int8, values ±1. Chains are
    independent. The same input and seed give the same output bit for bit.
    """

    #: name used on the command line (``--algorithm``)
    name: str = ""

    def __init__(self, model: IsingModel) -> None:
        self.model = model

    def check_state(self, spins: np.ndarray) -> np.ndarray:
        s = check_spins(spins)
        shape = self.model.shape
        if s.ndim != len(shape) + 1 or s.shape[1:] != shape:
            raise ValueError(
                f"{type(self).__name__} expects spins of shape "
                f"(n_chains, {', '.join(map(str, shape))}), "
                f"got {s.shape}"
            )
        return np.ascontiguousarray(s)

    def init_state(self, n_chains: int, *, seed: SeedLike = None, hot: bool = True) -> np.ndarray:
        """Random (``hot``) or all-up (cold) initial state, shape ``(n_chains, *shape)``."""
        if n_chains < 1:
            raise ValueError(f"n_chains must be >= 1, got {n_chains}")
        shape = (n_chains, *self.model.shape)
        if not hot:
            return np.ones(shape, dtype=np.int8)
        rng = make_rng(seed)
        return (2 * rng.integers(0, 2, size=shape, dtype=np.int8) - 1).astype(np.int8)

    @abc.abstractmethod
    def run(
        self, spins: np.ndarray, n_sweeps: int = 1, *, seed: SeedLike = None
    ) -> tuple[np.ndarray, SweepInfo]:
        """Advance every chain by ``n_sweeps`` sweeps; return the new state and the work done."""
