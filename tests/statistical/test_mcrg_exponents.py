"""Acceptance 3, CI size: majority rule b = 2 at K_c, L = 64 (margins 0.03 / 0.01)."""

import pytest

from kadanoff.ising.model import K_CRITICAL
from kadanoff.rg.coarse_graining import Compose
from kadanoff.rg.mcrg import exponents, measure


@pytest.fixture(scope="module")
def tables():
    rule = Compose.repeated("majority", 64, 2, 3)
    run = measure(64, K_CRITICAL, rule, 20_000, seed=2024)
    # acceptance 5 (measurement cheaper than sampling) is measured by benchmarks/mcrg.py; on a
    # shared machine a test only checks that measurement is not the bottleneck
    assert run.measurement_seconds < 2 * run.sampling_seconds
    tau = run.moments.autocorrelation()
    assert tau.max() * 20 < run.moments.n_configs / 50  # jackknife blocks >> tau
    return exponents(run)


def test_exponents_at_levels_2_and_3(tables):
    even, odd = tables
    for tab, margin in ((even, 0.03), (odd, 0.01)):
        for i, level in enumerate(tab.levels):
            if level < 2:
                continue
            y, err = tab.y[i][-1], tab.error[i][-1]
            assert abs(y - tab.exact) <= margin, (tab.quantity, level, y, err)
            assert err < margin
    # one operator is not enough for y_t at level 1 (the truncation the tables show)
    assert abs(even.y[0][0] - 1.0) > 0.03
