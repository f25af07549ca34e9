"""1D Ising chain: transfer matrices with exact derivatives, and infinite-chain formulas.

Ring or open chain, with a field; derivatives by forward-mode differentiation of the
matrix product (no finite differences). Conventions as in :mod:`kadanoff.ising.exact`.
"""

from __future__ import annotations

import math

import numpy as np

from ._numeric import FloatOrArray, scalar

__all__ = [
    "chain_log_partition",
    "chain_energy_per_site",
    "chain_specific_heat_per_site",
    "chain_correlation",
    "ring_correlation",
    "chain_log_partition_infinite",
    "chain_energy_infinite",
    "chain_specific_heat_infinite",
    "chain_correlation_infinite",
    "chain_correlation_length",
]

_S = np.array([1.0, -1.0])


class _Jet:
    """A scaled 2x2 matrix with its first two derivatives: ``exp(log_scale) (A, A', A'')``."""

    __slots__ = ("a0", "a1", "a2", "log_scale")

    def __init__(self, a0, a1, a2, log_scale=0.0):
        self.a0, self.a1, self.a2, self.log_scale = a0, a1, a2, log_scale

    def __matmul__(self, other: _Jet) -> _Jet:
        c0 = self.a0 @ other.a0
        c1 = self.a1 @ other.a0 + self.a0 @ other.a1
        c2 = self.a2 @ other.a0 + 2.0 * (self.a1 @ other.a1) + self.a0 @ other.a2
        scale = float(np.max(np.abs(c0)))
        if scale == 0.0 or not math.isfinite(scale):
            raise FloatingPointError("transfer-matrix product under/overflowed")
        return _Jet(
            c0 / scale, c1 / scale, c2 / scale, self.log_scale + other.log_scale + math.log(scale)
        )

    @staticmethod
    def identity() -> _Jet:
        z = np.zeros((2, 2))
        return _Jet(np.eye(2), z, z.copy(), 0.0)

    def power(self, p: int) -> _Jet:
        result, base = _Jet.identity(), self
        while p:
            if p & 1:
                result = result @ base
            p >>= 1
            if p:
                base = base @ base
        return result


def _check_chain(n: int, K: float, field: float) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"chain length n must be an integer >= 2, got {n!r}")
    for name, v in (("K", K), ("field", field)):
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v}")


def _chain_jets(K: float, field: float, dK: float, dh: float, shift: float) -> tuple[_Jet, _Jet]:
    """Bond matrix ``T(s, s') = exp(K s s' + field (s + s')/2 - shift)`` and end vector.

    Derivatives are along ``(K, field) + t (dK, dh)`` at ``t = 0``. The end "vector"
    ``exp(field s / 2)`` is stored as a diagonal matrix.
    """
    ss = np.outer(_S, _S)
    sp = 0.5 * (_S[:, None] + _S[None, :])
    e = K * ss + field * sp - shift
    d = dK * ss + dh * sp
    t0 = np.exp(e)
    bond = _Jet(t0, d * t0, d * d * t0)
    v0 = np.exp(0.5 * field * _S)
    dv = 0.5 * dh * _S
    end = _Jet(np.diag(v0), np.diag(dv * v0), np.diag(dv * dv * v0))
    return bond, end


def _chain_derivatives(
    n: int, K: float, field: float, periodic: bool, dK: float, dh: float
) -> tuple[float, float, float]:
    """``ln Z`` and its first two derivatives along the direction ``(dK, dh)``."""
    _check_chain(n, K, field)
    # Centre the derivatives on the infinite-chain value (Hellmann-Feynman on the leading
    # eigenvector) so that Z''/Z - (Z'/Z)^2 does not cancel catastrophically for long chains.
    ss = np.outer(_S, _S)
    sp = 0.5 * (_S[:, None] + _S[None, :])
    t = np.exp(K * ss + field * sp)
    w, vec = np.linalg.eigh(t)
    u = vec[:, -1]
    shift_d = float(u @ (((dK * ss + dh * sp) * t) @ u) / w[-1])  # d ln(lambda_max) per bond
    log_lmax = float(math.log(w[-1]))
    bond, end = _chain_jets(K, field, dK, dh, log_lmax)
    # subtract t * shift_d per bond from the direction: multiply the bond jet by exp(-t shift_d)
    a0, a1, a2 = bond.a0, bond.a1, bond.a2
    bond = _Jet(a0, a1 - shift_d * a0, a2 - 2 * shift_d * a1 + shift_d**2 * a0)
    n_bonds = n if periodic else n - 1
    prod = bond.power(n_bonds)
    if periodic:
        z0, z1, z2 = (float(np.trace(a)) for a in (prod.a0, prod.a1, prod.a2))
    else:
        prod = end @ prod @ end
        z0, z1, z2 = (float(a.sum()) for a in (prod.a0, prod.a1, prod.a2))
    log_z = prod.log_scale + math.log(z0) + n_bonds * log_lmax
    d1 = z1 / z0
    d2 = z2 / z0 - d1 * d1
    return log_z, d1 + n_bonds * shift_d, d2


