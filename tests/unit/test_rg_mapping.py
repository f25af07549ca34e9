"""Exact tests of the variational RG and the RBM mapping (issue 4, acceptance 1 and 2)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kadanoff.ising.model import IsingModel
from kadanoff.lattice import Chain, SquareLattice
from kadanoff.rg import (
    BondRBM,
    Decimation,
    GeneralBoltzmannMachine,
    MachineOperator,
    MajorityRule,
    SoftKernel,
    TableOperator,
    log_trace,
    machine_hamiltonian_hidden,
    machine_hamiltonian_visible,
    mapping_decomposition,
    renormalized_hamiltonian,
    rg_step,
    trace_condition_violation,
)
from kadanoff.rg._common import logsumexp
from kadanoff.spins import all_states

TOL = 1e-10


def random_hamiltonian(n: int, seed: int, *, n_pairs: int = 10, n_triples: int = 6) -> np.ndarray:
    """Table of H(v) = -(field + random pair + random three-spin terms) + const."""
    rng = np.random.default_rng(seed)
    v = all_states(n).astype(np.float64)
    H = np.full(len(v), rng.normal())
    H -= v @ (0.3 * rng.normal(size=n))
    pairs = list(itertools.combinations(range(n), 2))
    triples = list(itertools.combinations(range(n), 3))
    for k in rng.choice(len(pairs), size=n_pairs, replace=False):
        i, j = pairs[k]
        H -= 0.5 * rng.normal() * v[:, i] * v[:, j]
    for k in rng.choice(len(triples), size=n_triples, replace=False):
        i, j, m = triples[k]
        H -= 0.3 * rng.normal() * v[:, i] * v[:, j] * v[:, m]
    return H


def brute_hidden_hamiltonian(machine: GeneralBoltzmannMachine) -> np.ndarray:
    """-ln sum_v exp(-E(v, h)) by an explicit energy table (independent of closed forms)."""
    u = machine.units
    v = all_states(machine.n_visible).astype(np.float64)
    h = all_states(machine.n_hidden).astype(np.float64)
    if u == "binary":
        v, h = (v + 1) / 2, (h + 1) / 2
    E = np.array([[machine.energy(vi, hj) for hj in h] for vi in v[:: max(1, len(v) // 64)]])
    assert E.ndim == 2
    full = machine.energy_table(v, h)
    sub = full[:: max(1, len(v) // 64)]
    np.testing.assert_allclose(sub, E, rtol=0, atol=1e-12)  # table agrees with pointwise E
    return -logsumexp(-full, axis=0)


@pytest.mark.parametrize(
    ("n_visible", "n_hidden", "restricted", "units", "seed"),
    [
        (12, 8, True, "spin", 1),
        (12, 8, False, "spin", 2),
        (10, 6, True, "binary", 3),
        (9, 7, False, "binary", 4),
        (6, 3, False, "spin", 5),
    ],
)
def test_exact_mapping_random_machines(n_visible, n_hidden, restricted, units, seed):
    """Acceptance 1: H^RG = H^RBM(h) for every h and Tr_h e^T = e^{H - H^RBM(v)} for every v."""
    m = GeneralBoltzmannMachine.random(
        n_visible, n_hidden, restricted=restricted, units=units, seed=seed
    )
    H = random_hamiltonian(n_visible, seed + 100)
    op = MachineOperator(m, H)
    h_rg = renormalized_hamiltonian(op, H)
    h_rbm = machine_hamiltonian_hidden(m)
    np.testing.assert_allclose(h_rg, h_rbm, rtol=0, atol=TOL)
    np.testing.assert_allclose(h_rbm, brute_hidden_hamiltonian(m), rtol=0, atol=TOL)
    np.testing.assert_allclose(log_trace(op), H - machine_hamiltonian_visible(m), rtol=0, atol=TOL)
    dec = mapping_decomposition(op)
    assert dec.max_error() < TOL
    # p(h|v) normalizes for every v
    np.testing.assert_allclose(logsumexp(dec.log_conditional, axis=1), 0.0, atol=TOL)


def test_exact_mapping_with_torch_rbm():
    """The mapping accepts a kadanoff.rbm.SpinRBM / BinaryRBM (torch) and agrees with float64."""
    try:
        from kadanoff.rbm import BinaryRBM, SpinRBM
    except ImportError:  # pragma: no cover - RBM module not present
        pytest.skip("kadanoff.rbm not available")
    import torch

    rng = np.random.default_rng(7)
    W, a, b = rng.normal(size=(8, 5)), rng.normal(size=8), rng.normal(size=5)
    H = random_hamiltonian(8, 8)
    for cls in (SpinRBM, BinaryRBM):
        rbm = cls.from_parameters(W, a, b, dtype=torch.float64)
        op = MachineOperator(rbm, H)
        m = op.machine
        assert m.units == rbm.units
        np.testing.assert_allclose(
            renormalized_hamiltonian(op), machine_hamiltonian_hidden(m), rtol=0, atol=TOL
        )
        # agrees with the RBM's own free energies (MS 12-13), on unit values
        hs = all_states(5).astype(np.float64)
        units = hs if rbm.units == "spin" else (hs + 1) / 2
        fe = rbm.free_energy_hidden(torch.tensor(units)).numpy()
        np.testing.assert_allclose(machine_hamiltonian_hidden(m), fe, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "op",
    [
        Decimation(Chain(12), 2),
        Decimation(Chain(12), 3, site=1),
        Decimation(SquareLattice(4), 2, site=3),
        MajorityRule(Chain(12), 3),
        MajorityRule(Chain(12), 4),
        MajorityRule(Chain(12), 4, tie="random"),
        MajorityRule(SquareLattice(4), 2),
        MajorityRule(SquareLattice(4), 2, tie="random"),
        SoftKernel(Chain(12), 2, 0.7, statistic="first"),
        SoftKernel(Chain(12), 3, 1.3, statistic="sum"),
        SoftKernel(SquareLattice(4), 2, 0.4, statistic="mean"),
        SoftKernel(SquareLattice(4), 2, 2.0, statistic=lambda blk: blk[..., 0] + 0.5 * blk[..., 3]),
    ],
    ids=lambda op: type(op).__name__,
)
def test_kernels_satisfy_trace_condition(op):
    """Acceptance 2: hard and soft kernels give Tr_h exp(T) = 1 for every v, hence F^h = F^v."""
    assert trace_condition_violation(op) < 1e-12
    n = op.n_visible
    model = IsingModel(SquareLattice(4), 0.35) if n == 16 else IsingModel(Chain(n), 0.3)
    step = rg_step(op, model)
    assert abs(step.free_energy_difference) < 1e-10


def test_majority_tie_rules():
    """Ties on even blocks: 'first' copies the block's first spin; 'random' has T = ln 1/2."""
    first = MajorityRule(Chain(4), 4)
    rand = MajorityRule(Chain(4), 4, tie="random")
    v = all_states(4)
    sums = v.sum(1)
    h = first.coarse(v)[:, 0]
    np.testing.assert_array_equal(h[sums > 0], 1)
    np.testing.assert_array_equal(h[sums < 0], -1)
    np.testing.assert_array_equal(h[sums == 0], v[sums == 0, 0])
    up, down = np.ones((16, 1), np.int8), -np.ones((16, 1), np.int8)
    t_up, t_down = rand.log_weight(v, up), rand.log_weight(v, down)
    tie = sums == 0
    np.testing.assert_allclose(t_up[tie], np.log(0.5), atol=1e-15)
    np.testing.assert_allclose(t_down[tie], np.log(0.5), atol=1e-15)
    assert np.all(t_up[sums > 0] == 0) and np.all(np.isneginf(t_down[sums > 0]))
    # 2D: blocks and tie to the top-left spin of each 2x2 block
    op = MajorityRule(SquareLattice(4), 2)
    rng = np.random.default_rng(0)
    cfg = rng.choice(np.array([-1, 1], np.int8), size=(50, 4, 4))
    blk = cfg.reshape(50, 2, 2, 2, 2).transpose(0, 1, 3, 2, 4).reshape(50, 2, 2, 4)
    s = blk.sum(-1)
    want = np.where(s > 0, 1, np.where(s < 0, -1, blk[..., 0]))
    np.testing.assert_array_equal(op.coarse(cfg.reshape(50, 16)).reshape(50, 2, 2), want)


