"""Acceptance 1-2: pseudo-likelihood couplings recover known Hamiltonians (issue 10, item 3).

Every estimate must lie within 4.5 standard errors (sandwich estimator) of the exact coupling,
and a wrong Hamiltonian must be rejected by the same test.
"""

import numpy as np
import pytest

from kadanoff._rng import make_rng
from kadanoff.ising.model import IsingModel
from kadanoff.ising.samplers.exact_chain import ExactChainSampler
from kadanoff.ising.samplers.wolff import WolffSampler
from kadanoff.lattice import Chain, SquareLattice
from kadanoff.rg import decimated_coupling, project, renormalized_hamiltonian
from kadanoff.rg.mcrg_couplings import CouplingBasis, PseudoLikelihood, fit_couplings
from kadanoff.rg.mcrg_operators import OperatorSet
from kadanoff.rg.operators import Decimation, MajorityRule
from kadanoff.spins import all_states

Z = 4.5


def _within(fit, exact):
    z = fit.z_scores(exact)
    return all(abs(x) < Z for x in z.values()), z


def _exact_samples(L, couplings, n, seed):
    """Independent samples of the L x L torus with H = -sum_a K_a S_a, by enumeration."""
    names = list(couplings)
    states = all_states(L * L).reshape(-1, L, L)
    logw = OperatorSet(names).evaluate(states) @ np.array([couplings[k] for k in names])
    p = np.exp(logw - logw.max())
    return states[make_rng(seed).choice(len(p), size=n, p=p / p.sum())]


def test_gradient_equals_finite_differences():
    v = _exact_samples(4, {"nn": 0.3, "nnn": -0.1, "plaquette": 0.15}, 2000, seed=1)
    pl = PseudoLikelihood(CouplingBasis.square(4, ["nn", "nnn", "plaquette", "field"]), v)
    h = 1e-5
    for K in (np.zeros(4), np.array([0.2, 0.1, -0.3, 0.05])):
        fd = [(pl.objective(K + h * e) - pl.objective(K - h * e)) / (2 * h) for e in np.eye(4)]
        np.testing.assert_allclose(pl.gradient(K), fd, atol=1e-7, rtol=0)
        fdh = [(pl.gradient(K + h * e) - pl.gradient(K - h * e)) / (2 * h) for e in np.eye(4)]
        np.testing.assert_allclose(pl.hessian(K), np.array(fdh), atol=1e-7, rtol=0)


def test_local_differences_are_half_the_flip_change():
    basis = CouplingBasis.square(3, ["nn", "3nn", "plaquette", "three", "field"])
    v = (2 * make_rng(4).integers(0, 2, (6, 3, 3)) - 1).astype(np.int8)
    d, S = basis.differences(v), basis.evaluate(v)
    for i in range(9):
        w = v.reshape(6, 9).copy()
        w[:, i] *= -1
        np.testing.assert_array_equal(2 * d[:, i], S - basis.evaluate(w.reshape(6, 3, 3)))


def test_torus_4x4_with_nn_nnn_plaquette():
    exact = {"nn": 0.3, "nnn": -0.1, "plaquette": 0.15}
    v = _exact_samples(4, exact, 20_000, seed=3)
    fit = fit_couplings(v, ["nn", "nnn", "plaquette"], n_blocks=1000)
    ok, z = _within(fit, exact)
    assert ok, z
    assert not _within(fit, {**exact, "plaquette": 0.0})[0]  # a wrong Hamiltonian is rejected


@pytest.mark.parametrize("K", [0.25, 0.35, 0.42])
def test_nearest_neighbour_samples(K):
    model = IsingModel(SquareLattice(16), K)
    smp = WolffSampler(model, clusters_per_sweep=4)
    state, _ = smp.run(smp.init_state(2, seed=1), 200, seed=2)
    samples, _, _ = smp.record(state, 2000, thin=2, seed=int(100 * K))
    v = samples.transpose(1, 0, 2, 3).reshape(-1, 16, 16)  # chain-major: blocks stay in time
    fit = fit_couplings(v, ["nn", "nnn", "plaquette", "field"], n_blocks=40)
    ok, z = _within(fit, {"nn": K})
    assert ok, z
    assert not _within(fit, {"nn": K + 0.02})[0]
    assert set(fit.as_dict()) >= {"K_nn", "K_nn_error", "K_field", "K_field_error"}


