"""AIS-based distance from an exact RG step against exact enumeration on a 4 x 4 torus.

Exact i.i.d. samples of the Ising distribution (drawn from the enumerated probabilities), AIS
for ``ln Z_RBM`` and the exact Kaufman ``ln Z``: the estimate must agree with the enumerated
KL within 3 standard errors (issue 11, acceptance 2) and reject a wrong model by > 5.
"""

import numpy as np
import pytest
import torch

from kadanoff._rng import spawn
from kadanoff.ising.exact import kaufman_log_partition
from kadanoff.lattice import SquareLattice
from kadanoff.rbm import SpinRBM
from kadanoff.rg import BondRBM
from kadanoff.rg.rg_distance import (
    exact_distance,
    exact_network_distance,
    free_energies,
    ising_reference,
    network_distance,
    network_log_probabilities,
    rbm_distance,
    torus_distribution,
)
from kadanoff.spins import all_states

L, K = 4, 0.4


def bond_rbm(K, *, noise=0.0, seed=0):
    bonds = SquareLattice(L).bonds
    w = float(BondRBM(2, K=K).w)
    W = np.zeros((L * L, len(bonds)))
    W[bonds[:, 0], np.arange(len(bonds))] = w
    W[bonds[:, 1], np.arange(len(bonds))] = w
    W += noise * np.random.default_rng(seed).normal(size=W.shape)
    return SpinRBM.from_parameters(W, np.zeros(L * L), np.zeros(len(bonds)), dtype=torch.float64)


@pytest.fixture(scope="module")
def exact_data():
    P = torus_distribution(L, K)
    idx = np.random.default_rng(11).choice(len(P), size=20_000, p=P)
    v = all_states(L * L)[idx].reshape(-1, L, L)
    H, lz = ising_reference(v, K)
    assert lz == pytest.approx(float(kaufman_log_partition(L, K)), abs=1e-12)
    return P, v, H, lz


@pytest.mark.parametrize("noise", [0.0, 0.15])
def test_ais_estimate_agrees_with_enumeration(exact_data, noise):
    P, v, H, lz = exact_data
    rbm = bond_rbm(K, noise=noise)
    exact = exact_distance(P, rbm).kl_per_spin
    est = rbm_distance(rbm, v, H, lz, seed=5, n_chains=200, n_betas=2000)
    assert est.kind == "estimate" and est.stderr > 0
    assert abs(est.kl_per_spin - exact) < 3 * est.stderr, (est, exact)
    # a wrong model (the bond RBM of another coupling) is rejected
    wrong = exact_distance(P, bond_rbm(0.85 * K, noise=noise)).kl_per_spin
    assert abs(est.kl_per_spin - wrong) > 5 * est.stderr


def test_exact_log_partition_removes_the_ais_error(exact_data):
    from kadanoff.rbm import exact as rbm_exact

    P, v, H, lz = exact_data
    rbm = bond_rbm(K, noise=0.15)
    lzm = rbm_exact.log_partition(rbm)
    est = rbm_distance(rbm, v, H, lz, seed=0, log_z_model=(lzm, 0.0))
    d = free_energies(rbm, v) - H
    assert est.stderr == pytest.approx(d.std(ddof=1) / np.sqrt(len(d)) / 16, rel=1e-12)
    assert abs(est.kl_per_spin - exact_distance(P, rbm).kl_per_spin) < 4 * est.stderr


def small_dbn():
    """16 -> 6 -> 3 spin DBN with local, ferromagnetic first-layer fields."""
    r1 = SpinRBM.random(16, 6, seed=3, weight_scale=0.35)
    r2 = SpinRBM.random(6, 3, seed=4, weight_scale=0.5)
    return [r1, r2]


def expected_bound(P, layers):
    """Exact E_P E_Q[lower bound] of a 2-level DBN by enumerating h1 (brute force)."""
    from kadanoff.rbm import exact as rbm_exact

    r1, r2 = (m.numpy() for m in layers)
    vs = all_states(16).astype(np.float64)
    h1 = all_states(6).astype(np.float64)
    lz2 = rbm_exact.log_partition(layers[1])
    log_top = -free_energies(layers[1], h1) - lz2  # (64,)
    fv = r1["visible_bias"] + h1 @ r1["weights"].T  # (64, 16)
    log_down = vs @ fv.T - np.log(2 * np.cosh(fv)).sum(1)[None, :]  # (2^16, 64)
    fh = r1["hidden_bias"] + vs @ r1["weights"]  # (2^16, 6)
    log_q = h1 @ fh.T - np.log(2 * np.cosh(fh)).sum(1)[None, :]  # (64, 2^16)
    q = np.exp(log_q).T
    bound = np.sum(q * (log_top[None, :] + log_down - log_q.T), axis=1)
    return float(np.sum(P * (np.log(P) - bound))) / 16, lz2


def test_dbn_bound_is_an_upper_bound_and_is_estimated(exact_data):
    P, v, H, lz = exact_data
    layers = small_dbn()
    kl_exact = exact_network_distance(P, layers, 2).kl_per_spin
    kl_bound, lz2 = expected_bound(P, layers)
    assert kl_bound >= kl_exact - 1e-12  # Jensen: the variational bound (exact statement)
    est = network_distance(layers, 2, v, H, lz, seed=2, n_chains=200, n_betas=2000)
    assert est.kind == "upper_bound" and est.level == 2
    assert abs(est.kl_per_spin - kl_bound) < 3 * est.stderr, (est, kl_bound)
    assert abs(est.log_z_model - lz2) < 4 * est.log_z_model_stderr + 1e-9
    # the bound is not the exact KL of a *different* network
    other = exact_network_distance(P, [layers[0], SpinRBM.random(6, 3, seed=9)], 2).kl_per_spin
    assert abs(est.kl_per_spin - other) > 5 * est.stderr
    lp = network_log_probabilities(layers, 2)
    assert abs(np.exp(lp).sum() - 1) < 1e-10


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10))
def test_ais_estimate_seed_sweep(exact_data, seed):
    P, _, _, lz = exact_data
    s_data, s_ais = spawn(seed, 2)
    idx = s_data.choice(len(P), size=10_000, p=P)
    v = all_states(L * L)[idx].reshape(-1, L, L)
    H, _ = ising_reference(v, K)
    rbm = bond_rbm(K, noise=0.15, seed=seed)
    est = rbm_distance(rbm, v, H, lz, seed=s_ais, n_chains=200, n_betas=2000)
    assert abs(est.kl_per_spin - exact_distance(P, rbm).kl_per_spin) < 4.5 * est.stderr


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_dbn_bound_seed_sweep(exact_data, seed):
    P, _, _, lz = exact_data
    s_data, s_est = spawn(seed, 2)
    v = all_states(L * L)[s_data.choice(len(P), size=10_000, p=P)].reshape(-1, L, L)
    H, _ = ising_reference(v, K)
    layers = small_dbn()
    kl_bound, _ = expected_bound(P, layers)
    est = network_distance(layers, 2, v, H, lz, seed=s_est, n_chains=200, n_betas=2000)
    assert abs(est.kl_per_spin - kl_bound) < 4.5 * est.stderr
