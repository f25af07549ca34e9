"""Coupling operators ``T(v, h)`` of the variational RG (MS 6-9, theory.md sections 2 and 4).

An operator evaluates the log-weight ``T(v, h)`` on batches of ±1 spins: ``v`` of shape
``(..., n_visible)`` (fine spins, flat, lattice row-major) and ``h`` of shape
``(..., n_hidden)`` (coarse spins, flat, coarse lattice row-major); the batch axes
broadcast. Forbidden pairs have ``T = -inf``. The renormalized Hamiltonian is
``exp(-H^RG(h)) = Tr_v exp(T(v, h) - H(v))`` (MS 6) and the step is exact when
``Tr_h exp(T(v, h)) = 1`` for every ``v`` (trace condition, MS 9).

Kernels
-------
- :class:`Decimation`: ``h_i`` copies one chosen spin of block ``i``.
- :class:`MajorityRule`: ``h_i = sign(sum of block i)``; ties (even blocks only) go to the
  block's first spin (``tie="first"``, deterministic) or to ±1 with probability 1/2 each
  (``tie="random"``, then ``T = ln 1/2`` for both values on a tied block).
- :class:`SoftKernel`: ``T = sum_i [lambda h_i s_i(v) - ln 2cosh(lambda s_i(v))]`` for a
  block statistic ``s_i``; ``lambda -> infinity`` gives the hard rule.
- :class:`~kadanoff.rg.machines.MachineOperator` (in :mod:`.machines`): ``T = -E(v, h) + H(v)``
  from a (restricted or general) Boltzmann machine and a Hamiltonian (MS 18).
- :class:`TableOperator`: any ``T`` given as a table over all ``(v, h)`` (counterexamples).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._rng import SeedLike, make_rng
from ..lattice import Chain, SquareLattice
from ..spins import all_states, check_spins
from ._common import (
    log_two_state_sum,
    logsumexp,
)
from .coarse_graining import check_batch, majority_square, register_coarse_graining

__all__ = [
    "CouplingOperator",
    "Decimation",
    "MajorityRule",
    "SoftKernel",
    "TableOperator",
]

LatticeLike = Chain | SquareLattice | int


class CouplingOperator:
    """Base class of coupling operators ``T(v, h)`` (MS 6).

    Subclasses set ``n_visible``, ``n_hidden`` and implement :meth:`log_weight`.
    ``coarse_shape`` is the shape coarse configurations take (default ``(n_hidden,)``).
    """

    n_visible: int
    n_hidden: int
    coarse_shape: tuple[int, ...]

    def log_weight(self, v: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``T(v, h)`` (MS 6) for broadcasting batches ``(..., nv)``, ``(..., nh) -> (...)``."""
        raise NotImplementedError

    def log_weight_table(self, v: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``T`` for every pair of rows: ``v (n_a, nv)``, ``h (n_b, nh) -> (n_a, n_b)`` (MS 6)."""
        v = np.asarray(v)
        h = np.asarray(h)
        return self.log_weight(v[:, None, :], h[None, :, :])

    def sample_hidden(self, v: np.ndarray, *, seed: SeedLike) -> np.ndarray:
        """Draw ``h`` with probability ``exp(T(v, h)) / Tr_h exp(T(v, h))`` (MS 9).

        When the trace condition holds this is ``exp(T(v, h))`` itself.
        ``v (..., nv) -> h (..., nh)``, int8 spins. The default enumerates the coarse states
        (at most 16 hidden spins); the block kernels override it with a factorized sampler.
        """
        if self.n_hidden > 16:
            raise ValueError(
                f"exact sampling by enumeration needs n_hidden <= 16, got {self.n_hidden}"
            )
        v = check_spins(v, "v")
        flat = v.reshape(-1, self.n_visible)
        hs = all_states(self.n_hidden)
        logp = self.log_weight_table(flat, hs)
        logp = logp - logsumexp(logp, axis=1)[:, None]
        cdf = np.cumsum(np.exp(logp), axis=1)
        u = make_rng(seed).random(len(flat)) * cdf[:, -1]
        idx = np.minimum((cdf < u[:, None]).sum(1), len(hs) - 1)
        return hs[idx].reshape(v.shape[:-1] + (self.n_hidden,))

    def _check(self, v: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v = np.asarray(v)
        h = np.asarray(h)
        if v.shape[-1] != self.n_visible or h.shape[-1] != self.n_hidden:
            raise ValueError(
                f"{type(self).__name__} expects v (..., {self.n_visible}) and "
                f"h (..., {self.n_hidden}) flat spins; got {v.shape} and {h.shape}"
            )
        return v, h


def _blocks_of(lattice: LatticeLike, b: int) -> tuple[np.ndarray, int, tuple[int, ...]]:
    if isinstance(lattice, (int, np.integer)) and not isinstance(lattice, bool):
        lattice = Chain(int(lattice))
    if isinstance(lattice, Chain):
        blocks = lattice.blocks(b)
        return blocks, lattice.n_sites, (lattice.n // b,)
    if isinstance(lattice, SquareLattice):
        blocks = lattice.blocks(b)
        return blocks, lattice.n_sites, (lattice.L // b, lattice.L // b)
    raise TypeError(
        f"lattice must be a Chain, a SquareLattice or an int (ring length); got {lattice!r}"
    )


class _BlockOperator(CouplingOperator):
    """Shared set-up: one coarse spin per block of fine spins.

    Also a :class:`~kadanoff.rg.coarse_graining.CoarseGraining`: ``coarse_grain`` and
    ``coarse_mean`` take batches shaped ``(n, *fine_shape)``.
    """

    def __init__(self, lattice: LatticeLike, b: int) -> None:
        self.blocks, self.n_visible, self.coarse_shape = _blocks_of(lattice, b)
        self.n_hidden = len(self.blocks)
        self.b = int(b)
        self.fine_shape: tuple[int, ...] = (
            lattice.shape if isinstance(lattice, (Chain, SquareLattice)) else (int(lattice),)
        )
        self.square = isinstance(lattice, SquareLattice)

    def _block_spins(self, v: np.ndarray) -> np.ndarray:
        """``(..., nv) -> (..., n_blocks, block size)``."""
        return np.asarray(v)[..., self.blocks]

    def _flat_batch(self, v: np.ndarray) -> np.ndarray:
        v = check_batch(v, self.fine_shape, type(self).__name__)
        return v.reshape(len(v), self.n_visible)

    def coarse_grain(self, v: np.ndarray, *, seed: SeedLike) -> np.ndarray:
        """``h ~ exp(T(v, .))`` for a batch ``(n, *fine_shape) -> (n, *coarse_shape)`` int8."""
        h = self.sample_hidden(self._flat_batch(v), seed=seed)
        return np.asarray(h, dtype=np.int8).reshape((len(h), *self.coarse_shape))

    def coarse_mean(self, v: np.ndarray) -> np.ndarray:
        """``E[h | v]``, ``(n, *fine_shape) -> (n, *coarse_shape)`` float64."""
        m = self._mean_hidden(self._flat_batch(v))
        return m.reshape((len(m), *self.coarse_shape))

    def _mean_hidden(self, v: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@register_coarse_graining("decimation")
class Decimation(_BlockOperator):
    """Decimation: ``h_i`` equals spin ``site`` of block ``i`` (theory.md section 2).

    ``T(v, h) = sum_i ln delta(h_i, v_{block_i[site]})`` (0 or ``-inf``); satisfies the
    trace condition (MS 9) exactly. For a chain with ``b = 2`` this keeps the even sites.

    Parameters
    ----------
    lattice : Chain, SquareLattice or int (ring length)
    b : int
        Block size (``b`` sites on a chain, ``b x b`` on the square lattice).
    site : int
        Position of the kept spin within the block (row-major in the block).
    """

    def __init__(self, lattice: LatticeLike, b: int, *, site: int = 0) -> None:
        super().__init__(lattice, b)
        if not 0 <= site < self.blocks.shape[1]:
            raise ValueError(f"site must be in [0, {self.blocks.shape[1]}), got {site}")
        self.site = int(site)

    @classmethod
    def example(cls) -> Decimation:
        """The top-left spin of each ``2 x 2`` block of a ``4 x 4`` torus (theory.md 2)."""
        return cls(SquareLattice(4), 2)

    def coarse(self, v: np.ndarray) -> np.ndarray:
        """The decimated spins ``(..., nv) -> (..., nh)`` (theory.md section 2)."""
        return np.asarray(v)[..., self.blocks[:, self.site]].astype(np.int8)

    def log_weight(self, v: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``T(v, h)``: 0 when every ``h_i`` copies its spin, else ``-inf`` (MS 6)."""
        v, h = self._check(v, h)
        ok = np.all(np.asarray(h) == self.coarse(v), axis=-1)
        return np.where(ok, 0.0, -np.inf)

    def sample_hidden(self, v: np.ndarray, *, seed: SeedLike = None) -> np.ndarray:
        """Deterministic: the decimated spins (``seed`` unused), int8 (MS 9)."""
        return self.coarse(check_spins(v, "v"))

    def coarse_grain(self, v: np.ndarray, *, seed: SeedLike = None) -> np.ndarray:
        """The decimated spins of a batch ``(n, *fine_shape)`` (``seed`` unused), int8 (MS 9)."""
        if self.square:
            v = check_batch(v, self.fine_shape, "Decimation")
            i, j = divmod(self.site, self.b)
            return np.ascontiguousarray(v[:, i :: self.b, j :: self.b])
        return super().coarse_grain(v, seed=seed)

    def _mean_hidden(self, v: np.ndarray) -> np.ndarray:
        return self.coarse(v).astype(np.float64)


@register_coarse_graining("majority")
class MajorityRule(_BlockOperator):
    """Kadanoff's majority rule on blocks (theory.md section 2).

    ``h_i = sign(sum_{k in block i} v_k)``. Ties (possible only for even block sizes):

    - ``tie="first"`` (default): ``h_i`` is the block's first spin (top-left for ``b x b``),
      deterministic; keeps the spin-flip symmetry;
    - ``tie="random"``: ``h_i = ±1`` with probability 1/2 each (``T = ln 1/2`` on the block).

    Either way ``Tr_h exp(T) = 1`` for every ``v`` (MS 9).
    """

    def __init__(self, lattice: LatticeLike, b: int, *, tie: str = "first") -> None:
        super().__init__(lattice, b)
        if tie not in ("first", "random"):
            raise ValueError(f"tie must be 'first' or 'random', got {tie!r}")
        self.tie = tie

    @classmethod
    def example(cls) -> MajorityRule:
        """Majority of ``2 x 2`` blocks of a ``4 x 4`` torus, random ties (MCRG, theory.md 7)."""
        return cls(SquareLattice(4), 2, tie="random")

    def block_sums(self, v: np.ndarray) -> np.ndarray:
        """Block sums ``(..., nv) -> (..., nh)``, int64 (the majority statistic, theory.md 2)."""
        return self._block_spins(v).astype(np.int64).sum(-1)

    def coarse(self, v: np.ndarray) -> np.ndarray:
        """Majority spins with ties to the first spin, ``(..., nv) -> (..., nh)`` int8 (MS 6)."""
        v = np.asarray(v)
        s = self.block_sums(v)
        first = v[..., self.blocks[:, 0]]
        return np.where(s > 0, 1, np.where(s < 0, -1, first)).astype(np.int8)

    def log_weight(self, v: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``T(v, h)``: 0 / ``-inf`` per block, ``ln 1/2`` on random ties (MS 6)."""
        v, h = self._check(v, h)
        s = self.block_sums(v)
        if self.tie == "first":
            ok = np.all(h == self.coarse(v), axis=-1)
            return np.where(ok, 0.0, -np.inf)
        ok = np.all((s == 0) | (np.sign(s) == h), axis=-1)
        n_ties = np.sum(s == 0, axis=-1)
        return np.where(ok, -np.log(2.0) * n_ties, -np.inf)

    def sample_hidden(self, v: np.ndarray, *, seed: SeedLike = None) -> np.ndarray:
        """Block spins ``(..., nv) -> (..., nh)`` int8 (MS 9); ``seed`` serves random ties."""
        v = check_spins(v, "v")
        h = self.coarse(v)
        if self.tie == "random":
            ties = self.block_sums(v) == 0
            if np.any(ties):
                rnd = 2 * make_rng(seed).integers(0, 2, size=h.shape, dtype=np.int8) - 1
                h = np.where(ties, rnd, h).astype(np.int8)
        return h

    def coarse_grain(self, v: np.ndarray, *, seed: SeedLike = None) -> np.ndarray:
        """Block spins of a batch ``(n, *fine_shape) -> (n, *coarse_shape)`` int8 (MS 9).

        On the square lattice a compiled kernel; random ties there take one fair bit per
        coarse site from ``seed`` (same law as :meth:`sample_hidden`, other draws).
        """
        if self.square and (self.tie == "random" or self.b % 2 == 1):
            v = check_batch(v, self.fine_shape, "MajorityRule")
            return majority_square(v, self.b, seed=seed)
        return super().coarse_grain(v, seed=seed)

    def _mean_hidden(self, v: np.ndarray) -> np.ndarray:
        if self.tie == "first":
            return self.coarse(v).astype(np.float64)
        return np.sign(self.block_sums(v)).astype(np.float64)


_STATISTICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sum": lambda blk: blk.sum(-1),
    "mean": lambda blk: blk.mean(-1),
    "first": lambda blk: blk[..., 0],
}


@register_coarse_graining("soft")
class SoftKernel(_BlockOperator):
    """The soft kernel ``T = sum_i [lambda h_i s_i(v) - ln 2cosh(lambda s_i(v))]``.

    Satisfies the trace condition (MS 9) for every ``lambda``; each ``h_i`` is +1 with
    probability ``sigmoid(2 lambda s_i)`` (theory.md sections 2 and 5(b)).

    Parameters
    ----------
    lattice : Chain, SquareLattice or int (ring length)
    b : int
        Block size.
    lam : float
        The variational parameter ``lambda`` (finite).
    statistic : {"sum", "mean", "first"} or callable
        ``s_i(v)`` from the block spins ``(..., n_blocks, block size) -> (..., n_blocks)``.
        ``"first"`` with ``b = 2`` on a chain is the soft decimation kernel of 5(b).
    """

    def __init__(
        self,
        lattice: LatticeLike,
        b: int,
        lam: float,
        *,
        statistic: str | Callable[[np.ndarray], np.ndarray] = "sum",
    ) -> None:
        super().__init__(lattice, b)
        lam = float(lam)
        if not np.isfinite(lam):
            raise ValueError(
                f"lam must be finite (use Decimation/MajorityRule for the hard rule), got {lam}"
            )
        self.lam = lam
        if isinstance(statistic, str):
            if statistic not in _STATISTICS:
                raise ValueError(f"statistic must be one of {sorted(_STATISTICS)} or a callable")
            self.statistic_name = statistic
            self._stat = _STATISTICS[statistic]
        elif callable(statistic):
            self.statistic_name = getattr(statistic, "__name__", "custom")
            self._stat = statistic
        else:
            raise TypeError("statistic must be a name or a callable")

    @classmethod
    def example(cls) -> SoftKernel:
        """Soft kernel, block sums of ``2 x 2`` blocks of a ``4 x 4`` torus, lambda 0.5 (MS 9)."""
        return cls(SquareLattice(4), 2, 0.5)

    def statistic(self, v: np.ndarray) -> np.ndarray:
        """The block statistic ``s_i(v)`` (theory.md 2), ``(..., nv) -> (..., nh)`` float64."""
        return np.asarray(self._stat(self._block_spins(v).astype(np.float64)), dtype=np.float64)

    def log_weight(self, v: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``T(v, h) = sum_i [lambda h_i s_i - ln 2cosh(lambda s_i)]`` (theory.md section 2)."""
        v, h = self._check(v, h)
        x = self.lam * self.statistic(v)
        return np.sum(x * h - log_two_state_sum(x, "spin"), axis=-1)

    def up_probability(self, v: np.ndarray) -> np.ndarray:
        """``p(h_i = +1 | v) = sigmoid(2 lambda s_i(v))``, ``(..., nv) -> (..., nh)`` (MS 9)."""
        return 0.5 * (1.0 + np.tanh(self.lam * self.statistic(v)))

    def sample_hidden(self, v: np.ndarray, *, seed: SeedLike) -> np.ndarray:
        """Draw ``h ~ exp(T(v, .))`` independently per block, int8 (MS 9)."""
        p = self.up_probability(check_spins(v, "v"))
        u = make_rng(seed).random(p.shape)
        return np.where(u < p, 1, -1).astype(np.int8)

    def _mean_hidden(self, v: np.ndarray) -> np.ndarray:
        return np.tanh(self.lam * self.statistic(v))


class TableOperator(CouplingOperator):
    """Any operator given as a table ``T[v_index, h_index]`` of shape ``(2^nv, 2^nh)`` (MS 6).

    Indices follow :func:`kadanoff.spins.all_states`. Useful for counterexamples such as
    Lin, Tegmark & Rolnick's (equal free energies without the trace condition).
    """

    def __init__(self, table: np.ndarray) -> None:
        t = np.array(table, dtype=np.float64)
        if t.ndim != 2:
            raise ValueError(f"table must be 2D (2^nv, 2^nh), got shape {t.shape}")
        nv, nh = (int(np.log2(s)) for s in t.shape)
        if t.shape != (2**nv, 2**nh):
            raise ValueError(f"table dimensions must be powers of two, got {t.shape}")
        self.table = t
        self.n_visible, self.n_hidden = nv, nh
        self.coarse_shape = (nh,)

    def log_weight(self, v: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``T(v, h)`` looked up in the table (MS 6)."""
        from ..spins import state_index

        v, h = self._check(v, h)
        return self.table[state_index(v), state_index(h)]