def test_bond_rbm_satisfies_trace_condition():
    """Acceptance 2: the bond RBM (theory.md 5(c)) has KL = 0 and an exact trace condition."""
    bond = BondRBM(8, K=0.8)
    H = bond.chain_hamiltonian()
    np.testing.assert_allclose(machine_hamiltonian_visible(bond.machine()), H, rtol=0, atol=TOL)
    assert trace_condition_violation(MachineOperator(bond.machine(), H)) < TOL
    # raw parameters (no constant) plus match_normalization: the same exact operator
    op = MachineOperator(bond, H, match_normalization=True)
    assert trace_condition_violation(op) < TOL
    # without the constant, the trace is the constant exp(-energy_constant) for every v
    np.testing.assert_allclose(
        log_trace(MachineOperator(bond, H)), -bond.energy_constant, rtol=0, atol=TOL
    )


@pytest.mark.parametrize("dw", [0.05, -0.3])
def test_rbm_violates_trace_condition_by_its_kl(dw):
    """Acceptance 2: an imperfect RBM violates the trace by exactly H - H^RBM(v); with matched
    normalization, KL(P || p) = -<ln Tr_h exp T>_P > 0 (theory.md 4)."""
    exact = BondRBM(8, K=0.8)
    bad = BondRBM(8, w=exact.w + dw)
    H = exact.chain_hamiltonian()
    op = MachineOperator(bad, H, match_normalization=True)
    lt = log_trace(op)
    np.testing.assert_allclose(lt, H - machine_hamiltonian_visible(op.machine), rtol=0, atol=TOL)
    P = np.exp(-H - logsumexp(-H))
    p = np.exp(-machine_hamiltonian_visible(bad) - logsumexp(-machine_hamiltonian_visible(bad)))
    kl = float(np.sum(P * np.log(P / p)))
    assert kl > 1e-4
    np.testing.assert_allclose(-np.sum(P * lt), kl, rtol=0, atol=TOL)
    assert np.max(np.abs(lt)) > 1e-3


