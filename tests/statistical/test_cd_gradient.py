"""The CD/PCD gradient estimator against exact enumeration (acceptance 2).

What is tested, precisely:

1. **Unbiasedness where the estimator is unbiased.** With the data batch drawn from ``P``
   and the negative-phase chains started from *exact* model samples (drawn from the
   enumerated ``p(v)``), any number of block-Gibbs steps keeps the chains at ``p``, so the
   estimator's mean is exactly ``-dKL(P||p)/dtheta`` (:func:`kadanoff.rbm.exact.exact_kl_gradient`).
2. **CD-1 hits its own (biased) target.** Started from the data, the CD-1 estimator's mean
   is the exact CD-1 update ``sum_v0 P(v0) [v0 m(v0)^T - sum_v1 T(v0 -> v1) v1 m(v1)^T]``
   with ``T`` the enumerated one-step Gibbs transition matrix and ``m(v) = E[h|v]``.

Each component of the mean over R independent replicas (own seeds) must agree with the
exact value within z = 4.5 standard errors, the error estimated from the replicas. With
11 components and R = 400 replicas a correct implementation fails with probability
~1e-4 per test. Everything runs in float64 through the trainer's own code path
(:func:`kadanoff.rbm.train.cd_gradient`).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kadanoff.rbm import BinaryRBM, SpinRBM
from kadanoff.rbm.exact import exact_kl_gradient, visible_distribution
from kadanoff.rbm.train import cd_gradient
from kadanoff.spins import all_states

Z = 4.5
R = 400  # replicas
N_DATA = 400  # data samples per replica
N_V, N_H = 3, 2
KEYS = ("weights", "visible_bias", "hidden_bias")


def _model(units: str, seed: int):
    rng = np.random.default_rng(seed)
    cls = SpinRBM if units == "spin" else BinaryRBM
    m = cls.from_parameters(
        rng.normal(0, 0.8, (N_V, N_H)),
        rng.normal(0, 0.5, N_V),
        rng.normal(0, 0.5, N_H),
        dtype=torch.float64,
    )
    states = all_states(N_V).astype(np.float64)
    if units == "binary":
        states = (states + 1) / 2
    p_data = rng.dirichlet(np.ones(2**N_V))
    return m, states, p_data


def _flat(g: dict) -> np.ndarray:
    return np.concatenate([np.asarray(g[k], dtype=np.float64).ravel() for k in KEYS])


def _check(estimates: np.ndarray, exact: np.ndarray) -> None:
    mean = estimates.mean(0)
    se = estimates.std(0, ddof=1) / np.sqrt(len(estimates))
    assert np.all(se > 0)
    z = (mean - exact) / se
    assert np.all(np.abs(z) < Z), f"z scores {np.round(z, 2)}"


@pytest.mark.parametrize("units", ["spin", "binary"])
@pytest.mark.parametrize("k", [1, 3])
def test_estimator_from_model_samples_is_unbiased_for_exact_kl_gradient(units, k):
    m, states, p_data = _model(units, seed=10 + k)
    q = visible_distribution(m)
    exact = -_flat(exact_kl_gradient(p_data, m))  # ascent direction <.>_data - <.>_model
    rng = np.random.default_rng(100 + k)
    est = []
    for r in range(R):
        data = states[rng.choice(len(states), N_DATA, p=p_data)]
        chains = states[rng.choice(len(states), N_DATA, p=q)]
        est.append(_flat(cd_gradient(m, data, chains=chains, k=k, seed=1000 * k + r)))
    _check(np.array(est), exact)


def _cd1_exact(m: SpinRBM, states: np.ndarray, p_data: np.ndarray) -> np.ndarray:
    """Exact expectation of the CD-1 estimator (spin units, hidden means in both phases)."""
    W, a, b = (m.numpy()[k] for k in KEYS)
    hs = all_states(N_H).astype(np.float64)
    fh = states @ W + b  # (2^nv, nh)
    p_h_given_v = np.prod(1 / (1 + np.exp(-2 * fh[:, None, :] * hs[None, :, :])), axis=2)
    fv = hs @ W.T + a  # (2^nh, nv)
    p_v_given_h = np.prod(1 / (1 + np.exp(-2 * fv[:, None, :] * states[None, :, :])), axis=2)
    T = p_h_given_v @ p_v_given_h  # (2^nv, 2^nv), rows sum to 1
    np.testing.assert_allclose(T.sum(1), 1.0, atol=1e-12)
    mh = np.tanh(fh)
    p1 = p_data @ T  # law of v1
    gW = states.T @ (p_data[:, None] * mh) - states.T @ (p1[:, None] * mh)
    ga = p_data @ states - p1 @ states
    gb = p_data @ mh - p1 @ mh
    return np.concatenate([gW.ravel(), ga, gb])


def test_cd1_estimator_matches_exact_cd1_expectation():
    m, states, p_data = _model("spin", seed=3)
    exact = _cd1_exact(m, states, p_data)
    rng = np.random.default_rng(7)
    est = []
    for r in range(R):
        data = states[rng.choice(len(states), N_DATA, p=p_data)]
        est.append(_flat(cd_gradient(m, data, k=1, seed=r)))
    _check(np.array(est), exact)
    # CD-1 is biased: its target differs from the exact gradient by far more than the noise
    kl_grad = -_flat(exact_kl_gradient(p_data, m))
    assert np.max(np.abs(exact - kl_grad)) > 0.01
