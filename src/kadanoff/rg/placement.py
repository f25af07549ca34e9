"""Hidden units placed on the coarse lattice by their receptive-field centres (theory.md 6, 7).

A dense DBN layer has no built-in geometry: hidden unit ``j`` only has a receptive field
``r_j`` on the fine ``L x L`` torus (a column of :meth:`kadanoff.dbn.DeepBeliefNetwork.
receptive_fields`). To read its hidden spins as a coarse lattice (the learned analogue of a
block spin), each unit gets

1. a **centre**: the circular mean of ``|r_j|`` along each torus axis,
   ``c = (L / 2 pi) arg sum_x |r_j(x)| exp(2 pi i x / L)`` (well defined on a torus, where an
   arithmetic mean of positions is not);
2. a **coarse site**: the optimal one-to-one assignment of units to the ideal ``Lc x Lc`` grid
   of block centres ``(X + 1/2) L / Lc - 1/2`` (``X b + (b - 1)/2`` for ``b = L / Lc``), which
   minimizes the summed torus (Euclidean, periodic) distances
   (:func:`scipy.optimize.linear_sum_assignment`).

**Switched off** (by the L1 penalty): a unit whose field has an L2 norm below
``off_threshold`` (default 0.1) times the largest field norm of the layer. Such a unit has no
meaningful centre; it is still assigned (every coarse site needs a unit) but is counted
separately. "Within one site": torus distance to the assigned grid point ``<= 1`` fine site.

**Orientation** (a gauge): flipping a hidden spin together with the sign of its weights leaves
a spin RBM unchanged, so a unit's sign is arbitrary. A block spin is positive when its block is;
the learned analogue is ``sign(sum_x r_j(x))`` (:attr:`Placement.signs`), which the DBN rule
multiplies into the coarse spins so that neighbouring coarse spins are comparable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from .._rng import SeedLike, make_rng

__all__ = [
    "Placement",
    "place_units",
    "receptive_field_centres",
    "ideal_grid",
    "torus_distance",
    "assign_centres",
    "random_within_one",
    "DEFAULT_OFF_THRESHOLD",
]

#: a unit is "switched off" when its field norm is below this fraction of the layer's largest
DEFAULT_OFF_THRESHOLD = 0.1


def _shape2(shape: Any, name: str) -> tuple[int, int]:
    s = tuple(int(x) for x in shape)
    if len(s) != 2 or min(s) < 1:
        raise ValueError(f"{name} must be a 2-D shape (rows, cols) of positive sizes, got {shape}")
    return s  # type: ignore[return-value]


def receptive_field_centres(fields: Any, fine_shape: tuple[int, int]) -> np.ndarray:
    """Circular-mean centres of ``|fields|`` on the torus ``fine_shape``.

    ``fields``: ``(n_fine, n_units)``, row-major sites (e.g. ``r^(l)``, theory.md 6). Returns
    ``(n_units, 2)`` float64 coordinates in ``[0, L)`` per axis (row, column). A field with
    no weight gets the centre ``(0, 0)``.
    """
    shape = _shape2(fine_shape, "fine_shape")
    r = np.abs(np.asarray(fields, dtype=np.float64))
    if r.ndim != 2 or r.shape[0] != shape[0] * shape[1]:
        raise ValueError(
            f"fields must have shape ({shape[0] * shape[1]}, n_units) for a {shape} lattice, "
            f"got {r.shape}"
        )
    r = r.reshape(shape[0], shape[1], -1)
    out = np.empty((r.shape[2], 2))
    for axis, L in enumerate(shape):
        marginal = r.sum(axis=1 - axis)  # (L, n_units)
        theta = 2.0 * np.pi * np.arange(L) / L
        z = np.exp(1j * theta) @ marginal
        out[:, axis] = np.mod(np.angle(z) * L / (2.0 * np.pi), L)
    return out


def ideal_grid(fine_shape: tuple[int, int], coarse_shape: tuple[int, int]) -> np.ndarray:
    """Block centres ``(X + 1/2) L / Lc - 1/2`` of the coarse lattice, ``(Lc_0 Lc_1, 2)``.

    Row-major in the coarse sites (site ``k = X * Lc_1 + Y``), in fine-lattice coordinates.
    """
    f, c = _shape2(fine_shape, "fine_shape"), _shape2(coarse_shape, "coarse_shape")
    if c[0] > f[0] or c[1] > f[1]:
        raise ValueError(f"coarse_shape {c} must not be larger than fine_shape {f}")
    X, Y = np.meshgrid(np.arange(c[0]), np.arange(c[1]), indexing="ij")
    return np.stack(
        [(X.ravel() + 0.5) * f[0] / c[0] - 0.5, (Y.ravel() + 0.5) * f[1] / c[1] - 0.5], axis=1
    )


def torus_distance(a: Any, b: Any, shape: tuple[int, int]) -> np.ndarray:
    """Euclidean distances on the periodic ``shape`` between points ``a (n, 2)`` and ``b (m, 2)``.

    Returns ``(n, m)`` float64; each axis difference is taken modulo the period, the shorter way.
    """
    s = np.asarray(_shape2(shape, "shape"), dtype=np.float64)
    d = np.abs(np.asarray(a, np.float64)[:, None, :] - np.asarray(b, np.float64)[None, :, :])
    d = np.mod(d, s)
    d = np.minimum(d, s - d)
    return np.sqrt((d**2).sum(-1))


def assign_centres(
    centres: Any, fine_shape: tuple[int, int], coarse_shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal one-to-one assignment of centres ``(n, 2)`` to the ideal grid (torus distances).

    Returns ``(site_of_unit (n,) int64, distance (n,) float64)``; ``n = prod(coarse_shape)``.
    """
    c = np.asarray(centres, dtype=np.float64)
    grid = ideal_grid(fine_shape, coarse_shape)
    if c.shape != grid.shape:
        raise ValueError(f"need {grid.shape[0]} centres of shape (n, 2), got {c.shape}")
    cost = torus_distance(c, grid, fine_shape)
    units, sites = linear_sum_assignment(cost)
    site_of_unit = np.empty(len(c), dtype=np.int64)
    site_of_unit[units] = sites
    return site_of_unit, cost[np.arange(len(c)), site_of_unit]


