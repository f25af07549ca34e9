"""Local Ising samplers: checkerboard Metropolis and heat-bath, compiled with Numba.

One sweep updates every spin once (theory.md section 1: weight ``exp(-H)``,
``H = -K sum_<ij> v_i v_j - field sum_i v_i``). Flipping spin ``s`` with local field
``l = K * (sum of neighbours) + field`` changes ``H`` by ``2 s l``:

* Metropolis flips with probability ``min(1, exp(-2 s l))``, except that a move that
  leaves ``H`` unchanged (``l = 0``) is accepted with probability **1/2**, not 1;
* heat-bath draws the spin from its conditional, ``p(+1) = 1 / (1 + exp(-2 l))``, i.e.
  flips with probability ``1 / (1 + exp(2 s l))``.

Why 1/2 at zero energy change
-----------------------------
With a fixed sweep order, accepting every ``Delta H = 0`` move flips a spin whose
neighbours sum to zero (no field) *deterministically*, and the one-sweep chain is not
ergodic: the 8-site ring has closed classes of 140, 56, 56, 2 and 2 states, the 3 x 3
torus one of 504 states plus four 2-cycles, width-1 stripe states of every even torus
are permanent 2-cycles, and at ``K = 0`` every spin flips every sweep. Any acceptance
``a`` with ``a(dH) / a(-dH) = exp(-dH)`` keeps every single-site update in detailed
balance; ``a(0) = 1/2`` is the heat-bath value there (the spin's new value is then
independent of its old one), changes Metropolis only where it was deterministic in both
directions, and costs nothing (one entry of the threshold table). Moves with
``Delta H < 0`` are still always accepted, but their reverse moves are optional.

That this suffices is not a general theorem, so the tests check it exactly: on the 2 x 2,
3 x 3 and 4 x 4 tori, the 4-, 5- and 8-site rings and open chains, for ``K`` in
``{0, 1e-9, 1e-5, 0.3, 0.8, 3, -0.5}`` with no field, a generic field and fields that
make ``K n + field = 0``, the one-sweep chain the kernels realize (Numba thresholds, torch
float64 and float32 tables) is strongly connected and has a self-loop, so it is
aperiodic and 1 is its only eigenvalue of modulus 1. The self-loop exists in general: in
the ground state no single flip lowers ``H``, so no spin there is forced to flip.

``Delta H = 0`` is decided from the inputs: ``|K n + field| <=`` :data:`ZERO_LOCAL_FIELD`
(``2**-23``). The kernels would round ``exp(-dH)`` to 1 for ``dH`` below about ``2**-33``
(Numba's ``2**-32`` thresholds) or ``2**-25`` (float32 on CUDA), making such a move pair
deterministic again; the cut-off leaves a margin, and treating these moves as zero
changes their acceptance ratio by at most ``exp(2**-22) - 1 = 2.4e-7``. For
``0 < |K| << 1`` Metropolis with a fixed order still flips almost every spin every sweep
(ergodic, but successive sweeps are strongly anti-correlated); use heat-bath there.

Update order (both rules)
-------------------------
* Even 2D torus, ring of even length, any open chain: **checkerboard** - first every
  site of colour 0 (``(x + y) % 2 == 0``; even sites of a chain), then colour 1. Sites of
  one colour do not interact, so a half-sweep is a product of commuting single-site
  updates and is done in parallel.
* Odd 2D torus and ring of odd length (no consistent two-colouring): a **sequential**
  typewriter sweep over the sites in row-major order. Slower, but exact on 3 x 3.

Random numbers
--------------
Counter-based: the uniform 32-bit number used to update site ``(x, y)`` of chain ``b``
in sweep ``t`` is a hash of ``(key, b, t, x, y)`` with ``key = kernel_key(seed)``
(splitmix64 for a per-chain key and a per-row seed, then two rounds of the
``lowbias32`` integer hash for the site). Every update consumes its own number, so the
result does not depend on the thread count or the work split, and chain ``b`` evolves
the same whatever other chains run beside it (a leading sub-batch reproduces the first
chains bit for bit). Flip probabilities are quantized to multiples of ``2**-32`` (see
:func:`flip_thresholds`), the only approximation.

Performance
-----------
Even 2D tori use a packed layout ``(B, L, 2, L/2 + 2)`` (the two column parities of a
row apart, plus periodic ghost cells), so a half-sweep of one row is a contiguous,
branch-free loop that LLVM vectorizes with 8 x 32-bit lanes (AVX2): int8 spins, the
hash written as 32-bit LLVM IR, flip thresholds chosen by selects instead of a table
gather. Work items are whole chains (all sweeps inside, no synchronization) or, for fewer
chains than threads, ``(chain, row)`` pairs per half-sweep. Everything is compiled with
``cache=True``: the first call in a fresh environment compiles for a few seconds, later
processes load the cache.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..._rng import SeedLike, kernel_key
from ...kernels.counter_hash import counter_uniform32
from ...lattice import Chain, SquareLattice
from ..model import IsingModel
from ._checkerboard_kernels import (
    NB_OFFSET,
    TABLE_STRIDE,
    pack,
    sweeps_2d_by_chain,
    sweeps_2d_by_row,
    sweeps_generic,
    unpack,
)
from .base import ChainState, Sampler, SweepInfo, check_count
from .registry import Capabilities, register_sampler

__all__ = [
    "MetropolisSampler",
    "HeatBathSampler",
    "LocalSampler",
    "flip_probabilities",
    "flip_thresholds",
    "realized_flip_probabilities",
    "update_order",
    "counter_uniform32",
    "RULES",
    "ZERO_LOCAL_FIELD",
]

RULES = ("metropolis", "heatbath")
#: Local fields ``|K n + field|`` at or below this count as a zero energy change: the
#: Metropolis move is then accepted with probability 1/2 (see the module docstring).
ZERO_LOCAL_FIELD = 2.0**-23


# --------------------------------------------------------------------------------------
# Flip probabilities
# --------------------------------------------------------------------------------------


def _check_rule(rule: str) -> str:
    if rule not in RULES:
        raise ValueError(f"unknown update rule {rule!r}: use one of {RULES}")
    return rule


def flip_probabilities(K: float, field: float, rule: str) -> np.ndarray:
    """Probability to flip spin ``s`` with neighbour sum ``n``, shape ``(2, 9)``.

    Row 0 is ``s = -1``, row 1 ``s = +1``; column ``n + 4`` for ``n = -4..4``.
    Metropolis: ``min(1, exp(-2 s (K n + field)))``, but 1/2 where
    ``|K n + field| <= ZERO_LOCAL_FIELD`` (a zero energy change; see the module
    docstring); heat-bath: ``1 / (1 + exp(2 s (K n + field)))`` (float64).
    """
    _check_rule(rule)
    p = np.empty((2, TABLE_STRIDE))
    for row, s in enumerate((-1, 1)):
        for n in range(-NB_OFFSET, NB_OFFSET + 1):
            local = K * n + field
            dh = 2.0 * s * local  # H(flipped) - H(current)
            if rule == "metropolis":
                if abs(local) <= ZERO_LOCAL_FIELD:
                    p[row, n + NB_OFFSET] = 0.5
                else:
                    p[row, n + NB_OFFSET] = 1.0 if dh < 0 else math.exp(-dh)
            elif dh >= 0:
                p[row, n + NB_OFFSET] = math.exp(-dh) / (1.0 + math.exp(-dh))
            else:
                p[row, n + NB_OFFSET] = 1.0 / (1.0 + math.exp(dh))
    return p


def flip_thresholds(K: float, field: float, rule: str) -> np.ndarray:
    """Integer thresholds of :func:`flip_probabilities`, flat ``(18,)`` uint32.

    Index ``9 * (s > 0) + n + 4``. A spin flips when its uniform uint32 ``r`` satisfies
    ``r <= threshold``, so the realized probability is ``(threshold + 1) / 2**32`` with
    ``threshold = clip(round(p * 2**32), 1, 2**32) - 1``: exact for ``p = 1``, within
    ``2**-33`` of ``p`` otherwise, and never below ``2**-32`` (which only matters when
    ``p < 2**-33``, i.e. ``|Delta H| > 22``).
    """
    return _quantize(flip_probabilities(K, field, rule))


def _quantize(p: np.ndarray) -> np.ndarray:
    """Flip probabilities ``(2, 9)`` -> the kernels' flat uint32 thresholds ``(18,)``."""
    t = np.clip(np.rint(p * 2.0**32), 1.0, 2.0**32) - 1.0
    return t.astype(np.uint32).ravel()


