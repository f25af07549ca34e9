"""Distance from an exact RG step: exact KL per spin on enumerable lattices (theory.md 5c, 7)."""

import itertools

import numpy as np
import pytest
import torch

from kadanoff.lattice import SquareLattice
from kadanoff.rbm import BinaryRBM, SpinRBM
from kadanoff.rg import BondRBM
from kadanoff.rg.rg_distance import (
    exact_distance,
    exact_network_distance,
    free_energies,
    ising_reference,
    network_log_probabilities,
    ring_distribution,
    torus_distribution,
)
from kadanoff.spins import all_states


def brute_log_p(rbm, v_states):
    """ln p_RBM(v) by summing exp(-E(v, h)) over every (v, h) explicitly (spin units)."""
    p = rbm.numpy()
    W, a, b = p["weights"], p["visible_bias"], p["hidden_bias"]
    hs = np.array(list(itertools.product([1.0, -1.0], repeat=W.shape[1])))
    neg_e = v_states @ W @ hs.T + (v_states @ a)[:, None] + (hs @ b)[None, :]
    log_pstar = np.log(np.exp(neg_e).sum(1))
    return log_pstar - np.log(np.exp(log_pstar).sum())


def brute_kl_per_spin(P, rbm):
    v = all_states(rbm.n_visible).astype(np.float64)
    lp = brute_log_p(rbm, v)
    nz = P > 0
    return float(np.sum(P[nz] * (np.log(P[nz]) - lp[nz]))) / rbm.n_visible


@pytest.mark.parametrize("n, K", [(6, 0.3), (8, 0.5), (10, 1.2)])
def test_bond_rbm_is_an_exact_rg_step(n, K):
    d = exact_distance(ring_distribution(n, K), BondRBM(n, K=K))
    assert d.kind == "exact" and abs(d.kl_per_spin) < 1e-10
    # a bond RBM at the wrong coupling is not
    wrong = exact_distance(ring_distribution(n, K), BondRBM(n, K=1.1 * K))
    assert wrong.kl_per_spin > 1e-4


def test_trained_rbm_on_the_ring_has_its_exact_kl(one_torch_thread):
    from kadanoff.rbm.train import get_preset, train_rbm

    n, K = 8, 0.5
    P = ring_distribution(n, K)
    rng = np.random.default_rng(0)
    data = all_states(n)[rng.choice(len(P), size=3000, p=P)].astype(np.float32)
    fit = train_rbm((n, 4), data, get_preset("spin", epochs=5), seed=1, progress=False)
    d = exact_distance(P, fit.model)
    assert d.kl_per_spin == pytest.approx(brute_kl_per_spin(P, fit.model.to(dtype=torch.float64)),
                                          abs=1e-10)  # fmt: skip
    assert 0 < d.kl_per_spin < np.log(2)  # better than uniform, not exact


def test_torus_kl_matches_brute_force():
    L, K = 4, 0.35
    P = torus_distribution(L, K)
    assert P.shape == (2**16,) and abs(P.sum() - 1) < 1e-12
    rbm = SpinRBM.random(16, 3, seed=2, weight_scale=0.3)
    assert exact_distance(P, rbm).kl_per_spin == pytest.approx(brute_kl_per_spin(P, rbm),
                                                               abs=1e-10)  # fmt: skip


def test_bond_rbm_on_the_torus_is_exact():
    """theory.md 5c on a graph: one hidden unit per bond gives ln 2cosh(w(v_i + v_j))."""
    L, K = 4, 0.4
    bonds = SquareLattice(L).bonds
    w = float(BondRBM(2, K=K).w)  # the bond weight does not depend on the graph
    W = np.zeros((L * L, len(bonds)))
    W[bonds[:, 0], np.arange(len(bonds))] = w
    W[bonds[:, 1], np.arange(len(bonds))] = w
    rbm = SpinRBM.from_parameters(W, np.zeros(L * L), np.zeros(len(bonds)), dtype=torch.float64)
    assert abs(exact_distance(torus_distribution(L, K), rbm).kl_per_spin) < 1e-10


