"""AIS estimates of ln Z against exact enumeration (summing over the smaller layer).

Each check asks ``|log_z - exact| < 3 * stderr``. For a correct AIS with near-Gaussian
errors this fails about 0.3% of the time per model; the seeds below are fixed in advance
(1, 2, 3, ...) and were not tuned. The runs are made large enough (ESS close to n_chains)
that the reported stderr is itself reliable, and the log-of-mean bias (~ stderr^2 / 2)
is negligible. A slow-marked sweep over many seeds checks the coverage rate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kadanoff.ising.model import IsingModel
from kadanoff.lattice import Chain
from kadanoff.rbm import BinaryRBM, SpinRBM, exact
from kadanoff.rbm.ais import AISResult, ais_log_partition, base_visible_bias, default_betas
from kadanoff.spins import all_states

Z_MAX = 3.0
N_BETAS = 2000
N_CHAINS = 200


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_rbm(cls, nv, nh, seed, w_scale, b_scale):
    return cls.random(nv, nh, seed=seed, weight_scale=w_scale, bias_scale=b_scale)


def bond_rbm(n, K, noise, seed):
    """theory.md 5(c): one hidden spin per bond of an n-ring, weight w with
    K = (1/2) ln cosh 2w on both of its spins, plus N(0, noise^2) on every parameter."""
    r = np.random.default_rng(seed)
    w = 0.5 * math.acosh(math.exp(2 * K))
    W = np.zeros((n, n))
    for j in range(n):
        W[j, j] = W[(j + 1) % n, j] = w
    return SpinRBM.from_parameters(
        W + noise * r.normal(size=W.shape),
        noise * r.normal(size=n),
        noise * r.normal(size=n),
        dtype=torch.float64,
    )


def ising_ring_distribution(n, K, field):
    """Exact Boltzmann distribution of an n-site Ising ring over all_states, and the states."""
    model = IsingModel(Chain(n), K, field=field)
    S = all_states(n)
    log_w = -model.energy(S).astype(np.float64)
    P = np.exp(log_w - log_w.max())
    return P / P.sum(), S.astype(np.float64)


def trained_binary_rbm(n=16, nh=4, K=0.5, field=0.2, steps=150, lr=1.0, seed=2):
    """A {0,1} RBM fitted by exact-gradient descent on KL(P || p) for an Ising ring: strong,
    smooth, localized weights (|W| up to ~2) like a trained model. Returns (rbm, P, S).

    The gradient is that of exact.exact_kl_gradient, with the model term summed over the
    16 hidden states instead of the 2^16 visible ones (cheaper)."""
    P, S = ising_ring_distribution(n, K, field)
    X = torch.from_numpy((S + 1) / 2)
    Pt = torch.from_numpy(P)
    Hs = torch.from_numpy((all_states(nh).astype(np.float64) + 1) / 2)  # (2^nh, nh)
    r = np.random.default_rng(seed)
    W = torch.from_numpy(0.1 * r.normal(size=(n, nh)))
    a, b = torch.zeros(n, dtype=torch.float64), torch.zeros(nh, dtype=torch.float64)
    XP = X * Pt[:, None]
    data_v = XP.sum(0)
    for _ in range(steps):
        hm = torch.sigmoid(b + X @ W)  # E[h | v] for every visible state
        data_vh, data_h = XP.T @ hm, Pt @ hm
        fv = a + Hs @ W.T  # (2^nh, n): visible fields given each hidden state
        log_ph = Hs @ b + torch.nn.functional.softplus(fv).sum(1)
        ph = torch.softmax(log_ph, 0)
        vm = torch.sigmoid(fv)  # E[v | h]
        W += lr * (data_vh - (vm * ph[:, None]).T @ Hs)
        a += lr * (data_v - ph @ vm)
        b += lr * (data_h - ph @ Hs)
    rbm = BinaryRBM.from_parameters(W, a, b, dtype=torch.float64)
    return rbm, P, S


def check(res: AISResult, log_z: float, n_chains: int) -> None:
    assert res.log_weights.shape == (n_chains,)
    assert np.isfinite(res.stderr) and res.stderr > 0
    assert res.effective_sample_size > 0.5 * n_chains, "weights degenerate: anneal longer"
    z = (res.log_z - log_z) / res.stderr
    assert abs(z) < Z_MAX, f"AIS {res.log_z} vs exact {log_z}: z = {z:.2f}"


@pytest.mark.parametrize(
    "cls,nv,nh,w_scale,b_scale,seed",
    [(SpinRBM, 16, 4, 0.5, 0.3, 1), (BinaryRBM, 18, 3, 0.8, 0.5, 2)],
)
def test_ais_random_models(cls, nv, nh, w_scale, b_scale, seed):
    rbm = random_rbm(cls, nv, nh, seed, w_scale, b_scale)
    res = ais_log_partition(rbm, n_chains=N_CHAINS, n_betas=N_BETAS, seed=seed)
    assert res.n_betas == N_BETAS
    check(res, exact.log_partition(rbm), N_CHAINS)


def test_ais_bond_rbm_with_noise():
    rbm = bond_rbm(16, K=0.5, noise=0.05, seed=3)
    res = ais_log_partition(rbm, n_chains=N_CHAINS, n_betas=N_BETAS, seed=3)
    check(res, exact.log_partition(rbm), N_CHAINS)  # exact: 2^16 hidden states


def test_ais_trained_like_model_with_and_without_data_base():
    rbm, P, S = trained_binary_rbm()
    assert exact.kl_divergence(P, rbm) < 1.0  # it did learn (KL of the initial model ~ 2.3)
    assert rbm.weights.abs().max() > 1.0
    log_z = exact.log_partition(rbm)
    res = ais_log_partition(rbm, n_chains=N_CHAINS, n_betas=N_BETAS, seed=4)
    check(res, log_z, N_CHAINS)
    # base visible biases fitted to data (exact samples of P): tighter estimate
    idx = np.random.default_rng(5).choice(len(P), size=5000, p=P)
    base = base_visible_bias((S[idx] + 1) / 2, "binary")
    res_b = ais_log_partition(rbm, n_chains=N_CHAINS, n_betas=N_BETAS, seed=5, base=base)
    check(res_b, log_z, N_CHAINS)


def test_ais_exact_when_base_equals_target():
    """Zero weights and base = visible biases: every chain's weight is the same constant,
    so AIS is exact (to rounding) with zero spread."""
    for cls in (SpinRBM, BinaryRBM):
        r = np.random.default_rng(0)
        rbm = cls.from_parameters(np.zeros((10, 3)), r.normal(size=10), r.normal(size=3))
        res = ais_log_partition(
            rbm, n_chains=8, n_betas=50, seed=0, base=rbm.numpy()["visible_bias"]
        )
        assert abs(res.log_z - exact.log_partition(rbm)) < 1e-10
        assert res.stderr < 1e-12


def test_ais_reproducible_and_validates_input():
    rbm = random_rbm(SpinRBM, 6, 3, 0, 0.5, 0.3)
    a = ais_log_partition(rbm, n_chains=10, n_betas=100, seed=7)
    b = ais_log_partition(rbm, n_chains=10, n_betas=100, seed=7)
    c = ais_log_partition(rbm, n_chains=10, n_betas=100, seed=8)
    assert np.array_equal(a.log_weights, b.log_weights) and a.log_z == b.log_z
    assert not np.array_equal(a.log_weights, c.log_weights)
    betas = default_betas(100)
    assert betas[0] == 0.0 and betas[-1] == 1.0 and betas.size == 100
    assert np.all(np.diff(betas) > 0)
    d = ais_log_partition(rbm, n_chains=10, betas=betas, seed=7)
    assert np.array_equal(d.log_weights, a.log_weights)
    # a float32 model is annealed in float64 by default
    e = ais_log_partition(rbm.to(dtype=torch.float32), n_chains=10, n_betas=100, seed=7)
    assert np.isfinite(e.log_z)
    with pytest.raises(ValueError, match="from 0 to 1"):
        ais_log_partition(rbm, betas=[0.0, 0.5, 0.9], seed=0)
    with pytest.raises(ValueError, match="not both"):
        ais_log_partition(rbm, betas=betas, n_betas=100, seed=0)
    with pytest.raises(ValueError, match="n_chains"):
        ais_log_partition(rbm, n_chains=1, seed=0)
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        ais_log_partition(rbm, base=np.zeros(5), seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["random_spin", "bond", "trained"])
def test_ais_coverage_over_seeds(which):
    """Over 100 seeds the fraction within 3 SE must be >= 0.95 (a correct AIS gives ~0.997;
    P(< 95/100) is then ~1e-8), and the mean z must be near 0 (|mean z| < 4.5 / sqrt(100))."""
    if which == "random_spin":
        rbm = random_rbm(SpinRBM, 16, 4, 11, 0.5, 0.3)
    elif which == "bond":
        rbm = bond_rbm(16, K=0.5, noise=0.05, seed=12)
    else:
        rbm = trained_binary_rbm()[0]
    log_z = exact.log_partition(rbm)
    zs = []
    for seed in range(100):
        res = ais_log_partition(rbm, n_chains=100, n_betas=1000, seed=1000 + seed)
        zs.append((res.log_z - log_z) / res.stderr)
    zs = np.array(zs)
    assert np.mean(np.abs(zs) < Z_MAX) >= 0.95, zs
    assert abs(zs.mean()) < 4.5 / math.sqrt(len(zs)) * max(1.0, zs.std()), zs


@pytest.mark.gpu
def test_ais_on_cuda():
    rbm = random_rbm(BinaryRBM, 18, 3, 2, 0.8, 0.5).to(device="cuda")
    res = ais_log_partition(rbm, n_chains=N_CHAINS, n_betas=N_BETAS, seed=6)
    check(res, exact.log_partition(rbm), N_CHAINS)
    v = rbm.sample(16, n_steps=3, seed=1)
    assert v.device.type == "cuda"
    assert torch.equal(v, rbm.sample(16, n_steps=3, seed=1))
