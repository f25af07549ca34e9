"""Unit tests of the cluster samplers (Wolff, Swendsen-Wang), the exact chain sampler and
the compiled xoshiro256** generator.

Exact statements are tested exactly: the generator against a pure-Python reference, the
Wolff and Swendsen-Wang transition matrices on the 2x2 torus and the 4-site ring (built
by enumerating every bond configuration) for stochasticity, Boltzmann stationarity and
detailed balance, and the compiled samplers' one-step transitions from every start state
against those matrices by a chi-square test (significance stated in the test).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from kadanoff.ising.model import IsingModel
from kadanoff.ising.samplers.exact_chain import ExactChainSampler
from kadanoff.ising.samplers.swendsen_wang import SwendsenWangSampler
from kadanoff.ising.samplers.wolff import WolffSampler, bond_threshold
from kadanoff.kernels.xoshiro import next_u64, seed_states
from kadanoff.lattice import Chain, SquareLattice
from kadanoff.spins import all_states, state_index
from sampler_checks import chi2_rows

M64 = (1 << 64) - 1


def _xoshiro_reference(state: list[int], n: int) -> list[int]:
    """xoshiro256** 1.0 in pure Python (Blackman & Vigna's reference C, transcribed)."""
    s = list(state)
    rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64
    out = []
    for _ in range(n):
        out.append((rotl((s[1] * 5) & M64, 7) * 9) & M64)
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out


# ---------------------------------------------------------------------------------------
# random numbers
# ---------------------------------------------------------------------------------------


def test_xoshiro_matches_reference():
    states = seed_states(123, 3)
    ref = [_xoshiro_reference([int(x) for x in states[c]], 50) for c in range(3)]
    got = [[int(next_u64(states, c)) for _ in range(50)] for c in range(3)]
    assert got == ref


def test_seed_states_streams():
    a = seed_states(7, 5)
    assert a.dtype == np.uint64 and a.shape == (5, 4)
    np.testing.assert_array_equal(a, seed_states(7, 5))
    np.testing.assert_array_equal(a[:2], seed_states(7, 2))  # stream c independent of n
    assert len({tuple(r) for r in a.tolist()}) == 5
    assert not np.array_equal(a, seed_states(8, 5))
    g = np.random.default_rng(1)
    assert not np.array_equal(seed_states(g, 2), seed_states(g, 2))  # a Generator advances


def test_bond_threshold_is_exact():
    for K in (0.0, 1e-9, 0.2, 0.4406867935, 3.0, 40.0, -0.3):
        hi, lo = bond_threshold(K)
        t = (int(hi) << 32) | int(lo)
        p = -math.expm1(-2 * abs(K))
        assert abs(t / 2.0**64 - p) <= 2.0**-64


# ---------------------------------------------------------------------------------------
# construction and validation
# ---------------------------------------------------------------------------------------

CLUSTER = [WolffSampler, SwendsenWangSampler]


@pytest.mark.parametrize("cls", CLUSTER)
def test_cluster_rejects_field(cls):
    with pytest.raises(ValueError, match="zero field"):
        cls(IsingModel(SquareLattice(4), 0.3, field=0.1))


@pytest.mark.parametrize("cls", CLUSTER)
def test_cluster_rejects_frustrated_negative_K(cls):
    with pytest.raises(ValueError, match="bipartite"):
        cls(IsingModel(SquareLattice(3), -0.3))
    with pytest.raises(ValueError, match="even length"):
        cls(IsingModel(Chain(5), -0.3))
    cls(IsingModel(Chain(5, periodic=False), -0.3))  # an open chain is bipartite


@pytest.mark.parametrize("cls", CLUSTER)
def test_cluster_rejects_bad_state(cls):
    smp = cls(IsingModel(SquareLattice(4), 0.3))
    with pytest.raises(ValueError, match="shape"):
        smp.run(np.ones((2, 4, 5), np.int8), seed=0)
    with pytest.raises(ValueError, match="±1"):
        smp.run(np.zeros((2, 4, 4), np.int8), seed=0)
    with pytest.raises(ValueError, match="n_sweeps"):
        smp.run(np.ones((2, 4, 4), np.int8), -1, seed=0)
    with pytest.raises(TypeError, match="n_sweeps"):
        smp.run(np.ones((2, 4, 4), np.int8), 1.5, seed=0)


def test_wolff_rejects_bad_clusters_per_sweep():
    model = IsingModel(SquareLattice(4), 0.3)
    with pytest.raises(ValueError, match="clusters_per_sweep"):
        WolffSampler(model, clusters_per_sweep=0)
    with pytest.raises(TypeError, match="clusters_per_sweep"):
        WolffSampler(model, clusters_per_sweep=2.0)


def test_exact_rejects_2d():
    with pytest.raises(ValueError, match="1D"):
        ExactChainSampler(IsingModel(SquareLattice(4), 0.3))


def test_names():
    assert (WolffSampler.name, SwendsenWangSampler.name, ExactChainSampler.name) == (
        "wolff",
        "sw",
        "exact",
    )


# ---------------------------------------------------------------------------------------
# reproducibility and bookkeeping
# ---------------------------------------------------------------------------------------

SAMPLERS = [
    lambda: WolffSampler(IsingModel(SquareLattice(6), 0.4), clusters_per_sweep=3),
    lambda: SwendsenWangSampler(IsingModel(SquareLattice(6), 0.4)),
    lambda: WolffSampler(IsingModel(Chain(9, periodic=False), 0.6)),
    lambda: SwendsenWangSampler(IsingModel(Chain(10), -0.6)),
    lambda: ExactChainSampler(IsingModel(Chain(9), 0.6, field=0.2)),
]


@pytest.mark.parametrize("make", SAMPLERS)
def test_reproducible_and_seed_dependent(make):
    smp = make()
    s = smp.init_state(4, seed=1)
    before = s.copy()
    a, ia = smp.run(s, 5, seed=11)
    b, ib = smp.run(s, 5, seed=11)
    c, _ = smp.run(s, 5, seed=12)
    np.testing.assert_array_equal(s, before)  # input untouched
    assert a.dtype == np.int8 and a.shape == s.shape
    np.testing.assert_array_equal(a, b)
    assert ia.flipped == ib.flipped
    np.testing.assert_array_equal(ia.cluster_sizes, ib.cluster_sizes)
    assert not np.array_equal(a, c)
    # chain 0 does not depend on how many chains run beside it
    one, _ = smp.run(s[:1], 5, seed=11)
    np.testing.assert_array_equal(one[0], a[0])


@pytest.mark.parametrize("make", SAMPLERS[:4])
def test_zero_sweeps_is_identity(make):
    smp = make()
    s = smp.init_state(3, seed=2)
    out, info = smp.run(s, 0, seed=0)
    np.testing.assert_array_equal(out, s)
    assert info.flipped == 0 and len(info.cluster_sizes) == 0


@pytest.mark.parametrize(
    "model",
    [
        IsingModel(SquareLattice(8), 0.44),
        IsingModel(Chain(12), 0.7),
        IsingModel(SquareLattice(4), -0.3),
    ],
)
def test_wolff_bookkeeping(model):
    smp = WolffSampler(model, clusters_per_sweep=4)
    s = smp.init_state(5, seed=3)
    out, info = smp.run(s, 7, seed=4)
    assert info.cluster_sizes.shape == (5 * 7 * 4,)
    assert info.cluster_sizes.sum() == info.flipped
    assert info.cluster_sizes.min() >= 1 and info.cluster_sizes.max() <= model.n_sites
    assert info.attempted == info.accepted == 5 * 7 * 4
    # one cluster: exactly its sites changed sign, and they all had the same sign
    # (the staggered sign when K < 0)
    gauge = 1
    if model.K < 0:
        gauge = 1 - 2 * model.lattice.checkerboard()
    one = WolffSampler(model)
    for seed in range(5):
        out, info = one.run(s, 1, seed=seed)
        changed = out != s
        assert changed.reshape(5, -1).sum(1).tolist() == info.cluster_sizes.tolist()
        for c in range(5):
            vals = (s[c] * gauge)[changed[c]]
            assert np.all(vals == vals[0])


def test_wolff_cluster_is_connected():
    model = IsingModel(SquareLattice(10), 0.42)
    smp = WolffSampler(model)
    s = smp.init_state(20, seed=5)
    out, _ = smp.run(s, 1, seed=6)
    nb = model.lattice.neighbours
    for c in range(20):
        flipped = set(np.flatnonzero((out[c] != s[c]).ravel()).tolist())
        start = next(iter(flipped))
        seen, stack = {start}, [start]
        while stack:
            i = stack.pop()
            for j in nb[i]:
                if j in flipped and j not in seen:
                    seen.add(int(j))
                    stack.append(int(j))
        assert seen == flipped


def test_sw_bookkeeping():
    model = IsingModel(SquareLattice(8), 0.4)
    smp = SwendsenWangSampler(model)
    s = smp.init_state(6, seed=7)
    out, info = smp.run(s, 1, seed=8)
    # within one sweep every spin flips at most once
    assert np.count_nonzero(out != s) == info.flipped == info.cluster_sizes.sum()
    assert info.accepted == len(info.cluster_sizes) <= info.attempted
    out, info = smp.run(s, 9, seed=8)
    assert info.cluster_sizes.sum() == info.flipped
    assert info.attempted >= 9 * 6  # at least one cluster per sweep and chain


def test_sw_chunking_does_not_change_results(monkeypatch):
    import kadanoff.ising.samplers.swendsen_wang as swmod

    smp = SwendsenWangSampler(IsingModel(SquareLattice(4), 0.4))
    s = smp.init_state(3, seed=1)
    a, ia = smp.run(s, 10, seed=2)
    monkeypatch.setattr(swmod, "_BUFFER_ENTRIES", 3 * 16 * 3)  # 3 sweeps per kernel call
    b, ib = smp.run(s, 10, seed=2)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ia.cluster_sizes, ib.cluster_sizes)
    assert ia.attempted == ib.attempted


