"""Linearized RG matrix T = G^-1 F with jackknife errors (issue 10, item 2)."""

import numpy as np
import pytest

from kadanoff._rng import make_rng
from kadanoff.ising.model import IsingModel
from kadanoff.ising.samplers.exact_chain import ExactChainSampler
from kadanoff.lattice import Chain
from kadanoff.rg.mcrg_matrix import (
    Moments,
    exponent_table,
    leading_exponent,
    linearized_matrix,
)


def _chain_moments(K, n_ring, n_samples, seed):
    """nn operator of an exact ring and of its b = 2 decimation (levels 0, 1)."""
    v = ExactChainSampler(IsingModel(Chain(n_ring), K)).sample(n_samples, seed=seed)
    v = v.astype(np.int64)
    s0 = np.sum(v * np.roll(v, -1, axis=1), axis=1)
    d = v[:, ::2]
    s1 = np.sum(d * np.roll(d, -1, axis=1), axis=1)
    m = Moments(2, 1, bin_size=n_samples // 100)
    m.add(np.stack([s0, s1], axis=1)[:, :, None], track=[0])
    return m


@pytest.mark.parametrize("K", [0.3, 0.6])
def test_matrix_recovers_exact_1d_decimation_derivative(K):
    """1D decimation is exact in the nn operator: T = dK'/dK = tanh 2K (theory.md 5, 7)."""
    m = _chain_moments(K, 256, 40_000, seed=int(K * 10))
    tab = exponent_table(m, ["nn"], ["even"], sector="even", b=2, fine_side=256, n_blocks=40)
    y, err = tab.y[0][0], tab.error[0][0]
    exact = np.log(np.tanh(2 * K)) / np.log(2)
    assert abs(y - exact) < 4.5 * err, (y, err, exact)
    wrong = np.log(np.tanh(2 * K * 1.15)) / np.log(2)  # a 15% wrong coupling is rejected
    assert abs(y - wrong) > 4.5 * err
    d = tab.to_dict()
    assert d["quantity"] == "y_t" and d["y_t"] == tab.y and d["y_t_error"] == tab.error
    assert d["flagged_small_lattice"] == [False]
    assert m.autocorrelation().shape == (2, 1)


def test_singular_G_is_a_one_line_error():
    G = np.array([[1.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="singular") as e:
        linearized_matrix(G, np.eye(2), where=" at level 3")
    assert "\n" not in str(e.value) and "level 3" in str(e.value)
    m = Moments(2, 3, bin_size=1)
    rng = make_rng(0)
    m.add(rng.normal(size=(3, 2, 3)))
    with pytest.raises(ValueError, match="singular|cannot determine"):
        exponent_table(m, ["a", "b", "c"], ["even"] * 3, sector="even", b=2, fine_side=8,
                       n_blocks=2)  # fmt: skip


def test_leading_eigenvalue_and_flags():
    y, ev = leading_exponent(np.diag([0.5, 2.0, -3.0]), 2)
    assert y == pytest.approx(1.0) and ev[0] == pytest.approx(2.0)
    m = _chain_moments(0.4, 16, 2000, seed=3)
    tab = exponent_table(m, ["nn"], ["even"], sector="even", b=2, fine_side=8, n_blocks=10)
    assert tab.flagged == [True]  # coarse side 4 < 8
    with pytest.raises(ValueError, match="no odd"):
        exponent_table(m, ["nn"], ["even"], sector="odd", b=2, fine_side=8)
    with pytest.raises(ValueError, match="jackknife over 500 blocks"):
        exponent_table(m, ["nn"], ["even"], sector="even", b=2, fine_side=8, n_blocks=500)
