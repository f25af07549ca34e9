"""Exact results for the Ising model: test oracles for every sampler and RG check.

Conventions (theory.md sections 1, 5, 8): ``H = -K sum_<ij> v_i v_j - field sum_i v_i``
is dimensionless and the weight is ``exp(-H)``.

* **Energy per site** ``u`` is in units of the coupling ``J`` (Onsager's convention, so
  ``u(K_c) = -sqrt 2`` in 2D and ``u = -tanh K`` for the infinite chain):
  ``u = <H> / (K N)``; at zero field this is ``-<sum_<ij> v_i v_j> / N = -(1/N) d lnZ/dK``
  and is defined for every ``K`` (with a field it needs ``K != 0``).
* **Specific heat per site** ``c = var(H) / N``; at zero field ``c = K^2 d^2 lnZ/dK^2 / N``.
  With a field it is the derivative along ``(K, field) -> (beta K, beta field)`` (the
  physical specific heat at fixed field in units of ``J``).

Contents

* :func:`enumerate_model` -> :class:`Enumeration`: brute force over all ``2^N`` states.
* 1D transfer matrices (ring and open chain, with field), exact derivatives by forward-mode
  differentiation of the matrix product (no finite differences); infinite-chain formulas.
* 2D infinite lattice (Onsager 1944, Yang 1952): free energy, energy, specific heat,
  spontaneous magnetization, axis correlation length.
* 2D finite ``m x n`` torus (Kaufman 1949) in log space with analytic derivatives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import integrate, special

from ..spins import MAX_ENUMERATION_SITES, all_states
from .model import K_CRITICAL, K_CRITICAL_RESIDUAL, IsingModel

__all__ = [
    "K_CRITICAL_ATOL",
    "Enumeration",
    "enumerate_model",
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
    "onsager_free_energy",
    "onsager_log_partition",
    "onsager_energy",
    "onsager_specific_heat",
    "onsager_magnetization",
    "onsager_correlation_length",
    "kaufman_log_partition",
    "kaufman_energy_per_site",
    "kaufman_specific_heat_per_site",
    "kaufman_derivatives",
]

FloatOrArray = float | np.ndarray

# ---------------------------------------------------------------------------------------
# Brute-force enumeration
# ---------------------------------------------------------------------------------------

_CHUNK = 1 << 18  # states per chunk when computing energies (keeps int64 temporaries small)


@dataclass(frozen=True)
class Enumeration:
    """Every state of a small Ising model with its exact Boltzmann probability.

    Attributes
    ----------
    model : IsingModel
    states : ndarray, shape ``(2^N, *lattice.shape)``, int8
        All states in :func:`kadanoff.spins.all_states` order (flat site 0 is the most
        significant bit, flat index ``x * L + y`` on the square lattice).
    energies : ndarray, shape ``(2^N,)``, float64
        Dimensionless ``H(v)``.
    log_z : float
        ``ln Z = ln sum_v exp(-H(v))``.
    probabilities : ndarray, shape ``(2^N,)``, float64
        ``exp(-H(v)) / Z``; sums to 1.
    """

    model: IsingModel
    states: np.ndarray
    energies: np.ndarray
    log_z: float
    probabilities: np.ndarray

    @property
    def n_sites(self) -> int:
        return self.model.n_sites

    @cached_property
    def _flat(self) -> np.ndarray:
        return self.states.reshape(len(self.states), self.n_sites)

    def mean(self, values: np.ndarray) -> float | np.ndarray:
        """Exact expectation ``sum_v p(v) f(v)`` of per-state values, shape ``(2^N, ...)``."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape[:1] != self.probabilities.shape:
            raise ValueError(
                f"values must have one entry per state on axis 0 ({len(self.probabilities)}), "
                f"got shape {values.shape}"
            )
        out = np.tensordot(self.probabilities, values, axes=(0, 0))
        return float(out) if np.ndim(out) == 0 else out

    @cached_property
    def bond_sums(self) -> np.ndarray:
        """``sum_<ij> v_i v_j`` per state, shape ``(2^N,)``, int64."""
        return _chunked(self.model.bond_sum, self.states, np.int64)

    @cached_property
    def magnetization_sums(self) -> np.ndarray:
        """``M = sum_i v_i`` per state, shape ``(2^N,)``, int64."""
        return self._flat.sum(axis=1, dtype=np.int64)

    @property
    def free_energy_per_site(self) -> float:
        """``-ln Z / N``."""
        return -self.log_z / self.n_sites

    @property
    def energy_per_site(self) -> float:
        """``u = <H> / (K N)`` in units of ``J`` (``-<sum_<ij> v_i v_j>/N`` at zero field)."""
        n = self.n_sites
        u = -self.mean(self.bond_sums) / n
        if self.model.field:
            if self.model.K == 0:
                raise ValueError(
                    "the energy per site in units of J needs K != 0 when a field is present; "
                    "use mean(energies) for the dimensionless <H>"
                )
            u -= self.model.field / self.model.K * self.mean(self.magnetization_sums) / n
        return float(u)

    @property
    def specific_heat_per_site(self) -> float:
        """``c = var(H) / N`` (``H`` is dimensionless and already includes ``K``)."""
        e = self.energies - self.mean(self.energies)
        return float(self.mean(e * e) / self.n_sites)

    @property
    def magnetization_per_site(self) -> float:
        """``<M> / N`` (zero by symmetry without a field)."""
        return float(self.mean(self.magnetization_sums) / self.n_sites)

    @property
    def abs_magnetization_per_site(self) -> float:
        """``<|M|> / N``."""
        return float(self.mean(np.abs(self.magnetization_sums)) / self.n_sites)

    @property
    def magnetization2(self) -> float:
        """``<m^2>`` with ``m = M / N`` the magnetization per site."""
        m = self.magnetization_sums.astype(np.float64) / self.n_sites
        return float(self.mean(m * m))

    @property
    def susceptibility_per_site(self) -> float:
        """``chi = var(M) / N`` (dimensionless, ``d <M> / d field / N``)."""
        m = self.magnetization_sums.astype(np.float64)
        m = m - self.mean(m)
        return float(self.mean(m * m) / self.n_sites)

    def _site(self, i: int | tuple[int, ...]) -> int:
        shape = self.model.shape
        if isinstance(i, tuple):
            if len(i) != len(shape):
                raise ValueError(f"site {i} does not match the lattice shape {shape}")
            return int(
                np.ravel_multi_index(
                    tuple(int(a) % s for a, s in zip(i, shape, strict=True)), shape
                )
            )
        i = int(i)
        if not 0 <= i < self.n_sites:
            raise ValueError(f"flat site index {i} out of range [0, {self.n_sites})")
        return i

    def correlation(self, i: int | tuple[int, ...], j: int | tuple[int, ...]) -> float:
        """``<v_i v_j>`` for flat site indices or lattice coordinates (tuples)."""
        a, b = self._site(i), self._site(j)
        s = self._flat
        return float(self.mean(s[:, a].astype(np.int64) * s[:, b]))

    def correlation_function(self, axis: int = -1) -> np.ndarray:
        """``<v_0 v_r>`` for ``r = 0 .. size-1`` along ``axis`` from the origin, shape ``(size,)``.

        Not connected: with a field it tends to ``<v>^2`` (a ring wraps, so it is
        symmetric ``r <-> size - r`` there).
        """
        shape = self.model.shape
        ax = axis % len(shape)
        out = np.empty(shape[ax])
        for r in range(shape[ax]):
            site = [0] * len(shape)
            site[ax] = r
            out[r] = self.correlation(0, tuple(site))
        return out


