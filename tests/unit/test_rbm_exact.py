"""Exact oracle: log Z, marginals, KL and its gradient against brute-force enumeration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import torch

from kadanoff.rbm import BinaryRBM, SpinRBM, exact
from kadanoff.spins import all_states

TOL = 1e-10


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_rbm(cls, nv, nh, seed, scale=0.5):
    return cls.random(nv, nh, seed=seed, weight_scale=scale)


def brute_neg_energy(rbm):
    """-E(v, h) for every (v, h), shape (2^nv, 2^nh), independent of the model code."""
    p = rbm.numpy()

    def st(n):
        s = all_states(n).astype(np.float64)
        return (s + 1) / 2 if rbm.units == "binary" else s

    V, H = st(rbm.n_visible), st(rbm.n_hidden)
    return (
        np.einsum("vi,ij,hj->vh", V, p["weights"], H)
        + (V @ p["visible_bias"])[:, None]
        + (H @ p["hidden_bias"])[None, :]
    ), V


@pytest.mark.parametrize("cls", [SpinRBM, BinaryRBM])
@pytest.mark.parametrize("nv,nh", [(4, 3), (12, 8), (5, 9)])
def test_log_partition_and_marginals_match_brute_force(cls, nv, nh):
    rbm = random_rbm(cls, nv, nh, seed=nv * 31 + nh)
    neg_e, _ = brute_neg_energy(rbm)
    log_z = scipy.special.logsumexp(neg_e)
    assert abs(exact.log_partition(rbm) - log_z) < TOL
    joint = np.exp(neg_e - log_z)
    np.testing.assert_allclose(exact.visible_distribution(rbm), joint.sum(1), atol=TOL, rtol=0)
    np.testing.assert_allclose(exact.hidden_distribution(rbm), joint.sum(0), atol=TOL, rtol=0)
    if nv + nh <= 12:
        np.testing.assert_allclose(exact.joint_distribution(rbm), joint, atol=TOL, rtol=0)
    # a float32 model is evaluated in float64 by the oracle
    r32 = rbm.to(dtype=torch.float32)
    neg32, _ = brute_neg_energy(r32)
    assert abs(exact.log_partition(r32) - scipy.special.logsumexp(neg32)) < TOL


def test_log_partition_sums_over_the_smaller_layer():
    # 20 visible, 3 hidden: only the hidden layer (8 states) is enumerated; compare against
    # the closed form ln Z = ln sum_h exp(b.h) prod_i 2 cosh(a_i + (W h)_i).
    rbm = random_rbm(SpinRBM, 20, 3, seed=5)
    p = rbm.numpy()
    H = all_states(3).astype(np.float64)
    terms = H @ p["hidden_bias"] + np.log(2 * np.cosh(p["visible_bias"] + H @ p["weights"].T)).sum(
        1
    )
    assert abs(exact.log_partition(rbm) - scipy.special.logsumexp(terms)) < TOL


def test_log_partition_spin_binary_offset():
    # ln Z_spin = ln Z_binary + log_const (the conversion's additive constant)
    from kadanoff.rbm import spin_to_binary_parameters

    s = random_rbm(SpinRBM, 6, 4, seed=9, scale=1.0)
    *_, c = spin_to_binary_parameters(s.weights, s.visible_bias, s.hidden_bias)
    assert abs(exact.log_partition(s) - exact.log_partition(s.to_binary()) - c) < TOL
    np.testing.assert_allclose(
        exact.visible_distribution(s), exact.visible_distribution(s.to_binary()), atol=1e-12
    )


def test_bond_rbm_reproduces_ising_ring():
    """theory.md 5(c): one hidden unit per bond, w with K = (1/2) ln cosh 2w, gives KL = 0."""
    n, K = 8, 0.4
    w = 0.5 * math.acosh(math.exp(2 * K))
    W = np.zeros((n, n))
    for j in range(n):
        W[j, j] = W[(j + 1) % n, j] = w
    rbm = SpinRBM.from_parameters(W, np.zeros(n), np.zeros(n))
    S = all_states(n).astype(np.float64)
    bonds = (S * np.roll(S, -1, axis=1)).sum(1)
    P = np.exp(K * bonds)
    P /= P.sum()
    np.testing.assert_allclose(exact.visible_distribution(rbm), P, atol=1e-12, rtol=0)
    assert abs(exact.kl_divergence(P, rbm)) < 1e-12
    # ln Z_rbm = N ln 2 + N K + ln Z_ring(K)  (ring: Z = (2 cosh K)^N + (2 sinh K)^N)
    z_ring = (2 * math.cosh(K)) ** n + (2 * math.sinh(K)) ** n
    assert abs(exact.log_partition(rbm) - (n * math.log(2) + n * K + math.log(z_ring))) < TOL


@pytest.mark.parametrize("cls", [SpinRBM, BinaryRBM])
def test_log_likelihood_and_kl(cls):
    rbm = random_rbm(cls, 6, 4, seed=13)
    neg_e, V = brute_neg_energy(rbm)
    log_pv = scipy.special.logsumexp(neg_e, axis=1) - scipy.special.logsumexp(neg_e)
    idx = np.array([0, 5, 17, 63])
    np.testing.assert_allclose(exact.log_likelihood(rbm, V[idx]), log_pv[idx], atol=TOL)
    r = np.random.default_rng(1)
    P = r.random(64) * (r.random(64) < 0.7)  # some zero-probability states
    P /= P.sum()
    nz = P > 0
    kl = np.sum(P[nz] * (np.log(P[nz]) - log_pv[nz]))
    assert abs(exact.kl_divergence(P, rbm) - kl) < TOL
    assert abs(exact.kl_divergence(np.exp(log_pv), rbm)) < 1e-12
    with pytest.raises(ValueError, match="64 visible states"):
        exact.kl_divergence(P[:10], rbm)
    with pytest.raises(ValueError, match="sum to 1"):
        exact.kl_divergence(2 * P, rbm)


@pytest.mark.parametrize("cls", [SpinRBM, BinaryRBM])
def test_exact_kl_gradient_matches_finite_differences(cls):
    """Central differences with step eps = 1e-5: truncation error eps^2 |KL'''| / 6 ~ 1e-11
    (parameters and derivatives are O(1)), rounding error ~ 1e-16 * |ln p| / eps ~ 1e-10.
    The tolerance 1e-8 is 100x above both and far below the gradient entries (~1e-2)."""
    rbm = random_rbm(cls, 5, 3, seed=17, scale=0.7)
    r = np.random.default_rng(2)
    P = r.random(32)
    P /= P.sum()
    grad = exact.exact_kl_gradient(P, rbm)
    p0 = rbm.numpy()
    eps = 1e-5
    for name in ("weights", "visible_bias", "hidden_bias"):
        fd = np.zeros_like(p0[name])
        for idx in np.ndindex(p0[name].shape):
            vals = []
            for sgn in (+1, -1):
                q = {k: v.copy() for k, v in p0.items()}
                q[name][idx] += sgn * eps
                m = cls.from_parameters(q["weights"], q["visible_bias"], q["hidden_bias"])
                vals.append(exact.kl_divergence(P, m))
            fd[idx] = (vals[0] - vals[1]) / (2 * eps)
        assert grad[name].shape == p0[name].shape
        np.testing.assert_allclose(grad[name], fd, atol=1e-8, rtol=0)
        assert np.abs(grad[name]).max() > 1e-3  # a non-trivial check


def test_enumeration_limits():
    with pytest.raises(ValueError, match="ais_log_partition"):
        exact.log_partition(SpinRBM(30, 30))
    with pytest.raises(ValueError, match="too large"):
        exact.joint_distribution(SpinRBM(14, 12))


@pytest.mark.parametrize("cls", [SpinRBM, BinaryRBM])
def test_log_hidden_conditional_is_the_joint_over_the_marginal(cls):
    rbm = cls.random(4, 3, seed=7, weight_scale=0.8)
    joint = exact.joint_distribution(rbm)
    expected = np.log(joint / joint.sum(1, keepdims=True))
    V = exact.layer_states(rbm, 4)
    np.testing.assert_allclose(exact.log_hidden_conditional(rbm, V), expected, atol=1e-12)
    # a model with other weights is told apart
    other = cls.random(4, 3, seed=8, weight_scale=0.8)
    assert np.abs(exact.log_hidden_conditional(other, V) - expected).max() > 1e-3
