"""Quantifying receptive fields: size, shape, tiling and sparsity (theory.md section 6).

A layer's effective receptive fields are the columns of ``r^(l)`` (shape ``(n_visible, n_l)``,
``r^(1) = W^(1)``, ``r^(l) = r^(l-1) W^(l)``); on an ``L x L`` torus each column is reshaped to
``(L, L)``. Distances use the minimal image on the torus; centres are circular means.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "field_centres",
    "radius_of_gyration",
    "participation_ratio",
    "core_mask",
    "core_area",
    "core_radius",
    "hoyer_sparsity",
    "tiling",
    "field_metrics",
]


def _fields(r: np.ndarray, L: int) -> np.ndarray:
    r = np.asarray(r, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] != L * L:
        raise ValueError(f"receptive fields must have shape ({L * L}, n_units), got {r.shape}")
    return r.T.reshape(-1, L, L)


def field_centres(r: np.ndarray, L: int) -> np.ndarray:
    """Centre ``(x, y)`` of each field, the circular mean of ``r_j^2`` on the torus, ``(n, 2)``."""
    w = _fields(r, L) ** 2
    theta = 2 * np.pi * np.arange(L) / L
    out = np.empty((len(w), 2))
    for axis in (0, 1):
        marginal = w.sum(axis=2 - axis)  # (n, L): weight on each row (axis 0) / column (axis 1)
        c = marginal @ np.cos(theta)
        s = marginal @ np.sin(theta)
        out[:, axis] = (np.arctan2(s, c) % (2 * np.pi)) * L / (2 * np.pi)
    return out


def _torus_delta(a: np.ndarray, L: int) -> np.ndarray:
    return (a + L / 2) % L - L / 2


def radius_of_gyration(r: np.ndarray, L: int) -> np.ndarray:
    """``R_g = sqrt(sum r^2 d^2 / sum r^2)`` about each field's centre, ``(n_units,)``.

    ``d`` is the minimal-image distance on the torus. Weighting by ``r^2`` (as the participation
    ratio does) keeps a weak noisy background from dominating. A single site gives 0; a uniform
    field gives ``L / sqrt 6`` (about 0.41 L).
    """
    w = _fields(r, L) ** 2
    c = field_centres(r, L)
    x = np.arange(L, dtype=np.float64)
    dx = _torus_delta(x[None, :] - c[:, 0:1], L)  # (n, L)
    dy = _torus_delta(x[None, :] - c[:, 1:2], L)
    d2 = dx[:, :, None] ** 2 + dy[:, None, :] ** 2
    total = w.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt((w * d2).sum(axis=(1, 2)) / total)


def core_mask(r: np.ndarray, fraction: float = 0.5) -> np.ndarray:
    """Each field's core, ``(n_sites, n_units)`` bool: the sites with the largest ``r^2`` that
    together hold ``fraction`` of ``sum r^2`` (sites tied with the last one included, so a
    uniform block is its own core). Insensitive to a weak background spread over the lattice."""
    r2 = np.asarray(r, dtype=np.float64) ** 2
    ordered = -np.sort(-r2, axis=0)
    cum = np.cumsum(ordered, axis=0)
    n_core = (cum < fraction * cum[-1:]).sum(axis=0)  # index of the site that crosses it
    threshold = np.take_along_axis(ordered, n_core[None, :], axis=0)
    return r2 >= threshold * (1 - 1e-12)


def core_area(r: np.ndarray, fraction: float = 0.5) -> np.ndarray:
    """Number of sites in each field's core (:func:`core_mask`), ``(n_units,)``."""
    return core_mask(r, fraction).sum(axis=0)


def core_radius(r: np.ndarray, L: int, fraction: float = 0.5) -> np.ndarray:
    """Radius of gyration of each field's core (weights ``r^2`` on the core sites only)."""
    r = np.asarray(r, dtype=np.float64)
    return radius_of_gyration(np.where(core_mask(r, fraction), r, 0.0), L)


