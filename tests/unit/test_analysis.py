import numpy as np
import pytest

from kadanoff.analysis import observables as obs
from kadanoff.analysis import receptive_fields as rf


def test_energy_and_magnetization_of_simple_states():
    up = np.ones((2, 4, 4))
    assert np.allclose(obs.energy_per_site(up, K=0.5), -1.0)  # 2 bonds per site
    neel = np.indices((4, 4)).sum(0) % 2 * 2 - 1
    assert np.allclose(obs.energy_per_site(neel[None], K=1.0), 2.0)
    assert np.allclose(obs.abs_magnetization_per_site(neel[None]), 0.0)
    ring = np.array([[1, 1, -1, -1]])
    assert np.allclose(obs.energy_per_site(ring, K=1.0), 0.0)


def test_energy_matches_model_energy():
    from kadanoff import IsingModel, SquareLattice

    rng = np.random.default_rng(1)
    s = (2 * rng.integers(0, 2, size=(7, 6, 6)) - 1).astype(np.int8)
    m = IsingModel(SquareLattice(6), 0.3)
    assert np.allclose(obs.energy_per_site(s, 0.3), m.energy(s) / 36, atol=1e-14)


def test_correlation_function_matches_direct_sum():
    rng = np.random.default_rng(2)
    s = (2 * rng.integers(0, 2, size=(5, 6, 6)) - 1).astype(np.float64)
    g = obs.correlation_function(s)
    for r in range(4):
        direct = 0.5 * (np.mean(s * np.roll(s, -r, axis=1)) + np.mean(s * np.roll(s, -r, axis=2)))
        assert g[r] == pytest.approx(direct, abs=1e-12)
    assert g[0] == pytest.approx(1.0)


def test_receptive_field_metrics_on_known_fields():
    L = 8
    point = np.zeros((L, L))
    point[3, 5] = 2.0
    uniform = np.ones((L, L))
    wrap = np.zeros((L, L))
    wrap[0, 0] = wrap[L - 1, 0] = 1.0  # two sites straddling the boundary
    r = np.stack([point.ravel(), uniform.ravel(), wrap.ravel()], axis=1)
    c = rf.field_centres(r, L)
    assert np.allclose(c[0], [3, 5])
    assert np.isclose(c[2, 1], 0.0) and np.isclose(min(c[2, 0], L - c[2, 0]), 0.5)
    rg = rf.radius_of_gyration(r, L)
    assert rg[0] == pytest.approx(0.0, abs=1e-12)
    assert rg[2] == pytest.approx(0.5)
    pr = rf.participation_ratio(r)
    assert np.allclose(pr, [1, L * L, 2])
    hs = rf.hoyer_sparsity(r)
    assert hs[0] == pytest.approx(1.0) and hs[1] == pytest.approx(0.0)


def test_tiling_prefers_grids():
    L = 16
    g = (np.arange(4) + 0.5) * 4 - 0.5
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    t = rf.tiling(grid, L)
    assert t["coverage_ratio"] == pytest.approx(1.0)
    assert t["nn_cv"] == pytest.approx(0.0, abs=1e-12)
    clump = np.tile([[2.0, 2.0]], (16, 1)) + np.arange(16)[:, None] * 0.01
    assert rf.tiling(clump, L)["coverage_ratio"] > 2


def test_core_ignores_weak_background():
    L = 16
    rng = np.random.default_rng(0)
    blob = np.zeros((L, L))
    blob[5:8, 9:12] = 1.0  # 3x3 block
    noisy = blob + 0.1 * rng.standard_normal((L, L))
    r = np.stack([blob.ravel(), noisy.ravel()], axis=1)
    assert rf.core_area(r)[0] == 9  # half the weight is in 5 of 9 equal sites: ties count
    core = rf.core_radius(r, L)
    assert core[1] < 1.5  # the background moves the full radius of gyration far more
    assert rf.radius_of_gyration(r, L)[1] > 2 * core[1]
    m = rf.field_metrics(r, L)
    assert m["localized_fraction"] == 1.0 and m["n_units"] == 2
    uniform = np.ones((L * L, 1))
    assert rf.core_radius(uniform, L)[0] > L / 8  # a spread-out field is not localized