@pytest.mark.parametrize(
    "make",
    [
        lambda: WolffSampler(IsingModel(SquareLattice(6), 0.42), clusters_per_sweep=3),
        lambda: SwendsenWangSampler(IsingModel(SquareLattice(6), 0.42)),
        lambda: WolffSampler(IsingModel(Chain(8), -0.5)),
        lambda: SwendsenWangSampler(IsingModel(SquareLattice(4), -0.3)),
    ],
)
def test_record_matches_run(make, monkeypatch):
    import kadanoff.ising.samplers.swendsen_wang as swmod

    smp = make()
    s = smp.init_state(3, seed=1)
    samples, final, info = smp.record(s, 7, thin=2, seed=5)
    assert samples.shape == (7, *s.shape) and samples.dtype == np.int8
    out, info_run = smp.run(s, 14, seed=5)
    np.testing.assert_array_equal(final, out)
    np.testing.assert_array_equal(samples[-1], final)
    np.testing.assert_array_equal(info.cluster_sizes, info_run.cluster_sizes)
    # the saved states are the states after sweeps 2, 4, ...: a shorter record with the
    # same streams replays them
    again, _, _ = smp.record(s, 4, thin=2, seed=5)
    np.testing.assert_array_equal(again, samples[:4])
    assert not np.array_equal(samples[0], samples[3])
    monkeypatch.setattr(swmod, "_BUFFER_ENTRIES", 3 * s[0].size * 3)  # SW: chunks of 2 sweeps
    chunked, final2, _ = smp.record(s, 7, thin=2, seed=5)
    np.testing.assert_array_equal(chunked, samples)
    np.testing.assert_array_equal(final2, final)
    with pytest.raises(ValueError, match="thin"):
        smp.record(s, 2, thin=0, seed=0)


