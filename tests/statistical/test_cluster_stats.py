"""Statistical tests of the cluster samplers and the exact chain sampler against exact results.

(a) Full state histograms of the 3x3 torus and the 8-site ring against the exact Boltzmann
    distribution (chi-square, independent thermalized chains, one sample each).
(b) L = 16 torus at K = 0.40, K_c, 0.47: energy and specific heat per site against
    Kaufman's exact finite-torus values.
(c) 1D: <v_0 v_r> against the exact ring (and open-chain) correlations.

Error bars come from the spread between independent chains (jackknife over chains for the
specific heat), so autocorrelation is accounted for automatically. With ``n_chains``
chain means the statistic ``(estimate - exact) / sigma`` is Student-t with
``n_chains - 1`` degrees of freedom; for the values used here, ``P(|t| > 4.5) < 3e-5`` per
comparison, so each test fails for a correct sampler with probability below 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

from kadanoff.ising.exact import (
    chain_correlation,
    enumerate_model,
    kaufman_energy_per_site,
    kaufman_specific_heat_per_site,
    ring_correlation,
)
from kadanoff.ising.model import K_CRITICAL, IsingModel
from kadanoff.ising.samplers.exact_chain import ExactChainSampler
from kadanoff.ising.samplers.swendsen_wang import SwendsenWangSampler
from kadanoff.ising.samplers.wolff import WolffSampler
from kadanoff.lattice import Chain, SquareLattice
from sampler_checks import histogram_pvalue

Z = 4.5
ALPHA = 1e-5  # chi-square significance: a correct sampler fails with probability 1e-5


def _make(alg: str, model: IsingModel, clusters_per_sweep: int = 1):
    if alg == "wolff":
        return WolffSampler(model, clusters_per_sweep=clusters_per_sweep)
    if alg == "sw":
        return SwendsenWangSampler(model)
    return ExactChainSampler(model)


# ---------------------------------------------------------------------------------------
# (a) full state histograms
# ---------------------------------------------------------------------------------------

HIST_CASES = [
    ("wolff", IsingModel(SquareLattice(3), 0.25)),
    ("wolff", IsingModel(SquareLattice(3), 0.5)),
    ("sw", IsingModel(SquareLattice(3), 0.25)),
    ("sw", IsingModel(SquareLattice(3), 0.5)),
    ("wolff", IsingModel(Chain(8), 0.6)),
    ("sw", IsingModel(Chain(8), 0.6)),
    ("wolff", IsingModel(Chain(8), -0.4)),
    ("exact", IsingModel(Chain(8), 0.6)),
    ("exact", IsingModel(Chain(8), -0.4, field=0.3)),
    ("exact", IsingModel(Chain(8, periodic=False), 0.9, field=-0.2)),
]


@pytest.mark.parametrize("alg,model", HIST_CASES, ids=lambda x: str(x))
def test_state_histogram_matches_boltzmann(alg, model):
    """60,000 independent chains from random states, 100 clusters / 25 sweeps of burn-in,
    one sample each; Pearson chi-square over all 2^N states at significance 1e-5."""
    n_chains = 60_000
    smp = _make(alg, model, clusters_per_sweep=4)
    s = smp.init_state(n_chains, seed=11)
    s, _ = smp.run(s, 25, seed=12)
    assert histogram_pvalue(model, s) > ALPHA


def test_histogram_test_has_power():
    """The same test rejects samples drawn at a slightly wrong coupling (K + 0.05)."""
    wrong = IsingModel(SquareLattice(3), 0.30)
    smp = WolffSampler(wrong, clusters_per_sweep=4)
    s, _ = smp.run(smp.init_state(60_000, seed=1), 25, seed=2)
    assert histogram_pvalue(IsingModel(SquareLattice(3), 0.25), s) < ALPHA


# ---------------------------------------------------------------------------------------
# (b) L = 16 torus against Kaufman
# ---------------------------------------------------------------------------------------


def _chain_series(smp, n_chains: int, n_burn: int, n_meas: int, seed: int) -> np.ndarray:
    """Bond sums ``sum_<ij> v_i v_j`` after each sweep, shape ``(n_chains, n_meas)``."""
    rng = np.random.default_rng(seed)
    s = smp.init_state(n_chains, seed=rng)
    s, _ = smp.run(s, n_burn, seed=rng)
    out = np.empty((n_chains, n_meas))
    for t in range(n_meas):
        s, _ = smp.run(s, 1, seed=rng)
        out[:, t] = smp.model.bond_sum(s)
    return out


def _energy_and_heat(b: np.ndarray, K: float, n_sites: int):
    """Per-site energy and specific heat with errors from the spread over chains.

    ``u = -<B>/N``, ``c = K^2 var(B)/N``; ``b`` has shape ``(n_chains, n_meas)``. The
    energy error is the standard error of the chain means; the specific heat (a
    nonlinear function of the pooled moments) uses the jackknife over chains.
    """
    n_chains = b.shape[0]
    m1, m2 = b.mean(1), (b**2).mean(1)
    u_chain = -m1 / n_sites
    u, du = u_chain.mean(), u_chain.std(ddof=1) / np.sqrt(n_chains)

    def heat(idx):
        mu1, mu2 = m1[idx].mean(), m2[idx].mean()
        return K**2 * (mu2 - mu1**2) / n_sites

    full = heat(np.arange(n_chains))
    loo = np.array([heat(np.delete(np.arange(n_chains), i)) for i in range(n_chains)])
    dc = np.sqrt((n_chains - 1) / n_chains * np.sum((loo - loo.mean()) ** 2))
    c = n_chains * full - (n_chains - 1) * loo.mean()
    return u, du, c, dc


SEEDS = {"wolff": 100_000, "sw": 200_000}


@pytest.mark.parametrize("alg", ["wolff", "sw"])
@pytest.mark.parametrize("K", [0.40, K_CRITICAL, 0.47], ids=["K0.40", "Kc", "K0.47"])
def test_torus16_energy_and_specific_heat(alg, K):
    """64 chains x 400 measurements (Wolff: 6 clusters per sweep); both observables
    within 4.5 sigma of Kaufman (Student-t, 63 dof: P(|t| > 4.5) = 3e-5 each)."""
    L = 16
    model = IsingModel(SquareLattice(L), K)
    smp = _make(alg, model, clusters_per_sweep=6)
    b = _chain_series(smp, n_chains=64, n_burn=100, n_meas=400, seed=SEEDS[alg] + int(K * 1e4))
    u, du, c, dc = _energy_and_heat(b, K, L * L)
    u_ex = kaufman_energy_per_site(L, K)
    c_ex = kaufman_specific_heat_per_site(L, K)
    assert abs(u - u_ex) < Z * du, (u, u_ex, du)
    assert abs(c - c_ex) < Z * dc, (c, c_ex, dc)


# ---------------------------------------------------------------------------------------
# (c) 1D correlations
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["wolff", "sw", "exact"])
def test_ring_correlation(alg):
    """<v_0 v_r> (translation-averaged) on a 20-site ring at K = 0.6 for r = 1, 4, 10;
    128 chains x 200 sweeps; each within 4.5 sigma (t, 127 dof: P = 1.5e-5 each)."""
    n, K, rs = 20, 0.6, (1, 4, 10)
    model = IsingModel(Chain(n), K)
    smp = _make(alg, model, clusters_per_sweep=4)
    rng = np.random.default_rng(2024)
    s, _ = smp.run(smp.init_state(128, seed=rng), 50, seed=rng)
    acc = np.zeros((128, len(rs)))
    n_meas = 200
    for _ in range(n_meas):
        s, _ = smp.run(s, 1, seed=rng)
        v = s.astype(np.float64)
        for k, r in enumerate(rs):
            acc[:, k] += (v * np.roll(v, -r, axis=1)).mean(1)
    per_chain = acc / n_meas
    est = per_chain.mean(0)
    err = per_chain.std(0, ddof=1) / np.sqrt(128)
    exact = ring_correlation(n, K, np.array(rs))
    assert np.all(np.abs(est - exact) < Z * err), (est, exact, err)


@pytest.mark.parametrize("alg", ["wolff", "sw", "exact"])
def test_open_chain_correlation(alg):
    """<v_i v_j> on an open 12-site chain (K = 0.8) for (i, j) = (0, 11) and (3, 7) against
    the transfer matrix; 30,000 independent chains, one sample each."""
    n, K, pairs = 12, 0.8, ((0, 11), (3, 7))
    model = IsingModel(Chain(n, periodic=False), K)
    smp = _make(alg, model, clusters_per_sweep=4)
    s, _ = smp.run(smp.init_state(30_000, seed=3), 30, seed=4)
    for i, j in pairs:
        x = (s[:, i] * s[:, j]).astype(np.float64)
        exact = chain_correlation(n, K, i, j, periodic=False)
        assert abs(x.mean() - exact) < Z * x.std(ddof=1) / np.sqrt(len(x))


def test_exact_chain_with_field_correlation():
    """Ring with a field: <v_0 v_5> (transfer matrix) and the magnetization per site
    (enumeration) from 40,000 exact samples."""
    n, K, h = 15, 0.5, 0.2
    smp = ExactChainSampler(IsingModel(Chain(n), K, field=h))
    s = smp.sample(40_000, seed=9).astype(np.float64)
    x = s[:, 0] * s[:, 5]
    exact = chain_correlation(n, K, 0, 5, field=h)
    assert abs(x.mean() - exact) < Z * x.std(ddof=1) / np.sqrt(len(x))
    m = s.mean(1)  # magnetization per site of each sample
    ex = enumerate_model(IsingModel(Chain(n), K, field=h))
    m_exact = ex.mean(ex.states.reshape(len(ex.states), n).mean(1))
    assert abs(m.mean() - m_exact) < Z * m.std(ddof=1) / np.sqrt(len(m))


@pytest.mark.slow
@pytest.mark.parametrize("alg", ["wolff", "sw"])
@pytest.mark.parametrize("seed", range(5))
def test_torus16_seed_sweep(alg, seed):
    """Random-seed sweep of the K_c torus test (each seed fails with probability < 1e-4)."""
    L, K = 16, K_CRITICAL
    smp = _make(alg, IsingModel(SquareLattice(L), K), clusters_per_sweep=6)
    b = _chain_series(smp, n_chains=64, n_burn=100, n_meas=400, seed=7_000 + seed)
    u, du, c, dc = _energy_and_heat(b, K, L * L)
    assert abs(u - kaufman_energy_per_site(L, K)) < Z * du
    assert abs(c - kaufman_specific_heat_per_site(L, K)) < Z * dc