def realized_flip_probabilities(K: float, field: float, rule: str) -> np.ndarray:
    """The probabilities the kernels actually use, ``(threshold + 1) / 2**32``, shape ``(2, 9)``."""
    return ((flip_thresholds(K, field, rule).astype(np.float64) + 1.0) / 2.0**32).reshape(2, 9)


# --------------------------------------------------------------------------------------
# Plans: which kernel, which order
# --------------------------------------------------------------------------------------


def _is_checkerboard(lattice: Chain | SquareLattice) -> bool:
    if isinstance(lattice, SquareLattice):
        return lattice.L % 2 == 0
    return (not lattice.periodic) or lattice.n % 2 == 0


def update_order(lattice: Chain | SquareLattice) -> list[np.ndarray]:
    """Groups of flat site indices updated in turn within one sweep.

    Checkerboard lattices give two groups (colour 0 then colour 1, each in row-major
    order; sites within a group do not interact); otherwise one group per site in
    row-major (typewriter) order.
    """
    n = lattice.n_sites
    if not _is_checkerboard(lattice):
        return [np.array([i]) for i in range(n)]
    idx = np.arange(n)
    if isinstance(lattice, SquareLattice):
        colour = (idx // lattice.L + idx % lattice.L) % 2
    else:
        colour = idx % 2
    return [idx[colour == 0], idx[colour == 1]]


def _rng_coordinates(lattice: Chain | SquareLattice) -> tuple[np.ndarray, np.ndarray, int]:
    idx = np.arange(lattice.n_sites, dtype=np.int64)
    if isinstance(lattice, SquareLattice):
        return idx // lattice.L, idx % lattice.L, lattice.L
    return np.zeros_like(idx), idx, 1


class LocalSampler(Sampler):
    """Single-spin-flip sampler with a checkerboard (or sequential) sweep; see module doc.

    Parameters
    ----------
    model : IsingModel
        On a :class:`~kadanoff.lattice.SquareLattice` or :class:`~kadanoff.lattice.Chain`.
    rule : {"metropolis", "heatbath"}
    """

    def __init__(self, model: IsingModel, rule: str = "metropolis") -> None:
        super().__init__(model)
        self.rule = _check_rule(rule)
        self.name = rule
        lat = model.lattice
        if not isinstance(lat, (Chain, SquareLattice)):
            raise TypeError(f"unsupported lattice {type(lat).__name__}: use Chain or SquareLattice")
        self._table = flip_thresholds(model.K, model.field, rule)
        self.checkerboard = _is_checkerboard(lat)
        self._packed_2d = isinstance(lat, SquareLattice) and self.checkerboard
        if not self._packed_2d:
            nb = lat.neighbours
            if isinstance(lat, Chain) and lat.n == 2 and lat.periodic:
                nb = np.array([[1, 1], [0, 0]])  # a 2-ring has two bonds between its sites
            self._nbrs = np.ascontiguousarray(nb, dtype=np.int64)
            self._order = np.ascontiguousarray(np.concatenate(update_order(lat)), dtype=np.int64)
            rows, cols, n_rows = _rng_coordinates(lat)
            self._rows, self._cols, self._n_rows = rows, cols, n_rows

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r})"

    def _start_rng(self, n_chains: int, seed: SeedLike) -> np.ndarray:
        """``[key, sweep counter]``, uint64: the counter-based RNG's whole state."""
        return np.array([kernel_key(seed), 0], dtype=np.uint64)

    def advance(
        self, state: ChainState, n_sweeps: int, *, work_split: str = "auto"
    ) -> tuple[ChainState, SweepInfo]:
        """``n_sweeps`` sweeps from sweep ``state.rng[1]`` with key ``state.rng[0]``.

        Called by ``run(state, n_sweeps, work_split=...)``; ``run(spins, n_sweeps,
        seed=...)`` starts at sweep 0 with ``key = kernel_key(seed)``. Sweep ``t`` of chain
        ``b`` uses the hash of ``(key, b, t, site)``, so two calls of ``n`` sweeps equal one
        of ``2 n`` bit for bit.

        Parameters
        ----------
        state : ChainState
        n_sweeps : int
        work_split : {"auto", "chain", "row"}
            Parallel work items of the even-2D kernel: whole chains, or ``(chain, row)``
            pairs per half-sweep (better for fewer chains than threads). The result does
            not depend on it.

        Returns
        -------
        state : ChainState
        info : SweepInfo
            ``attempted = n_chains * n_sites * n_sweeps``; ``flipped`` counts spins that
            changed; ``accepted`` equals ``flipped`` for Metropolis and ``attempted`` for
            heat-bath (which always accepts its draw).
        """
        n_sweeps = check_count(n_sweeps)
        if work_split not in ("auto", "chain", "row"):
            raise ValueError(f"work_split must be 'auto', 'chain' or 'row', got {work_split!r}")
        s = self.check_chain_state(state, (2,))
        key, t0 = np.uint64(state.rng[0]), int(state.rng[1])
        B = s.shape[0]
        flips = np.zeros(B, dtype=np.int64)
        if n_sweeps == 0:
            return ChainState(s.copy(), state.rng.copy(), state.kind, state.sweeps), SweepInfo()
        if self._packed_2d:
            packed = pack(s)
            if work_split == "auto":
                nt = numba.get_num_threads()
                work_split = "chain" if (B % nt == 0 or B >= 4 * nt) else "row"
            kernel = sweeps_2d_by_chain if work_split == "chain" else sweeps_2d_by_row
            L = s.shape[1]
            kernel(packed.reshape(-1), B, L, self._table, key, t0, n_sweeps, flips)
            out = unpack(packed)
        else:
            out = np.array(s.reshape(B, -1), dtype=np.int8, order="C")
            sweeps_generic(
                out,
                self._nbrs,
                self._order,
                self._rows,
                self._cols,
                self._n_rows,
                self._table,
                key,
                t0,
                n_sweeps,
                flips,
            )
            out = out.reshape(s.shape)
        attempted = B * self.model.n_sites * n_sweeps
        flipped = int(flips.sum())
        accepted = flipped if self.rule == "metropolis" else attempted
        rng = np.array([key, t0 + n_sweeps], dtype=np.uint64)
        new = ChainState(out, rng, state.kind, state.sweeps + n_sweeps)
        return new, SweepInfo(n_sweeps, attempted, accepted, flipped)


# Capabilities defaults: any field, chains and square lattices, odd sizes, the CPU
@register_sampler(
    "metropolis", capabilities=Capabilities(reports=("acceptance", "flipped")), rank=10
)
class MetropolisSampler(LocalSampler):
    """Metropolis single-spin flips, checkerboard sweep (sequential for odd sizes).

    Acceptance ``min(1, exp(-Delta H))``, and 1/2 for ``Delta H = 0``: accepting those
    always makes the fixed-order sweep non-ergodic (see the module docstring).
    """

    name = "metropolis"

    def __init__(self, model: IsingModel) -> None:
        super().__init__(model, "metropolis")


@register_sampler("heatbath", capabilities=Capabilities(reports=("acceptance", "flipped")), rank=20)
class HeatBathSampler(LocalSampler):
    """Heat-bath (Glauber / Gibbs) single-spin updates, checkerboard sweep."""

    name = "heatbath"

    def __init__(self, model: IsingModel) -> None:
        super().__init__(model, "heatbath")
