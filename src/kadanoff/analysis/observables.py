"""Observables of batches of 2D / 1D spin configurations, with Monte Carlo error bars.

Configurations are ``(n, L, L)`` (2D torus) or ``(n, N)`` (ring), ±1 values of any numeric dtype
(reconstructions may be real-valued means in [-1, 1]; the formulas still apply).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "energy_per_site",
    "abs_magnetization_per_site",
    "correlation_function",
    "Estimate",
    "estimate",
    "summary",
]


def _as_float(spins: np.ndarray) -> np.ndarray:
    x = np.asarray(spins, dtype=np.float64)
    if x.ndim not in (2, 3):
        raise ValueError(f"expected configurations of shape (n, N) or (n, L, L), got {x.shape}")
    return x


def energy_per_site(spins: np.ndarray, K: float = 1.0) -> np.ndarray:
    """``H(v) / N = -K sum_<ij> v_i v_j / N`` on the periodic lattice, shape ``(n,)``.

    With ``K = 1`` this is minus the nearest-neighbour bond average per site (2 bonds/site in 2D).
    """
    x = _as_float(spins)
    axes = tuple(range(1, x.ndim))
    bonds = sum(np.sum(x * np.roll(x, -1, axis=a), axis=axes) for a in axes)
    return -K * bonds / np.prod(x.shape[1:])


def abs_magnetization_per_site(spins: np.ndarray) -> np.ndarray:
    """``|sum_i v_i| / N`` per configuration, shape ``(n,)``."""
    x = _as_float(spins)
    return np.abs(x.reshape(len(x), -1).mean(axis=1))


def correlation_function(spins: np.ndarray) -> np.ndarray:
    """Spin-spin correlation ``G(r) = <v_x v_{x+r}>`` along the lattice axes.

    Averaged over sites, over both axes in 2D, and over configurations; ``r = 0..L/2``.
    Returns shape ``(L//2 + 1,)``. Computed by FFT (periodic boundaries).
    """
    x = _as_float(spins)
    if x.ndim == 2:
        f = np.fft.rfft(x, axis=1)
        c = np.fft.irfft(f * np.conj(f), n=x.shape[1], axis=1) / x.shape[1]
        g = c.mean(axis=0)
    else:
        f = np.fft.rfft2(x)
        c = np.fft.irfft2(f * np.conj(f), s=x.shape[1:]) / (x.shape[1] * x.shape[2])
        cm = c.mean(axis=0)
        g = 0.5 * (cm[:, 0] + cm[0, :])
    return g[: x.shape[1] // 2 + 1]


@dataclass(frozen=True)
class Estimate:
    """A mean with its standard error (from independent samples)."""

    mean: float
    stderr: float

    def z(self, exact: float) -> float:
        """How many standard errors ``exact`` lies from the estimate."""
        return (self.mean - exact) / self.stderr if self.stderr > 0 else float("inf")

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "stderr": self.stderr}


def estimate(values: np.ndarray) -> Estimate:
    """Mean and standard error of effectively independent values, shape ``(n,)``."""
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2:
        raise ValueError("need at least two values for an error bar")
    return Estimate(float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)))


def summary(spins: np.ndarray, K: float) -> dict[str, object]:
    """Energy per site, ``|m|``, specific heat per site and ``G(r)`` of effectively independent
    configurations, with standard errors (specific heat by jackknife)."""
    from ..stats import jackknife

    e = energy_per_site(spins, K)
    n_sites = int(np.prod(np.shape(spins)[1:]))
    c, c_err = jackknife(lambda x: n_sites * float(np.var(x)), e, n_blocks=min(50, len(e)))
    return {
        "energy_per_site": estimate(e).as_dict(),
        "abs_magnetization": estimate(abs_magnetization_per_site(spins)).as_dict(),
        "specific_heat_per_site": {"mean": c, "stderr": c_err},
        "correlation": correlation_function(spins).tolist(),
    }