def _chunked(func, states: np.ndarray, dtype) -> np.ndarray:
    out = np.empty(len(states), dtype=dtype)
    for a in range(0, len(states), _CHUNK):
        out[a : a + _CHUNK] = func(states[a : a + _CHUNK])
    return out


def enumerate_model(model: IsingModel) -> Enumeration:
    """Exact Boltzmann distribution of ``model`` by brute force over all ``2^N`` states.

    ``N <= 24`` (the states alone take ``2^N N`` bytes); use the transfer matrix
    (chains) or :func:`kaufman_log_partition` (tori) for larger systems.
    """
    n = model.n_sites
    if n > MAX_ENUMERATION_SITES:
        raise ValueError(
            f"cannot enumerate {n} sites (at most {MAX_ENUMERATION_SITES}); use "
            "chain_log_partition for chains or kaufman_log_partition for tori"
        )
    states = all_states(n).reshape((2**n, *model.shape))
    energies = _chunked(model.energy, states, np.float64)
    log_z = float(special.logsumexp(-energies))
    probabilities = np.exp(-energies - log_z)
    probabilities /= probabilities.sum()  # remove the last ulp of drift
    return Enumeration(model, states, energies, log_z, probabilities)


# ---------------------------------------------------------------------------------------
# 1D chain: transfer matrices with exact derivatives
# ---------------------------------------------------------------------------------------

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
    return _scalar(np.logaddexp(K, -K))


