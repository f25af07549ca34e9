"""MCRG operator basis and the CoarseGraining protocol (issue 10, acceptance 1)."""

import numpy as np
import pytest

from kadanoff._rng import make_rng
from kadanoff.lattice import Chain, SquareLattice
from kadanoff.rg.coarse_graining import CoarseGraining, Compose, RBMLayer, block_rule
from kadanoff.rg.mcrg_operators import BASIS, EVEN, ODD, OperatorSet, orientations
from kadanoff.rg.operators import Decimation, MajorityRule, SoftKernel
from kadanoff.rg.projection import standard_term


def _random(n, L, seed):
    return (2 * make_rng(seed).integers(0, 2, (n, L, L)) - 1).astype(np.int8)


@pytest.mark.parametrize("L", [2, 3, 4, 5, 6, 8, 9, 12, 16, 24, 64])
def test_kernel_equals_plain_loops_exactly(L):
    ops = OperatorSet()
    v = _random(3 if L < 64 else 1, L, L)
    v[0] = 1  # an ordered configuration too
    np.testing.assert_array_equal(ops.evaluate(v), ops.evaluate_reference(v))


def test_kernel_on_128_lattice_multiword_rows():
    ops = OperatorSet(["nn", "knight", "6nn", "plaquette", "diag3"])
    v = _random(1, 128, 7)
    np.testing.assert_array_equal(ops.evaluate(v), ops.evaluate_reference(v))


def test_unaligned_sizes_and_the_int8_kernel():
    """A size that is not word-aligned (81: packed spin by spin) and the int8 peer kernel."""
    from kadanoff.rg.mcrg_operators import _pattern_sums

    ops = OperatorSet(["nn", "knight", "plaquette", "diag3", "6nn"])
    for L in (81,):
        v = _random(1, L, L)
        np.testing.assert_array_equal(ops.evaluate(v), ops.evaluate_reference(v))
    v = _random(3, 10, 4)
    raw = np.zeros((3, len(ops._order)), dtype=np.int64)
    _pattern_sums(v, ops._R, ops._dx, ops._dy, ops._order, raw)
    S = np.zeros((3, len(ops)), dtype=np.int64)
    np.add.at(S.T, ops._owner, raw.T)
    np.testing.assert_array_equal(S, ops.evaluate_reference(v))


def test_basis_content_and_orientations():
    assert EVEN == ("nn", "nnn", "3nn", "plaquette", "knight", "5nn", "6nn")
    assert ODD == ("field", "three", "line3", "diag3")
    counts = {op.name: len(op.images) for op in BASIS}
    assert counts == {
        "nn": 2, "nnn": 2, "3nn": 2, "plaquette": 1, "knight": 4, "5nn": 2, "6nn": 2,
        "field": 1, "three": 4, "line3": 2, "diag3": 2,
    }  # fmt: skip
    assert len(orientations([(0, 0), (1, 2)])) == 4
    # S_a of the all-up state counts the products: L^2 per orientation
    S = OperatorSet().evaluate(np.ones((1, 8, 8), np.int8))[0]
    np.testing.assert_array_equal(S, [64 * c for c in counts.values()])


@pytest.mark.parametrize("L", [2, 3, 4, 6])
def test_products_match_evaluation_and_projection_terms(L):
    ops = OperatorSet()
    v = _random(4, L, 11 + L)
    flat = v.reshape(4, -1).astype(np.int64)
    S = ops.evaluate(v)
    for k, p in enumerate(ops.products(L)):
        s = p.constant + sum(m * np.prod(flat[:, si], axis=1) for si, m in zip(p.sites, p.mult))
        np.testing.assert_array_equal(s, S[:, k])
    lat = SquareLattice(L)
    for name in ("field", "nn", "nnn", "3nn", "plaquette"):
        if L == 2 and name == "3nn":
            continue  # constant on the 2x2 torus: projection refuses it
        term = standard_term(lat, name)
        np.testing.assert_allclose(term.evaluate(flat), S[:, ops.names.index(name)])


