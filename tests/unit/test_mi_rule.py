"""Exact tests of the mutual-information rule: block geometry, conditionals, closed form, rule."""

from __future__ import annotations

import numpy as np
import pytest

from kadanoff.ising import K_CRITICAL
from kadanoff.rg.coarse_graining import CoarseGraining, Compose
from kadanoff.rg.mi_rule import BlockFilter, MIRule, ising_samples, train_filter
from kadanoff.rg.mutual_information import (
    binary_entropy,
    block_conditionals,
    block_geometry,
    decimation_table,
    exact_mutual_information,
    filter_table,
    majority_table,
    mutual_information_from_conditionals,
)
from kadanoff.spins import all_states


def _boltzmann(shape, K):
    s = all_states(int(np.prod(shape))).reshape(-1, *shape)
    g = s.astype(np.int64)
    bonds = sum(np.sum(g * np.roll(g, -1, axis=a + 1), axis=tuple(range(1, g.ndim)))
                for a in range(len(shape)))  # fmt: skip
    p = np.exp(K * bonds - (K * bonds).max())
    return s, p / p.sum()


def test_geometry_torus_and_ring():
    g = block_geometry((4, 4), 2)
    assert g.block.tolist() == [0, 1, 4, 5]
    assert sorted(g.boundary.tolist()) == [2, 3, 6, 7, 8, 9, 12, 13]
    assert len(g.environment) == 12 and g.coupling.sum() == 8 and len(g.inner_bonds) == 4
    r = block_geometry((16,), 2, buffer=2, width=3)
    assert r.region.tolist() == [0, 1, 2, 3, 14, 15]
    assert r.boundary.tolist() == [4, 13]
    assert r.environment.tolist() == [4, 5, 6, 11, 12, 13]
    assert len(g.placements()) == 4
    with pytest.raises(ValueError, match="does not fit"):
        block_geometry((6, 6), 2, buffer=1, width=2)


