"""Exact transition matrices of the checkerboard / sequential local samplers.

A pure-python reference builds the single-site update matrices from
``flip_probabilities``; the sweep matrix is their product in the sampler's order. We
check that it is stochastic, Boltzmann-stationary, and that single-site updates and
half-sweeps obey detailed balance; then that the compiled kernel realizes it
(chi-square of one-sweep histograms from every start state).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from kadanoff.ising.model import IsingModel
from kadanoff.ising.samplers import checkerboard as cb
from kadanoff.ising.samplers._checkerboard_kernels import sweeps_generic
from kadanoff.ising.samplers.checkerboard import (
    HeatBathSampler,
    MetropolisSampler,
    counter_uniform32,
    flip_probabilities,
    flip_thresholds,
    realized_flip_probabilities,
    update_order,
)
from kadanoff.lattice import Chain, SquareLattice
from kadanoff.spins import all_states, state_index
from sampler_checks import chi2_rows

RULES = ("metropolis", "heatbath")
SAMPLERS = {"metropolis": MetropolisSampler, "heatbath": HeatBathSampler}
P_MIN = 1e-5  # significance of every chi-square test below (fixed seeds)


# ----------------------------------------------------------------------------- reference


def boltzmann(model: IsingModel) -> tuple[np.ndarray, np.ndarray]:
    states = all_states(model.n_sites)
    e = model.energy(states.reshape(len(states), *model.shape))
    w = np.exp(-(e - e.min()))
    return states, w / w.sum()


def site_matrix(
    model: IsingModel, site: int, rule: str, probs: np.ndarray | None = None
) -> np.ndarray:
    """Exact matrix of one single-site update, from the bond list (pure numpy).

    ``probs`` (shape ``(2, 9)``, as :func:`flip_probabilities`) overrides the rule's table.
    """
    states = all_states(model.n_sites).astype(np.int64)
    n = len(states)
    if probs is None:
        probs = flip_probabilities(model.K, model.field, rule)
    bonds = model.lattice.bonds
    nb = np.zeros(n, dtype=np.int64)
    for i, j in bonds:  # a bond listed twice (L = 2 torus, 2-ring) counts twice
        if i == site:
            nb += states[:, j]
        if j == site:
            nb += states[:, i]
    p = probs[(states[:, site] > 0).astype(int), nb + 4]
    flipped = states.copy()
    flipped[:, site] *= -1
    target = state_index(flipped)
    P = np.zeros((n, n))
    rows = np.arange(n)
    P[rows, target] += p
    P[rows, rows] += 1.0 - p
    return P


def stage_matrices(
    model: IsingModel, rule: str, probs: np.ndarray | None = None
) -> list[np.ndarray]:
    """One matrix per stage of the sampler's update order (half-sweep or single site)."""
    mats = []
    for group in update_order(model.lattice):
        M = np.eye(2**model.n_sites)
        for site in group:
            M = M @ site_matrix(model, int(site), rule, probs)
        mats.append(M)
    return mats


def sweep_matrix(model: IsingModel, rule: str, probs: np.ndarray | None = None) -> np.ndarray:
    """The exact one-sweep transition matrix, shape ``(2^N, 2^N)``."""
    P = np.eye(2**model.n_sites)
    for M in stage_matrices(model, rule, probs):
        P = P @ M
    return P


def is_reversible(P: np.ndarray, pi: np.ndarray, atol: float = 1e-12) -> bool:
    F = pi[:, None] * P
    return bool(np.allclose(F, F.T, rtol=0, atol=atol))


CASES = [
    pytest.param(SquareLattice(2), 0.4, 0.0, id="torus2x2"),
    pytest.param(SquareLattice(2), 0.4, 0.3, id="torus2x2-field"),
    pytest.param(Chain(4), 0.5, 0.0, id="ring4"),
    pytest.param(Chain(4), -0.3, 0.25, id="ring4-field-afm"),
    pytest.param(Chain(5, periodic=False), 0.6, -0.2, id="open5-field"),
]


# ----------------------------------------------------------------------------- exact


def test_update_order_is_checkerboard_for_even_sizes():
    assert [g.tolist() for g in update_order(SquareLattice(2))] == [[0, 3], [1, 2]]
    assert [g.tolist() for g in update_order(Chain(4))] == [[0, 2], [1, 3]]
    assert [g.tolist() for g in update_order(Chain(3))] == [[0], [1], [2]]
    assert len(update_order(SquareLattice(3))) == 9
    for lat in (SquareLattice(4), Chain(6), Chain(5, periodic=False)):
        groups = update_order(lat)
        assert len(groups) == 2
        for g in groups:  # sites within a group never interact
            gs = set(g.tolist())
            assert not any(int(i) in gs and int(j) in gs for i, j in lat.bonds)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("lattice,K,field", CASES)