def test_operator_set_errors_and_sectors():
    with pytest.raises(ValueError, match="unknown operator 'bogus'"):
        OperatorSet(["nn", "bogus"])
    with pytest.raises(ValueError, match="distinct"):
        OperatorSet(["nn", "nn"])
    ops = OperatorSet(["nn", "field", "nnn"])
    assert ops.sector("even").names == ("nn", "nnn")
    with pytest.raises(ValueError, match="no odd"):
        OperatorSet(["nn"]).sector("odd")
    with pytest.raises(ValueError, match=r"\(n, L, L\)"):
        ops.evaluate(np.ones((4, 4), np.int8))


def test_block_rules_satisfy_the_protocol():
    lat = SquareLattice(8)
    rbm = type("R", (), {"weights": np.zeros((64, 16)), "visible_bias": np.zeros(64),
                         "hidden_bias": np.zeros(16), "units": "spin"})()  # fmt: skip
    rules = [
        MajorityRule(lat, 2, tie="random"),
        MajorityRule(lat, 2),
        Decimation(lat, 2),
        SoftKernel(lat, 2, 1.0),
        RBMLayer(rbm, (8, 8), (4, 4)),
        Compose.repeated("majority", 8, 2, 2),
    ]
    v = _random(5, 8, 3)
    for r in rules:
        assert isinstance(r, CoarseGraining)
        h = r.coarse_grain(v, seed=1)
        assert h.dtype == np.int8 and h.shape == (5, *r.coarse_shape)
        assert set(np.unique(h)) <= {-1, 1}
        np.testing.assert_array_equal(h, r.coarse_grain(v, seed=1))
    assert isinstance(MajorityRule(Chain(8), 2), CoarseGraining)


def test_majority_kernel_matches_block_sums_and_ties_are_fair():
    lat = SquareLattice(16)
    rule = block_rule("majority", lat, 2)
    v = _random(400, 16, 5)
    h = rule.coarse_grain(v, seed=9)
    s = v.reshape(400, 8, 2, 8, 2).astype(int).sum((2, 4))
    np.testing.assert_array_equal(h[s != 0], np.sign(s[s != 0]))
    ties = h[s == 0]
    n = ties.size  # 3/8 of the blocks; fair coin: z = mean sqrt(n)
    assert n > 5000 and abs(ties.mean()) * np.sqrt(n) < 4.5
    assert not np.array_equal(h, rule.coarse_grain(v, seed=10))
    np.testing.assert_array_equal(rule.coarse_mean(v), np.sign(s))
    # b = 3: no ties; the compiled kernel equals the flat reference of MajorityRule
    r3 = block_rule("majority", SquareLattice(9), 3)
    v3 = _random(20, 9, 6)
    np.testing.assert_array_equal(
        r3.coarse_grain(v3, seed=0).reshape(20, -1), r3.sample_hidden(v3.reshape(20, -1))
    )


def test_decimation_and_compose():
    lat = SquareLattice(8)
    d = Decimation(lat, 2, site=3)
    v = _random(6, 8, 8)
    np.testing.assert_array_equal(d.coarse_grain(v).reshape(6, -1), d.coarse(v.reshape(6, -1)))
    np.testing.assert_array_equal(d.coarse_mean(v), v[:, 1::2, 1::2])
    c = Compose.repeated("decimation", 8, 2, 2)
    levels = c.levels(v, seed=0)
    assert [x.shape for x in levels] == [(6, 8, 8), (6, 4, 4), (6, 2, 2)]
    np.testing.assert_array_equal(levels[2], v[:, ::4, ::4])
    np.testing.assert_array_equal(c.coarse_mean(v), v[:, ::4, ::4])
    with pytest.raises(ValueError, match="divisible by b\\^levels"):
        Compose.repeated("majority", 12, 2, 3)
    with pytest.raises(ValueError, match="unknown coarse-graining rule"):
        block_rule("blocky", lat, 2)
    with pytest.raises(ValueError, match="takes"):
        Compose([MajorityRule(lat, 2), MajorityRule(lat, 2)])
    with pytest.raises(ValueError, match="stochastic inner stage"):
        Compose.repeated("majority", 8, 2, 2).coarse_mean(v)
    with pytest.raises(ValueError, match="expects configurations"):
        c.levels(v[:, :4], seed=0)