def chain_log_partition(n: int, K: float, field: float = 0.0, *, periodic: bool = True) -> float:
    """``ln Z`` of a chain of ``n`` spins by transfer matrix (a ring, or open if not periodic).

    A periodic chain of ``n = 2`` has two bonds between its spins, as in :class:`Chain`.
    Zero-field ring: ``Z = (2 cosh K)^n + (2 sinh K)^n`` (theory.md section 8).
    """
    return _chain_derivatives(n, K, field, periodic, 1.0, 0.0)[0]


def chain_energy_per_site(n: int, K: float, field: float = 0.0, *, periodic: bool = True) -> float:
    """Exact energy per site ``u = <H>/(K n)`` in units of ``J`` (``-(1/n) dlnZ/dK`` if no field).

    With a field ``K`` must be non-zero (see the module docstring).
    """
    if field == 0.0:
        return -_chain_derivatives(n, K, 0.0, periodic, 1.0, 0.0)[1] / n
    if K == 0.0:
        raise ValueError("with a field, the energy per site in units of J needs K != 0")
    return -_chain_derivatives(n, K, field, periodic, K, field)[1] / (K * n)


def chain_specific_heat_per_site(
    n: int, K: float, field: float = 0.0, *, periodic: bool = True
) -> float:
    """Exact ``var(H) / n``: the second derivative of ``ln Z(b K, b field)`` at ``b = 1``."""
    return _chain_derivatives(n, K, field, periodic, K, field)[2] / n


def chain_correlation(
    n: int, K: float, i: int, j: int, field: float = 0.0, *, periodic: bool = True
) -> float:
    """``<v_i v_j>`` on a chain by transfer matrices (any field, ring or open)."""
    _check_chain(n, K, field)
    i, j = sorted((int(i), int(j)))
    if not (0 <= i and j < n):
        raise ValueError(f"sites must lie in [0, {n}), got {i} and {j}")
    ss = np.outer(_S, _S)
    sp = 0.5 * (_S[:, None] + _S[None, :])
    t = np.exp(K * ss + field * sp)
    lmax = float(np.linalg.eigvalsh(t)[-1])
    t = t / lmax
    sigma = np.diag(_S)
    mp = np.linalg.matrix_power
    if periodic:
        num = np.trace(sigma @ mp(t, j - i) @ sigma @ mp(t, n - (j - i)))
        den = np.trace(mp(t, n))
    else:
        v = np.exp(0.5 * field * _S)
        left = v @ mp(t, i)
        right = mp(t, n - 1 - j) @ v
        num = left @ sigma @ mp(t, j - i) @ sigma @ right
        den = v @ mp(t, n - 1) @ v
    return float(num / den)


def ring_correlation(n: int, K: FloatOrArray, r: int | np.ndarray) -> FloatOrArray:
    """Zero-field ring ``<v_0 v_r> = (t^r + t^(n-r)) / (1 + t^n)``, ``t = tanh K``."""
    t = np.tanh(np.asarray(K, dtype=np.float64))
    r = np.asarray(r)
    if np.any((r < 0) | (r > n)):
        raise ValueError(f"distance r must lie in [0, {n}], got {r}")
    out = (t**r + t ** (n - r)) / (1.0 + t**n)
    return float(out) if np.ndim(out) == 0 else out


def chain_log_partition_infinite(K: FloatOrArray) -> FloatOrArray:
    """Infinite zero-field chain ``ln Z / N = ln(2 cosh K)``."""
    K = np.asarray(K, dtype=np.float64)
    return scalar(np.logaddexp(K, -K))


def chain_energy_infinite(K: FloatOrArray) -> FloatOrArray:
    """Infinite zero-field chain energy per site ``u = -tanh K`` (units of ``J``)."""
    return scalar(-np.tanh(np.asarray(K, dtype=np.float64)))


def chain_specific_heat_infinite(K: FloatOrArray) -> FloatOrArray:
    """Infinite zero-field chain ``c = K^2 / cosh^2 K``."""
    K = np.asarray(K, dtype=np.float64)
    return scalar((K / np.cosh(K)) ** 2)


def chain_correlation_infinite(K: FloatOrArray, r: int | np.ndarray) -> FloatOrArray:
    """Infinite zero-field chain ``<v_0 v_r> = tanh^r K``."""
    return scalar(np.tanh(np.asarray(K, dtype=np.float64)) ** np.asarray(r))


def chain_correlation_length(K: FloatOrArray) -> FloatOrArray:
    """Infinite chain ``xi = -1 / ln tanh K`` (``K >= 0``, ``xi(0) = 0``; halves under b = 2
    decimation)."""
    K = np.asarray(K, dtype=np.float64)
    if np.any(K < 0) or np.any(np.isnan(K)):
        raise ValueError("the chain correlation length needs K >= 0")
    with np.errstate(divide="ignore"):
        return scalar(-1.0 / np.log(np.tanh(K)))