def test_free_energies_and_reference():
    rbm = SpinRBM.random(9, 4, seed=3)
    v = all_states(9)[:50]
    np.testing.assert_allclose(free_energies(rbm, v), rbm.free_energy_visible(v).numpy(),
                               atol=1e-12)  # fmt: skip
    b = rbm.to_binary()
    assert isinstance(b, BinaryRBM)
    np.testing.assert_allclose(free_energies(b, v), b.free_energy_visible((v + 1) / 2).numpy(),
                               atol=1e-12)  # fmt: skip
    H, lz = ising_reference(all_states(9).reshape(-1, 3, 3), 0.3)
    assert lz == pytest.approx(np.log(np.exp(-H).sum()), abs=1e-10)
    H1, lz1 = ising_reference(all_states(7), 0.6)
    assert lz1 == pytest.approx(np.log(np.exp(-H1).sum()), abs=1e-10)
    with pytest.raises(ValueError, match="torus"):
        ising_reference(np.ones((2, 2, 3, 3)), 0.3)


def tiny_dbn(seed=0):
    r1 = SpinRBM.random(5, 3, seed=seed, weight_scale=0.6)
    r2 = SpinRBM.random(3, 2, seed=seed + 100, weight_scale=0.8)
    return [r1, r2]


def test_network_log_probabilities_match_brute_force():
    layers = tiny_dbn()
    lp = network_log_probabilities(layers, 2)
    assert abs(np.exp(lp).sum() - 1) < 1e-12
    p1, p2 = layers[0].numpy(), layers[1].numpy()
    vs = all_states(5).astype(np.float64)
    h1s = all_states(3).astype(np.float64)
    p_top = np.exp(brute_log_p(layers[1], h1s))  # the top RBM's marginal of h1
    brute = np.zeros(len(vs))
    for k, h1 in enumerate(h1s):
        field = p1["visible_bias"] + p1["weights"] @ h1
        cond = np.prod(np.exp(vs * field) / (2 * np.cosh(field)), axis=1)
        brute += cond * p_top[k]
    np.testing.assert_allclose(lp, np.log(brute), atol=1e-12)
    assert p2["weights"].shape == (3, 2)
    # level 1 is the first RBM itself
    np.testing.assert_allclose(network_log_probabilities(layers, 1), brute_log_p(layers[0], vs),
                               atol=1e-12)  # fmt: skip
    P = np.random.default_rng(0).dirichlet(np.ones(32))
    d = exact_network_distance(P, layers, 2)
    nz = P > 0
    assert d.kl_per_spin == pytest.approx(np.sum(P[nz] * np.log(P[nz] / brute[nz])) / 5, abs=1e-12)


def test_binary_and_spin_networks_have_the_same_distance():
    layers = tiny_dbn(seed=4)
    binary = [m.to_binary() for m in layers]
    np.testing.assert_allclose(network_log_probabilities(binary, 2),
                               network_log_probabilities(layers, 2), atol=1e-10)  # fmt: skip
    P = ring_distribution(5, 0.7)
    assert exact_distance(P, binary[0]).kl_per_spin == pytest.approx(
        exact_distance(P, layers[0]).kl_per_spin, abs=1e-12
    )


def test_network_bound_does_not_depend_on_the_unit_type():
    from kadanoff.rbm import exact as rbm_exact
    from kadanoff.rg.rg_distance import network_distance

    layers = tiny_dbn(seed=5)
    binary = [m.to_binary() for m in layers]
    v = np.random.default_rng(0).choice(np.array([-1, 1], np.int8), size=(400, 5))
    H, lz = ising_reference(v, 0.4)
    d = [
        network_distance(ls, 2, v, H, lz, seed=3, log_z_top=(rbm_exact.log_partition(ls[1]), 0.0))
        for ls in (layers, binary)
    ]
    assert d[0].kind == "upper_bound"
    assert d[0].kl_per_spin == pytest.approx(d[1].kl_per_spin, abs=1e-10)
    assert d[0].stderr == pytest.approx(d[1].stderr, abs=1e-10)
