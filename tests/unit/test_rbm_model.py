"""RBM model: energies, free energies, conditionals and sampling against brute force."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch

from kadanoff._rng import torch_generator
from kadanoff.rbm import (
    RBM,
    BinaryRBM,
    SpinRBM,
    binary_to_spin_parameters,
    from_paper_convention,
    rbm_class,
    spin_to_binary_parameters,
    to_paper_convention,
)
from kadanoff.spins import all_states

TOL = 1e-10


def random_rbm(cls, nv, nh, seed, scale=0.5):
    return cls.random(nv, nh, seed=seed, weight_scale=scale)


def states(units, n):
    s = all_states(n).astype(np.float64)
    return (s + 1) / 2 if units == "binary" else s


def brute(rbm):
    """(V, H, -E matrix) computed independently of the model code, float64."""
    p = rbm.numpy()
    V, H = states(rbm.units, rbm.n_visible), states(rbm.units, rbm.n_hidden)
    neg_e = np.einsum("vi,ij,hj->vh", V, p["weights"], H)
    neg_e += (V @ p["visible_bias"])[:, None] + (H @ p["hidden_bias"])[None, :]
    return V, H, neg_e


def lse(x, axis=None):
    return scipy.special.logsumexp(x, axis=axis)


UNIT_CLASSES = [SpinRBM, BinaryRBM]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_constructor_and_properties():
    m = SpinRBM(5, 3)
    assert m.n_visible == 5 and m.n_hidden == 3 and m.units == "spin"
    assert m.dtype == torch.float32 and m.device.type == "cpu"
    assert m.weights.shape == (5, 3) and m.visible_bias.shape == (5,)
    assert m.hidden_bias.shape == (3,)
    assert all(torch.count_nonzero(p) == 0 for p in m.parameters())
    assert BinaryRBM(2, 2, dtype=torch.float64).units == "binary"
    assert rbm_class("spin") is SpinRBM and rbm_class("binary") is BinaryRBM
    with pytest.raises(ValueError, match="n_hidden"):
        SpinRBM(3, 0)
    with pytest.raises(TypeError, match="abstract"):
        RBM(2, 2)
    with pytest.raises(ValueError, match="unit type"):
        rbm_class("ising")


def test_from_parameters_dtype_device_copy_and_validation():
    r = np.random.default_rng(0)
    W, a, b = r.normal(size=(4, 3)), r.normal(size=4), r.normal(size=3)
    m = SpinRBM.from_parameters(W, a, b)
    assert m.dtype == torch.float64  # inferred from float64 arrays
    np.testing.assert_array_equal(m.numpy()["weights"], W)
    W[0, 0] = 99.0
    assert m.weights[0, 0] != 99.0  # copied
    m32 = SpinRBM.from_parameters(torch.zeros(4, 3), torch.zeros(4), torch.zeros(3))
    assert m32.dtype == torch.float32
    m2 = m.to(dtype=torch.float32)
    assert m2.dtype == torch.float32 and m.dtype == torch.float64 and isinstance(m2, SpinRBM)
    c = m.clone()
    c.weights += 1
    assert not torch.equal(c.weights, m.weights)
    assert m.parameters()[0] is m.weights
    assert set(m.numpy()) == {"weights", "visible_bias", "hidden_bias"}
    with pytest.raises(ValueError, match="visible_bias has shape"):
        SpinRBM.from_parameters(W, np.zeros(3), b)
    with pytest.raises(ValueError, match="hidden_bias has shape"):
        SpinRBM.from_parameters(W, a, np.zeros(4))
    with pytest.raises(ValueError, match="2-D"):
        SpinRBM.from_parameters(np.zeros(4), a, b)
    with pytest.raises(ValueError, match=r"shape \(batch, 4\)"):
        m.energy(torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64))


def test_energy_sign_convention_and_paper_convention():
    # a positive weight favours alignment (kadanoff convention, theory.md section 3)
    m = SpinRBM.from_parameters(np.array([[1.0]]), np.array([0.0]), np.array([0.0]))
    up = torch.ones(1, 1, dtype=torch.float64)
    assert m.energy(up, up).item() == -1.0 and m.energy(up, -up).item() == 1.0
    # paper convention (MS 10): E = b.h + v w h + c.v with every sign plus
    rbm = random_rbm(SpinRBM, 4, 3, 1)
    p = rbm.numpy()
    w, c, bp = to_paper_convention(p["weights"], p["visible_bias"], p["hidden_bias"])
    V, H, neg_e = brute(rbm)
    e_paper = np.einsum("vi,ij,hj->vh", V, w, H) + (V @ c)[:, None] + (H @ bp)[None, :]
    np.testing.assert_allclose(e_paper, -neg_e, atol=1e-12, rtol=0)
    back = from_paper_convention(w, c, bp)
    for x, y in zip(back, (p["weights"], p["visible_bias"], p["hidden_bias"]), strict=True):
        np.testing.assert_array_equal(x, y)  # negation round-trips exactly
    t = to_paper_convention(rbm.weights, rbm.visible_bias, rbm.hidden_bias)
    assert isinstance(t[0], torch.Tensor) and torch.equal(-t[0], rbm.weights)
    d = rbm.to_paper_convention()
    np.testing.assert_array_equal(d["w"], w)


@pytest.mark.parametrize("cls", UNIT_CLASSES)
@pytest.mark.parametrize("nv,nh", [(3, 2), (7, 5), (12, 8), (4, 10)])
def test_free_energies_and_energy_match_brute_force(cls, nv, nh):
    rbm = random_rbm(cls, nv, nh, seed=nv * 100 + nh)
    V, H, neg_e = brute(rbm)
    # energy on a random subset of (v, h) pairs
    r = np.random.default_rng(0)
    iv, ih = r.integers(0, len(V), 50), r.integers(0, len(H), 50)
    e = rbm.energy(torch.from_numpy(V[iv]), torch.from_numpy(H[ih])).numpy()
    np.testing.assert_allclose(e, -neg_e[iv, ih], atol=TOL, rtol=0)
    # H^RBM(v) = -ln sum_h exp(-E) and H^RBM(h) = -ln sum_v exp(-E) with constants (MS 12-13)
    fv = rbm.free_energy_visible(torch.from_numpy(V)).numpy()
    np.testing.assert_allclose(fv, -lse(neg_e, axis=1), atol=TOL, rtol=0)
    fh = rbm.free_energy_hidden(torch.from_numpy(H)).numpy()
    np.testing.assert_allclose(fh, -lse(neg_e, axis=0), atol=TOL, rtol=0)


@pytest.mark.parametrize("cls", UNIT_CLASSES)
def test_conditionals_factorize_and_match_joint(cls):
    rbm = random_rbm(cls, 5, 4, seed=7, scale=0.8)
    V, H, neg_e = brute(rbm)
    joint = np.exp(neg_e - lse(neg_e))
    p_h_given_v = joint / joint.sum(1, keepdims=True)  # (2^nv, 2^nh)
    p_v_given_h = joint / joint.sum(0, keepdims=True)
    Vt, Ht = torch.from_numpy(V), torch.from_numpy(H)
    up = 1.0
    # p(h_j = up | v) from the joint, and the factorized product over j
    ph = rbm.hidden_probability(Vt).numpy()
    np.testing.assert_allclose(ph, p_h_given_v @ (H == up), atol=TOL, rtol=0)
    prod = np.prod(np.where((H == up)[None], ph[:, None, :], 1 - ph[:, None, :]), axis=-1)
    np.testing.assert_allclose(prod, p_h_given_v, atol=TOL, rtol=0)
    pv = rbm.visible_probability(Ht).numpy()
    np.testing.assert_allclose(pv, (p_v_given_h.T @ (V == up)), atol=TOL, rtol=0)
    prod = np.prod(np.where((V == up)[None], pv[:, None, :], 1 - pv[:, None, :]), axis=-1)
    np.testing.assert_allclose(prod, p_v_given_h.T, atol=TOL, rtol=0)
    # means = expected unit values
    np.testing.assert_allclose(rbm.hidden_mean(Vt).numpy(), p_h_given_v @ H, atol=TOL, rtol=0)
    np.testing.assert_allclose(rbm.visible_mean(Ht).numpy(), p_v_given_h.T @ V, atol=TOL, rtol=0)
    # fields: b + v W and a + W h
    p = rbm.numpy()
    np.testing.assert_allclose(
        rbm.hidden_field(Vt).numpy(), p["hidden_bias"] + V @ p["weights"], atol=TOL, rtol=0
    )
    np.testing.assert_allclose(
        rbm.visible_field(Ht).numpy(), p["visible_bias"] + H @ p["weights"].T, atol=TOL, rtol=0
    )
    if cls is SpinRBM:  # theory.md: p(h_j = +1 | v) = sigmoid(2 (b_j + sum_i v_i W_ij))
        f = rbm.hidden_field(Vt)
        np.testing.assert_allclose(ph, torch.sigmoid(2 * f).numpy(), atol=1e-15)


@pytest.mark.parametrize("nv,nh", [(3, 2), (6, 4)])
def test_spin_binary_conversion_same_distribution(nv, nh):
    s = random_rbm(SpinRBM, nv, nh, seed=3, scale=1.0)
    b = s.to_binary()
    assert isinstance(b, BinaryRBM)
    _, _, ne_s = brute(s)
    _, _, ne_b = brute(b)  # same state order under x = (s + 1) / 2
    p = s.numpy()
    _, _, _, log_const = spin_to_binary_parameters(
        p["weights"], p["visible_bias"], p["hidden_bias"]
    )
    np.testing.assert_allclose(ne_s, ne_b + log_const, atol=1e-12, rtol=0)
    js, jb = np.exp(ne_s - lse(ne_s)), np.exp(ne_b - lse(ne_b))
    np.testing.assert_allclose(js, jb, atol=1e-12, rtol=0)
    # round trips: spin -> binary -> spin and binary -> spin -> binary
    back = b.to_spin()
    for x, y in zip(back.parameters(), s.parameters(), strict=True):
        np.testing.assert_allclose(x.numpy(), y.numpy(), atol=1e-12, rtol=0)
    bb = random_rbm(BinaryRBM, nv, nh, seed=4, scale=1.0)
    for x, y in zip(bb.to_spin().to_binary().parameters(), bb.parameters(), strict=True):
        np.testing.assert_allclose(x.numpy(), y.numpy(), atol=1e-12, rtol=0)
    q = bb.numpy()
    Ws, as_, bs, c2 = binary_to_spin_parameters(q["weights"], q["visible_bias"], q["hidden_bias"])
    _, _, ne_b2 = brute(bb)
    _, _, ne_s2 = brute(SpinRBM.from_parameters(Ws, as_, bs))
    np.testing.assert_allclose(ne_b2, ne_s2 + c2, atol=1e-12, rtol=0)
    # torch inputs give torch outputs
    Wt, _, _, _ = spin_to_binary_parameters(s.weights, s.visible_bias, s.hidden_bias)
    assert isinstance(Wt, torch.Tensor)
    with pytest.raises(ValueError, match="inconsistent"):
        spin_to_binary_parameters(np.zeros((2, 3)), np.zeros(3), np.zeros(3))


@pytest.mark.parametrize("cls", UNIT_CLASSES)
def test_sampling_values_shapes_and_reproducibility(cls):
    rbm = random_rbm(cls, 6, 4, seed=11)
    v = rbm.sample(50, n_steps=5, seed=1)
    assert v.shape == (50, 6) and v.dtype == torch.float64
    allowed = {-1.0, 1.0} if cls is SpinRBM else {0.0, 1.0}
    assert set(torch.unique(v).tolist()) <= allowed
    assert torch.equal(v, rbm.sample(50, n_steps=5, seed=1))  # same seed, same samples
    assert not torch.equal(v, rbm.sample(50, n_steps=5, seed=2))
    v2, h2 = rbm.sample(50, n_steps=5, seed=1, return_hidden=True)
    assert torch.equal(v2, v) and h2.shape == (50, 4)
    g = torch_generator(5)
    h = rbm.sample_hidden(v, generator=g)
    assert h.shape == (50, 4) and set(torch.unique(h).tolist()) <= allowed
    vk, hk = rbm.gibbs(v, 3, generator=torch_generator(5))
    vk2, hk2 = rbm.gibbs(v, 3, generator=torch_generator(5))
    assert torch.equal(vk, vk2) and torch.equal(hk, hk2)
    with pytest.raises(ValueError, match="positive integer"):
        rbm.gibbs(v, 0, generator=g)
    # float32 models sample in float32
    v32 = rbm.to(dtype=torch.float32).sample(4, n_steps=2, seed=0)
    assert v32.dtype == torch.float32


def _gibbs_visible_transition(rbm):
    """Exact one-step visible transition matrix T[v, v'] of block Gibbs, float64."""
    V, H, neg_e = brute(rbm)
    joint = np.exp(neg_e - lse(neg_e))
    p_h_v = joint / joint.sum(1, keepdims=True)
    p_v_h = joint / joint.sum(0, keepdims=True)
    return p_h_v @ p_v_h.T, joint


@pytest.mark.parametrize("cls", UNIT_CLASSES)
def test_gibbs_joint_histogram_chi_square(cls):
    """Independent chains from uniform starts; (v_k, h_k) histogram vs the exact joint.

    The exact k-step distribution from the uniform start is first shown to be within 1e-9
    (total variation) of stationarity, so the only discrepancy is sampling noise; the
    chi-square test then has significance 1e-4 (a correct sampler fails 1 time in 10^4).
    """
    rbm = random_rbm(cls, 3, 2, seed=21, scale=0.4)
    k = 50
    T, joint = _gibbs_visible_transition(rbm)
    p0 = np.full(8, 1 / 8)
    pk = p0 @ np.linalg.matrix_power(T, k - 1)  # v_{k-1}; (v_k, h_k) then ~ joint exactly
    assert 0.5 * np.abs(pk - joint.sum(1)).sum() < 1e-9
    n = 20_000
    g = torch_generator(12345)
    v, h = rbm.gibbs(rbm.random_visible(n, generator=g), k, generator=g)
    sv = v.numpy() if cls is SpinRBM else 2 * v.numpy() - 1
    sh = h.numpy() if cls is SpinRBM else 2 * h.numpy() - 1
    iv = ((sv > 0) * np.array([4, 2, 1])).sum(1)
    ih = ((sh > 0) * np.array([2, 1])).sum(1)
    counts = np.bincount(iv * 4 + ih, minlength=32)
    expected = joint.ravel() * n
    assert expected.min() > 5  # chi-square approximation valid
    p_value = scipy.stats.chisquare(counts, expected).pvalue
    assert p_value > 1e-4, f"chi-square p = {p_value}"
