"""The mutual-information coarse-graining rule (Koch-Janusz & Ringel 2018; theory.md 7).

A :class:`BlockFilter` maps the ``b^d`` spins ``u`` of a block to one coarse spin ``h`` through
``x = weights . u + bias``: ``h = sign(x)`` (``"sign"``, fair coin on ties) or
``p(h | u) = exp(h x) / 2cosh(x)`` (``"sigmoid"``). :func:`train_filter` chooses the filter that
maximizes ``I(H : E)`` between ``h`` and the block's environment (:mod:`.mutual_information`),
either the closed form with the exact block conditional (needs ``K``) or the model-free
Barber-Agakov bound with a logistic critic; both by L-BFGS (scipy) on torch autograd gradients
(CPU, float64) while the filter's scale ``beta`` is annealed (``x = beta (w_hat . u + c)``,
``|w_hat| = 1``): at small ``beta`` the objective is quadratic and picks the leading
correlation direction, at large ``beta`` the filter is nearly deterministic. :class:`MIRule`
applies one filter to every block of a ring or torus and satisfies
:class:`~kadanoff.rg.coarse_graining.CoarseGraining`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import optimize

from .._rng import SeedLike, make_rng, spawn
from ..spins import all_states
from .coarse_graining import check_batch, register_coarse_graining
from .mutual_information import (
    BlockGeometry,
    block_conditionals,
    block_geometry,
    filter_table,
)

__all__ = ["BlockFilter", "MIRule", "TrainedFilter", "train_filter", "ising_samples"]

MODES = ("sign", "sigmoid")


@dataclass(frozen=True)
class BlockFilter:
    """Weights over a block (``(b,)`` chain or ``(b, b)`` square), a bias and a mode.

    See theory.md 7.
    """

    weights: np.ndarray
    bias: float = 0.0
    mode: str = "sign"

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, dtype=np.float64)
        if w.ndim not in (1, 2) or (w.ndim == 2 and w.shape[0] != w.shape[1]) or w.size < 1:
            raise ValueError(f"filter weights must be (b,) or (b, b), got shape {w.shape}")
        if self.mode not in MODES:
            raise ValueError(f"unknown filter mode {self.mode!r}: choose one of {MODES}")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "bias", float(self.bias))

    @property
    def b(self) -> int:
        """Block side (theory.md 7)."""
        return int(self.weights.shape[0])

    def table(self) -> np.ndarray:
        """``p(h = +1 | u)`` for every block state (:func:`~.mutual_information.filter_table`).

        See theory.md 7.
        """
        return filter_table(self.weights.reshape(-1), self.bias, mode=self.mode)

    def as_mode(self, mode: str) -> BlockFilter:
        """The same weights and bias in another mode (theory.md 7)."""
        return replace(self, mode=mode)

    def cosine_uniform(self) -> float:
        """Cosine between the weights and the uniform (majority) filter (theory.md 7)."""
        w = self.weights.reshape(-1)
        return float(w.sum() / (np.linalg.norm(w) * np.sqrt(w.size)))

    def concentration(self) -> float:
        """``max |w_i| / sum |w_i|``: 1 for decimation, ``1 / b^d`` for a uniform filter.

        See theory.md 7.
        """
        a = np.abs(self.weights)
        return float(a.max() / a.sum())


@register_coarse_graining("mutual_information")
class MIRule:
    """One :class:`BlockFilter` on every ``b^d`` block of a ring ``(N,)`` or torus ``(L, L)``.

    ``coarse_grain``: ``h = sign(x)`` (ties: fair coins from ``seed``) or ``h ~ p(h | v)``;
    ``coarse_mean``: ``sign(x)`` (0 on ties) or ``tanh(x)`` (MS 9: ``Tr_h exp T = 1``).
    """

    def __init__(self, fine_shape: tuple[int, ...], block_filter: BlockFilter) -> None:
        shape = tuple(int(n) for n in fine_shape)
        f = block_filter
        if len(shape) != f.weights.ndim or (len(shape) == 2 and shape[0] != shape[1]):
            raise ValueError(
                f"a {f.weights.ndim}D filter needs a fine shape of {f.weights.ndim} equal sides, "
                f"got {shape}"
            )
        if shape[0] % f.b:
            raise ValueError(f"the block side b = {f.b} must divide the lattice side {shape[0]}")
        self._fine = shape
        self.filter = f

    @classmethod
    def example(cls) -> MIRule:
        """A small instance (8 x 8 torus, near-majority 2 x 2 sign filter), no training.

        See theory.md 7.
        """
        return cls((8, 8), BlockFilter(np.array([[1.0, 0.9], [0.8, 0.7]]), 0.0, "sign"))

    @property
    def fine_shape(self) -> tuple[int, ...]:
        """Shape of one fine configuration (MS 6)."""
        return self._fine

    @property
    def coarse_shape(self) -> tuple[int, ...]:
        """Shape of one coarse configuration (MS 6)."""
        return tuple(n // self.filter.b for n in self._fine)

    def local_field(self, v: np.ndarray) -> np.ndarray:
        """``x = weights . v_block + bias`` for every block: ``(n, *coarse_shape)`` float64.

        See theory.md 7.
        """
        v = check_batch(v, self._fine, "MIRule").astype(np.float64)
        b, w = self.filter.b, self.filter.weights
        if v.ndim == 2:
            x = v.reshape(len(v), -1, b) @ w
        else:
            Lc = self._fine[0] // b
            x = np.einsum("nxayc,ac->nxy", v.reshape(len(v), Lc, b, Lc, b), w)
        return x + self.filter.bias

    def coarse_mean(self, v: np.ndarray) -> np.ndarray:
        """``E[h | v]``: ``(n, *coarse_shape)`` float64 (MS 9)."""
        x = self.local_field(v)
        if self.filter.mode == "sigmoid":
            return np.tanh(x)
        return np.where(np.abs(x) < 1e-12, 0.0, np.sign(x))

    def coarse_grain(self, v: np.ndarray, *, seed: SeedLike) -> np.ndarray:
        """``h ~ p(h | v)``: ``(n, *coarse_shape)`` ±1 int8 (MS 9)."""
        m = self.coarse_mean(v)
        u = make_rng(seed).random(m.shape)
        return np.where(2.0 * u < 1.0 + m, 1, -1).astype(np.int8)


@dataclass
class TrainedFilter:
    """What :func:`train_filter` returns: the filter (``"sigmoid"`` at the final ``beta``) and
    the objective (nats) every ``record`` steps."""

    filter: BlockFilter
    objective: str
    history: list[float] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def _block_spins(samples: np.ndarray, geom: BlockGeometry, sites: np.ndarray) -> np.ndarray:
    flat = samples.reshape(len(samples), -1)
    rows = [flat[:, geom.shifted(sites, o)] for o in geom.placements()]
    return np.stack(rows, axis=1).reshape(-1, len(sites)).astype(np.float64)


def train_filter(
    samples: np.ndarray,
    b: int,
    *,
    K: float | None = None,
    buffer: int = 0,
    width: int = 2,
    objective: str = "closed_form",
    symmetric: bool = False,
    steps: int = 400,
    stages: int = 8,
    kick: float = 0.05,
    beta: tuple[float, float] = (0.5, 4.0),
    seed: SeedLike,
) -> TrainedFilter:
    """The block filter maximizing ``I(H : E)`` on ``samples`` ``(n, N)`` or ``(n, L, L)``.
    See theory.md 7.

    ``objective="closed_form"`` (needs the coupling ``K``): ``I`` from the exact block
    conditionals (:func:`~.mutual_information.block_conditionals`); ``"bound"``: the
    Barber-Agakov lower bound with a logistic critic on the environment (trained jointly; model
    free). ``symmetric`` fixes ``bias = 0`` (the Z2-symmetric filter). ``beta`` takes
    ``stages`` geometrically spaced values from ``beta[0]`` to ``beta[1]``; at each, L-BFGS
    (scipy, torch autograd gradients) runs up to ``steps / stages`` iterations from the last
    optimum kicked by ``kick`` (relative, random) to leave saddles; the initial direction is
    random (``seed``). ``history``: objective per stage. Returned weights have a non-negative sum.
    """
    import torch

    if objective not in ("closed_form", "bound"):
        raise ValueError(f"unknown objective {objective!r}: choose 'closed_form' or 'bound'")
    if objective == "closed_form" and K is None:
        raise ValueError("the closed-form objective needs the coupling K; or use 'bound'")
    v = np.asarray(samples)
    geom = block_geometry(v.shape[1:], b, buffer=buffer, width=width)
    nV = len(geom.block)
    states = torch.tensor(all_states(nV), dtype=torch.float64)
    if objective == "closed_form":
        P, _ = block_conditionals(v, float(K), geom)  # type: ignore[arg-type]
        rows, counts = np.unique(P, axis=0, return_counts=True)  # few distinct boundaries
        Pt = torch.tensor(rows)
        wt = torch.tensor(counts / counts.sum())
    else:
        blocks = torch.tensor(_block_spins(v, geom, geom.block))
        env = torch.tensor(_block_spins(v, geom, geom.environment))
    s_init, s_kick = spawn(seed, 2)
    n_env = env.shape[1] + 1 if objective == "bound" else 0
    n_c = 0 if symmetric else 1
    phi = np.concatenate([s_init.normal(size=nV), np.zeros(n_c + n_env)])
    history: list[float] = []

    def hb(p: torch.Tensor) -> torch.Tensor:
        p = p.clamp(1e-15, 1 - 1e-15)
        return -(p * p.log() + (1 - p) * (1 - p).log())

    def value(x: torch.Tensor, b_t: float) -> torch.Tensor:
        u = x[:nV] / x[:nV].norm()
        c = x[nV] if n_c else 0.0
        if objective == "closed_form":
            p = Pt @ torch.sigmoid(2 * b_t * (states @ u + c))
            return hb(wt @ p) - wt @ hb(p)
        a = x[nV + n_c :]
        p = torch.sigmoid(2 * b_t * (blocks @ u + c))
        y = 2 * (env @ a[:-1] + a[-1])
        logsig = torch.nn.functional.logsigmoid
        ll = p * logsig(y) + (1 - p) * logsig(-y)
        return hb(p.mean()) + ll.mean() - 1e-4 * (a[:-1] @ a[:-1])

    def loss(x: np.ndarray, b_t: float) -> tuple[float, np.ndarray]:
        xt = torch.tensor(x, requires_grad=True)
        v = -value(xt, b_t)
        v.backward()
        return float(v.detach()), xt.grad.numpy().copy()  # type: ignore[union-attr]

    per_stage = max(1, steps // stages)
    for stage, b_t in enumerate(np.geomspace(beta[0], beta[1], stages)):
        if stage:
            # a small kick off the last optimum, so a saddle of this stage (e.g. the
            # symmetric filter of a chain, optimal only at small beta) is left
            phi[:nV] += kick * np.linalg.norm(phi[:nV]) * s_kick.normal(size=nV)
        res = optimize.minimize(loss, phi, args=(float(b_t),), jac=True, method="L-BFGS-B",
                                options={"maxiter": per_stage})  # fmt: skip
        phi = res.x.copy()
        history.append(-float(res.fun))
    u = phi[:nV] / np.linalg.norm(phi[:nV])
    sign = 1.0 if u.sum() >= 0 else -1.0
    w = sign * beta[1] * u
    bias = sign * beta[1] * float(phi[nV]) if n_c else 0.0
    shape = (b,) * len(geom.shape)
    return TrainedFilter(
        BlockFilter(w.reshape(shape), bias, "sigmoid"),
        objective,
        history,
        {"buffer": buffer, "width": width, "symmetric": symmetric, "steps": steps,
         "stages": stages, "beta": list(beta)},
    )  # fmt: skip


def ising_samples(
    shape: tuple[int, ...], K: float, n: int, *, seed: SeedLike, n_chains: int | None = None
) -> np.ndarray:
    """``n`` configurations ``(n, *shape)`` of the zero-field Ising model at ``K``.

    A ring uses the exact (independent-draw) sampler; a torus Swendsen-Wang sweeps (warm-up
    ``200`` sweeps, then one configuration per chain every ``2`` sweeps; ``n_chains`` default
    ``min(n, 64)``, round-robin order: configuration ``r * n_chains + c`` is chain ``c``).
    """
    from ..ising import IsingModel
    from ..ising.samplers import make_sampler
    from ..lattice import Chain, SquareLattice

    lattice = Chain(shape[0]) if len(shape) == 1 else SquareLattice(shape[0])
    model = IsingModel(lattice, float(K))
    s_init, s_run = spawn(seed, 2)
    if len(shape) == 1:
        smp = make_sampler("exact", model)
        state = smp.start(smp.init_state(n, seed=s_init), seed=s_run)
        state, _ = smp.run(state, 1)
        return np.asarray(state.spins)
    n_chains = min(n, 64) if n_chains is None else n_chains
    smp = make_sampler("sw", model)
    state = smp.start(smp.init_state(n_chains, seed=s_init), seed=s_run)
    state, _ = smp.run(state, 200)
    out, _, _ = smp.record(state, -(-n // n_chains), thin=2)
    return out.reshape(-1, *shape)[:n]
