"""ConvRBMRule as a coarse-graining: protocol, and its samples against the exact p(h | v)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from coarse_graining_checks import CHECKS
from kadanoff.rbm.conv import ConvSpinRBM
from kadanoff.rg import CoarseGraining
from kadanoff.rg.conv_rule import ConvRBMRule


def test_protocol_and_example():
    t = time.perf_counter()
    rule = ConvRBMRule.example()
    assert time.perf_counter() - t < 1.0
    assert isinstance(rule, CoarseGraining)
    assert rule.fine_shape == (8, 8) and rule.coarse_shape == (4, 4)
    v = np.random.default_rng(0).choice([-1, 1], size=(3, 8, 8)).astype(np.int8)
    h = rule.coarse_grain(v, seed=1)
    assert h.dtype == np.int8 and h.shape == (3, 4, 4) and set(np.unique(h)) <= {-1, 1}
    assert np.array_equal(h, rule.coarse_grain(v, seed=1))
    np.testing.assert_allclose(rule.coarse_mean(v), rule.rbm.hidden_mean(v).numpy(), atol=1e-14)
    sign = ConvRBMRule(rule.rbm, "sign")
    assert np.array_equal(sign.coarse_grain(v, seed=2), sign.coarse_mean(v).astype(np.int8))


def _z(rule: ConvRBMRule, p_exact: np.ndarray, v: np.ndarray, n: int) -> float:
    """Largest |z| of the per-site frequency of h = +1 over n draws against p_exact."""
    h = rule.coarse_grain(np.repeat(v, n, axis=0), seed=7)
    freq = (h > 0).mean(0)
    return float(np.max(np.abs(freq - p_exact) / np.sqrt(p_exact * (1 - p_exact) / n)))


def test_samples_follow_exact_conditional_and_a_wrong_one_is_rejected():
    rbm = ConvSpinRBM.random(8, 2, 3, seed=5, scale=0.3)
    rule = ConvRBMRule(rbm)
    v = np.random.default_rng(3).choice([-1, 1], size=(1, 8, 8)).astype(np.int8)
    p = rbm.hidden_probability(v).numpy()[0]
    n = 40_000
    assert _z(rule, p, v, n) < 4.5  # 16 sites: max of 16 |z|, z = 4.5 is far in the tail
    wrong = ConvSpinRBM(8, 2, rbm.numpy()["weights"] * 1.1)  # 10% stronger filter
    assert _z(rule, wrong.hidden_probability(v).numpy()[0], v, n) > 6


def test_sign_mode_breaks_exact_ties_fairly():
    rule = ConvRBMRule(ConvSpinRBM(4, 2, np.ones((2, 2))), "sign")
    v = np.tile(np.array([[1, -1, 1, -1]] * 2 + [[-1, 1, -1, 1]] * 2, np.int8), (20_000, 1, 1))
    assert np.all(rule.coarse_mean(v[:1]) == 0)  # every block tied
    up = (rule.coarse_grain(v, seed=0) > 0).mean()
    assert abs(up - 0.5) < 4.5 * np.sqrt(0.25 / v.shape[0] / 4)


@pytest.mark.parametrize("mode", ["sample", "sign"])
@pytest.mark.parametrize("check", list(CHECKS))
def test_meets_the_coarse_graining_contract(check, mode):
    example = ConvRBMRule.example()
    CHECKS[check](ConvRBMRule(example.rbm, mode))
