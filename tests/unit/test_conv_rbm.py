"""Exact tests of the convolutional spin RBM (theory.md 3): brute force on a 4 x 4 torus."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kadanoff.rbm import exact
from kadanoff.rbm.conv import ConvSpinRBM, train_conv_rbm
from kadanoff.spins import all_states

L, B, FSIZE = 4, 2, 3


@pytest.fixture(scope="module")
def model() -> ConvSpinRBM:
    return ConvSpinRBM.random(L, B, FSIZE, seed=11, scale=0.4)


@pytest.fixture(scope="module")
def brute(model):
    """Joint energies of all 2^16 x 2^4 states, by the explicit sum over the patch."""
    v = all_states(L * L).reshape(-1, L, L).astype(np.float64)
    h = all_states((L // B) ** 2).reshape(-1, L // B, L // B).astype(np.float64)
    W = model.numpy()["weights"]
    a, c = float(model.visible_bias), float(model.hidden_bias)
    o = -((FSIZE - B) // 2)
    field = np.zeros((len(v), L // B, L // B))  # (W * v)_j by the definition
    for X in range(L // B):
        for Y in range(L // B):
            for dx in range(FSIZE):
                for dy in range(FSIZE):
                    field[:, X, Y] += W[dx, dy] * v[:, (B * X + o + dx) % L, (B * Y + o + dy) % L]
    E = -(
        np.einsum("vxy,hxy->vh", field, h) + a * v.sum((1, 2))[:, None] + c * h.sum((1, 2))[None, :]
    )
    logw = -E
    lnZ = np.logaddexp.reduce(logw.ravel())
    return {"v": v, "h": h, "E": E, "p": np.exp(logw - lnZ), "lnZ": lnZ}


def test_energy_matches_definition(model, brute):
    rng = np.random.default_rng(0)
    iv, ih = rng.integers(0, len(brute["v"]), 200), rng.integers(0, len(brute["h"]), 200)
    E = model.energy(brute["v"][iv], brute["h"][ih]).numpy()
    np.testing.assert_allclose(E, brute["E"][iv, ih], rtol=0, atol=1e-10)
    Ed = model.to_dense().energy(brute["v"][iv].reshape(200, -1), brute["h"][ih].reshape(200, -1))
    np.testing.assert_allclose(Ed.numpy(), brute["E"][iv, ih], rtol=0, atol=1e-10)


def test_marginals_equal_brute_force(model, brute):
    pv, ph = brute["p"].sum(1), brute["p"].sum(0)
    Fv = model.free_energy_visible(brute["v"]).numpy()
    Fh = model.free_energy_hidden(brute["h"]).numpy()
    np.testing.assert_allclose(np.exp(-Fv - brute["lnZ"]), pv, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.exp(-Fh - brute["lnZ"]), ph, rtol=0, atol=1e-10)
    # free energy = -ln sum_h exp(-E) pointwise, and the dense RBM's exact oracle agrees
    np.testing.assert_allclose(Fv, -np.logaddexp.reduce(-brute["E"], axis=1), atol=1e-10)
    np.testing.assert_allclose(Fh, -np.logaddexp.reduce(-brute["E"], axis=0), atol=1e-10)
    dense = model.to_dense()
    assert abs(exact.log_partition(dense) - brute["lnZ"]) < 1e-10
    np.testing.assert_allclose(exact.visible_distribution(dense), pv, rtol=0, atol=1e-10)
    np.testing.assert_allclose(exact.hidden_distribution(dense), ph, rtol=0, atol=1e-10)


def test_conditionals_equal_brute_force(model, brute):
    p = brute["p"]
    rng = np.random.default_rng(1)
    for iv in rng.integers(0, len(brute["v"]), 20):
        cond = p[iv] / p[iv].sum()  # p(h | v) over the 16 hidden states
        q = model.hidden_probability(brute["v"][iv][None]).numpy().reshape(-1)
        hs = brute["h"].reshape(len(cond), -1)
        model_cond = np.prod(np.where(hs > 0, q, 1 - q), axis=1)
        np.testing.assert_allclose(model_cond, cond, rtol=0, atol=1e-10)
    pv_h = p / p.sum(0, keepdims=True)  # p(v | h), one column per h
    vs = brute["v"].reshape(len(p), -1)
    for ih in range(len(brute["h"])):
        q = model.visible_probability(brute["h"][ih][None]).numpy().reshape(-1)
        model_cond = np.exp(np.where(vs > 0, np.log(q), np.log1p(-q)).sum(1))
        np.testing.assert_allclose(model_cond, pv_h[:, ih], rtol=0, atol=1e-10)
    dense = model.to_dense()
    v = brute["v"][:50]
    np.testing.assert_allclose(
        model.hidden_probability(v).reshape(50, -1).numpy(),
        dense.hidden_probability(v.reshape(50, -1)).numpy(),
        atol=1e-12,
    )


@pytest.mark.parametrize(("Lx", "b", "f"), [(6, 2, 2), (6, 2, 3), (6, 3, 4), (8, 2, 5)])
def test_dense_form_and_translation_invariance(Lx, b, f):
    m = ConvSpinRBM.random(Lx, b, f, seed=3)
    d = m.to_dense()
    rng = np.random.default_rng(5)
    v = rng.choice([-1, 1], size=(7, Lx, Lx)).astype(np.int8)
    h = rng.choice([-1, 1], size=(7, Lx // b, Lx // b)).astype(np.int8)
    np.testing.assert_allclose(
        m.visible_field(h).reshape(7, -1).numpy(),
        d.visible_field(h.reshape(7, -1)).numpy(),
        atol=1e-12,
    )
    np.testing.assert_allclose(
        m.free_energy_visible(v).numpy(),
        d.free_energy_visible(v.reshape(7, -1)).numpy(),
        atol=1e-10,
    )
    np.testing.assert_allclose(
        m.free_energy_hidden(h).numpy(), d.free_energy_hidden(h.reshape(7, -1)).numpy(), atol=1e-10
    )
    p = m.hidden_probability(v).numpy()
    for axis in (1, 2):
        shifted = m.hidden_probability(np.roll(v, b, axis=axis)).numpy()
        np.testing.assert_allclose(shifted, np.roll(p, 1, axis=axis), rtol=0, atol=1e-14)
    # a shift by less than b is not a symmetry of a generic filter (the test can fail)
    assert (
        np.abs(m.hidden_probability(np.roll(v, 1, axis=1)).numpy() - np.roll(p, 1, axis=1)).max()
        > 1e-3
    )


def test_canonical_relabels_hidden_spins():
    m = ConvSpinRBM(4, 2, -np.ones((2, 2)), 0.1, 0.3)
    c = m.canonical()
    assert float(c.weights.sum()) > 0 and float(c.hidden_bias) == pytest.approx(-0.3)
    v = all_states(16).reshape(-1, 4, 4)
    np.testing.assert_allclose(
        c.free_energy_visible(v).numpy(), m.free_energy_visible(v).numpy(), atol=1e-12
    )


def test_bad_input_messages():
    with pytest.raises(ValueError, match="must divide"):
        ConvSpinRBM(5, 2, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="b = 2 <= f"):
        ConvSpinRBM(4, 2, np.zeros((1, 1)))
    with pytest.raises(ValueError, match="shape"):
        ConvSpinRBM(4, 2, np.zeros((2, 2))).hidden_field(np.ones((3, 5, 5)))


def test_training_learns_ferromagnetic_filter():
    """On perfectly aligned blocks CD drives the filter positive and reconstruction improves."""
    rng = np.random.default_rng(2)
    s = rng.choice([-1, 1], size=(400, 1, 1)).astype(np.int8) * np.ones((1, 4, 4), np.int8)
    m, hist = train_conv_rbm(s, 2, 2, seed=4, epochs=5, learning_rate=0.1, batch_size=20)
    assert float(m.weights.min()) > 0.1
    assert hist.reconstruction_error[-1] < hist.reconstruction_error[0]
    m2, _ = train_conv_rbm(s, 2, 2, seed=4, epochs=5, learning_rate=0.1, batch_size=20)
    assert torch.equal(m.weights, m2.weights)  # a fixed seed replays the run


@pytest.mark.parametrize(("Lx", "b", "f"), [(8, 2, 2), (8, 2, 3), (9, 3, 5), (8, 2, 8)])
def test_compiled_rule_field_equals_torch_field(Lx, b, f):
    from kadanoff.rg.conv_rule import conv_field

    m = ConvSpinRBM.random(Lx, b, f, seed=9)
    v = np.random.default_rng(1).choice([-1, 1], size=(5, Lx, Lx)).astype(np.int8)
    np.testing.assert_allclose(conv_field(m, v), m.hidden_field(v).numpy(), rtol=0, atol=1e-12)


def test_free_energy_gradient_is_the_tied_exact_kl_gradient(model):
    """d/dtheta [<H(v)>_P - <H(v)>_model] (what training descends, with exact averages) equals
    the dense RBM's exact KL gradient summed over the tied entries (theory.md 3, MS 14)."""
    v = all_states(L * L).reshape(-1, L, L)
    P = np.random.default_rng(8).dirichlet(np.ones(len(v)))
    dense = model.to_dense()
    Q = exact.visible_distribution(dense)
    g = exact.exact_kl_gradient(P, dense)
    W = model.weights.clone().requires_grad_(True)
    a = model.visible_bias.clone().requires_grad_(True)
    c = model.hidden_bias.clone().requires_grad_(True)
    live = ConvSpinRBM(L, B, model.weights)
    live.weights, live.visible_bias, live.hidden_bias = W, a, c
    Fv = live.free_energy_visible(v)
    (torch.from_numpy(P - Q) @ Fv).backward()
    tied = np.empty((FSIZE, FSIZE))
    for dx in range(FSIZE):
        for dy in range(FSIZE):
            unit = np.zeros((FSIZE, FSIZE))
            unit[dx, dy] = 1.0
            tied[dx, dy] = np.sum(g["weights"] * ConvSpinRBM(L, B, unit).dense_weights())
    np.testing.assert_allclose(W.grad.numpy(), tied, rtol=0, atol=1e-10)
    assert abs(float(a.grad) - g["visible_bias"].sum()) < 1e-10
    assert abs(float(c.grad) - g["hidden_bias"].sum()) < 1e-10
