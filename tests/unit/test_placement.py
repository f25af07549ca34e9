"""Placement of DBN hidden units on the coarse lattice and the DBN-layer rule (theory.md 7)."""

import numpy as np
import pytest

from kadanoff.rbm import SpinRBM
from kadanoff.rg.coarse_graining import CoarseGraining, Compose
from kadanoff.rg.dbn_layer import DBNLayerRule, dbn_steps
from kadanoff.rg.placement import (
    ideal_grid,
    place_units,
    receptive_field_centres,
    torus_distance,
)


def block_fields(L, Lc, *, weight=1.0):
    """Ideal block layout: unit k covers block k (row-major) of side L / Lc."""
    b = L // Lc
    W = np.zeros((L * L, Lc * Lc))
    for x in range(L):
        for y in range(L):
            W[x * L + y, (x // b) * Lc + y // b] = weight
    return W


@pytest.mark.parametrize("L, Lc", [(8, 4), (40, 20), (40, 5), (12, 4)])
def test_known_permutation_is_recovered_exactly(L, Lc):
    rng = np.random.default_rng(0)
    W = block_fields(L, Lc)
    order = rng.permutation(Lc * Lc)  # column j of the shuffled layer is block order[j]
    p = place_units(W[:, order], (L, L), (Lc, Lc))
    np.testing.assert_array_equal(p.site_of_unit, order)
    np.testing.assert_array_equal(W[:, order][:, p.permutation], W)
    assert p.within_one == 1.0 and p.switched_off == 0
    np.testing.assert_allclose(p.distances, 0.0, atol=1e-10)


def test_centres_wrap_around_the_torus():
    L = 10
    f = np.zeros((L, L))
    f[0, 3] = f[L - 1, 3] = 1.0  # straddles the boundary: centre at row -0.5 = 9.5
    c = receptive_field_centres(f.reshape(-1, 1), (L, L))
    np.testing.assert_allclose(c[0], [9.5, 3.0], atol=1e-10)
    assert torus_distance([[9.5, 3.0]], [[0.0, 3.0]], (L, L))[0, 0] == pytest.approx(0.5)


def test_grid_and_switched_off_units():
    np.testing.assert_allclose(ideal_grid((4, 4), (2, 2)), [[0.5, 0.5], [0.5, 2.5], [2.5, 0.5],
                                                            [2.5, 2.5]])  # fmt: skip
    W = block_fields(8, 4)
    W[:, 3] *= 0.05  # below 0.1 x the largest norm
    p = place_units(W, (8, 8), (4, 4))
    assert p.switched_off == 1 and not p.active[3]
    s = p.summary()
    assert s["switched_off"] == 1 and s["within_one"] == 1.0
    with pytest.raises(ValueError, match="one column per coarse site"):
        place_units(W[:, :5], (8, 8), (4, 4))


def test_wrong_layout_is_not_within_one():
    W = block_fields(8, 4)
    W = np.roll(W.reshape(8, 8, 16), 1, axis=0).reshape(64, 16)  # shifted by one site
    W = np.roll(W.reshape(8, 8, 16), 1, axis=1).reshape(64, 16)  # and one more: sqrt 2 away
    p = place_units(W, (8, 8), (4, 4))
    assert p.within_one == 0.0


def test_example_conforms_and_reorders():
    rule = DBNLayerRule.example()
    assert isinstance(rule, CoarseGraining)
    assert rule.fine_shape == (4, 4) and rule.coarse_shape == (2, 2)
    v = np.ones((3, 4, 4), np.int8)
    v[1, :2, :2] = -1  # block 0 flipped
    m = rule.coarse_mean(v)
    # ideal block RBM: the placed mean at site k only depends on block k
    assert m.shape == (3, 2, 2) and m.dtype == np.float64
    np.testing.assert_allclose(m[1, 0, 0], np.tanh(0.1 - 2.0), atol=1e-12)
    np.testing.assert_allclose(m[1, 1, 1], np.tanh(0.1 + 2.0), atol=1e-12)
    h = rule.coarse_grain(v, seed=1)
    assert h.dtype == np.int8 and set(np.unique(h)) <= {-1, 1}
    np.testing.assert_array_equal(h, rule.coarse_grain(v, seed=1))


def two_level_model():
    rng = np.random.default_rng(3)
    W1 = block_fields(8, 4, weight=0.6)
    o1 = rng.permutation(16)
    r1 = SpinRBM.from_parameters(W1[:, o1], np.zeros(64), rng.normal(0, 0.1, 16))
    W2 = block_fields(4, 2, weight=0.7)  # on the level-1 coarse lattice
    o2 = rng.permutation(4)
    # rows of layer 2 index level-1 units (unit o1[k] sits at coarse site k)
    rows = W2[o1]
    r2 = SpinRBM.from_parameters(rows[:, o2], np.zeros(16), np.zeros(4))

    class Net:
        layers = [r1, r2]

    return Net(), W1, o1, o2


def test_steps_compose_to_the_level_two_rule():
    net, _, o1, o2 = two_level_model()
    p1 = place_units(net.layers[0].numpy()["weights"], (8, 8), (4, 4))
    np.testing.assert_array_equal(p1.site_of_unit, o1)
    fields2 = net.layers[0].numpy()["weights"] @ net.layers[1].numpy()["weights"]
    p2 = place_units(fields2, (8, 8), (2, 2))
    np.testing.assert_array_equal(p2.site_of_unit, o2)
    steps = dbn_steps(net, [p1, p2], mode="sign")
    assert isinstance(steps, Compose) and steps.coarse_shape == (2, 2)
    direct = DBNLayerRule(net, 2, p2, "sign")
    v = np.random.default_rng(0).choice(np.array([-1, 1], np.int8), size=(50, 8, 8))
    # every level on its own lattice; the sign rule is deterministic away from ties
    lv = steps.levels(v, seed=0)
    assert [x.shape[1:] for x in lv] == [(8, 8), (4, 4), (2, 2)]
    np.testing.assert_array_equal(direct.coarse_grain(v, seed=0), direct.coarse_grain(v, seed=5))
    with pytest.raises(ValueError, match="not a closed form"):
        DBNLayerRule(net, 2, p2, "sample").coarse_mean(v)


def test_sampled_rule_frequencies_match_the_conditional():
    rule = DBNLayerRule.example()
    v = np.ones((20000, 4, 4), np.int8)
    v[:, 0, :] = -1
    h = rule.coarse_grain(v, seed=7).astype(np.float64)
    m = rule.coarse_mean(v[:1])[0]
    # binomial error of each mean: sqrt((1 - m^2) / n); 5 sigma
    assert np.all(np.abs(h.mean(0) - m) < 5 * np.sqrt((1 - m**2) / len(h)))


def test_bad_input():
    rule = DBNLayerRule.example()
    with pytest.raises(ValueError):
        DBNLayerRule(SpinRBM(16, 4), level=2)
    with pytest.raises(ValueError, match="mode"):
        DBNLayerRule(SpinRBM(16, 4), mode="mean")
    with pytest.raises(ValueError):
        rule.coarse_grain(np.ones((2, 3, 3), np.int8), seed=0)


def test_step_reads_placed_input_exactly():
    net, _, _, _ = two_level_model()
    p1 = place_units(net.layers[0].numpy()["weights"], (8, 8), (4, 4))
    fields2 = net.layers[0].numpy()["weights"] @ net.layers[1].numpy()["weights"]
    p2 = place_units(fields2, (8, 8), (2, 2))
    step = DBNLayerRule(net, 2, p2, "sample", from_level=1, input_placement=p1)
    assert step.fine_shape == (4, 4) and step.coarse_shape == (2, 2)
    h1 = np.random.default_rng(1).choice(np.array([-1, 1], np.int8), size=(30, 16))
    placed = h1[:, p1.permutation].reshape(30, 4, 4)
    p = net.layers[1].numpy()
    expected = np.tanh(p["hidden_bias"] + h1 @ p["weights"])[:, p2.permutation]
    np.testing.assert_allclose(step.coarse_mean(placed).reshape(30, 4), expected, atol=1e-12)


def test_random_baseline_is_reproducible_and_below_one():
    from kadanoff.rg.placement import random_within_one

    a = random_within_one((8, 8), (4, 4), seed=0)
    assert a == random_within_one((8, 8), (4, 4), seed=0) and 0.3 < a < 1.0
    # at b = 8 a random centre is rarely within one site of its grid point
    assert random_within_one((40, 40), (5, 5), seed=0) < 0.2


def test_binary_units_give_the_same_rule():
    net, _, _, _ = two_level_model()
    binary = [m.to_binary() for m in net.layers]
    p1 = place_units(net.layers[0].numpy()["weights"], (8, 8), (4, 4))
    v = np.random.default_rng(2).choice(np.array([-1, 1], np.int8), size=(20, 8, 8))
    a, b = (DBNLayerRule(m, 1, p1, "sample").coarse_mean(v) for m in (net.layers, binary))
    np.testing.assert_allclose(a, b, atol=1e-12)
    # sampled rules draw the same spins from the same stream
    a, b = (DBNLayerRule(m, 1, p1, "sample").coarse_grain(v, seed=4) for m in (net.layers, binary))
    np.testing.assert_array_equal(a, b)


def test_orientation_removes_the_sign_gauge():
    """Flipping hidden units with their weights is a symmetry; the oriented rule ignores it."""
    net, _, _, _ = two_level_model()
    flip = np.array([1, 4, 5, 11])
    p1, p2 = (m.numpy() for m in net.layers)
    W1, b1, W2 = p1["weights"].copy(), p1["hidden_bias"].copy(), p2["weights"].copy()
    W1[:, flip] *= -1
    b1[flip] *= -1
    W2[flip] *= -1
    W2[:, 2] *= -1  # and one top unit
    b2 = p2["hidden_bias"].copy()
    b2[2] *= -1
    flipped = [SpinRBM.from_parameters(W1, p1["visible_bias"], b1),
               SpinRBM.from_parameters(W2, p2["visible_bias"], b2)]  # fmt: skip
    v = np.random.default_rng(5).choice(np.array([-1, 1], np.int8), size=(40, 8, 8))
    out = []
    for layers in (net.layers, flipped):
        fields = [layers[0].numpy()["weights"]]
        fields.append(fields[0] @ layers[1].numpy()["weights"])
        pl = [place_units(fields[0], (8, 8), (4, 4)), place_units(fields[1], (8, 8), (2, 2))]
        step2 = DBNLayerRule(layers, 2, pl[1], "sample", from_level=1, input_placement=pl[0])
        h1 = DBNLayerRule(layers, 1, pl[0], "sign").coarse_grain(v, seed=0)
        out.append((DBNLayerRule(layers, 1, pl[0]).coarse_mean(v), step2.coarse_mean(h1),
                    DBNLayerRule(layers, 2, pl[1], "sign").coarse_mean(v)))  # fmt: skip
    for a, b in zip(*out, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)
    # without the orientation the flipped units show up
    raw = DBNLayerRule(flipped, 1, pl[0], orient=False).coarse_mean(v)
    assert not np.allclose(raw, out[0][0])