def test_limits_K_zero_and_large():
    lat = SquareLattice(6)
    s = WolffSampler(IsingModel(lat, 0.3)).init_state(4, seed=0)
    _, info = WolffSampler(IsingModel(lat, 0.0), clusters_per_sweep=5).run(s, 3, seed=1)
    assert np.all(info.cluster_sizes == 1)
    up = np.ones((4, 6, 6), np.int8)
    big = IsingModel(lat, 40.0)  # p = 1 - e^-80: a bond is closed with probability < 2^-64
    out, info = WolffSampler(big).run(up, 1, seed=2)
    assert np.all(out == -1) and np.all(info.cluster_sizes == 36)
    out, info = SwendsenWangSampler(big).run(up, 1, seed=3)
    assert set(np.unique(out.reshape(4, -1).sum(1))) <= {-36, 36}


def test_exact_chain_ignores_state_and_counts_flips():
    smp = ExactChainSampler(IsingModel(Chain(12, periodic=False), 0.5, field=-0.3))
    s = smp.init_state(8, seed=0)
    a, info = smp.run(s, 3, seed=5)
    b, _ = smp.run(-s, 1, seed=5)
    np.testing.assert_array_equal(a, b)
    assert info.flipped == np.count_nonzero(a != s)


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("K,field", [(0.7, 0.0), (-0.4, 0.3), (2.5, -0.2)])
def test_exact_chain_first_marginal(periodic, K, field):
    model = IsingModel(Chain(7, periodic=periodic), K, field)
    S = all_states(7)
    w = np.exp(-(model.energy(S) - model.energy(S).min()))
    p_up = w[S[:, 0] == 1].sum() / w.sum()
    p0 = ExactChainSampler(model).marginal_first()
    assert abs(p0[1] - p_up) < 1e-12 and abs(p0.sum() - 1) < 1e-14