def test_filter_tables():
    np.testing.assert_allclose(majority_table(2), [0.0, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(decimation_table(2), [0.0, 0.0, 1.0, 1.0])
    x = all_states(3) @ np.array([0.3, -0.2, 0.5]) + 0.1
    np.testing.assert_allclose(filter_table([0.3, -0.2, 0.5], 0.1), np.exp(x) / (2 * np.cosh(x)))
    assert binary_entropy(0.5) == pytest.approx(np.log(2), abs=1e-15)
    assert binary_entropy(0.0) == 0.0


def test_block_conditionals_equal_brute_force_torus():
    K = 0.37
    g = block_geometry((4, 4), 2)
    s, _ = _boltzmann((4, 4), K)
    rng = np.random.default_rng(3)
    picks = s[rng.choice(len(s), 6, replace=False)]
    P, owner = block_conditionals(picks, K, g, all_blocks=False)
    assert owner.tolist() == list(range(6))
    blocks = all_states(4)
    for x, row in zip(picks, P, strict=True):
        flat = np.repeat(x.reshape(1, -1), 16, axis=0)
        flat[:, g.block] = blocks
        grid = flat.reshape(-1, 4, 4).astype(np.int64)
        e = np.sum(grid * np.roll(grid, -1, 1), axis=(1, 2)) + np.sum(
            grid * np.roll(grid, -1, 2), axis=(1, 2)
        )
        w = np.exp(K * e - (K * e).max())
        np.testing.assert_allclose(row, w / w.sum(), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("shape", "b", "buffer", "width", "K"),
    [((4, 4), 2, 0, 1, K_CRITICAL), ((4, 4), 2, 0, 1, 0.2), ((14,), 2, 2, 3, 0.8),
     ((12,), 3, 1, 2, 1.3)],
)  # fmt: skip
def test_closed_form_equals_exact_enumeration(shape, b, buffer, width, K):
    g = block_geometry(shape, b, buffer=buffer, width=width)
    s, p = _boltzmann(shape, K)
    P, _ = block_conditionals(s, K, g, all_blocks=False)
    n = len(g.block)
    rng = np.random.default_rng(0)
    for q in (majority_table(n), decimation_table(n), filter_table(rng.normal(size=n), 0.3)):
        exact = exact_mutual_information(K, g, q)
        assert mutual_information_from_conditionals(P, q, p) == pytest.approx(exact, abs=1e-10)
        assert 0 < exact <= np.log(2)


def test_decimation_beats_majority_on_a_chain_and_not_on_the_torus():
    g = block_geometry((16,), 2, buffer=2, width=3)
    for K in (0.5, 1.0, 2.0):
        assert exact_mutual_information(K, g, decimation_table(2)) > exact_mutual_information(
            K, g, majority_table(2)
        )
    t = block_geometry((4, 4), 2)
    assert exact_mutual_information(K_CRITICAL, t, majority_table(4)) > exact_mutual_information(
        K_CRITICAL, t, decimation_table(4)
    )


def test_mi_rule_protocol_and_majority_limit():
    rule = MIRule.example()
    assert isinstance(rule, CoarseGraining)
    assert rule.fine_shape == (8, 8) and rule.coarse_shape == (4, 4)
    v = (2 * np.random.default_rng(1).integers(0, 2, size=(5, 8, 8)) - 1).astype(np.int8)
    h = rule.coarse_grain(v, seed=2)
    assert h.dtype == np.int8 and h.shape == (5, 4, 4) and set(np.unique(h)) <= {-1, 1}
    maj = MIRule((8, 8), BlockFilter(np.ones((2, 2))))
    s = v.reshape(5, 4, 2, 4, 2).sum(axis=(2, 4))
    np.testing.assert_array_equal(maj.coarse_mean(v), np.sign(s))
    h1, h2 = maj.coarse_grain(v, seed=7), maj.coarse_grain(v, seed=7)
    np.testing.assert_array_equal(h1, h2)
    np.testing.assert_array_equal(h1[s != 0], np.sign(s[s != 0]))
    soft = MIRule((8, 8), BlockFilter(np.full((2, 2), 0.3), 0.1, "sigmoid"))
    np.testing.assert_allclose(soft.coarse_mean(v), np.tanh(0.3 * s + 0.1), atol=1e-14)
    chain = MIRule((12,), BlockFilter(np.array([1.0, 0.0, 0.0])))
    c = (2 * np.random.default_rng(4).integers(0, 2, size=(3, 12)) - 1).astype(np.int8)
    np.testing.assert_array_equal(chain.coarse_grain(c, seed=0), c[:, ::3])
    two = Compose([MIRule((8, 8), BlockFilter(np.ones((2, 2)))), MIRule((4, 4), rule.filter)])
    assert two.coarse_grain(v, seed=0).shape == (5, 2, 2)
    with pytest.raises(ValueError, match="must divide"):
        MIRule((9, 9), BlockFilter(np.ones((2, 2))))
    with pytest.raises(ValueError, match="shape"):
        rule.coarse_grain(v[:, :4], seed=0)


def test_mi_rule_sampled_mean_matches_coarse_mean():
    soft = MIRule((4, 4), BlockFilter(np.array([[0.4, -0.1], [0.2, 0.3]]), -0.2, "sigmoid"))
    v = np.repeat((2 * np.random.default_rng(5).integers(0, 2, (1, 4, 4)) - 1), 20000, 0)
    h = soft.coarse_grain(v.astype(np.int8), seed=9).astype(float)
    m = soft.coarse_mean(v[:1].astype(np.int8))[0]
    err = np.sqrt((1 - m**2) / len(h))
    assert np.all(np.abs(h.mean(axis=0) - m) < 5 * err)


def test_train_filter_chain_is_decimation_like():
    x = ising_samples((32,), 1.0, 400, seed=3)
    r = train_filter(x, 2, K=1.0, buffer=2, width=3, symmetric=True, steps=150, seed=1)
    f = r.filter
    assert f.bias == 0.0 and f.concentration() > 0.6
    table = f.as_mode("sign").table()
    first, second = decimation_table(2), decimation_table(2)[[0, 2, 1, 3]]
    assert np.array_equal(table, first) or np.array_equal(table, second)
    again = train_filter(x, 2, K=1.0, buffer=2, width=3, symmetric=True, steps=150, seed=1)
    np.testing.assert_array_equal(again.filter.weights, f.weights)
    with pytest.raises(ValueError, match="needs the coupling K"):
        train_filter(x, 2, seed=0)
