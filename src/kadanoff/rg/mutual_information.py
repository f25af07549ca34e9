"""Mutual information between a block's coarse variable and its environment (theory.md 7).

The mutual-information rule (Koch-Janusz & Ringel, Nature Physics 14, 578, 2018) scores a block
filter ``p(h | v_V)`` (``h = ±1``, ``v_V`` the ``b^d`` spins of a block ``V``) by ``I(H : E)``,
``E`` the environment: the sites at Chebyshev distance ``buffer < d <= buffer + width`` from the
block on a periodic chain or torus, with the ``buffer`` shells between them traced out. Three
ways to compute it for the nearest-neighbour Ising model ``H(v) = -K sum_<ij> v_i v_j``:

- :func:`exact_mutual_information`: enumeration of the whole lattice (<= 24 sites);
- :func:`mutual_information_estimate`: from Monte Carlo samples with the *exact* conditional of
  the region ``R`` (block plus buffer) given its outer boundary ``dR`` (a subset of ``E`` that
  screens ``R`` from the rest, so ``p(v_V | E) = p(v_V | dR)``). With
  ``P_n(u) = p(v_V = u | dR_n)`` (:func:`block_conditionals`, enumeration of the ``2^|R|``
  region states) and ``p_n = P_n . q`` (``q(u) = p(h = +1 | u)``, a filter table),
  ``I = H_b(<p_n>) - <H_b(p_n)>``, a low-variance estimator with jackknife errors;
- :func:`barber_agakov_bound`: the model-free variational lower bound
  ``I >= H(H) + <sum_h p(h|v) ln q(h|e)>`` with a logistic critic ``q`` fitted on samples.

Filter tables ``q`` (shape ``(2^|V|,)``, block states in :func:`kadanoff.spins.all_states`
order, block sites row-major) come from :func:`filter_table`, :func:`majority_table` and
:func:`decimation_table`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from ..spins import all_states, check_spins, state_index
from ..stats import jackknife

__all__ = [
    "BlockGeometry",
    "block_geometry",
    "filter_table",
    "majority_table",
    "decimation_table",
    "binary_entropy",
    "exact_mutual_information",
    "block_conditionals",
    "mutual_information_from_conditionals",
    "mutual_information_estimate",
    "mutual_information_difference",
    "barber_agakov_bound",
]

#: largest region (block plus buffer) whose states :func:`block_conditionals` enumerates
MAX_REGION_SITES = 16


@dataclass(frozen=True)
class BlockGeometry:
    """A block ``V`` at the origin, its region ``R``, boundary ``dR`` and environment ``E``.

    Flat row-major site indices of a lattice of ``shape`` (``(N,)`` ring or ``(L, L)`` torus):
    ``block`` (``b^d``, row-major within the block), ``region`` (block sites first, then the
    buffer), ``boundary`` (sites outside ``R`` with a nearest neighbour in ``R``), ``environment``
    (``buffer < d <= buffer + width``). ``inner_bonds``: ``(m, 2)`` pairs of positions in
    ``region``; ``coupling``: ``(|R|, |dR|)`` number of bonds between region and boundary sites.
    """

    shape: tuple[int, ...]
    b: int
    buffer: int
    width: int
    block: np.ndarray
    region: np.ndarray
    boundary: np.ndarray
    environment: np.ndarray
    inner_bonds: np.ndarray
    coupling: np.ndarray

    def shifted(self, sites: np.ndarray, offset: Sequence[int]) -> np.ndarray:
        """Flat indices ``sites`` translated by ``offset`` (one entry per axis), periodically."""
        coords = np.array(np.unravel_index(sites, self.shape))
        moved = (coords + np.asarray(offset)[:, None]) % np.asarray(self.shape)[:, None]
        return np.ravel_multi_index(tuple(moved), self.shape)

    def placements(self) -> list[tuple[int, ...]]:
        """Offsets of the ``(L/b)^d`` non-overlapping blocks tiling the lattice."""
        grids = np.meshgrid(*[np.arange(0, n, self.b) for n in self.shape], indexing="ij")
        return [tuple(int(g) for g in p) for p in np.stack(grids, -1).reshape(-1, len(self.shape))]


def _neighbours(flat: int, shape: tuple[int, ...]) -> list[int]:
    c = np.unravel_index(flat, shape)
    out = []
    for ax, n in enumerate(shape):
        for step in (-1, 1):
            d = list(c)
            d[ax] = (d[ax] + step) % n
            out.append(int(np.ravel_multi_index(tuple(d), shape)))
    return out


def block_geometry(
    shape: Sequence[int], b: int, *, buffer: int = 0, width: int = 1
) -> BlockGeometry:
    """The :class:`BlockGeometry` of a ``b^d`` block at the origin of a ring or torus."""
    shape = tuple(int(n) for n in shape)
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[0] != shape[1]):
        raise ValueError(f"shape must be (N,) or (L, L), got {shape}")
    if b < 1 or buffer < 0 or width < 1:
        raise ValueError(f"need b >= 1, buffer >= 0, width >= 1; got {b}, {buffer}, {width}")
    if b + 2 * (buffer + width) > shape[0]:
        raise ValueError(
            f"a block of {b} with buffer {buffer} and width {width} does not fit on side "
            f"{shape[0]}: need b + 2 (buffer + width) <= {shape[0]}"
        )
    n = shape[0]
    axis = np.arange(n)
    # distance along one axis from the interval [0, b - 1]
    dist = np.where(axis < b, 0, np.minimum(axis - (b - 1), n - axis))
    d = dist if len(shape) == 1 else np.maximum(dist[:, None], dist[None, :])
    d = d.reshape(-1)
    block = np.flatnonzero(d == 0)
    buffer_sites = np.flatnonzero((d > 0) & (d <= buffer))
    region = np.concatenate([block, buffer_sites])
    in_region = set(region.tolist())
    boundary = sorted({j for i in region for j in _neighbours(int(i), shape)} - in_region)
    pos = {int(s): k for k, s in enumerate(region)}
    bpos = {s: k for k, s in enumerate(boundary)}
    inner = set()
    coupling = np.zeros((len(region), len(boundary)), dtype=np.int64)
    for i in region:
        for j in _neighbours(int(i), shape):
            if j in pos:
                inner.add(tuple(sorted((pos[int(i)], pos[j]))))
            else:
                coupling[pos[int(i)], bpos[j]] += 1
    # a ring or torus of side 2 counts a bond twice through both neighbours; fine for n >= 3
    env = np.flatnonzero((d > buffer) & (d <= buffer + width))
    return BlockGeometry(
        shape, int(b), int(buffer), int(width), block, region,
        np.array(boundary, dtype=np.int64), env,
        np.array(sorted(inner), dtype=np.int64).reshape(-1, 2), coupling,
    )  # fmt: skip


def filter_table(weights: np.ndarray, bias: float = 0.0, *, mode: str = "sigmoid") -> np.ndarray:
    """``q(u) = p(h = +1 | u)`` of the filter ``(weights, bias)`` for every block state ``u``.

    ``"sigmoid"``: ``p(h | u) = exp(h x) / 2cosh(x)``, ``x = weights . u + bias``;
    ``"sign"``: ``h = sign(x)``, a tie (``|x| < 1e-12``) a fair coin. Shape ``(2^|V|,)``.
    """
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    x = all_states(len(w)).astype(np.float64) @ w + float(bias)
    if mode == "sigmoid":
        return special.expit(2.0 * x)
    if mode == "sign":
        return np.where(np.abs(x) < 1e-12, 0.5, (x > 0).astype(np.float64))
    raise ValueError(f"unknown filter mode {mode!r}: choose 'sigmoid' or 'sign'")


def majority_table(n_block: int) -> np.ndarray:
    """Majority rule of ``n_block`` spins with fair random ties, as a filter table."""
    return filter_table(np.ones(n_block), 0.0, mode="sign")


def decimation_table(n_block: int) -> np.ndarray:
    """Decimation (``h`` = the block's first spin) as a filter table."""
    w = np.zeros(n_block)
    w[0] = 1.0
    return filter_table(w, 0.0, mode="sign")


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """``-p ln p - (1 - p) ln(1 - p)`` in nats, elementwise (0 at p = 0, 1)."""
    p = np.asarray(p, dtype=np.float64)
    return special.entr(p) + special.entr(1.0 - p)


def _check_table(table: np.ndarray, geom: BlockGeometry) -> np.ndarray:
    q = np.asarray(table, dtype=np.float64).reshape(-1)
    if q.shape != (2 ** len(geom.block),) or np.any((q < 0) | (q > 1)):
        raise ValueError(
            f"the filter table must hold 2^{len(geom.block)} probabilities in [0, 1], got "
            f"shape {q.shape}; build it with filter_table"
        )
    return q


def exact_mutual_information(K: float, geom: BlockGeometry, table: np.ndarray) -> float:
    """``I(H : E)`` in nats by enumerating every state of the ring or torus (<= 24 sites).

    See theory.md 7.
    """
    q = _check_table(table, geom)
    N = int(np.prod(geom.shape))
    s = all_states(N)
    grid = s.reshape(-1, *geom.shape).astype(np.int64)
    bonds = sum(np.sum(grid * np.roll(grid, -1, axis=ax + 1), axis=tuple(range(1, grid.ndim)))
                for ax in range(len(geom.shape)))  # fmt: skip
    logw = float(K) * bonds
    p = np.exp(logw - logw.max())
    p /= p.sum()
    ph = p * q[state_index(s[:, geom.block])]  # p(x, h = +1)
    e = state_index(s[:, geom.environment])
    pe = np.bincount(e, weights=p, minlength=2 ** len(geom.environment))
    pe_plus = np.bincount(e, weights=ph, minlength=len(pe))
    ok = pe > 0
    h_given_e = np.sum(pe[ok] * binary_entropy(pe_plus[ok] / pe[ok]))
    return float(binary_entropy(pe_plus.sum()) - h_given_e)


def _region_stats(geom: BlockGeometry) -> tuple[np.ndarray, np.ndarray]:
    nR = len(geom.region)
    if nR > MAX_REGION_SITES:
        raise ValueError(
            f"the region (block plus buffer) has {nR} sites, at most {MAX_REGION_SITES} are "
            "enumerated: use a smaller block or buffer"
        )
    s = all_states(nR).astype(np.float64)
    if len(geom.inner_bonds):
        inner = np.sum(s[:, geom.inner_bonds[:, 0]] * s[:, geom.inner_bonds[:, 1]], axis=1)
    else:
        inner = np.zeros(len(s))
    return s, inner


def block_conditionals(
    samples: np.ndarray, K: float, geom: BlockGeometry, *, all_blocks: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``P[m, u] = p(v_V = u | dR)`` for every block of every sample (theory.md 7).

    ``samples``: ``(n, *geom.shape)`` ±1. Enumerates the ``2^|R|`` region states with the
    boundary's local field ``K * coupling . v_dR``. With ``all_blocks`` every block of the tiling
    (:meth:`BlockGeometry.placements`) counts. Returns ``P`` ``(n * blocks, 2^|V|)`` and the
    sample index of each row ``(n * blocks,)``.
    """
    v = check_spins(samples, "samples")
    if tuple(v.shape[1:]) != geom.shape:
        raise ValueError(f"samples must have shape (n, {geom.shape}), got {v.shape}")
    flat = v.reshape(len(v), -1)
    offsets = geom.placements() if all_blocks else [(0,) * len(geom.shape)]
    bnd = np.stack([flat[:, geom.shifted(geom.boundary, o)] for o in offsets], axis=1)
    bnd = bnd.reshape(-1, len(geom.boundary))
    owner = np.repeat(np.arange(len(v)), len(offsets))
    uniq, inverse = np.unique(bnd, axis=0, return_inverse=True)
    s, inner = _region_stats(geom)
    nV, nR = len(geom.block), len(geom.region)
    out = np.empty((len(uniq), 2**nV))
    chunk = max(1, (1 << 22) // len(s))
    for a in range(0, len(uniq), chunk):
        fields = float(K) * (uniq[a : a + chunk].astype(np.float64) @ geom.coupling.T)
        logw = float(K) * inner[None, :] + fields @ s.T
        w = np.exp(logw - logw.max(axis=1, keepdims=True))
        w = w.reshape(len(w), 2**nV, 2 ** (nR - nV)).sum(axis=2)
        out[a : a + chunk] = w / w.sum(axis=1, keepdims=True)
    return out[inverse.reshape(-1)], owner


def mutual_information_from_conditionals(
    P: np.ndarray, table: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """``H_b(<p>) - <H_b(p)>`` with ``p = P . q``; ``weights`` (default uniform) weight the rows."""
    p = np.asarray(P) @ np.asarray(table, dtype=np.float64)
    w = np.full(len(p), 1.0 / len(p)) if weights is None else np.asarray(weights) / np.sum(weights)
    return float(binary_entropy(w @ p) - w @ binary_entropy(p))


def _per_sample(P: np.ndarray, owner: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Per-sample means of ``p`` and ``H_b(p)`` over the sample's blocks: ``(n, 2)``."""
    p = np.asarray(P) @ np.asarray(table, dtype=np.float64)
    n = int(owner.max()) + 1
    per = np.zeros((n, 2))
    np.add.at(per[:, 0], owner, p)
    np.add.at(per[:, 1], owner, binary_entropy(p))
    return per / np.bincount(owner, minlength=n).astype(np.float64)[:, None]


def _mi_of_means(x: np.ndarray) -> float:
    m = x.mean(axis=0)
    return float(binary_entropy(m[0]) - m[1])


def mutual_information_estimate(
    P: np.ndarray, owner: np.ndarray, table: np.ndarray, *, n_blocks: int = 20
) -> tuple[float, float]:
    """Jackknife estimate and error of ``I(H : E)`` from :func:`block_conditionals` output.

    Blocks of consecutive samples (``owner`` order); needs at least ``n_blocks`` samples.
    """
    per = _per_sample(P, owner, table)
    return jackknife(_mi_of_means, per, n_blocks=min(n_blocks, len(per)))


def mutual_information_difference(
    P: np.ndarray,
    owner: np.ndarray,
    table_a: np.ndarray,
    table_b: np.ndarray,
    *,
    n_blocks: int = 20,
) -> tuple[float, float]:
    """``I_a - I_b`` of two filters on the same samples, with its (paired) jackknife error."""
    per = np.hstack([_per_sample(P, owner, table_a), _per_sample(P, owner, table_b)])

    def diff(x: np.ndarray) -> float:
        return _mi_of_means(x[:, :2]) - _mi_of_means(x[:, 2:])

    return jackknife(diff, per, n_blocks=min(n_blocks, len(per)))


def _critic_features(samples: np.ndarray, geom: BlockGeometry, offsets) -> np.ndarray:
    flat = check_spins(samples, "samples").reshape(len(samples), -1)
    env = np.stack([flat[:, geom.shifted(geom.environment, o)] for o in offsets], axis=1)
    return env.reshape(-1, len(geom.environment)).astype(np.float64)


def barber_agakov_bound(
    train: np.ndarray,
    test: np.ndarray,
    geom: BlockGeometry,
    table: np.ndarray,
    *,
    n_blocks: int = 20,
    l2: float = 1e-3,
) -> tuple[float, float]:
    """Barber-Agakov lower bound on ``I(H : E)`` and its jackknife error, model-free.

    ``q(h | e) = exp(h y) / 2cosh y``, ``y = a . e + d`` (a logistic critic on the environment
    spins) is fitted on ``train`` (soft labels ``p(h | v_V)``, L2 penalty ``l2``); the bound
    ``H_b(<p>) + <p ln q(+|e) + (1 - p) ln q(-|e)>`` is evaluated on the independent ``test``
    samples, so its expectation is <= the exact ``I`` for any critic.
    """
    q = _check_table(table, geom)
    offsets = geom.placements()

    def data(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flat = check_spins(x, "samples").reshape(len(x), -1)
        blocks = np.stack([flat[:, geom.shifted(geom.block, o)] for o in offsets], axis=1)
        p = q[state_index(blocks.reshape(-1, len(geom.block)))]
        return _critic_features(x, geom, offsets), p

    X, p = data(train)
    X1 = np.hstack([X, np.ones((len(X), 1))])

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        y = 2.0 * X1 @ theta
        # -<p ln sigmoid(y) + (1 - p) ln sigmoid(-y)>
        val = np.mean(np.logaddexp(0.0, y) - p * y) + l2 * theta[:-1] @ theta[:-1]
        grad = 2.0 * X1.T @ (special.expit(y) - p) / len(y)
        grad[:-1] += 2 * l2 * theta[:-1]
        return float(val), grad

    theta = optimize.minimize(loss, np.zeros(X1.shape[1]), jac=True, method="L-BFGS-B").x
    Xt, pt = data(test)
    y = 2.0 * np.hstack([Xt, np.ones((len(Xt), 1))]) @ theta
    ll = -(np.logaddexp(0.0, -y) * pt + np.logaddexp(0.0, y) * (1 - pt))
    per = np.stack([pt, ll], axis=1).reshape(len(test), len(offsets), 2).mean(axis=1)

    def bound(x: np.ndarray) -> float:
        m = x.mean(axis=0)
        return float(binary_entropy(m[0]) + m[1])

    return jackknife(bound, per, n_blocks=min(n_blocks, len(test)))
