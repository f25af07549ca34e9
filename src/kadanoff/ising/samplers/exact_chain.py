"""Exact independent samples of the 1D Ising chain (ring or open, any field): the 1D oracle.

With the symmetric transfer matrix ``T[a, b] = exp(K a b + field (a + b) / 2)``
(``a, b = ±1``), the ring of ``n`` spins has weight ``prod_i T[v_i, v_{i+1}]`` with
``v_n = v_0`` and the open chain ``e(v_0) prod_{i<n-1} T[v_i, v_{i+1}] e(v_{n-1})`` with
``e(a) = exp(field a / 2)``. A sample is drawn site by site from exact conditionals:

- ring: ``P(v_0) ∝ (T^n)[v_0, v_0]``, then
  ``P(v_i | v_{i-1}, v_0) ∝ T[v_{i-1}, v_i] (T^{n-i})[v_i, v_0]``;
- open: ``P(v_0) ∝ e(v_0) (T^{n-1} e)[v_0]``, then
  ``P(v_i | v_{i-1}) ∝ T[v_{i-1}, v_i] (T^{n-1-i} e)[v_i]``.

Matrix powers are rescaled after each product, which leaves every conditional unchanged
and avoids overflow. The input state is ignored: every call returns fresh, exactly
Boltzmann-distributed, mutually independent samples.

Chain state: the words of one PCG64 generator (``rng`` of shape ``(6,)`` uint64: state and
increment, high and low halves, then numpy's buffered-uint32 flag and value). A sweep is
one draw of ``n_chains x n`` uniforms, so ``run(state, n)`` skips ``n - 1`` draws
(``PCG64.advance``) and returns the ``n``-th: the same as ``n`` single sweeps.
"""

from __future__ import annotations

import numpy as np

from ..._rng import SeedLike, make_rng, seed_sequence
from ...lattice import Chain
from ..model import IsingModel
from .base import ChainState, Sampler, SweepInfo, check_count
from .registry import Capabilities, register_sampler

__all__ = ["ExactChainSampler"]


def _transfer(K: float, field: float) -> np.ndarray:
    """``T`` of the module docstring over its largest entry, shape ``(2, 2)``; index 0 is -1."""
    a = np.array([-1.0, 1.0])
    log_t = K * a[:, None] * a[None, :] + 0.5 * field * (a[:, None] + a[None, :])
    return np.exp(log_t - log_t.max())


def _scaled_powers(t: np.ndarray, kmax: int) -> np.ndarray:
    """``T^k`` each divided by its largest entry, ``k = 0 .. kmax``, shape ``(kmax + 1, 2, 2)``."""
    out = np.empty((kmax + 1, 2, 2))
    out[0] = np.eye(2)
    for k in range(1, kmax + 1):
        m = out[k - 1] @ t
        out[k] = m / m.max()
    return out


_M64 = (1 << 64) - 1


def _pcg_words(bg: np.random.PCG64) -> np.ndarray:
    st = bg.state
    s, inc = int(st["state"]["state"]), int(st["state"]["inc"])
    words = [s >> 64, s & _M64, inc >> 64, inc & _M64, int(st["has_uint32"]), int(st["uinteger"])]
    return np.array(words, dtype=np.uint64)


def _pcg_from_words(words: np.ndarray) -> np.random.PCG64:
    w = [int(x) for x in words]
    bg = np.random.PCG64()
    bg.state = {
        "bit_generator": "PCG64",
        "state": {"state": (w[0] << 64) | w[1], "inc": (w[2] << 64) | w[3]},
        "has_uint32": w[4],
        "uinteger": w[5],
    }
    return bg


