"""The RBM flow (Iso, Shiba & Yokoo 2018) and its exact instruments (theory.md 7).

Exact: the energy-coupling inversion against Kaufman, observables of known configurations, the
identity RBM in mean mode. Statistical (z <= 5 with the trace's own error bars): W = 0 machines
(one step to infinite temperature), the noisy-copy RBM ``W = w I`` whose n-step energy is
``(2q - 1)^(2n) u_0``, a random RBM on the 4 x 4 torus against the exact hidden-chain
enumeration, and exact Ising samples at step 0; each with a wrong model that is rejected.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kadanoff._rng import make_rng
from kadanoff.ising import IsingModel
from kadanoff.ising.exact import enumerate_model, kaufman_energy_per_site
from kadanoff.lattice import SquareLattice
from kadanoff.rbm import SpinRBM
from kadanoff.rg.rbm_flow import (
    FlowTrace,
    energy_coupling,
    flow_fixed_point,
    lattice_observables,
    rbm_flow,
)
from kadanoff.spins import all_states

Z_MAX = 5.0


def _zero_rbm(L: int, n_hidden: int, a: float = 0.0) -> SpinRBM:
    N = L * L
    return SpinRBM.from_parameters(
        np.zeros((N, n_hidden)), np.full(N, a), np.zeros(n_hidden), dtype=torch.float64
    )


def _z(value: float, exact: float, error: float) -> float:
    return abs(value - exact) / error


# ------------------------------------------------------------------ exact
@pytest.mark.parametrize("L", [4, 8, 16])
def test_energy_coupling_inverts_kaufman(L):
    for K in (0.01, 0.1, 0.3, 0.4406867935097715, 0.6, 1.0, 1.5):
        u = float(kaufman_energy_per_site(L, K))
        k, _ = energy_coupling(L, u)
        assert abs(k - K) < 1e-10
        k_anti, _ = energy_coupling(L, -u)  # even torus: u(-K) = -u(K)
        assert abs(k_anti + K) < 1e-10


def test_energy_coupling_edges_and_error():
    assert energy_coupling(8, 0.0, 0.01) == (0.0, 0.005)  # du/dK = -2 at K = 0
    assert energy_coupling(8, -2.0) == (math.inf, math.inf)
    assert energy_coupling(8, 2.0)[0] == -math.inf
    k, _ = energy_coupling(8, -1e-4)  # leading high-temperature term
    assert abs(k - 5e-5) < 1e-12
    # error = u_error / |du/dK|, du/dK by central differences of the exact energy
    K, du = 0.35, 1e-3
    k, err = energy_coupling(8, float(kaufman_energy_per_site(8, K)), du)
    h = 1e-5
    slope = (kaufman_energy_per_site(8, K + h) - kaufman_energy_per_site(8, K - h)) / (2 * h)
    assert abs(err - du / abs(slope)) < 1e-7
    with pytest.raises(ValueError, match="even torus"):
        energy_coupling(5, -1.0)


def test_lattice_observables_of_known_configurations():
    up = np.ones((3, 4, 4), np.int8)
    chess = np.where(np.add.outer(np.arange(4), np.arange(4)) % 2 == 0, 1, -1).astype(np.int8)
    obs = lattice_observables(up)
    assert obs == {"energy": -2.0, "energy_error": 0.0, "abs_magnetization": 1.0,
                   "abs_magnetization_error": 0.0}  # fmt: skip
    obs = lattice_observables(np.stack([chess, chess]))
    assert obs["energy"] == 2.0 and obs["abs_magnetization"] == 0.0


def test_identity_rbm_mean_mode_is_the_identity_map():
    L, w = 4, 0.7
    rbm = SpinRBM.from_parameters(w * np.eye(16), np.zeros(16), np.zeros(16))
    v0 = make_rng(3).choice(np.array([-1, 1], np.int8), size=(50, L, L))
    tr = rbm_flow(rbm, v0, 3, seed=0, mode="mean")
    np.testing.assert_array_equal(tr.final, v0)
    assert np.all(tr.energy == tr.energy[0]) and np.all(tr.snapshots == v0[:4])


def test_mean_mode_with_a_field_orders_in_one_step():
    tr = rbm_flow(_zero_rbm(4, 3, a=0.2), -np.ones((20, 4, 4), np.int8), 2, seed=1, mode="mean")
    assert tr.energy[1] == -2.0 and tr.abs_magnetization[1] == 1.0
    assert tr.energy_coupling[1] == math.inf and tr.K[1] == math.inf  # frozen: no finite K
    assert flow_fixed_point(tr)[0] == math.inf


def test_flow_fixed_point_formula():
    n = 9
    K = np.linspace(0.2, 0.4, n)
    arr = np.zeros(n)
    tr = FlowTrace("sample", 4, 10, ("nn",), np.arange(n), arr, arr, arr, arr, K[:, None],
                   np.full((n, 1), 0.01), K, np.full(n, 0.02),
                   np.zeros((n, 1, 4, 4), np.int8), np.zeros((10, 4, 4), np.int8))  # fmt: skip
    k, e = flow_fixed_point(tr)
    assert k == K[-1] and abs(e - math.hypot(0.01, K[-1] - K[-3])) < 1e-15
    k, e = flow_fixed_point(tr, which="energy")
    assert abs(e - math.hypot(0.02, K[-1] - K[-3])) < 1e-15
    with pytest.raises(ValueError, match="which"):
        flow_fixed_point(tr, which="x")  # type: ignore[arg-type]
    tr.steps = np.array([0, 1, 2, 4, 8, 16, 24, 32, 40])  # recorded steps: compare with 24 <= 30
    k, e = flow_fixed_point(tr)
    assert abs(e - math.hypot(0.01, K[-1] - K[6])) < 1e-15


def test_recorded_steps_match_the_full_flow():
    rbm = SpinRBM.random(16, 4, seed=6, weight_scale=0.5)
    v0 = make_rng(1).choice(np.array([-1, 1], np.int8), size=(40, 4, 4))
    full = rbm_flow(rbm, v0, 6, seed=3)
    part = rbm_flow(rbm, v0, 6, seed=3, record=[2, 5])
    np.testing.assert_array_equal(part.steps, [0, 2, 5, 6])
    np.testing.assert_array_equal(part.energy, full.energy[[0, 2, 5, 6]])
    np.testing.assert_array_equal(part.final, full.final)
    with pytest.raises(ValueError, match="record"):
        rbm_flow(rbm, v0, 6, seed=3, record=[7])


def test_bad_input_is_rejected():
    rbm = _zero_rbm(4, 2)
    v = np.ones((4, 4, 4), np.int8)
    with pytest.raises(ValueError, match="to_spin"):
        rbm_flow(rbm.to_binary(), v, 1, seed=0)
    with pytest.raises(ValueError, match="mode"):
        rbm_flow(rbm, v, 1, seed=0, mode="mf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="visible"):
        rbm_flow(rbm, np.ones((4, 6, 6), np.int8), 1, seed=0)
    with pytest.raises(ValueError, match="n_steps"):
        rbm_flow(rbm, v, 0, seed=0)


def test_same_seed_same_flow():
    rbm = SpinRBM.random(16, 5, seed=2, weight_scale=0.4)
    v0 = np.ones((30, 4, 4), np.int8)
    a, b = (rbm_flow(rbm, v0, 3, seed=7) for _ in range(2))
    np.testing.assert_array_equal(a.final, b.final)
    c = rbm_flow(rbm, v0, 3, seed=8)
    assert not np.array_equal(a.final, c.final)


# ------------------------------------------------------------------ statistical
def test_zero_weights_flow_to_infinite_temperature_in_one_step():
    L, n = 8, 4000
    N = L * L
    tr = rbm_flow(_zero_rbm(L, 6), np.ones((n, L, L), np.int8), 2, seed=11)
    sigma_u = math.sqrt(2 / N / n)  # 2N pairwise uncorrelated bond products per configuration
    k = np.arange(N + 1)
    exact_m = float((np.abs(2 * k - N) / N * np.exp(
        [math.lgamma(N + 1) - math.lgamma(j + 1) - math.lgamma(N - j + 1) for j in k]
    ) / 2**N).sum())  # fmt: skip
    for step in (1, 2):
        assert _z(tr.energy[step], 0.0, sigma_u) < Z_MAX
        assert _z(tr.K[step], 0.0, tr.K_error[step]) < Z_MAX
        assert _z(tr.energy_coupling[step], 0.0, tr.energy_coupling_error[step]) < Z_MAX
        err = tr.abs_magnetization_error[step]
        assert _z(tr.abs_magnetization[step], exact_m, err) < Z_MAX
    assert tr.energy[0] == -2.0
    # a wrong model (independent spins with a field 0.3) is rejected
    assert _z(tr.energy[1], -2 * math.tanh(0.3) ** 2, sigma_u) > Z_MAX


def test_zero_weights_with_field_energy_is_exact():
    L, n, a = 8, 3000, 0.25
    tr = rbm_flow(_zero_rbm(L, 4, a=a), -np.ones((n, L, L), np.int8), 1, seed=5)
    exact = -2 * math.tanh(a) ** 2  # independent spins of mean tanh a
    assert _z(tr.energy[1], exact, tr.energy_error[1]) < Z_MAX
    assert _z(tr.energy[1], -2 * math.tanh(1.2 * a) ** 2, tr.energy_error[1]) > Z_MAX


def test_noisy_copy_rbm_energy_decays_exactly():
    # W = w I: each step keeps every spin with probability q = s^2 + (1 - s)^2, s = sigmoid(2w),
    # independently, so <v_i v_j> shrinks by (2q - 1)^2 per step.
    L, w, n = 4, 1.0, 20000
    rbm = SpinRBM.from_parameters(w * np.eye(16), np.zeros(16), np.zeros(16))
    v0 = np.ones((n, L, L), np.int8)
    tr = rbm_flow(rbm, v0, 3, seed=21)
    s = 1 / (1 + math.exp(-2 * w))
    r = 2 * (s**2 + (1 - s) ** 2) - 1
    for step in (1, 2, 3):
        e = tr.energy_error[step]
        assert _z(tr.energy[step], -2 * r ** (2 * step), e) < Z_MAX
        assert _z(tr.energy[step], -2 * r**step, e) > Z_MAX  # wrong exponent rejected


def _exact_flow_energies(rbm: SpinRBM, v0: np.ndarray, n_steps: int) -> np.ndarray:
    """``E[u(v_n)]`` for ``n = 1..n_steps`` from one start ``v0`` (flat, 16 sites) by exact
    enumeration of the hidden Markov chain ``h -> v -> h'`` (2^16 visible states)."""
    p = rbm.numpy()
    W, a, b = p["weights"], p["visible_bias"], p["hidden_bias"]
    H = all_states(W.shape[1]).astype(np.float64)  # (2^nh, nh)
    V = all_states(W.shape[0]).astype(np.float64)  # (2^nv, nv)

    def cond(field, states):  # p(states | field) for each field row: (rows, n_states)
        return np.exp(states @ field.T - np.logaddexp(field, -field).sum(1)).T

    p_h_given_v = cond(b + V @ W, H)  # (2^nv, 2^nh)
    p_v_given_h = cond(a + H @ W.T, V)  # (2^nh, 2^nv)
    Q = p_v_given_h @ p_h_given_v  # (2^nh, 2^nh): h -> v -> h'
    bonds = SquareLattice(4).bonds
    mu = np.tanh(a + H @ W.T)  # E[v | h]
    e_h = -(mu[:, bonds[:, 0]] * mu[:, bonds[:, 1]]).sum(1) / 16
    pi = cond(b + v0[None, :] @ W, H)[0]
    out = []
    for _ in range(n_steps):
        out.append(float(pi @ e_h))
        pi = pi @ Q
    return np.array(out)


