"""The contract every registered coarse-graining rule must meet, as checks on a rule instance.

``tests/unit/test_coarse_graining_conformance.py`` runs every check on ``cls.example()`` of
every class in :func:`kadanoff.rg.coarse_graining.coarse_graining_classes` (so a new rule is
tested without touching any test), and ``tests/unit/test_docs_coarse_graining.py`` runs them
on the worked example of ``docs/extending.md``. Each check takes a rule instance:

* :func:`check_protocol`: a :class:`~kadanoff.rg.CoarseGraining`; ``coarse_grain`` gives
  ``(n, *coarse_shape)`` ±1 int8, ``coarse_mean`` ``(n, *coarse_shape)`` float64 in [-1, 1];
* :func:`check_reproducible`: same seed, same output; for a stochastic rule (some
  ``|E[h | v]| < 1``) different seeds give different outputs, for a deterministic one the
  output is ``E[h | v]`` whatever the seed;
* :func:`check_mean`: ``coarse_mean`` equals the empirical mean of ``coarse_grain`` over
  many independent draws within Monte Carlo error (``|z| <`` :data:`Z_MAX` per coarse site;
  exact equality where the draw is deterministic), and the same test rejects a wrong mean;
* :func:`check_bad_input`: a batch of the wrong shape or with values other than ±1 is
  refused with a ``ValueError`` by both methods.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kadanoff._rng import make_rng
from kadanoff.rg.coarse_graining import CoarseGraining

#: z-score bound of the mean check (a correct rule exceeds it with probability ~1e-5 in all)
Z_MAX = 5.0
#: independent draws per configuration in the mean check
N_DRAWS = 4000


def random_batch(rule: Any, n: int, seed: int) -> np.ndarray:
    """``n`` random ±1 fine configurations ``(n, *fine_shape)`` int8 (fixed seed)."""
    bits = make_rng(seed).integers(0, 2, size=(n, *rule.fine_shape), dtype=np.int8)
    return (2 * bits - 1).astype(np.int8)


def _is_stochastic(rule: Any, v: np.ndarray) -> bool:
    return bool(np.any(np.abs(rule.coarse_mean(v)) < 1))


def check_protocol(rule: Any) -> None:
    assert isinstance(rule, CoarseGraining), f"{type(rule).__name__} lacks the protocol"
    fine, coarse = tuple(rule.fine_shape), tuple(rule.coarse_shape)
    assert all(isinstance(s, int) and s > 0 for s in fine + coarse), (fine, coarse)
    v = random_batch(rule, 7, seed=1)
    h = rule.coarse_grain(v, seed=2)
    assert h.shape == (7, *coarse) and h.dtype == np.int8, (h.shape, h.dtype)
    assert np.all(np.abs(h) == 1), "coarse spins must be ±1"
    m = rule.coarse_mean(v)
    assert m.shape == (7, *coarse) and m.dtype == np.float64, (m.shape, m.dtype)
    assert np.all(np.abs(m) <= 1), "E[h | v] must lie in [-1, 1]"
    empty = rule.coarse_grain(v[:0], seed=2)
    assert empty.shape == (0, *coarse)


def check_reproducible(rule: Any) -> None:
    v = random_batch(rule, 50, seed=3)
    a = rule.coarse_grain(v, seed=11)
    np.testing.assert_array_equal(a, rule.coarse_grain(v, seed=11))
    b = rule.coarse_grain(v, seed=12)
    if _is_stochastic(rule, v):
        assert not np.array_equal(a, b), "a stochastic rule gave the same draw for two seeds"
    else:
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, rule.coarse_mean(v))


def mean_z_scores(rule: Any, v: np.ndarray, mean: np.ndarray, *, seed: int) -> np.ndarray:
    """``(empirical - mean) / error`` per configuration and coarse site over :data:`N_DRAWS`
    draws of ``coarse_grain`` (error ``sqrt((1 - mean^2) / N_DRAWS)``; ``inf`` where the
    draw should be deterministic but is not, 0 where it is)."""
    reps = np.repeat(v, N_DRAWS, axis=0)
    h = rule.coarse_grain(reps, seed=seed).astype(np.float64)
    emp = h.reshape(len(v), N_DRAWS, *h.shape[1:]).mean(axis=1)
    err = np.sqrt(np.clip(1.0 - mean**2, 0.0, None) / N_DRAWS)
    diff = emp - mean
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(err > 0, diff / err, np.where(diff == 0, 0.0, np.inf))
    return z


def check_mean(rule: Any) -> None:
    v = random_batch(rule, 3, seed=5)
    m = rule.coarse_mean(v)
    z = mean_z_scores(rule, v, m, seed=6)
    assert np.max(np.abs(z)) < Z_MAX, f"coarse_mean is not the mean of coarse_grain: z = {z}"
    # the same test rejects a wrong mean: shrink it towards 0 (or flip a deterministic one)
    wrong = np.where(np.abs(m) == 1, -m, 0.5 * m) if np.any(m) else m + 0.5
    assert np.max(np.abs(mean_z_scores(rule, v, wrong, seed=6))) > Z_MAX


def check_bad_input(rule: Any) -> None:
    v = random_batch(rule, 2, seed=7)
    bad_shape = np.ones((2, *(s + 1 for s in rule.fine_shape)), dtype=np.int8)
    zeros = np.zeros_like(v)
    for bad in (bad_shape, zeros, v[0]):
        for call in (lambda x: rule.coarse_grain(x, seed=0), rule.coarse_mean):
            try:
                call(bad)
            except ValueError:
                continue
            raise AssertionError(f"{type(rule).__name__} accepted a bad batch {bad.shape}")


CHECKS = {
    "protocol": check_protocol,
    "reproducible": check_reproducible,
    "mean": check_mean,
    "bad_input": check_bad_input,
}