@register_sampler(
    "exact",
    capabilities=Capabilities(lattices=("chain",), independent=True),
    rank=50,
)
class ExactChainSampler(Sampler):
    """Exact, independent samples of a 1D Ising ring or open chain (field allowed).

    Every call to :meth:`run` with ``n_sweeps >= 1`` returns one fresh exact sample per
    chain, whatever the input state and ``n_sweeps`` (a chain of independent draws has
    the same law after any number of steps); ``n_sweeps = 0`` returns the input
    unchanged. With a spins array and a seed only one draw is made; with a
    :class:`ChainState` a sweep is one draw, so successive calls continue one stream.

    Parameters
    ----------
    model : IsingModel
        On a :class:`~kadanoff.lattice.Chain` (ring or open), any ``K`` and ``field``.
    """

    name = "exact"

    def __init__(self, model: IsingModel) -> None:
        super().__init__(model)
        if not isinstance(model.lattice, Chain):
            raise ValueError(
                "ExactChainSampler samples 1D chains only, got a "
                f"{type(model.lattice).__name__}; use WolffSampler or SwendsenWangSampler in 2D"
            )
        self._n = n = model.lattice.n
        self._periodic = model.lattice.periodic
        self._t = _transfer(model.K, model.field)
        self._powers = _scaled_powers(self._t, n)
        e = np.exp(0.5 * model.field * np.array([-1.0, 1.0]) - 0.5 * abs(model.field))
        self._edge = e  # boundary weights of the open chain, index 0 is -1
        # right vectors of the open chain: (T^k e) / max, k = 0 .. n-1
        right = self._powers[:n] @ e
        self._right = right / right.max(axis=1, keepdims=True)

    def __repr__(self) -> str:
        return f"ExactChainSampler({self.model!r})"

    def marginal_first(self) -> np.ndarray:
        """Exact ``P(v_0 = -1), P(v_0 = +1)``, shape ``(2,)``."""
        n = self._n
        if self._periodic:
            w = np.diag(self._powers[n]).copy()
        else:
            w = self._edge * self._right[n - 1]
        return w / w.sum()

    def sample(self, n_samples: int, *, seed: SeedLike = None) -> np.ndarray:
        """``n_samples`` independent exact samples, shape ``(n_samples, n)``, int8."""
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        return self._draw(n_samples, make_rng(seed))

    def _draw(self, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        """:meth:`sample` from ``rng``: one block of ``n_samples x n`` uniforms."""
        n = self._n
        u = rng.random((n_samples, n))
        idx = np.empty((n_samples, n), dtype=np.intp)  # 0 <-> -1, 1 <-> +1
        p0 = self.marginal_first()
        idx[:, 0] = u[:, 0] < p0[1]
        t = self._t
        periodic = self._periodic
        for i in range(1, n):
            prev = idx[:, i - 1]
            if periodic:
                rest = self._powers[n - i][:, idx[:, 0]].T  # (n_samples, 2): T^{n-i}[s, v_0]
            else:
                rest = self._right[n - 1 - i][None, :]
            w = t[prev] * rest
            idx[:, i] = u[:, i] * (w[:, 0] + w[:, 1]) < w[:, 1]
        return (2 * idx - 1).astype(np.int8)

    def _start_rng(self, n_chains: int, seed: SeedLike) -> np.ndarray:
        return _pcg_words(np.random.PCG64(seed_sequence(seed)))

    def advance(self, state: ChainState, n_sweeps: int) -> tuple[ChainState, SweepInfo]:
        """``n_sweeps`` independent draws per chain; the state holds the last one."""
        n_sweeps = check_count(n_sweeps)
        s = self.check_chain_state(state, (6,))
        if n_sweeps == 0:
            return ChainState(s.copy(), state.rng.copy(), state.kind, state.sweeps), SweepInfo()
        bg = _pcg_from_words(state.rng)
        if n_sweeps > 1:  # the earlier draws are never seen: skip their uniforms
            bg.advance((n_sweeps - 1) * s.shape[0] * self._n)
        new = self._draw(s.shape[0], np.random.Generator(bg))
        info = SweepInfo(n_sweeps=n_sweeps, flipped=int(np.count_nonzero(new != s)))
        return ChainState(new, _pcg_words(bg), state.kind, state.sweeps + n_sweeps), info

    def run(self, spins, n_sweeps=1, *, seed=None):  # type: ignore[override]
        """Replace every chain by a fresh exact sample (see the class docstring).

        Parameters
        ----------
        spins : ChainState, or ndarray of shape ``(n_chains, n)``, ±1
            A state continues its stream (``n_sweeps`` draws); of an array only the shape
            is used (and it is returned unchanged when ``n_sweeps = 0``).
        n_sweeps : int
        seed : int, SeedSequence or Generator
            Only with an array (a Generator is drawn from directly).

        Returns
        -------
        spins : ChainState, or ndarray of shape ``(n_chains, n)``, int8
        info : SweepInfo
            ``flipped`` counts the sites whose sign differs from the input.
        """
        if isinstance(spins, ChainState):
            return super().run(spins, n_sweeps, seed=seed)
        n_sweeps = check_count(n_sweeps)
        s = self.check_state(spins)
        if n_sweeps == 0:
            return s.copy(), SweepInfo()
        new = self.sample(s.shape[0], seed=seed)
        return new, SweepInfo(n_sweeps=n_sweeps, flipped=int(np.count_nonzero(new != s)))
