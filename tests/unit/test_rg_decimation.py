"""1D decimation flow and its exact realizations (issue 4, acceptance 3; theory.md 5)."""

from __future__ import annotations

import numpy as np
import pytest

from kadanoff.ising.model import IsingModel
from kadanoff.lattice import Chain
from kadanoff.rg import (
    BondRBM,
    Decimation,
    DecimationNetwork,
    GeneralBoltzmannMachine,
    MachineOperator,
    bond_rbm_coupling,
    bond_rbm_weight,
    correlation_length,
    decimated_coupling,
    decimated_ring_hamiltonian,
    decimation_constant,
    decimation_flow,
    machine_hamiltonian_hidden,
    marginalize,
    project,
    renormalized_hamiltonian,
    ring_hamiltonian,
    ring_log_partition,
    soft_decimation_flip_probability,
    soft_decimation_kernel,
    trace_condition_violation,
)
from kadanoff.rg._common import logsumexp
from kadanoff.spins import all_states

TOL = 1e-10


def test_flow_formulas():
    K = np.array([0.1, 0.3, 1.0, 2.0, 5.0])
    Kp = decimated_coupling(K)
    np.testing.assert_allclose(np.tanh(Kp), np.tanh(K) ** 2, rtol=1e-13)
    flow = decimation_flow(1.3, 5)
    np.testing.assert_allclose(np.tanh(flow), np.tanh(1.3) ** (2.0 ** np.arange(6)), rtol=1e-12)
    assert np.all(np.diff(flow) < 0)  # flows to K* = 0
    np.testing.assert_allclose(correlation_length(flow[1:]), correlation_length(flow[:-1]) / 2)
    assert decimated_coupling(400.0) == pytest.approx(400.0 - 0.5 * np.log(2.0), rel=1e-15)


@pytest.mark.parametrize("n", [4, 5, 10])
def test_ring_partition(n):
    K = 0.7
    brute = logsumexp(-IsingModel(Chain(n), K).energy(all_states(n)))
    assert abs(ring_log_partition(n, K) - brute) < 1e-12
    np.testing.assert_allclose(
        ring_hamiltonian(n, K), IsingModel(Chain(n), K).energy(all_states(n))
    )


@pytest.mark.parametrize("K", [0.3, 1.0, 2.0])
def test_partition_identity(K):
    """Z_N(K) = A^{N/2} Z_{N/2}(K') (theory.md 5)."""
    for N in (8, 16, 32, 64):
        lhs = ring_log_partition(N, K)
        rhs = N / 2 * np.log(decimation_constant(K)) + ring_log_partition(
            N // 2, decimated_coupling(K)
        )
        assert abs(lhs - rhs) < 1e-10 * max(1.0, abs(lhs))


def _check_level(table: np.ndarray, n_kept: int, K_expected: float) -> None:
    res = project(table, Chain(n_kept), ["nn"])
    assert abs(res.couplings["nn"] - K_expected) < TOL
    assert res.residual_rms < TOL


@pytest.mark.parametrize("K", [0.3, 1.0, 2.0])
@pytest.mark.parametrize("N", [16, 32])
def test_exact_marginalization_matches_recursion(N, K):
    """Acceptance 3: marginalized chains have projected couplings K^(n) with zero residual."""
    n_levels = int(np.log2(N)) - 1  # down to a 2-ring
    flow = decimation_flow(K, n_levels)
    if N <= 16:
        log_w = -ring_hamiltonian(N, K)  # full enumeration, level 0
        start = 0
    else:
        log_w = -decimated_ring_hamiltonian(N, K, 1)  # 16 spins by transfer matrices
        start = 1
    log_z = ring_log_partition(N, K)
    size = N // 2**start
    for level in range(start, n_levels + 1):
        if level > start:
            log_w = marginalize(log_w, range(0, size, 2))  # sum the odd sites exactly
            size //= 2
        _check_level(-log_w, size, flow[level])
        assert abs(logsumexp(log_w) - log_z) < 1e-9  # constants kept: Z unchanged
        np.testing.assert_allclose(
            -log_w, decimated_ring_hamiltonian(N, K, level), rtol=0, atol=1e-9
        )