def test_decimated_chain_recovers_the_exact_flow():
    """b = 2 decimation of a ring: K' = (1/2) ln cosh 2K, no other coupling (theory.md 5)."""
    K = 0.8
    v = ExactChainSampler(IsingModel(Chain(64), K)).sample(6000, seed=5)
    h = Decimation(Chain(64), 2).coarse_grain(v)
    fit = fit_couplings(h, CouplingBasis.chain(32, ("nn", "nnn", "field")), n_blocks=1000)
    ok, z = _within(fit, {"nn": float(decimated_coupling(K))})
    assert ok, z
    assert not _within(fit, {"nn": float(decimated_coupling(1.05 * K))})[0]


def _projected(operator, K, lattice, coarse, names):
    H = renormalized_hamiltonian(operator, IsingModel(lattice, K))
    proj = project(H, coarse, names)
    assert proj.residual_rms < 1e-9  # the ansatz holds H^RG exactly
    return proj.couplings


def test_exact_projection_of_majority_rule_on_4x4_torus():
    """H^RG of majority b = 2 (random ties) on 4x4 -> 2x2, projected exactly (rg.projection)."""
    rule = MajorityRule(SquareLattice(4), 2, tie="random")
    names = ("nn", "nnn", "plaquette")
    exact = _projected(rule, 0.35, SquareLattice(4), SquareLattice(2), names)
    fine = _exact_samples(4, {"nn": 0.35}, 60_000, seed=6)
    h = rule.coarse_grain(fine, seed=7)
    fit = fit_couplings(h, CouplingBasis.square(2, names), n_blocks=1000)
    ok, z = _within(fit, exact)
    assert ok, (z, exact, fit.couplings)
    wrong = _projected(rule, 0.30, SquareLattice(4), SquareLattice(2), names)
    assert not _within(fit, wrong)[0]


def test_exact_projection_of_majority_b3_on_a_ring():
    """12-ring -> 4-ring by majority of 3: H^RG = c - K1 nn - K2 nnn - K4 four, exactly."""
    rule = MajorityRule(Chain(12), 3)
    names = ("nn", "nnn", "four")
    exact = _projected(rule, 0.6, Chain(12), Chain(4), names)
    v = ExactChainSampler(IsingModel(Chain(12), 0.6)).sample(40_000, seed=8)
    h = rule.coarse_grain(v, seed=9)
    fit = fit_couplings(h, CouplingBasis.chain(4, names), n_blocks=1000)
    ok, z = _within(fit, exact)
    assert ok, (z, exact, fit.couplings)
    wrong = _projected(rule, 0.55, Chain(12), Chain(4), names)
    assert not _within(fit, wrong)[0]


def test_unidentifiable_and_bad_input_errors():
    v = _exact_samples(2, {"nn": 0.3}, 50, seed=1)
    with pytest.raises(ValueError, match="constant on a lattice"):
        fit_couplings(v, ["nn", "3nn"])
    with pytest.raises(ValueError, match="not identifiable"):
        fit_couplings(np.ones((10, 4, 4), np.int8), ["nn", "nnn"])
    with pytest.raises(ValueError, match="do not fit the basis"):
        CouplingBasis.square(4).evaluate(np.ones((2, 3, 3), np.int8))


@pytest.mark.slow
def test_sandwich_errors_are_calibrated_over_seeds():
    """z-scores over 20 independent data sets: mean 0, standard deviation 1 (within 4.5 sigma)."""
    exact = {"nn": 0.3, "nnn": -0.1, "plaquette": 0.15}
    z = []
    for seed in range(20):
        v = _exact_samples(4, exact, 5000, seed=100 + seed)
        fit = fit_couplings(v, ["nn", "nnn", "plaquette"], n_blocks=500)
        z += list(fit.z_scores(exact).values())
    z = np.array(z)
    n = len(z)
    assert abs(z.mean()) < Z / np.sqrt(n)
    assert abs(z.std() - 1.0) < Z / np.sqrt(2 * n) + 0.1  # + the noise of 500-block sandwiches