def random_within_one(
    fine_shape: tuple[int, int], coarse_shape: tuple[int, int], *, seed: SeedLike, n_draws: int = 20
) -> float:
    """Reference: the within-one-site share for uniformly random centres, mean of ``n_draws``.

    At ``b = 2`` most points of the torus lie within one site of a grid point, so a share means
    little unless it beats this baseline.
    """
    f = _shape2(fine_shape, "fine_shape")
    n = int(np.prod(_shape2(coarse_shape, "coarse_shape")))
    rng = make_rng(seed)
    shares = [
        np.mean(assign_centres(rng.random((n, 2)) * np.array(f), f, coarse_shape)[1] <= 1.0)
        for _ in range(n_draws)
    ]
    return float(np.mean(shares))


@dataclass(frozen=True)
class Placement:
    """Where the hidden units of one layer sit on the coarse lattice (theory.md 7).

    Attributes
    ----------
    permutation : (n_coarse,) int64
        ``permutation[k]`` is the hidden unit placed at coarse site ``k`` (row-major), so
        ``h[:, permutation]`` reorders hidden spins onto the coarse lattice.
    site_of_unit : (n_units,) int64
        The inverse: the coarse site of unit ``j``.
    centres : (n_units, 2) float64
        Receptive-field centres (fine-lattice coordinates).
    distances : (n_units,) float64
        Torus distance of each unit's centre to its assigned grid point (fine sites).
    active : (n_units,) bool
        ``False`` for units switched off (field norm below ``off_threshold`` x the largest).
    signs : (n_units,) int8
        Orientation of each unit, ``sign(sum_x r_j(x))`` (+1 for a zero sum).
    fine_shape, coarse_shape : tuple
    off_threshold : float
    """

    permutation: np.ndarray
    site_of_unit: np.ndarray
    centres: np.ndarray
    distances: np.ndarray
    active: np.ndarray
    fine_shape: tuple[int, int]
    coarse_shape: tuple[int, int]
    off_threshold: float
    signs: np.ndarray

    @property
    def placed_signs(self) -> np.ndarray:
        """Orientations in coarse-site order, ``signs[permutation]`` (int8) (theory.md 7).

        See theory.md 7.
        """
        return self.signs[self.permutation]

    @property
    def n_units(self) -> int:
        """Number of hidden units placed (theory.md 7)."""
        return int(self.permutation.shape[0])

    @property
    def within_one(self) -> float:
        """Share of all units within one fine site of their grid point (theory.md 7)."""
        return float(np.mean(self.distances <= 1.0))

    @property
    def within_one_active(self) -> float:
        """The same share among the units not switched off (nan if none is active) (theory.md 7)."""
        return float(np.mean(self.distances[self.active] <= 1.0)) if self.active.any() else np.nan

    @property
    def switched_off(self) -> int:
        """Number of units switched off (field norm below the threshold) (theory.md 7)."""
        return int(np.sum(~self.active))

    @property
    def mean_distance(self) -> float:
        """Mean distance to the assigned grid point over active units (fine sites) (theory.md 7)."""
        return float(np.mean(self.distances[self.active])) if self.active.any() else np.nan

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers: units, within-one shares, switched-off count, mean distance.

        See theory.md 7.
        """
        return {
            "n_units": self.n_units,
            "within_one": self.within_one,
            "within_one_active": self.within_one_active,
            "switched_off": self.switched_off,
            "mean_distance": self.mean_distance,
            "off_threshold": self.off_threshold,
            "coarse_shape": list(self.coarse_shape),
        }


def place_units(
    fields: Any,
    fine_shape: tuple[int, int],
    coarse_shape: tuple[int, int],
    *,
    off_threshold: float = DEFAULT_OFF_THRESHOLD,
) -> Placement:
    """Assign hidden units to the coarse grid by their receptive-field centres (theory.md 7).

    Parameters
    ----------
    fields : (n_fine, n_units)
        Receptive fields on the fine torus (row-major sites), ``n_units = prod(coarse_shape)``.
    fine_shape, coarse_shape : the fine torus and the coarse lattice, e.g. (40, 40), (20, 20).
    off_threshold : a unit with ``||r_j||_2 < off_threshold * max_k ||r_k||_2`` is switched off.
    """
    f, c = _shape2(fine_shape, "fine_shape"), _shape2(coarse_shape, "coarse_shape")
    r = np.asarray(fields, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] != c[0] * c[1]:
        raise ValueError(
            f"fields must have one column per coarse site ({c[0] * c[1]} for {c}), got {r.shape}"
        )
    if not 0.0 <= off_threshold < 1.0:
        raise ValueError(f"off_threshold must lie in [0, 1), got {off_threshold}")
    centres = receptive_field_centres(r, f)
    site_of_unit, distances = assign_centres(centres, f, c)
    permutation = np.empty_like(site_of_unit)
    permutation[site_of_unit] = np.arange(r.shape[1])
    norms = np.sqrt((r**2).sum(axis=0))
    top = norms.max() if norms.size else 0.0
    active = norms >= off_threshold * top if top > 0 else np.zeros(r.shape[1], dtype=bool)
    return Placement(
        permutation=permutation,
        site_of_unit=site_of_unit,
        centres=centres,
        distances=distances,
        active=active,
        fine_shape=f,
        coarse_shape=c,
        off_threshold=float(off_threshold),
        signs=np.where(r.sum(axis=0) < 0, -1, 1).astype(np.int8),
    )