def test_decimation_operator_gives_recursion():
    """H^RG of the decimation kernel (MS 6) is the chain with K' and constant -(N/2) ln A."""
    N, K = 12, 1.1
    h_rg = renormalized_hamiltonian(Decimation(Chain(N), 2), IsingModel(Chain(N), K))
    res = project(h_rg, Chain(N // 2), ["nn"])
    assert abs(res.couplings["nn"] - decimated_coupling(K)) < TOL and res.residual_rms < TOL
    assert abs(res.constant + N / 2 * np.log(decimation_constant(K))) < TOL


def test_marginalize_order():
    rng = np.random.default_rng(1)
    t = rng.normal(size=2**4)
    out = marginalize(t, [2, 0])
    cube = t.reshape(2, 2, 2, 2)
    want = np.log(np.exp(cube).sum(axis=(1, 3))).T.reshape(-1)
    np.testing.assert_allclose(out, want, atol=1e-13)
    with pytest.raises(ValueError, match="distinct"):
        marginalize(t, [0, 0])


@pytest.mark.parametrize("K", [0.3, 1.0])
def test_decimation_network_layers_are_rbms(K):
    """theory.md 5(a): the odd/even RBM of layer l has the ring with K^(l+1) as H^RBM(h)."""
    net = DecimationNetwork(16, K, 3)
    for level in range(3):
        params = net.rbm_parameters(level)
        m = GeneralBoltzmannMachine(**params)
        n_even = net.sizes[level + 1]
        h_rbm = machine_hamiltonian_hidden(m)
        res = project(h_rbm, Chain(n_even), ["nn"])
        assert abs(res.couplings["nn"] - net.couplings[level + 1]) < TOL
        assert res.residual_rms < TOL
        # joint p(odd, even) is the layer-l chain: exp(-E) = exp(K^(l) sum v_i v_{i+1})
        v = all_states(net.sizes[level])
        E = m.energy(v[:, 1::2].astype(float), v[:, 0::2].astype(float))
        np.testing.assert_allclose(
            E, ring_hamiltonian(net.sizes[level], net.couplings[level]), atol=1e-12
        )


def test_decimation_network_exact_distributions():
    net = DecimationNetwork(8, 0.9, 3)
    H = ring_hamiltonian(8, 0.9)
    np.testing.assert_allclose(net.layer_distribution(0), np.exp(-H - logsumexp(-H)), atol=1e-14)
    for level in range(1, 3):
        n = net.sizes[level]
        Hl = ring_hamiltonian(n, net.couplings[level])
        np.testing.assert_allclose(
            net.layer_distribution(level), np.exp(-Hl - logsumexp(-Hl)), atol=1e-13
        )
    np.testing.assert_allclose(net.layer_distribution(3), [0.5, 0.5], atol=1e-14)


def test_decimation_network_sampling_structure():
    net = DecimationNetwork(16, 1.2, 3)
    a = net.sample_top_down(200, seed=5)
    b = net.sample_top_down(200, seed=5)
    c = net.sample_top_down(200, seed=6)
    assert [x.shape for x in a] == [(200, 16), (200, 8), (200, 4), (200, 2)]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
        assert x.dtype == np.int8 and set(np.unique(x)) <= {-1, 1}
    assert not np.array_equal(a[0], c[0])
    for level in range(3):
        np.testing.assert_array_equal(a[level][:, 0::2], a[level + 1])
    with pytest.raises(ValueError, match="divisible"):
        DecimationNetwork(12, 1.0, 3)


@pytest.mark.parametrize("lam", [0.2, 1.5])
def test_soft_decimation_kernel(lam):
    op = soft_decimation_kernel(8, lam)
    assert trace_condition_violation(op) < 1e-12
    v = all_states(8)
    h_same = v[:, 0::2]
    p_keep = np.exp(op.log_weight(v, h_same) / 4)  # each of the 4 blocks keeps its spin
    np.testing.assert_allclose(p_keep, 1 - soft_decimation_flip_probability(lam), atol=1e-14)
    np.testing.assert_allclose(soft_decimation_flip_probability(lam), 1 / (1 + np.exp(2 * lam)))


def test_bond_rbm():
    w = np.array([0.1, 0.7, 2.0, 10.0])
    np.testing.assert_allclose(bond_rbm_weight(bond_rbm_coupling(w)), w, rtol=1e-12)
    bond = BondRBM(6, K=0.5)
    assert bond.weights.shape == (6, 6)
    assert abs(bond.K - 0.5) < 1e-14
    op = MachineOperator(bond.machine(), IsingModel(Chain(6), 0.5))
    assert trace_condition_violation(op) < TOL
    with pytest.raises(ValueError, match="K >= 0"):
        bond_rbm_weight(-0.1)
    # two-site ring: two bonds between the same pair, as in Chain(2).bonds
    small = BondRBM(2, K=0.3)
    assert (
        trace_condition_violation(MachineOperator(small.machine(), small.chain_hamiltonian())) < TOL
    )


def test_bond_rbm_to_torch_rbm():
    try:
        from kadanoff.rbm import SpinRBM  # noqa: F401
    except ImportError:  # pragma: no cover
        pytest.skip("kadanoff.rbm not available")
    import torch

    bond = BondRBM(6, K=0.5)
    rbm = bond.to_rbm(dtype=torch.float64)
    op = MachineOperator(rbm, bond.chain_hamiltonian(), match_normalization=True)
    assert trace_condition_violation(op) < TOL