def test_sweep_matrix_exact(lattice, K, field, rule):
    model = IsingModel(lattice, K, field)
    _, pi = boltzmann(model)
    for site in range(model.n_sites):  # every single-site update is reversible
        Ps = site_matrix(model, site, rule)
        np.testing.assert_allclose(Ps.sum(1), 1.0, rtol=0, atol=1e-13)
        assert is_reversible(Ps, pi)
    for M in stage_matrices(model, rule):  # a half-sweep too (its updates commute)
        assert is_reversible(M, pi)
    P = sweep_matrix(model, rule)
    assert (P >= 0).all()
    np.testing.assert_allclose(P.sum(1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(pi @ P, pi, rtol=0, atol=1e-12)


def test_composed_sweep_is_not_reversible():
    """The check above can fail: the full sweep is stationary but not reversible."""
    model = IsingModel(Chain(4), 0.5, 0.25)
    _, pi = boltzmann(model)
    P = sweep_matrix(model, "metropolis")
    np.testing.assert_allclose(pi @ P, pi, rtol=0, atol=1e-12)
    assert not is_reversible(P, pi, atol=1e-6)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("lattice", [Chain(3), SquareLattice(3)], ids=["ring3", "torus3x3"])
def test_sequential_sweep_matrix_stationary(lattice, rule):
    model = IsingModel(lattice, 0.45, 0.15)
    _, pi = boltzmann(model)
    groups = update_order(lattice)
    assert [g.tolist() for g in groups] == [[i] for i in range(model.n_sites)]  # typewriter
    mats = [site_matrix(model, i, rule) for i in range(model.n_sites)]
    v, ones = pi.copy(), np.ones_like(pi)
    for M in mats:  # pi P with P = P_0 P_1 ... P_{N-1}, as vector products
        v = v @ M
    for M in reversed(mats):  # P 1
        ones = M @ ones
    np.testing.assert_allclose(ones, 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(v, pi, rtol=0, atol=1e-12)


def test_flip_probabilities_values():
    K, h = 0.3, 0.2
    pm = flip_probabilities(K, h, "metropolis")
    ph = flip_probabilities(K, h, "heatbath")
    for row, s in enumerate((-1, 1)):
        for n in range(-4, 5):
            dH = 2 * s * (K * n + h)
            assert pm[row, n + 4] == pytest.approx(min(1.0, np.exp(-dH)), abs=1e-15)
            assert ph[row, n + 4] == pytest.approx(1 / (1 + np.exp(dH)), abs=1e-15)
    real = realized_flip_probabilities(K, h, "metropolis")
    assert np.abs(real - pm).max() <= 2.0**-33 + 1e-18
    assert (real[pm == 1.0] == 1.0).all()
    t = flip_thresholds(K, h, "heatbath")
    assert t.dtype == np.uint32 and t.shape == (18,)


def test_metropolis_zero_energy_change_is_accepted_with_probability_half():
    """Issue 8: dH = 0 moves (decided from K n + field, within ZERO_LOCAL_FIELD) get 1/2."""
    p = flip_probabilities(0.4, 0.0, "metropolis")
    assert (p[:, 4] == 0.5).all()  # n = 0, no field
    assert p[1, 6] == pytest.approx(np.exp(-1.6)) and p[0, 6] == 1.0  # dH < 0: always
    q = flip_probabilities(0.25, 0.5, "metropolis")  # K n + field = 0 at n = -2
    assert (q[:, 2] == 0.5).all() and (q[:, [0, 1, 3, 4, 5, 6, 7, 8]] != 0.5).all()
    assert (flip_probabilities(0.0, 0.0, "metropolis") == 0.5).all()  # K = 0: uniform
    tiny = cb.ZERO_LOCAL_FIELD / 8
    assert (flip_probabilities(tiny, 0.0, "metropolis") == 0.5).all()
    above = flip_probabilities(4 * cb.ZERO_LOCAL_FIELD, 0.0, "metropolis")
    assert (above[:, 4] == 0.5).all() and (above[:, [0, 1, 2, 3, 5, 6, 7, 8]] != 0.5).all()
    assert (realized_flip_probabilities(4 * cb.ZERO_LOCAL_FIELD, 0.0, "metropolis") < 1).any()
    assert (realized_flip_probabilities(0.4, 0.0, "metropolis")[:, 4] == 0.5).all()  # exact
    # detailed balance of every entry: a(dH) / a(-dH) = exp(-dH)
    for K, h in ((0.4, 0.0), (0.25, 0.5), (-0.3, 0.1)):
        m = flip_probabilities(K, h, "metropolis")
        for n in range(-4, 5):
            dh = 2 * (K * n + h)  # flipping s = +1; the reverse flips s = -1, same n
            assert m[1, n + 4] / m[0, n + 4] == pytest.approx(np.exp(-dh), rel=1e-12)


# ----------------------------------------------------------------------------- compiled


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("lattice,K,field", CASES)
def test_kernel_realizes_sweep_matrix(lattice, K, field, rule):
    model = IsingModel(lattice, K, field)
    P = sweep_matrix(model, rule)
    states = all_states(model.n_sites)
    n_rep = 4000
    start = np.repeat(states, n_rep, axis=0).reshape(-1, *model.shape)
    out, info = SAMPLERS[rule](model).run(start, 1, seed=12345)
    nxt = state_index(out.reshape(len(out), -1)).reshape(len(states), n_rep)
    counts = np.stack([np.bincount(r, minlength=len(states)) for r in nxt])
    chi2, dof = chi2_rows(P, counts)
    assert stats.chi2.sf(chi2, dof) > P_MIN, (chi2, dof)
    assert info.attempted == len(start) * model.n_sites
    assert info.flipped == int((out != start).sum())


@pytest.mark.parametrize("rule", RULES)
def test_sequential_kernel_realizes_sweep_matrix(rule):
    model = IsingModel(Chain(3), 0.45, 0.15)
    P = sweep_matrix(model, rule)
    states = all_states(3)
    n_rep = 4000
    start = np.repeat(states, n_rep, axis=0)
    out, _ = SAMPLERS[rule](model).run(start, 1, seed=7)
    nxt = state_index(out).reshape(len(states), n_rep)
    counts = np.stack([np.bincount(r, minlength=len(states)) for r in nxt])
    chi2, dof = chi2_rows(P, counts)
    assert stats.chi2.sf(chi2, dof) > P_MIN, (chi2, dof)


@pytest.mark.parametrize("L", [2, 4, 6])
@pytest.mark.parametrize("rule", RULES)
def test_packed_kernel_equals_generic_kernel(L, rule):
    """The vectorized 2D kernel draws the same numbers, site by site, as the generic one."""
    model = IsingModel(SquareLattice(L), 0.42, 0.1)
    smp = SAMPLERS[rule](model)
    x = smp.init_state(5, seed=3)
    lat = model.lattice
    rows, cols, n_rows = cb._rng_coordinates(lat)
    order = np.concatenate(update_order(lat)).astype(np.int64)
    ref = x.reshape(5, -1).copy()
    flips = np.zeros(5, dtype=np.int64)
    key = cb.kernel_key(99)
    sweeps_generic(
        ref, lat.neighbours.astype(np.int64), order, rows, cols, n_rows,
        smp._table, key, 0, 4, flips,
    )  # fmt: skip
    for split in ("chain", "row"):
        out, info = smp.run(x, 4, seed=99, work_split=split)
        np.testing.assert_array_equal(out.reshape(5, -1), ref)
        assert info.flipped == flips.sum()


# ----------------------------------------------------------------------------- RNG


def test_counter_hash_uniform_and_uncorrelated():
    key = cb.kernel_key(2024)
    u = counter_uniform32(key, np.arange(4), np.arange(16), np.arange(32), np.arange(128), 32)
    x = u.astype(np.float64) / 2.0**32  # shape (4, 16, 32, 128), 262144 numbers
    n = x.size
    # uniformity of the top 8 bits
    counts = np.bincount((u >> 24).ravel(), minlength=256)
    assert stats.chisquare(counts).pvalue > P_MIN
    # every bit is balanced (max |z| over 32 bits)
    bits = ((u.ravel()[:, None] >> np.arange(32, dtype=np.uint32)) & 1).mean(0)
    assert np.abs(bits - 0.5).max() < 5.0 * 0.5 / np.sqrt(n)
    # lag correlations along every counter axis, and with a different key
    z = x - 0.5
    other = counter_uniform32(key + np.uint64(1), np.arange(4), np.arange(16), np.arange(32),
                              np.arange(128), 32).astype(np.float64) / 2.0**32 - 0.5  # fmt: skip
    pairs = [(z[..., 1:], z[..., :-1]), (z[..., 2:], z[..., :-2]), (z[:, :, 1:], z[:, :, :-1]),
             (z[:, 1:], z[:, :-1]), (z[1:], z[:-1]), (z, other)]  # fmt: skip
    for a, b in pairs:
        r = float((a * b).mean() / (1 / 12))
        assert abs(r) < 5.0 / np.sqrt(a.size), r


def test_counter_hash_reproducible_and_keyed():
    args = (np.arange(2), np.arange(2), np.arange(2), np.arange(8), 2)
    a = counter_uniform32(np.uint64(5), *args)
    np.testing.assert_array_equal(a, counter_uniform32(np.uint64(5), *args))
    assert (a != counter_uniform32(np.uint64(6), *args)).mean() > 0.99


# ----------------------------------------------------------------------------- API


def test_run_contract_and_errors():
    model = IsingModel(SquareLattice(4), 0.4)
    smp = MetropolisSampler(model)
    assert smp.name == "metropolis" and HeatBathSampler(model).name == "heatbath"
    x = smp.init_state(3, seed=0)
    x0 = x.copy()
    y, info = smp.run(x, 2, seed=1)
    np.testing.assert_array_equal(x, x0)  # input untouched
    assert y.dtype == np.int8 and y.shape == (3, 4, 4)
    assert info.n_sweeps == 2 and info.attempted == 3 * 16 * 2
    assert info.accepted == info.flipped
    _, hb = HeatBathSampler(model).run(x, 2, seed=1)
    assert hb.accepted == hb.attempted
    z, zi = smp.run(x, 0, seed=1)
    np.testing.assert_array_equal(z, x)
    with pytest.raises(ValueError, match="n_sweeps"):
        smp.run(x, -1, seed=1)
    with pytest.raises(ValueError, match="shape"):
        smp.run(np.ones((2, 5, 5), np.int8), 1, seed=1)
    with pytest.raises(ValueError, match="rule"):
        cb.LocalSampler(model, "glauber")
    with pytest.raises(ValueError, match="work_split"):
        smp.run(x, 1, seed=1, work_split="thread")


def test_torch_sampler_needs_even_sizes():
    from kadanoff.ising.samplers.torch_checkerboard import TorchCheckerboardSampler

    with pytest.raises(ValueError, match="even lattice size"):
        TorchCheckerboardSampler(IsingModel(SquareLattice(3), 0.4), device="cpu")
    with pytest.raises(ValueError, match="even chain length"):
        TorchCheckerboardSampler(IsingModel(Chain(5), 0.4), device="cpu")
    with pytest.raises(ValueError, match="rule"):
        TorchCheckerboardSampler(IsingModel(Chain(4), 0.4), "wolff", device="cpu")


def test_torch_table_matches_numba_and_never_forbids_a_move():
    import torch

    from kadanoff.ising.samplers.torch_checkerboard import TorchCheckerboardSampler

    for K, h in ((0.4, 0.0), (0.25, 0.5), (60.0, 0.0)):  # exp(-480) underflows to 0
        for rule in RULES:
            for dt in (torch.float64, torch.float32):
                smp = TorchCheckerboardSampler(IsingModel(Chain(4), K, h), rule, "cpu", dt)
                t = smp._table.double().numpy().reshape(2, 9)
                assert (t > 0).all()
                ref = np.maximum(flip_probabilities(K, h, rule), torch.finfo(dt).tiny)
                np.testing.assert_allclose(t, ref, rtol=1e-7 if dt == torch.float32 else 0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10))
def test_kernel_realizes_sweep_matrix_seed_sweep(seed):
    """As above over ten seeds (each fails with probability < P_MIN if correct)."""
    model = IsingModel(SquareLattice(2), 0.35, -0.2)
    for rule in RULES:
        P = sweep_matrix(model, rule)
        states = all_states(4)
        start = np.repeat(states, 4000, axis=0).reshape(-1, 2, 2)
        out, _ = SAMPLERS[rule](model).run(start, 1, seed=1000 + seed)
        nxt = state_index(out.reshape(len(out), -1)).reshape(16, 4000)
        counts = np.stack([np.bincount(r, minlength=16) for r in nxt])
        chi2, dof = chi2_rows(P, counts)
        assert stats.chi2.sf(chi2, dof) > P_MIN / 2, (chi2, dof)
