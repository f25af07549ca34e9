"""Projection on spin operators and the 2D / 1D majority-rule couplings (issue 4, acceptance 4)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from kadanoff.ising.model import IsingModel
from kadanoff.lattice import Chain, SquareLattice
from kadanoff.rg import (
    MajorityRule,
    Term,
    decimated_coupling,
    hamiltonian_from_couplings,
    project,
    renormalized_hamiltonian,
    soft_decimation_kernel,
    standard_term,
    walsh_coefficients,
)
from kadanoff.spins import all_states

TOL = 1e-10


def test_walsh_coefficients_reconstruct_exactly():
    rng = np.random.default_rng(0)
    n = 6
    f = rng.normal(size=2**n)
    c = walsh_coefficients(f)
    v = all_states(n).astype(np.float64)
    rebuilt = np.zeros(2**n)
    for mask in range(2**n):
        sites = [i for i in range(n) if mask >> (n - 1 - i) & 1]
        rebuilt += c[mask] * np.prod(v[:, sites], axis=1)
    np.testing.assert_allclose(rebuilt, f, rtol=0, atol=1e-12)
    # the coefficient of v_0 v_2 is the state average of f v_0 v_2
    mask = (1 << (n - 1)) | (1 << (n - 3))
    np.testing.assert_allclose(c[mask], np.mean(f * v[:, 0] * v[:, 2]), atol=1e-14)


def test_project_recovers_known_couplings_4x4():
    lat = SquareLattice(4)
    want = {"field": 0.1, "nn": 0.4, "nnn": -0.07, "plaquette": 0.03, "3nn": 0.011}
    H = hamiltonian_from_couplings(lat, want, constant=1.5)
    # nn alone agrees with the Ising model's convention
    np.testing.assert_allclose(
        hamiltonian_from_couplings(lat, {"nn": 0.4}),
        IsingModel(lat, 0.4).energy(all_states(16).reshape(-1, 4, 4)),
        atol=1e-12,
    )
    res = project(H, lat, list(want))
    for k, K in want.items():
        assert abs(res.couplings[k] - K) < TOL
    assert abs(res.constant - 1.5) < TOL
    assert res.residual_rms < TOL
    # leaving a term out puts exactly its norm into the residual (Parseval)
    res2 = project(H, lat, ["field", "nn", "nnn", "plaquette"])
    norm = 0.011 * np.sqrt(np.sum(np.square(list(standard_term(lat, "3nn").products.values()))))
    assert abs(res2.residual_rms - norm) < TOL
    sites_3nn = {s for s, _ in standard_term(lat, "3nn").site_sets()}
    assert res2.largest_residuals(1)[0][0] in sites_3nn


def test_small_torus_normalization():
    """On the 2x2 torus the patterns wrap: O_nn = 2(...), O_nnn = 4(...), O_p = 4 h0h1h2h3."""
    lat = SquareLattice(2)
    h = all_states(4).astype(np.float64)
    h0, h1, h2, h3 = h.T
    np.testing.assert_array_equal(
        standard_term(lat, "nn").evaluate(h), 2 * (h0 * h1 + h2 * h3 + h0 * h2 + h1 * h3)
    )
    np.testing.assert_array_equal(standard_term(lat, "nnn").evaluate(h), 4 * (h0 * h3 + h1 * h2))
    np.testing.assert_array_equal(
        standard_term(lat, "plaquette").evaluate(h), 4 * h0 * h1 * h2 * h3
    )
    np.testing.assert_array_equal(
        standard_term(Chain(2), "nn").evaluate(h[:4, 2:]), 2 * h2[:4] * h3[:4]
    )
    with pytest.raises(ValueError, match="constant"):
        standard_term(Chain(2), "nnn")
    with pytest.raises(ValueError, match="unknown term"):
        standard_term(lat, "bogus")


# --- acceptance 4: majority rule, independent brute force --------------------------------


def brute_majority_log_marginal_2d(K: float) -> dict[tuple[int, ...], float]:
    """ln sum_v exp(-H(v)) [majority(v) == h] on the 4x4 torus, plain Python loops."""
    L = 4
    acc: dict[tuple[int, ...], float] = {}
    for bits in itertools.product((-1, 1), repeat=L * L):
        s = [bits[x * L : (x + 1) * L] for x in range(L)]
        e = 0
        for x in range(L):
            for y in range(L):
                e += s[x][y] * (s[x][(y + 1) % L] + s[(x + 1) % L][y])
        h = []
        for X in range(2):
            for Y in range(2):
                blk = [s[2 * X + i][2 * Y + j] for i in range(2) for j in range(2)]
                t = sum(blk)
                h.append(1 if t > 0 else -1 if t < 0 else blk[0])  # tie -> top-left spin
        key = tuple(h)
        acc[key] = acc.get(key, 0.0) + math.exp(K * e)
    return {k: math.log(w) for k, w in acc.items()}


def solve_2x2(logp: dict[tuple[int, ...], float]) -> dict[str, float]:
    """Solve ln P'(h) = c + K_nn O_nn + K_nnn O_nnn + K_p O_p on four chosen h, by hand."""

    def ops(h):
        h0, h1, h2, h3 = h
        return [1.0, 2 * (h0 * h1 + h2 * h3 + h0 * h2 + h1 * h3), 4 * (h0 * h3 + h1 * h2),
                4 * h0 * h1 * h2 * h3]  # fmt: skip

    chosen = [(1, 1, 1, 1), (1, 1, 1, -1), (1, 1, -1, -1), (1, -1, -1, 1)]
    A = np.array([ops(h) for h in chosen])
    x = np.linalg.solve(A, np.array([logp[h] for h in chosen]))
    # the fit must then hold for every h (no other operator is needed)
    for h, lp in logp.items():
        assert abs(np.dot(ops(h), x) - lp) < 1e-9
    return {"nn": x[1], "nnn": x[2], "plaquette": x[3]}