def test_random_rbm_flow_energy_matches_exact_enumeration():
    rbm = SpinRBM.random(16, 3, seed=4, weight_scale=0.6, bias_scale=0.1)
    v0 = np.ones(16, np.int8)
    n = 20000
    tr = rbm_flow(rbm, np.broadcast_to(v0.reshape(4, 4), (n, 4, 4)), 3, seed=9)
    exact = _exact_flow_energies(rbm, v0.astype(np.float64), 3)
    z = np.abs(tr.energy[1:] - exact) / tr.energy_error[1:]
    assert z.max() < Z_MAX
    p = rbm.numpy()
    wrong = SpinRBM.from_parameters(1.3 * p["weights"], p["visible_bias"], p["hidden_bias"])
    z_wrong = np.abs(tr.energy[1:] - _exact_flow_energies(wrong, v0.astype(float), 3))
    assert (z_wrong / tr.energy_error[1:]).max() > Z_MAX


def test_exact_ising_samples_give_their_coupling_at_step_zero():
    K, n = 0.3, 20000
    enum = enumerate_model(IsingModel(SquareLattice(4), K=K))
    idx = make_rng(17).choice(len(enum.probabilities), size=n, p=enum.probabilities)
    v0 = enum.states[idx]
    tr = rbm_flow(_zero_rbm(4, 2), v0, 1, seed=0)
    u_exact = float(kaufman_energy_per_site(4, K))
    assert _z(tr.energy[0], u_exact, tr.energy_error[0]) < Z_MAX
    assert _z(tr.energy_coupling[0], K, tr.energy_coupling_error[0]) < Z_MAX
    assert _z(tr.K[0], K, tr.K_error[0]) < Z_MAX
    for wrong in (0.33, 0.27):  # a wrong temperature is rejected by both estimators
        assert _z(tr.energy_coupling[0], wrong, tr.energy_coupling_error[0]) > Z_MAX
        assert _z(tr.K[0], wrong, tr.K_error[0]) > Z_MAX