def participation_ratio(r: np.ndarray) -> np.ndarray:
    """``(sum r^2)^2 / sum r^4`` per field: the number of sites it effectively covers."""
    r = np.asarray(r, dtype=np.float64)
    r2 = r**2
    with np.errstate(invalid="ignore", divide="ignore"):
        return r2.sum(axis=0) ** 2 / (r2**2).sum(axis=0)


def hoyer_sparsity(r: np.ndarray) -> np.ndarray:
    """Hoyer's sparsity ``(sqrt n - |r|_1/|r|_2) / (sqrt n - 1)`` per field: 0 dense, 1 one site."""
    r = np.asarray(r, dtype=np.float64)
    n = r.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.abs(r).sum(axis=0) / np.sqrt((r**2).sum(axis=0))
    return (np.sqrt(n) - ratio) / (np.sqrt(n) - 1)


def tiling(centres: np.ndarray, L: int) -> dict[str, float]:
    """How evenly field centres tile the torus.

    Returns ``coverage_radius`` (mean distance from a lattice site to the nearest centre) relative
    to that of an ideal square grid with the same number of centres (``coverage_ratio``, 1 is ideal,
    larger is worse) and the coefficient of variation of nearest-neighbour distances between centres
    (``nn_cv``: 0 for a perfect grid, about 0.52 for uniformly random points).
    """
    c = np.asarray(centres, dtype=np.float64)
    n = len(c)
    x = np.arange(L, dtype=np.float64)
    sites = np.stack(np.meshgrid(x, x, indexing="ij"), -1).reshape(-1, 2)

    def nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
        d = _torus_delta(points[:, None, :] - centres[None, :, :], L)
        return np.sqrt((d**2).sum(-1))

    cover = nearest(sites, c).min(axis=1).mean()
    k = max(1, int(round(np.sqrt(n))))
    g = (np.arange(k) + 0.5) * L / k - 0.5  # cell centres, as the centre of a block of sites
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    ideal = nearest(sites, grid).min(axis=1).mean()
    out = {"coverage_radius": float(cover), "coverage_ratio": float(cover / ideal)}
    if n > 1:
        d = nearest(c, c)
        np.fill_diagonal(d, np.inf)
        nn = d.min(axis=1)
        out["nn_cv"] = float(nn.std() / nn.mean()) if nn.mean() > 0 else float("nan")
    return out


def field_metrics(
    r: np.ndarray, L: int, *, negligible: float = 1e-2, local_radius: float | None = None
) -> dict[str, float]:
    """Summary of one layer's fields ``r`` (``(L*L, n_units)``).

    A field's *core* is the fewest sites holding half its weight ``sum r^2``; a unit is
    *localized* when its core's radius of gyration is below ``local_radius`` (default
    ``L / 8``). Returns the number of units, the localized fraction, medians over units of the
    core area and core radius (over localized units: ``localized_radius``), of the radius of
    gyration and participation ratio of the whole field and of Hoyer's sparsity, the fraction of
    weights below ``negligible`` times the layer's largest ``|r|``, and :func:`tiling` of the
    centres of the localized units (all units if fewer than two are localized). A noise-like
    field spread over the torus has radius about ``L / sqrt 6 = 0.41 L``.
    """
    r = np.asarray(r, dtype=np.float64)
    core_r = core_radius(r, L)
    cut = L / 8 if local_radius is None else local_radius
    local = core_r < cut
    out = {
        "n_units": int(r.shape[1]),
        "localized_fraction": float(np.mean(local)),
        "localized_radius": float(np.median(core_r[local])) if local.any() else float("nan"),
        "core_area": float(np.median(core_area(r))),
        "core_radius": float(np.median(core_r)),
        "radius_of_gyration": float(np.nanmedian(radius_of_gyration(r, L))),
        "participation_ratio": float(np.nanmedian(participation_ratio(r))),
        "hoyer_sparsity": float(np.nanmedian(hoyer_sparsity(r))),
        "negligible_fraction": float(np.mean(np.abs(r) < negligible * np.abs(r).max())),
    }
    centres = field_centres(np.where(core_mask(r), r, 0.0), L)
    out.update(tiling(centres[local] if local.sum() > 1 else centres, L))
    return out