def chain_energy_infinite(K: FloatOrArray) -> FloatOrArray:
    """Infinite zero-field chain energy per site ``u = -tanh K`` (units of ``J``)."""
    return _scalar(-np.tanh(np.asarray(K, dtype=np.float64)))


def chain_specific_heat_infinite(K: FloatOrArray) -> FloatOrArray:
    """Infinite zero-field chain ``c = K^2 / cosh^2 K``."""
    K = np.asarray(K, dtype=np.float64)
    return _scalar((K / np.cosh(K)) ** 2)


def chain_correlation_infinite(K: FloatOrArray, r: int | np.ndarray) -> FloatOrArray:
    """Infinite zero-field chain ``<v_0 v_r> = tanh^r K``."""
    return _scalar(np.tanh(np.asarray(K, dtype=np.float64)) ** np.asarray(r))


def chain_correlation_length(K: FloatOrArray) -> FloatOrArray:
    """Infinite chain ``xi = -1 / ln tanh K`` (``K > 0``; halves under b = 2 decimation)."""
    K = np.asarray(K, dtype=np.float64)
    if np.any(K <= 0):
        raise ValueError("the chain correlation length needs K > 0")
    return _scalar(-1.0 / np.log(np.tanh(K)))


def _scalar(x: np.ndarray) -> FloatOrArray:
    return float(x) if np.ndim(x) == 0 else x


# ---------------------------------------------------------------------------------------
# 2D infinite lattice: Onsager and Yang
# ---------------------------------------------------------------------------------------


def _positive_K(K: FloatOrArray, what: str) -> np.ndarray:
    K = np.asarray(K, dtype=np.float64)
    if np.any(~np.isfinite(K)) or np.any(K <= 0):
        raise ValueError(f"{what} needs finite couplings K > 0 (ferromagnet), got {K}")
    return K


#: ``|K - K_c|`` up to which the infinite-lattice functions treat ``K`` as the critical point
#: (the input decides, never a rounded intermediate): there ``c = inf``, ``xi = inf`` and the
#: spontaneous magnetization is 0. About 180 ulps of ``K_c``; ``c(K_c + 1e-14) = 17.7``.
K_CRITICAL_ATOL = 1e-14


def _critical_offset(K: np.ndarray) -> np.ndarray:
    """``K - K_c`` to full relative precision (``K_c`` carried as a double-double)."""
    return (K - K_CRITICAL) - K_CRITICAL_RESIDUAL


def _at_critical(K: np.ndarray) -> np.ndarray:
    return np.abs(_critical_offset(K)) <= K_CRITICAL_ATOL


def _sinh_minus_one(K: np.ndarray) -> np.ndarray:
    """``sinh 2K - 1 = sinh 2K - sinh 2K_c = 2 cosh(K + K_c) sinh(K - K_c)``, without the
    cancellation of the direct difference near ``K_c``."""
    return 2.0 * np.cosh(K + K_CRITICAL) * np.sinh(_critical_offset(K))


