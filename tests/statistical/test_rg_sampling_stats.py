"""Statistical tests of the rg samplers against exact enumeration (issue 4, acceptance 3).

Each chi-square test rejects at p < 1e-5 (at most six tests: a correct implementation
fails the file with probability < 1e-4); z-tests use z = 4.5. Seeds are fixed.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from kadanoff.ising.model import IsingModel
from kadanoff.lattice import Chain, SquareLattice
from kadanoff.rg import (
    DecimationNetwork,
    GeneralBoltzmannMachine,
    MachineOperator,
    MajorityRule,
    coarse_grain,
    renormalized_hamiltonian,
    soft_decimation_flip_probability,
    soft_decimation_kernel,
)
from kadanoff.rg._common import logsumexp
from kadanoff.spins import all_states, state_index
from sampler_checks import chi2_pvalue

P_MIN = 1e-5
Z = 4.5


def chi_square_pvalue(samples: np.ndarray, probs: np.ndarray) -> float:
    """Pearson chi-square of state samples (n, n_sites) against exact probabilities
    (:func:`sampler_checks.chi2_pvalue`: bins with expected count < 5 pooled)."""
    counts = np.bincount(state_index(samples), minlength=len(probs))
    return chi2_pvalue(counts, probs * len(samples))


def test_decimation_network_top_down_chi_square():
    """theory.md 5(a): top-down samples of the deep network are the N = 8 chain, all layers."""
    net = DecimationNetwork(8, 0.6, 3)
    layers = net.sample_top_down(100_000, seed=2024)
    H = IsingModel(Chain(8), 0.6).energy(all_states(8))
    p_chain = np.exp(-H - logsumexp(-H))
    assert chi_square_pvalue(layers[0], p_chain) > P_MIN
    assert chi_square_pvalue(layers[1], net.layer_distribution(1)) > P_MIN


def test_majority_on_exact_samples_gives_h_rg():
    """MC RG: majority block spins of exact 4x4 samples follow exp(-H^RG) (MS 6, 9)."""
    lat = SquareLattice(4)
    model = IsingModel(lat, 0.35)
    H = model.energy(all_states(16).reshape(-1, 4, 4))
    rng = np.random.default_rng(77)
    v = all_states(16)[rng.choice(2**16, size=50_000, p=np.exp(-H - logsumexp(-H)))]
    op = MajorityRule(lat, 2, tie="random")
    h = coarse_grain(v.reshape(-1, 4, 4), op, seed=78).reshape(-1, 4)
    h_rg = renormalized_hamiltonian(op, model)
    assert chi_square_pvalue(h, np.exp(-h_rg - logsumexp(-h_rg))) > P_MIN


def test_machine_coarse_graining_matches_exact_mixture():
    """h ~ p(h|v) on data v ~ P gives sum_v P(v) p(h|v) (MS 18-22), exact by enumeration."""
    m = GeneralBoltzmannMachine.random(8, 3, scale=0.6, seed=5)  # with h-h couplings
    H = IsingModel(Chain(8), 0.5).energy(all_states(8))
    P = np.exp(-H - logsumexp(-H))
    rng = np.random.default_rng(6)
    v = all_states(8)[rng.choice(256, size=40_000, p=P)]
    h = coarse_grain(v, MachineOperator(m, H), seed=7)
    mix = P @ np.exp(m.log_hidden_conditional(all_states(8).astype(float)))
    assert chi_square_pvalue(h, mix) > P_MIN


def test_random_ties_are_fair():
    op = MajorityRule(Chain(4), 4, tie="random")
    v = np.tile(np.array([[1, -1, 1, -1]], np.int8), (40_000, 1))
    h = coarse_grain(v, op, seed=11)
    n_up = int(np.sum(h == 1))
    assert abs(n_up - 20_000) < Z * np.sqrt(40_000 * 0.25)


def test_soft_decimation_flip_rate():
    lam = 0.8
    op = soft_decimation_kernel(16, lam)
    v = np.random.default_rng(12).choice(np.array([-1, 1], np.int8), size=(20_000, 16))
    h = coarse_grain(v, op, seed=13)
    flips = int(np.sum(h != v[:, 0::2]))
    n = h.size
    p = soft_decimation_flip_probability(lam)
    assert abs(flips - n * p) < Z * np.sqrt(n * p * (1 - p))


@pytest.mark.slow
def test_decimation_network_p_values_uniform_over_seeds():
    """Seed sweep: chi-square p-values of the N = 8 network are uniform (KS test, p > 1e-4)."""
    net = DecimationNetwork(8, 1.0, 2)
    H = IsingModel(Chain(8), 1.0).energy(all_states(8))
    p_chain = np.exp(-H - logsumexp(-H))
    pvals = [chi_square_pvalue(net.sample_top_down(20_000, seed=s)[0], p_chain) for s in range(40)]
    assert stats.kstest(pvals, "uniform").pvalue > 1e-4