def test_exact_chain_extreme_coupling_is_finite():
    smp = ExactChainSampler(IsingModel(Chain(400), 30.0, field=0.5))
    out = smp.sample(50, seed=1)
    assert np.all(out == 1)  # field > 0 and K = 30: a domain wall costs e^-60


# ---------------------------------------------------------------------------------------
# exact transition matrices (2x2 torus, 4-site ring)
# ---------------------------------------------------------------------------------------


def _components(n: int, open_bonds: list[tuple[int, int]]) -> np.ndarray:
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j in open_bonds:
        parent[find(i)] = find(j)
    return np.array([find(i) for i in range(n)])


def _exact_transition(model: IsingModel, algorithm: str) -> np.ndarray:
    """Exact one-update transition matrix ``P[a, b]`` over flat state indices.

    Enumerates every configuration of the FK bond variables (a bond may open only when
    satisfied, ``K s_i s_j > 0``, then with probability ``p = 1 - exp(-2|K|)``). Wolff:
    a uniform seed site's cluster flips. SW: every cluster flips with probability 1/2.
    """
    n = model.n_sites
    bonds = [tuple(b) for b in model.lattice.bonds.tolist()]
    p = -math.expm1(-2 * abs(model.K))
    S = all_states(n)
    P = np.zeros((2**n, 2**n))
    for a, s in enumerate(S):
        sat = [model.K * s[i] * s[j] > 0 for i, j in bonds]
        for opened in itertools.product((0, 1), repeat=len(bonds)):
            if any(o and not ok for o, ok in zip(opened, sat)):
                continue
            w = math.prod(p if o else (1 - p if ok else 1.0) for o, ok in zip(opened, sat))
            comp = _components(n, [b for b, o in zip(bonds, opened) if o])
            roots = np.unique(comp)
            if algorithm == "wolff":
                for seed in range(n):
                    new = np.where(comp == comp[seed], -s, s)
                    P[a, state_index(new)] += w / n
            else:
                for flips in itertools.product((0, 1), repeat=len(roots)):
                    fl = dict(zip(roots.tolist(), flips))
                    new = np.array([-x if fl[c] else x for x, c in zip(s, comp)])
                    P[a, state_index(new)] += w / 2 ** len(roots)
    return P