def _elliptic_args(K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parameter ``m = k^2`` and ``1 - m`` (computed without cancellation).

    ``k = 2 sinh 2K / cosh^2 2K``, so ``1 - k^2 = (1 - sinh^2 2K)^2 / cosh^4 2K``, with
    ``sinh 2K - 1`` from :func:`_sinh_minus_one`.
    """
    s = np.sinh(2 * K)
    c2 = 1.0 + s * s
    one_minus_m = (_sinh_minus_one(K) * (1.0 + s) / c2) ** 2
    m = 4.0 * s * s / (c2 * c2)
    return m, one_minus_m


def onsager_log_partition(K: FloatOrArray) -> FloatOrArray:
    """``ln Z / N`` of the infinite square lattice (Onsager), by the single-integral form

    ``ln Z/N = ln(2 cosh 2K) + (1/pi) int_0^{pi/2} ln[(1 + sqrt(1 - k^2 sin^2 t)) / 2] dt``.
    """
    K = _positive_K(K, "onsager_log_partition")
    m, one_minus_m = _elliptic_args(K)

    def one(mk: float, qk: float) -> float:
        # 1 - m sin^2 t = (1 - m) + m cos^2 t, accurate when m is close to 1
        f = lambda t: math.log1p(math.sqrt(qk + mk * math.cos(t) ** 2)) - math.log(2.0)
        val, _err = integrate.quad(f, 0.0, math.pi / 2, epsabs=1e-14, epsrel=1e-13, limit=200)
        return val / math.pi

    integral = np.vectorize(one, otypes=[float])(m, one_minus_m)
    out = 2 * K + np.log1p(np.exp(-4 * K)) + integral
    return _scalar(out)


def onsager_free_energy(K: FloatOrArray) -> FloatOrArray:
    """Infinite-lattice free energy per site ``-ln Z / N`` (dimensionless)."""
    return _scalar(-np.asarray(onsager_log_partition(K)))


def onsager_energy(K: FloatOrArray) -> FloatOrArray:
    """Energy per site (units of ``J``) ``u = -coth 2K [1 + (2/pi)(2 tanh^2 2K - 1) Kell(k^2)]``.

    At ``K_c`` the second term vanishes (``0 x log``) and ``u = -sqrt 2``.
    """
    K = _positive_K(K, "onsager_energy")
    m, one_minus_m = _elliptic_args(K)
    s = np.sinh(2 * K)
    # 2 tanh^2 2K - 1 = (sinh^2 2K - 1) / cosh^2 2K, exact through sinh 2K - 1
    t2m = _sinh_minus_one(K) * (s + 1.0) / (1.0 + s * s)
    with np.errstate(invalid="ignore", divide="ignore"):
        kell = special.ellipkm1(one_minus_m)
        term = np.where(_at_critical(K), 0.0, (2 / np.pi) * t2m * kell)
    return _scalar(-(1.0 + term) / np.tanh(2 * K))


def onsager_specific_heat(K: FloatOrArray) -> FloatOrArray:
    """Specific heat per site ``c = -K^2 du/dK`` (infinite at ``K_c``: log divergence).

    Differentiating :func:`onsager_energy` analytically, with ``s = sinh 2K``,
    ``C = cosh 2K`` and elliptic integrals ``Kell, Eell`` of parameter ``m = k^2``::

        du/dK = 2/s^2 + (2/pi) [2 C^2 Eell / s^2
                                - Kell (8/C^2 - 2 (s^2 - 1)/(s^2 C^2) + 2 C^2 (1 - m)/s^2)]

    (uses ``dKell/dm = (Eell - (1-m) Kell) / (2 m (1-m))``). For small ``K`` the two
    terms cancel to ``O(K^2)``: about ``1e-16 / K^4`` relative error. Near ``K_c`` the relative
    error stays at rounding level, about ``1e-15`` (checked against 50-digit arithmetic down to
    ``|K - K_c| = 1e-13``), because ``sinh 2K - 1`` is computed without cancellation; within
    :data:`K_CRITICAL_ATOL` of ``K_c`` the result is ``inf``. At low temperature ``c`` is
    exponentially small while the terms are ``O(1)``: the absolute error is about
    ``1e-13 K^2``, and the result is clamped at 0 (``c >= 0`` always).
    """
    K = _positive_K(K, "onsager_specific_heat")
    m, one_minus_m = _elliptic_args(K)
    s = np.sinh(2 * K)
    c2 = np.cosh(2 * K) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        kell = special.ellipkm1(one_minus_m)
        eell = special.ellipe(m)
        s2m1 = _sinh_minus_one(K) * (s + 1.0)
        coef = 8 / c2 - 2 * s2m1 / (s * s * c2) + 2 * c2 * one_minus_m / (s * s)
        du = 2 / s**2 + (2 / np.pi) * (2 * c2 * eell / s**2 - kell * coef)
        out = np.where(_at_critical(K), np.inf, np.maximum(-(K**2) * du, 0.0))
    return _scalar(out)


def onsager_magnetization(K: FloatOrArray) -> FloatOrArray:
    """Spontaneous magnetization (Yang) ``(1 - sinh(2K)^-4)^(1/8)`` for ``K > K_c``, else 0."""
    K = _positive_K(K, "onsager_magnetization")
    with np.errstate(invalid="ignore", divide="ignore"):
        x = 1.0 - np.sinh(2 * K) ** -4.0
        ordered = (K > K_CRITICAL) & ~_at_critical(K)
        out = np.where(ordered, np.maximum(x, 0.0) ** 0.125, 0.0)
    return _scalar(out)


def onsager_correlation_length(K: FloatOrArray) -> FloatOrArray:
    """Exponential correlation length along a lattice axis, infinite lattice.

    For ``K < K_c``: ``1/xi = -ln tanh K - 2K`` (``= -g_0``); infinite at ``K_c``. For
    ``K > K_c`` the connected correlation decays with ``1/xi = 2 (2K + ln tanh K)``
    (half the correlation length at the dual coupling).
    """
    K = _positive_K(K, "onsager_correlation_length")
    g0 = 2 * K + np.log(np.tanh(K))
    with np.errstate(divide="ignore"):
        inv = np.where(K < K_CRITICAL, -g0, 2 * g0)
        out = np.where(_at_critical(K), np.inf, 1.0 / inv)
    return _scalar(out)


# ---------------------------------------------------------------------------------------
# 2D finite torus: Kaufman
# ---------------------------------------------------------------------------------------


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
    K_in = _positive_K(K, "kaufman_log_partition")
    flat = K_in.reshape(-1)
    step = max(1, (1 << 20) // (2 * n))  # K values per chunk: arrays of about 1M entries
    parts = [_kaufman_core(m, n, flat[a : a + step]) for a in range(0, len(flat), step)]
    out = (np.concatenate([p[i] for p in parts]).reshape(K_in.shape) for i in range(3))
    log_z, d1, d2 = out
    return _scalar(log_z), _scalar(d1), _scalar(d2)


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
    return _scalar(-d1 / (m * nn))


def kaufman_specific_heat_per_site(
    L: int, K: FloatOrArray, *, n: int | None = None
) -> FloatOrArray:
    """Exact specific heat per site ``c = K^2 d^2 lnZ/dK^2 / N`` of the ``L x n`` torus.

    ``c`` is a variance, so it is clamped at 0: at low temperature it is exponentially small
    while ``d^2 lnZ/dK^2`` is a difference of ``O(N)`` terms (absolute error about ``1e-13 K^2``).
    """
    m, nn = _check_torus(L, n)
    d2 = np.asarray(kaufman_derivatives(L, K, n=n)[2])
    return _scalar(np.maximum(np.asarray(K, dtype=np.float64) ** 2 * d2 / (m * nn), 0.0))