def test_lin_tegmark_rolnick_counterexample():
    """Equal free energies do not imply the trace condition (arXiv:1608.08225; MS 8 typo)."""
    n = 3
    H = random_hamiltonian(n, 11, n_pairs=2, n_triples=1)
    P = np.exp(-H - logsumexp(-H))
    v = all_states(n).astype(np.float64)
    g = v[:, 0] - np.sum(P * v[:, 0])  # <g>_P = 0, g != 0
    eps = 0.5 / np.max(np.abs(g))
    trace = 1.0 + eps * g  # Tr_h exp T(v, h) with one hidden spin, split evenly
    table = np.log(np.stack([trace / 2, trace / 2], axis=1))
    step = rg_step(TableOperator(table), H)
    assert abs(step.free_energy_difference) < 1e-12
    assert step.trace_violation > 0.1
    # the same with an RBM: normalization matched, KL > 0
    m = GeneralBoltzmannMachine.random(n, 2, restricted=True, seed=3)
    step = rg_step(MachineOperator(m, H, match_normalization=True))
    assert abs(step.free_energy_difference) < 1e-12
    assert step.trace_violation > 0.1


def test_free_energy_difference_is_normalization():
    """F^h - F^v = ln Z - ln Z_lambda for any machine (theory.md 4)."""
    m = GeneralBoltzmannMachine.random(6, 4, seed=9)
    H = random_hamiltonian(6, 12)
    step = rg_step(MachineOperator(m, H))
    np.testing.assert_allclose(
        step.free_energy_difference, logsumexp(-H) - m.log_partition(), rtol=0, atol=TOL
    )


def test_operator_input_validation():
    with pytest.raises(ValueError, match="expects v"):
        Decimation(Chain(8), 2).log_weight(np.ones((3, 7)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="divide"):
        MajorityRule(Chain(8), 3)
    with pytest.raises(ValueError, match="tie"):
        MajorityRule(Chain(8), 2, tie="coin")
    with pytest.raises(ValueError, match="finite"):
        SoftKernel(Chain(8), 2, np.inf)
    with pytest.raises(ValueError, match="symmetric"):
        GeneralBoltzmannMachine(np.zeros((2, 1)), [0, 0], [0], [[0, 1], [0, 0]])
    with pytest.raises(ValueError, match="2\\*\\*"):
        renormalized_hamiltonian(Decimation(Chain(4), 2), np.zeros(8))
