"""Monte Carlo statistics: integrated autocorrelation time, effective sample size, errors.

The autocorrelation estimator is Sokal's windowed one (as in emcee): with the normalized
autocorrelation function ``rho(t)`` computed by FFT, ``tau(M) = 1 + 2 sum_{t=1}^{M} rho(t)``
and the window ``M`` is the smallest with ``M >= c tau(M)``. Here ``tau`` is the
*integrated* time in units of the series' spacing: the variance of the mean of ``n``
correlated samples is ``tau * var / n``, i.e. ``n_eff = n / tau``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "autocorrelation_function",
    "integrated_time",
    "AutocorrelationEstimate",
    "mean_error",
    "jackknife",
]


def autocorrelation_function(x: np.ndarray) -> np.ndarray:
    """Normalized autocorrelation ``rho(t)`` of a series (or of each column), ``rho(0) = 1``.

    Shape ``(n,) -> (n,)`` or ``(n, k) -> (n, k)``.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 samples for an autocorrelation, got {n}")
    y = x - x.mean(axis=0)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(y, n=size, axis=0)
    acf = np.fft.irfft(f * np.conj(f), n=size, axis=0)[:n]
    var = acf[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(var > 0, acf / np.where(var > 0, var, 1.0), 0.0)
    if np.ndim(out) == 1 and var == 0:
        out[0] = 1.0
    return out


@dataclass(frozen=True)
class AutocorrelationEstimate:
    """``tau``: integrated autocorrelation time; ``window``: the summation window ``M``;
    ``reliable``: whether the series is long enough (``n > 50 tau``, emcee's rule)."""

    tau: float
    window: int
    n: int

    @property
    def reliable(self) -> bool:
        return self.n > 50 * self.tau

    @property
    def n_effective(self) -> float:
        return self.n / self.tau


def integrated_time(x: np.ndarray, *, c: float = 5.0) -> AutocorrelationEstimate:
    """Integrated autocorrelation time of a 1D series by Sokal's adaptive window.

    A constant series has ``tau = 1`` by convention (its mean has no error).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"integrated_time takes a 1D series, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("series contains non-finite values")
    rho = autocorrelation_function(x)
    taus = 2.0 * np.cumsum(rho) - 1.0  # tau(M) = 1 + 2 sum_{t=1}^{M} rho(t)
    m = np.arange(len(taus))
    ok = m >= c * taus
    window = int(np.argmax(ok)) if np.any(ok) else len(taus) - 1
    tau = float(max(taus[window], 1.0))
    return AutocorrelationEstimate(tau=tau, window=window, n=len(x))


def mean_error(x: np.ndarray, *, tau: float | None = None) -> tuple[float, float]:
    """Mean of a correlated series and its standard error ``sqrt(tau var / n)``.

    ``tau`` defaults to :func:`integrated_time` of ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    if tau is None:
        tau = integrated_time(x).tau
    return float(x.mean()), float(np.sqrt(tau * x.var(ddof=1) / len(x)))


def jackknife(
    func: Callable[[np.ndarray], float], x: np.ndarray, *, n_blocks: int = 50
) -> tuple[float, float]:
    """Blocked jackknife estimate and error of ``func(x)`` for a correlated series.

    Blocks should be much longer than the autocorrelation time. ``x`` has samples on
    axis 0; ``func`` maps such an array to a number (e.g. a specific heat from energies).
    """
    x = np.asarray(x)
    n = (len(x) // n_blocks) * n_blocks
    if n_blocks < 2 or n == 0:
        raise ValueError(f"need at least n_blocks={n_blocks} >= 2 samples, got {len(x)}")
    blocks = np.array_split(x[:n], n_blocks)
    full = float(func(x[:n]))
    loo = np.array(
        [func(np.concatenate(blocks[:i] + blocks[i + 1 :])) for i in range(n_blocks)], float
    )
    mean_loo = loo.mean()
    err = float(np.sqrt((n_blocks - 1) / n_blocks * np.sum((loo - mean_loo) ** 2)))
    return n_blocks * full - (n_blocks - 1) * mean_loo, err
