"""Exact Ising results: enumeration, transfer matrices, Onsager/Yang and Kaufman agree.

Every comparison here is between exact formulas, so tolerances are floating-point ones
(1e-10 relative or better) unless a comment derives a finite-size bound.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from kadanoff.ising.exact import (
    K_CRITICAL_ATOL,
    chain_correlation,
    chain_correlation_infinite,
    chain_correlation_length,
    chain_energy_infinite,
    chain_energy_per_site,
    chain_log_partition,
    chain_log_partition_infinite,
    chain_specific_heat_infinite,
    chain_specific_heat_per_site,
    enumerate_model,
    kaufman_derivatives,
    kaufman_energy_per_site,
    kaufman_log_partition,
    kaufman_specific_heat_per_site,
    onsager_correlation_length,
    onsager_energy,
    onsager_free_energy,
    onsager_log_partition,
    onsager_magnetization,
    onsager_specific_heat,
    ring_correlation,
)
from kadanoff.ising.model import K_CRITICAL, K_CRITICAL_RESIDUAL, IsingModel
from kadanoff.lattice import Chain, SquareLattice
from kadanoff.spins import all_states

K_VALUES = [0.1, 0.3, K_CRITICAL, 0.6, 1.0]
RTOL = 1e-10


@cache
def _square_enum(L: int, K: float):
    return enumerate_model(IsingModel(SquareLattice(L), K))


def _rect_brute_force(m: int, n: int, K: float) -> tuple[float, float, float]:
    """``(ln Z, u, c)`` of an ``m x n`` torus by a naive sum, independent of kadanoff.lattice."""
    s = all_states(m * n).reshape(-1, m, n).astype(np.int64)
    bonds = (s * np.roll(s, 1, axis=1)).sum((1, 2)) + (s * np.roll(s, 1, axis=2)).sum((1, 2))
    w = K * bonds.astype(float)
    top = w.max()
    z = np.exp(w - top).sum()
    p = np.exp(w - top) / z
    mean_b = (p * bonds).sum()
    var_b = (p * (bonds - mean_b) ** 2).sum()
    return top + math.log(z), -mean_b / (m * n), K * K * var_b / (m * n)


# --------------------------------------------------------------------------- Kaufman


@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("K", K_VALUES)
def test_kaufman_equals_enumeration_square(L, K):
    en = _square_enum(L, K)
    np.testing.assert_allclose(kaufman_log_partition(L, K), en.log_z, rtol=RTOL)
    np.testing.assert_allclose(kaufman_energy_per_site(L, K), en.energy_per_site, rtol=RTOL)
    np.testing.assert_allclose(
        kaufman_specific_heat_per_site(L, K), en.specific_heat_per_site, rtol=RTOL
    )


@pytest.mark.parametrize("m,n", [(3, 4), (4, 3), (2, 3), (3, 2)])
@pytest.mark.parametrize("K", K_VALUES)
def test_kaufman_equals_brute_force_rectangle(m, n, K):
    log_z, u, c = _rect_brute_force(m, n, K)
    np.testing.assert_allclose(kaufman_log_partition(m, K, n=n), log_z, rtol=RTOL)
    np.testing.assert_allclose(kaufman_energy_per_site(m, K, n=n), u, rtol=RTOL)
    np.testing.assert_allclose(kaufman_specific_heat_per_site(m, K, n=n), c, rtol=RTOL)


def test_kaufman_vectorized_matches_scalar():
    Ks = np.array([[0.05, 0.2], [K_CRITICAL, 2.0]])
    for f in (kaufman_log_partition, kaufman_energy_per_site, kaufman_specific_heat_per_site):
        vec = f(6, Ks)
        assert vec.shape == Ks.shape
        scal = np.array([[f(6, float(k)) for k in row] for row in Ks])
        np.testing.assert_allclose(vec, scal, rtol=1e-14)
    assert isinstance(kaufman_log_partition(6, 0.3), float)


def test_kaufman_large_lattice_finite_and_stable():
    # L = 256 over the whole range incl. K_c: no overflow, u decreasing, c positive.
    Ks = np.concatenate([np.linspace(0.05, 2.0, 400), [K_CRITICAL]])
    log_z, d1, d2 = kaufman_derivatives(256, Ks)
    assert np.all(np.isfinite(log_z)) and np.all(np.isfinite(d1)) and np.all(np.isfinite(d2))
    u = kaufman_energy_per_site(256, Ks[:-1])
    assert np.all(np.diff(u) < 0)
    assert np.all(kaufman_specific_heat_per_site(256, Ks) > 0)


@pytest.mark.parametrize("L", [256, 512])
def test_kaufman_approaches_onsager_off_critical(L):
    # Off K_c finite-size corrections are exponentially small, ~exp(-L/xi) with xi <= 12 at
    # K = 0.42 (0.42 only at L = 512, where exp(-512/12) ~ 3e-19).
    Ks = np.array([0.1, 0.3, 0.5, 0.6, 1.0] + ([0.42] if L == 512 else []))
    N = L * L
    np.testing.assert_allclose(kaufman_energy_per_site(L, Ks), onsager_energy(Ks), atol=1e-8)
    np.testing.assert_allclose(
        kaufman_specific_heat_per_site(L, Ks), onsager_specific_heat(Ks), atol=1e-8
    )
    # The torus below T_c has two degenerate phases: ln Z = N f + ln 2 (+ tunnelling).
    f_torus = kaufman_log_partition(L, Ks) / N - np.where(Ks > K_CRITICAL, math.log(2) / N, 0.0)
    np.testing.assert_allclose(f_torus, onsager_log_partition(Ks), atol=1e-10)


def _theta_constants() -> tuple[float, float, float, float]:
    """Jacobi theta2, theta3, theta4 at nome q = e^-pi and the Dedekind eta(i)."""
    q = math.exp(-math.pi)
    k = np.arange(1, 20)
    th2 = 2 * float(np.sum(q ** ((np.arange(0, 20) + 0.5) ** 2)))
    th3 = 1 + 2 * float(np.sum(q ** (k**2)))
    th4 = 1 + 2 * float(np.sum((-1.0) ** k * q ** (k**2)))
    eta = math.gamma(0.25) / (2 * math.pi**0.75)
    return th2, th3, th4, eta


@pytest.mark.parametrize("L", [128, 256])
def test_kaufman_critical_finite_size_scaling(L):
    th2, th3, th4, eta = _theta_constants()
    # Ferdinand & Fisher (1969): on the critical L x L torus
    #   ln Z = N f_inf + ln[(th2 + th3 + th4) / (2 eta)] + O(1/L^2).
    b = math.log((th2 + th3 + th4) / (2 * eta))
    delta_f = (
        L * L * (kaufman_log_partition(L, K_CRITICAL) / L**2 - onsager_log_partition(K_CRITICAL))
    )
    # Energy: only Z4 (which vanishes at K_c, dZ4/dK = 4 m R4) adds an O(L) term to dlnZ/dK;
    # in the scaling limit R4 / (Z1 + Z2 + Z3) -> (th2/2) prod_r tanh^2(pi r) / (th2+th3+th4), so
    #   u_L = -sqrt 2 + a / L + O(1/L^3),  a = -2 th2 prod_r tanh^2(pi r) / (th2 + th3 + th4).
    a = -2 * th2 * float(np.prod(np.tanh(math.pi * np.arange(1, 20)) ** 2)) / (th2 + th3 + th4)
    delta_u = L * (kaufman_energy_per_site(L, K_CRITICAL) + math.sqrt(2))
    # Loose bound: corrections to scaling are at most O(1/L) (measured O(1/L^2), 3e-6 at L=256).
    assert abs(delta_f - b) < 1 / L
    assert abs(delta_u - a) < 1 / L
    # Specific heat: c_L = (8/pi) K_c^2 ln L + const + O(ln L / L), so doubling L adds
    # (8/pi) K_c^2 ln 2 up to O(ln L / L) (bound with unit coefficient; measured 3e-4).
    dc = kaufman_specific_heat_per_site(2 * L, K_CRITICAL) - kaufman_specific_heat_per_site(
        L, K_CRITICAL
    )
    assert abs(dc - 8 / math.pi * K_CRITICAL**2 * math.log(2)) < math.log(L) / L


def test_kaufman_rejects_bad_input():
    with pytest.raises(ValueError, match="K > 0"):
        kaufman_log_partition(4, 0.0)
    with pytest.raises(ValueError, match=">= 2"):
        kaufman_log_partition(1, 0.3)
    with pytest.raises(ValueError, match=">= 2"):
        kaufman_energy_per_site(4, 0.3, n=1)


# --------------------------------------------------------------------------- Onsager / Yang


def test_onsager_energy_at_critical_point():
    assert abs(onsager_energy(K_CRITICAL) + math.sqrt(2)) < 1e-12
    assert onsager_specific_heat(K_CRITICAL) == math.inf


def test_critical_constant_is_the_correctly_rounded_double():
    # K_c = asinh(1)/2; every libm formula for it lands within 1 ulp of the literal
    ulp = math.ulp(K_CRITICAL)
    for formula in (math.asinh(1) / 2, 0.5 * math.log(1 + math.sqrt(2)), 0.5 * math.log1p(2**0.5)):
        assert abs(formula - K_CRITICAL) <= ulp
    assert abs(K_CRITICAL_RESIDUAL) <= ulp / 2


@pytest.mark.parametrize(
    "K",
    [
        K_CRITICAL,
        math.nextafter(K_CRITICAL, 0.0),
        math.nextafter(K_CRITICAL, 1.0),
        0.5 * math.log(1 + math.sqrt(2)),
        float(np.arcsinh(np.float64(1.0)) / 2),
        K_CRITICAL + 0.9 * K_CRITICAL_ATOL,
    ],
)
def test_critical_point_is_decided_by_the_input(K):
    # whatever the rounding of sinh(2K) on this CPU, an input within K_CRITICAL_ATOL of K_c is
    # the critical point: c and xi diverge, M vanishes, u = -sqrt 2
    assert onsager_specific_heat(K) == math.inf
    assert onsager_correlation_length(K) == math.inf
    assert onsager_magnetization(K) == 0.0
    assert abs(onsager_energy(K) + math.sqrt(2)) < 1e-12


# (K as a double, u(K), c(K)) from 50-digit arithmetic (mpmath: the Onsager energy and
# c = -K^2 du/dK by high-precision differentiation), evaluated at exactly these doubles
NEAR_CRITICAL = [
    (0.4406867935098715, -1.4142135623806049, 14.091834224068617),
    (0.44068679350967155, -1.4142135623655869, 14.09194554942927),
    (0.44068679360977153, -1.4142135681248352, 10.675617470468518),
    (0.44068678350977153, -1.4142131044688791, 8.398183172350224),
    (0.4406877935097715, -1.4142476257551969, 6.1207508397498103),
    (0.44058679350977153, -1.4119794724170321, 3.8431809793814454),
    (0.45068679350977153, -1.518431479002285, 1.5732079680506711),
]


@pytest.mark.parametrize(("K", "u", "c"), NEAR_CRITICAL)
def test_onsager_accuracy_near_critical_point(K, u, c):
    # |K - K_c| from 1e-13 to 1e-2: full double precision (the relative error is a few ulps;
    # 1e-13 leaves room for a different libm), not the 1e-6 a naive sinh(2K) - 1 gives
    assert abs(onsager_energy(K) - u) <= 1e-13 * abs(u)
    assert abs(onsager_specific_heat(K) - c) <= 1e-13 * c


def test_specific_heat_is_never_negative_at_low_temperature():
    Ks = np.array([3.0, 5.0, 10.0, 20.0, 50.0])
    assert np.all(onsager_specific_heat(Ks) >= 0)
    for L in (4, 16):
        assert np.all(kaufman_specific_heat_per_site(L, Ks) >= 0)
    # and still exponentially small where c < 1e-13 (K >= 5): only the cancellation error is left
    assert np.all(onsager_specific_heat(Ks[1:]) <= 1e-12 * Ks[1:] ** 2)


def test_onsager_specific_heat_is_derivative_of_energy():
    # c = -K^2 du/dK. Central difference D(h) has error (h^2/6) u''' + O(eps/h); since
    # D(2h) - D(h) = (h^2/2) u''' (1 + O(h^2)), |D(h) - exact| <= |D(2h) - D(h)| / 3 plus
    # roundoff ~ 10 eps |u| / h; we allow |D(2h) - D(h)| + 100 eps / h.
    Ks = np.array([0.05, 0.2, 0.35, 0.42, 0.46, 0.6, 1.0, 1.5])
    h = 1e-4

    def d(step):
        return -(Ks**2) * (onsager_energy(Ks + step) - onsager_energy(Ks - step)) / (2 * step)

    d1, d2 = d(h), d(2 * h)
    tol = np.abs(d2 - d1) + 100 * np.finfo(float).eps / h
    assert np.all(np.abs(onsager_specific_heat(Ks) - d1) <= tol)


def test_onsager_free_energy_derivative_is_energy():
    # u = d(-ln Z/N)/dK ... i.e. u = -d(lnZ/N)/dK; same central-difference bound as above.
    Ks = np.array([0.1, 0.3, 0.5, 1.0])
    h = 1e-3

    def d(step):
        return -(onsager_log_partition(Ks + step) - onsager_log_partition(Ks - step)) / (2 * step)

    d1, d2 = d(h), d(2 * h)
    tol = np.abs(d2 - d1) + 1e3 * np.finfo(float).eps / h  # quad is accurate to ~1e-13
    assert np.all(np.abs(onsager_energy(Ks) - d1) <= tol)
    np.testing.assert_allclose(onsager_free_energy(Ks), -onsager_log_partition(Ks), rtol=0)


def test_onsager_high_and_low_temperature_limits():
    # High T: ln Z / N = ln 2 + 2 ln cosh K + O(K^8) (first graph: a plaquette, tanh^4 K)
    K = 0.01
    assert abs(onsager_log_partition(K) - math.log(2) - 2 * math.log(math.cosh(K))) < 2 * K**4
    # Low T: -ln Z/N = -2K - e^{-8K} + O(e^{-12K}) (one flipped spin costs 8K)
    K = 3.0
    assert abs(onsager_free_energy(K) + 2 * K + math.exp(-8 * K)) < 10 * math.exp(-12 * K)


def test_onsager_magnetization():
    assert onsager_magnetization(0.3) == 0.0
    assert onsager_magnetization(K_CRITICAL) == 0.0
    # Low-temperature series (Yang): M = 1 - 2u^2 - 8u^3 - 34u^4 - 152u^5 - 714u^6 - 3472u^7...
    # with u = e^{-4K}; truncated after u^6 the remainder is below 1e4 u^7.
    for K in (1.0, 1.5):
        u = math.exp(-4 * K)
        series = 1 - 2 * u**2 - 8 * u**3 - 34 * u**4 - 152 * u**5 - 714 * u**6
        assert abs(onsager_magnetization(K) - series) < 1e4 * u**7
    # beta = 1/8: M^8 is linear in (K - K_c) near K_c with slope 8 sqrt 2 (sinh^-4 derivative)
    eps = 1e-7
    assert abs(onsager_magnetization(K_CRITICAL + eps) ** 8 / eps - 8 * math.sqrt(2)) < 1e-4
    np.testing.assert_array_equal(onsager_magnetization(np.array([0.1, 0.2])), [0.0, 0.0])


def test_onsager_correlation_length():
    K = 0.3
    assert abs(1 / onsager_correlation_length(K) - (-math.log(math.tanh(K)) - 2 * K)) < 1e-14
    assert onsager_correlation_length(K_CRITICAL) == math.inf
    # Diverges on approach to K_c from below like 1/(4 (K_c - K)) (nu = 1; d g_0/dK = 4 at K_c)
    eps = 1e-6
    assert abs(onsager_correlation_length(K_CRITICAL - eps) * eps - 0.25) < 1e-5
    # Paper's data point: K = 0.408 has xi about 7.5 sites (theory.md section 6)
    assert 7.0 < onsager_correlation_length(0.408) < 8.0
    # Below T_c it is half the value at the dual coupling tanh K* = e^{-2K}
    K = 0.6
    k_dual = math.atanh(math.exp(-2 * K))
    assert abs(onsager_correlation_length(K) - onsager_correlation_length(k_dual) / 2) < 1e-12


def test_onsager_rejects_nonpositive_coupling():
    for f in (onsager_energy, onsager_log_partition, onsager_specific_heat, onsager_magnetization):
        with pytest.raises(ValueError, match="K > 0"):
            f(-0.1)


# --------------------------------------------------------------------------- chains


CHAIN_CASES = [
    (n, periodic, K, field)
    for n in (2, 3, 6, 9)
    for periodic in (True, False)
    for K in (-0.7, 0.0, 0.35, 1.3)
    for field in (0.0, 0.45, -1.1)
]


@pytest.mark.parametrize("n,periodic,K,field", CHAIN_CASES)
def test_transfer_matrix_equals_enumeration(n, periodic, K, field):
    en = enumerate_model(IsingModel(Chain(n, periodic=periodic), K, field))
    kw = dict(periodic=periodic)
    np.testing.assert_allclose(chain_log_partition(n, K, field, **kw), en.log_z, 1e-12, 1e-12)
    np.testing.assert_allclose(
        chain_specific_heat_per_site(n, K, field, **kw), en.specific_heat_per_site, 1e-12, 1e-12
    )
    if K != 0.0 or field == 0.0:
        np.testing.assert_allclose(
            chain_energy_per_site(n, K, field, **kw), en.energy_per_site, 1e-12, 1e-12
        )
    else:
        with pytest.raises(ValueError, match="K != 0"):
            chain_energy_per_site(n, K, field, **kw)
    for i, j in [(0, 0), (0, 1), (1, n - 1), (0, n // 2), (n - 1, 1)]:
        np.testing.assert_allclose(
            chain_correlation(n, K, i, j, field, **kw), en.correlation(i, j), 1e-12, 1e-12
        )


@pytest.mark.parametrize("n", [2, 5, 8, 11])
@pytest.mark.parametrize("K", [-0.4, 0.2, 1.5])
def test_ring_correlation_equals_enumeration(n, K):
    en = enumerate_model(IsingModel(Chain(n), K))
    r = np.arange(n)
    np.testing.assert_allclose(ring_correlation(n, K, r), en.correlation_function(), 0, 1e-12)
    np.testing.assert_allclose(
        [chain_correlation(n, K, 0, int(k)) for k in r], en.correlation_function(), 0, 1e-12
    )


def test_long_ring_closed_forms_and_infinite_limit():
    n, K = 1000, 0.7
    t = math.tanh(K)
    # Z = (2 cosh K)^n + (2 sinh K)^n, in log space
    exact = n * math.log(2 * math.cosh(K)) + math.log1p(t**n)
    assert abs(chain_log_partition(n, K) - exact) < 1e-12 * abs(exact)
    # t^n ~ 1e-165: the ring equals the infinite chain to rounding
    assert abs(chain_energy_per_site(n, K) - chain_energy_infinite(K)) < 1e-13
    assert abs(chain_specific_heat_per_site(n, K) - chain_specific_heat_infinite(K)) < 1e-12
    assert abs(chain_log_partition(n, K) / n - chain_log_partition_infinite(K)) < 1e-14
    assert abs(ring_correlation(n, K, 7) - chain_correlation_infinite(K, 7)) < 1e-15
    assert abs(chain_correlation_length(K) * math.log(t) + 1) < 1e-14
    # open chain: Z = 2 (2 cosh K)^(n-1)
    exact_open = math.log(2) + (n - 1) * math.log(2 * math.cosh(K))
    assert abs(chain_log_partition(n, K, periodic=False) - exact_open) < 1e-12 * exact_open


def test_long_chain_with_field_matches_infinite_chain():
    # Infinite chain with field: ln lambda_+, lambda_+ = e^K cosh h + sqrt(e^2K sinh^2 h + e^-2K)
    n, K, h = 100_000, 0.6, 0.3
    lam = math.exp(K) * math.cosh(h) + math.sqrt(
        math.exp(2 * K) * math.sinh(h) ** 2 + math.exp(-2 * K)
    )
    assert abs(chain_log_partition(n, K, h) / n - math.log(lam)) < 1e-12
    # ring and open chain differ by O(1/n) per site
    u_ring = chain_energy_per_site(n, K, h)
    assert abs(chain_energy_per_site(n, K, h, periodic=False) - u_ring) < 10 / n


def test_chain_rejects_bad_input():
    with pytest.raises(ValueError, match=">= 2"):
        chain_log_partition(1, 0.3)
    with pytest.raises(ValueError, match="finite"):
        chain_log_partition(4, math.inf)
    with pytest.raises(ValueError, match="sites"):
        chain_correlation(4, 0.3, 0, 4)


# --------------------------------------------------------------------------- enumeration


def test_enumeration_structure_and_normalization():
    model = IsingModel(SquareLattice(3), 0.37, field=0.2)
    en = enumerate_model(model)
    assert en.states.shape == (512, 3, 3) and en.states.dtype == np.int8
    np.testing.assert_array_equal(en.states.reshape(512, 9), all_states(9))
    np.testing.assert_allclose(en.energies, model.energy(en.states), rtol=0, atol=0)
    assert abs(en.probabilities.sum() - 1) < 1e-14
    np.testing.assert_allclose(en.probabilities, np.exp(-en.energies - en.log_z), rtol=1e-13)
    # energy per site in units of J: <H> / (K N)
    assert abs(en.energy_per_site - en.mean(en.energies) / (0.37 * 9)) < 1e-14


def test_enumeration_free_spins():
    # K = 0: independent spins in a field h: <v> = tanh h, var = 1 - tanh^2 h, per site.
    h = 0.4
    en = enumerate_model(IsingModel(Chain(10), 0.0, field=h))
    t = math.tanh(h)
    assert abs(en.magnetization_per_site - t) < 1e-14
    assert abs(en.susceptibility_per_site - (1 - t * t)) < 1e-13
    assert abs(en.magnetization2 - (t * t + (1 - t * t) / 10)) < 1e-14
    assert abs(en.specific_heat_per_site - h * h * (1 - t * t)) < 1e-13
    assert abs(en.correlation(2, 7) - t * t) < 1e-14
    # zero field: <|M|> of 10 fair coins
    en0 = enumerate_model(IsingModel(Chain(10), 0.0))
    k = np.arange(11)
    comb = np.array([math.comb(10, int(i)) for i in k]) / 2**10
    assert abs(en0.abs_magnetization_per_site - np.sum(comb * np.abs(2 * k - 10)) / 10) < 1e-14
    with pytest.raises(ValueError, match="K != 0"):
        _ = en.energy_per_site


def test_enumeration_correlation_function_square():
    en = _square_enum(4, 0.3)
    g = en.correlation_function()
    assert g[0] == pytest.approx(1.0, abs=1e-14)
    assert abs(g[1] - g[3]) < 1e-14  # torus symmetry r <-> L - r
    np.testing.assert_allclose(en.correlation_function(axis=0), g, atol=1e-14)
    assert abs(en.correlation((1, 2), (1, 3)) - g[1]) < 1e-14
    # nearest-neighbour correlation = -u / 2 (two bonds per site)
    assert abs(g[1] + en.energy_per_site / 2) < 1e-14


def test_enumeration_refuses_large_systems():
    with pytest.raises(ValueError, match="kaufman"):
        enumerate_model(IsingModel(SquareLattice(5), 0.3))