TINY = [
    IsingModel(SquareLattice(2), 0.35),
    IsingModel(SquareLattice(2), -0.3),
    IsingModel(Chain(4), 0.6),
    IsingModel(Chain(4, periodic=False), -0.8),
]


@pytest.fixture(scope="module")
def tiny_matrices():
    return {
        (i, alg): _exact_transition(m, alg) for i, m in enumerate(TINY) for alg in ("wolff", "sw")
    }


@pytest.mark.parametrize("alg", ["wolff", "sw"])
@pytest.mark.parametrize("i", range(len(TINY)))
def test_exact_transition_matrix_detailed_balance(tiny_matrices, i, alg):
    model = TINY[i]
    P = tiny_matrices[(i, alg)]
    e = model.energy(all_states(model.n_sites).reshape(-1, *model.shape))
    pi = np.exp(-(e - e.min()))
    pi /= pi.sum()
    np.testing.assert_allclose(P.sum(1), 1.0, rtol=0, atol=1e-13)
    np.testing.assert_allclose(pi @ P, pi, rtol=0, atol=1e-13)
    flow = pi[:, None] * P
    np.testing.assert_allclose(flow, flow.T, rtol=0, atol=1e-13)
    # irreducible: every state reaches every other
    reach = np.linalg.matrix_power((P > 0).astype(float) + np.eye(len(P)), len(P))
    assert np.all(reach > 0)


@pytest.mark.parametrize("alg", ["wolff", "sw"])
@pytest.mark.parametrize("i", range(len(TINY)))
def test_one_step_transitions_match_exact_matrix(tiny_matrices, i, alg):
    """Chi-square of one compiled update from every start state against the exact row.

    4000 chains per start state; transitions of exact probability 0 must never occur; the
    pooled statistic (bins with expected count < 5 merged per row) must have p > 1e-5, so a
    correct sampler fails this test with probability 1e-5.
    """
    model = TINY[i]
    P = tiny_matrices[(i, alg)]
    smp = WolffSampler(model) if alg == "wolff" else SwendsenWangSampler(model)
    n, reps = model.n_sites, 4000
    starts = all_states(n)
    s = np.repeat(starts, reps, axis=0).reshape(-1, *model.shape)
    out, _ = smp.run(s, 1, seed=1000 + i)
    idx = state_index(out.reshape(len(out), n)).reshape(2**n, reps)
    counts = np.stack([np.bincount(row, minlength=2**n) for row in idx])
    chi2, dof = chi2_rows(P, counts)  # asserts that no transition of probability 0 occurred
    assert stats.chi2.sf(chi2, dof) > 1e-5, (chi2, dof)


@pytest.mark.parametrize(
    "make",
    [
        lambda: WolffSampler(IsingModel(SquareLattice(6), 0.42), clusters_per_sweep=3),
        lambda: SwendsenWangSampler(IsingModel(Chain(10), 0.5)),
    ],
)
def test_threaded_and_serial_kernels_agree(make, monkeypatch):
    import kadanoff.ising.samplers.wolff as wmod

    smp = make()
    s = smp.init_state(5, seed=3)
    monkeypatch.setattr(wmod, "PARALLEL_MIN_WORK", 0)
    a, ia = smp.run(s, 4, seed=9)
    monkeypatch.setattr(wmod, "PARALLEL_MIN_WORK", float("inf"))
    b, ib = smp.run(s, 4, seed=9)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ia.cluster_sizes, ib.cluster_sizes)