def test_majority_rule_4x4_couplings_match_brute_force():
    K = 0.4
    lat = SquareLattice(4)
    h_rg = renormalized_hamiltonian(MajorityRule(lat, 2, tie="first"), IsingModel(lat, K))
    res = project(h_rg, SquareLattice(2), ["field", "nn", "nnn", "plaquette"])
    brute = solve_2x2(brute_majority_log_marginal_2d(K))
    for name in ("nn", "nnn", "plaquette"):
        assert abs(res.couplings[name] - brute[name]) < TOL, name
    assert abs(res.couplings["field"]) < TOL
    assert res.residual_rms < TOL
    # random ties give other couplings (nn 0.2935 vs 0.3046 at K = 0.4), also with zero residual
    h_rand = renormalized_hamiltonian(MajorityRule(lat, 2, tie="random"), IsingModel(lat, K))
    assert project(h_rand, SquareLattice(2), ["nn", "nnn", "plaquette"]).residual_rms < TOL


def test_majority_rule_ring_b3_couplings_match_brute_force():
    K, N = 0.7, 12
    h_rg = renormalized_hamiltonian(MajorityRule(Chain(N), 3), IsingModel(Chain(N), K))
    res = project(h_rg, Chain(4), ["field", "nn", "nnn", "four"])
    acc: dict[tuple[int, ...], float] = {}
    for v in itertools.product((-1, 1), repeat=N):
        e = sum(v[i] * v[(i + 1) % N] for i in range(N))
        h = tuple(1 if v[3 * i] + v[3 * i + 1] + v[3 * i + 2] > 0 else -1 for i in range(4))
        acc[h] = acc.get(h, 0.0) + math.exp(K * e)
    # ln P'(h) = c + K1 * 4-ring nn + K2 * 2 (h0h2 + h1h3) + K4 * 4 h0h1h2h3 (translation sums)
    rows, rhs = [], []
    for h, w in acc.items():
        h0, h1, h2, h3 = h
        rows.append([1, h0 * h1 + h1 * h2 + h2 * h3 + h3 * h0, 2 * (h0 * h2 + h1 * h3),
                     4 * h0 * h1 * h2 * h3])  # fmt: skip
        rhs.append(math.log(w))
    x, *_ = np.linalg.lstsq(np.array(rows, float), np.array(rhs), rcond=None)
    np.testing.assert_allclose(np.array(rows, float) @ x, rhs, rtol=0, atol=1e-9)
    assert abs(res.couplings["nn"] - x[1]) < TOL
    assert abs(res.couplings["nnn"] - x[2]) < TOL
    assert abs(res.couplings["four"] - x[3]) < TOL
    assert res.residual_rms < TOL


def test_soft_decimation_residual_vanishes_as_lambda_grows():
    """theory.md 5(b): finite lambda gives longer-range terms; lambda -> inf the K' chain."""
    N, K = 12, 0.8
    H = IsingModel(Chain(N), K)
    residuals, nn = [], []
    for lam in (1.0, 2.0, 4.0, 8.0, 20.0):  # (below lambda ~ 1, h decouples and H^RG flattens)
        h_rg = renormalized_hamiltonian(soft_decimation_kernel(N, lam), H)
        res = project(h_rg, Chain(N // 2), ["nn"])
        residuals.append(res.residual_rms)
        nn.append(res.couplings["nn"])
    assert residuals[0] > 1e-3
    assert all(a > b for a, b in zip(residuals, residuals[1:], strict=False))
    assert residuals[-1] < 1e-12
    assert abs(nn[-1] - decimated_coupling(K)) < 1e-12


def test_custom_term():
    lat = Chain(6)
    t = Term.from_sites("pair03", 6, [(0, 3), (1, 4), (2, 5)])
    H = hamiltonian_from_couplings(lat, {t: 0.25, "nn": 1.0})
    res = project(H, lat, ["nn", t])
    assert abs(res.couplings["pair03"] - 0.25) < TOL and res.residual_rms < TOL
