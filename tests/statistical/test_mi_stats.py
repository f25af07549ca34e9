"""The MI estimator and the Barber-Agakov bound against exact enumeration (issue 11, acceptance 1).

Systems small enough to enumerate: a 4 x 4 torus at K_c (2 x 2 block, environment the other 12
sites) and a 16-site ring (2-site block, buffer 2, environment 3 sites each side). Tolerances are
z = 4.5 jackknife errors; each test also shows that the same check rejects a wrong answer.
"""

from __future__ import annotations

import pytest

from kadanoff._rng import spawn
from kadanoff.ising import K_CRITICAL
from kadanoff.rg.mi_rule import ising_samples
from kadanoff.rg.mutual_information import (
    barber_agakov_bound,
    block_conditionals,
    block_geometry,
    decimation_table,
    exact_mutual_information,
    majority_table,
    mutual_information_difference,
    mutual_information_estimate,
)

Z = 4.5

CASES = {
    "torus": ((4, 4), K_CRITICAL, 0, 1, 4000),
    "ring": ((16,), 1.0, 2, 3, 4000),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    shape, K, buffer, width, n = CASES[request.param]
    geom = block_geometry(shape, 2, buffer=buffer, width=width)
    train, test = (ising_samples(shape, K, n, seed=s) for s in (11, 12))
    return request.param, geom, K, train, test


def test_conditional_estimator_equals_exact(case):
    name, geom, K, _, test = case
    nV = len(geom.block)
    P, owner = block_conditionals(test, K, geom)
    for q in (majority_table(nV), decimation_table(nV)):
        exact = exact_mutual_information(K, geom, q)
        est, err = mutual_information_estimate(P, owner, q)
        assert 0 < err < 0.05 * exact
        assert abs(est - exact) < Z * err, (name, est, err, exact)
        # a wrong model (the exact MI at another coupling) is rejected by the same test
        wrong = exact_mutual_information(0.7 * K, geom, q)
        assert abs(est - wrong) > Z * err


def test_paired_difference_equals_exact(case):
    name, geom, K, _, test = case
    nV = len(geom.block)
    P, owner = block_conditionals(test, K, geom)
    a, b = majority_table(nV), decimation_table(nV)
    exact = exact_mutual_information(K, geom, a) - exact_mutual_information(K, geom, b)
    est, err = mutual_information_difference(P, owner, a, b)
    assert 0 < err < abs(exact) / 5
    assert abs(est - exact) < Z * err, (name, est, err, exact)
    assert abs(est - 0.0) > Z * err  # "no difference" is rejected


def test_barber_agakov_bound_below_exact(case):
    name, geom, K, train, test = case
    nV = len(geom.block)
    q = majority_table(nV)
    exact = exact_mutual_information(K, geom, q)
    bound, err = barber_agakov_bound(train, test, geom, q)
    assert 0 < err < 0.1 * exact
    assert bound <= exact + Z * err, (name, bound, err, exact)
    # the bound is informative: within 15 % of the exact value (logistic critic)
    assert bound > 0.85 * exact, (name, bound, exact)
    # and the check rejects a wrong "exact" value below the truth: the smaller MI of a
    # strictly less informative filter on the torus, or of majority at a weaker coupling
    wrong = (
        exact_mutual_information(K, geom, decimation_table(nV))
        if name == "torus"
        else exact_mutual_information(0.7 * K, geom, q)
    )
    assert bound > wrong + Z * err, (name, bound, err, wrong)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(20, 30))
def test_estimator_and_bound_seed_sweep(seed):
    for shape, K, buffer, width, n in CASES.values():
        geom = block_geometry(shape, 2, buffer=buffer, width=width)
        q = majority_table(len(geom.block))
        exact = exact_mutual_information(K, geom, q)
        train, test = (ising_samples(shape, K, n, seed=s) for s in spawn(seed, 2))
        P, owner = block_conditionals(test, K, geom)
        est, err = mutual_information_estimate(P, owner, q)
        assert abs(est - exact) < Z * err
        bound, berr = barber_agakov_bound(train, test, geom, q)
        assert bound <= exact + Z * berr
