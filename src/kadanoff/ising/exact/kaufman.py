"""2D finite ``m x n`` torus at zero field: Kaufman (1949) in log space, analytic derivatives."""

from __future__ import annotations

import math

import numpy as np

from ._numeric import FloatOrArray, positive_K, scalar

__all__ = [
    "kaufman_log_partition",
    "kaufman_energy_per_site",
    "kaufman_specific_heat_per_site",
    "kaufman_derivatives",
]


def _log2cosh(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return a + np.log1p(np.exp(-2 * a))


def _log2sinh_abs(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return a + np.log(-np.expm1(-2 * a))


def _check_torus(L: int, n: int | None) -> tuple[int, int]:
    m = L
    n = L if n is None else n
    for name, v in (("L (rows m)", m), ("n (columns)", n)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2:
            raise ValueError(f"{name} must be an integer >= 2, got {v!r}")
    return int(m), int(n)


def kaufman_derivatives(
    L: int, K: FloatOrArray, *, n: int | None = None
) -> tuple[FloatOrArray, FloatOrArray, FloatOrArray]:
    """``(ln Z, d lnZ/dK, d^2 lnZ/dK^2)`` of the zero-field ``m x n`` torus (``m = L``).

    Kaufman (1949), theory.md section 8::

        Z = (1/2) (2 sinh 2K)^(mn/2) (Z1 + Z2 + Z3 + Z4),
        Z1 = prod_{r<n} 2 cosh(m g_{2r+1}/2),   Z2 = same with sinh,
        Z3 = prod_{r<n} 2 cosh(m g_{2r}/2),     Z4 = same with sinh,
        cosh g_l = cosh 2K coth 2K - cos(pi l / n) (l >= 1),  g_0 = 2K + ln tanh K.

    ``g_0`` keeps its sign (negative for ``K < K_c``, so ``Z4 < 0`` there and ``Z4 = 0`` at
    ``K_c``). Everything is done in log space with analytic derivatives of ``g_l``; the
    vanishing factor of ``Z4`` is treated apart so ``K = K_c`` is exact. ``K`` may be an array.
    """
    m, n = _check_torus(L, n)
    K_in = positive_K(K, "kaufman_log_partition")
    flat = K_in.reshape(-1)
    step = max(1, (1 << 20) // (2 * n))  # K values per chunk: arrays of about 1M entries
    parts = [_kaufman_core(m, n, flat[a : a + step]) for a in range(0, len(flat), step)]
    out = (np.concatenate([p[i] for p in parts]).reshape(K_in.shape) for i in range(3))
    log_z, d1, d2 = out
    return scalar(log_z), scalar(d1), scalar(d2)


def _kaufman_core(m: int, n: int, K: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kaufman's ``(ln Z, d lnZ/dK, d^2 lnZ/dK^2)`` for a 1D array of couplings."""
    K = K.reshape(-1, 1)
    s = np.sinh(2 * K)
    c = np.cosh(2 * K)
    # cosh g_l = s + 1/s - cos(theta_l)  =>  cosh g_l - 1 = (s-1)^2/s + 2 sin^2(theta_l/2)
    dc = 2 * c * (1 - 1 / s**2)  # d/dK (s + 1/s)
    ddc = 4 * s - 4 / s + 8 * c**2 / s**3
    theta = np.pi * np.arange(2 * n) / n
    d = (s - 1) ** 2 / s + 2 * np.sin(theta / 2) ** 2  # (k, 2n)
    sh = np.sqrt(d * (d + 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.log1p(d + sh)
        g1 = dc / sh
        g2 = (ddc - (1 + d) * g1**2) / sh
    # l = 0: the signed g_0
    g[:, 0] = (2 * K + np.log(np.tanh(K)))[:, 0]
    g1[:, 0] = (2 + 2 / s)[:, 0]
    g2[:, 0] = (-4 * c / s**2)[:, 0]
    x, x1, x2 = 0.5 * m * g, 0.5 * m * g1, 0.5 * m * g2
    odd, even = slice(1, None, 2), slice(0, None, 2)

    def cosh_terms(sl):
        t = np.tanh(x[:, sl])
        lnz = _log2cosh(x[:, sl]).sum(1)
        a = (t * x1[:, sl]).sum(1)
        b = ((1 - t * t) * x1[:, sl] ** 2 + t * x2[:, sl]).sum(1)
        return lnz, a, b

    def sinh_terms(sl):
        ct = 1 / np.tanh(x[:, sl])
        lnz = _log2sinh_abs(x[:, sl]).sum(1)
        a = (ct * x1[:, sl]).sum(1)
        b = ((1 - ct * ct) * x1[:, sl] ** 2 + ct * x2[:, sl]).sum(1)
        return lnz, a, b

    l1, a1, b1 = cosh_terms(odd)
    l2, a2, b2 = sinh_terms(odd)
    l3, a3, b3 = cosh_terms(even)
    # Z4 = S0 * R4 with S0 = 2 sinh(x_0) (may vanish) and R4 = prod_{r>=1} 2 sinh(x_{2r}) > 0
    lr, r1, r2 = sinh_terms(slice(2, None, 2))
    x0, x01, x02 = x[:, 0], x1[:, 0], x2[:, 0]
    e = np.exp(-2 * np.abs(x0))
    s_hat = -np.sign(x0) * np.expm1(-2 * np.abs(x0))  # 2 sinh(x0) e^{-|x0|}
    c_hat = 1 + e  # 2 cosh(x0) e^{-|x0|}
    l4 = np.abs(x0) + lr  # Z4 = exp(l4) * s_hat

    logs = np.stack([l1, l2, l3, l4])
    top = logs.max(0)
    rel = np.exp(logs - top)  # (4, k)
    total = rel[0] + rel[1] + rel[2] + rel[3] * s_hat
    log_s = top + np.log(total)
    w = rel / total  # Z_i / S without the sign and s_hat of term 4
    # first derivative of ln S
    z4p = c_hat * x01 + s_hat * r1  # Z4' / (exp(l4))
    abar = w[0] * a1 + w[1] * a2 + w[2] * a3 + w[3] * z4p
    # second derivative, centred on abar to avoid cancellation
    z4pp = s_hat * (x01**2 + r2 + (r1 - abar) ** 2) + c_hat * (x02 + 2 * x01 * (r1 - abar))
    bbar = (
        w[0] * (b1 + (a1 - abar) ** 2)
        + w[1] * (b2 + (a2 - abar) ** 2)
        + w[2] * (b3 + (a3 - abar) ** 2)
        + w[3] * z4pp
    )
    kk = K[:, 0]
    sk = s[:, 0]
    half_mn = 0.5 * m * n
    log_z = -math.log(2) + half_mn * (math.log(2) + _log_sinh(2 * kk)) + log_s
    d1 = half_mn * 2 / np.tanh(2 * kk) + abar
    d2 = -half_mn * 4 / sk**2 + bbar
    return log_z, d1, d2


def _log_sinh(y: np.ndarray) -> np.ndarray:
    """``ln sinh y`` for ``y > 0`` without overflow."""
    return y + np.log(-np.expm1(-2 * y)) - math.log(2)


def kaufman_log_partition(L: int, K: FloatOrArray, *, n: int | None = None) -> FloatOrArray:
    """Exact ``ln Z`` of the zero-field ``L x n`` periodic square lattice (``n`` defaults to ``L``).

    Matches :class:`kadanoff.lattice.SquareLattice` (incl. the doubled bonds of ``L = 2``).
    """
    return kaufman_derivatives(L, K, n=n)[0]


def kaufman_energy_per_site(L: int, K: FloatOrArray, *, n: int | None = None) -> FloatOrArray:
    """Exact energy per site ``u = -(1/N) d lnZ/dK`` (units of ``J``) of the ``L x n`` torus."""
    m, nn = _check_torus(L, n)
    d1 = np.asarray(kaufman_derivatives(L, K, n=n)[1])
    return scalar(-d1 / (m * nn))


def kaufman_specific_heat_per_site(
    L: int, K: FloatOrArray, *, n: int | None = None
) -> FloatOrArray:
    """Exact specific heat per site ``c = K^2 d^2 lnZ/dK^2 / N`` of the ``L x n`` torus.

    ``c`` is a variance, so it is clamped at 0: at low temperature it is exponentially small
    while ``d^2 lnZ/dK^2`` is a difference of ``O(N)`` terms (absolute error about ``1e-13 K^2``).
    """
    m, nn = _check_torus(L, n)
    d2 = np.asarray(kaufman_derivatives(L, K, n=n)[2])
    return scalar(np.maximum(np.asarray(K, dtype=np.float64) ** 2 * d2 / (m * nn), 0.0))
