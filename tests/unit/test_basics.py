"""Tests of the foundations: spins, lattices, the Ising energy, statistics, files, seeds."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pytest
from scipy.signal import lfilter

from kadanoff import _rng
from kadanoff.io import FileFormatError, atomic_path, read_npz, write_json, write_npz
from kadanoff.ising.model import K_CRITICAL, T_CRITICAL, IsingModel, coupling_from
from kadanoff.lattice import Chain, SquareLattice, make_lattice
from kadanoff.spins import (
    all_states,
    binary_to_spin,
    check_spins,
    index_to_state,
    spin_to_binary,
    state_index,
)
from kadanoff.stats import integrated_time, jackknife, mean_error

# --------------------------------------------------------------------------- spins


def test_spin_binary_round_trip():
    rng = np.random.default_rng(1)
    s = rng.choice(np.array([-1, 1], dtype=np.int8), size=(50, 7))
    x = spin_to_binary(s)
    assert x.dtype == np.int8 and set(np.unique(x)) <= {0, 1}
    np.testing.assert_array_equal(x, (s + 1) // 2)
    np.testing.assert_array_equal(binary_to_spin(x), s)
    np.testing.assert_array_equal(spin_to_binary(binary_to_spin(x)), x)


@pytest.mark.parametrize("n", [0, 1, 3, 10])
def test_all_states_index_round_trip(n):
    states = all_states(n)
    assert states.shape == (2**n, n) and states.dtype == np.int8
    idx = state_index(states)
    np.testing.assert_array_equal(idx, np.arange(2**n))
    np.testing.assert_array_equal(index_to_state(idx, n), states)
    assert len({tuple(r) for r in states}) == 2**n  # all distinct


def test_all_states_site0_is_most_significant():
    s = all_states(3)
    np.testing.assert_array_equal(s[0], [-1, -1, -1])
    np.testing.assert_array_equal(s[1], [-1, -1, 1])
    np.testing.assert_array_equal(s[4], [1, -1, -1])


def test_spin_input_validation():
    with pytest.raises(ValueError, match="binary_to_spin"):
        check_spins(np.array([0, 1]))
    with pytest.raises(ValueError, match="n <="):
        all_states(25)


# --------------------------------------------------------------------------- lattices


@pytest.mark.parametrize("n", [2, 3, 8])
@pytest.mark.parametrize("periodic", [True, False])
def test_chain_bonds_and_neighbours(n, periodic):
    c = Chain(n, periodic=periodic)
    assert len(c.bonds) == (n if periodic else n - 1)
    nb = c.neighbours
    for i in range(n):
        for j in nb[i]:
            if j >= 0:
                assert i in nb[j]
    assert (nb == -1).sum() == (0 if periodic else 2)


@pytest.mark.parametrize("L", [2, 3, 4, 6])
def test_square_lattice_bonds_and_neighbours(L):
    lat = SquareLattice(L)
    assert lat.n_sites == L * L and lat.shape == (L, L)
    assert len(lat.bonds) == 2 * L * L
    degree = np.bincount(lat.bonds.ravel(), minlength=L * L)
    np.testing.assert_array_equal(degree, 4)  # every site in 4 bonds (torus)
    nb = lat.neighbours
    for i in range(L * L):
        for j in nb[i]:
            assert i in nb[j]
    if L > 2:  # all bonds distinct pairs
        assert len({tuple(sorted(b)) for b in lat.bonds.tolist()}) == 2 * L * L


def test_blocks_and_checkerboard():
    lat = SquareLattice(4)
    blocks = lat.blocks(2)
    assert blocks.shape == (4, 4)
    np.testing.assert_array_equal(np.sort(blocks.ravel()), np.arange(16))
    np.testing.assert_array_equal(blocks[1], [2, 3, 6, 7])
    cb = lat.checkerboard()
    for a, b in lat.bonds:  # bonds join opposite colours
        assert cb.flat[a] != cb.flat[b]
    with pytest.raises(ValueError, match="even"):
        SquareLattice(3).checkerboard()
    with pytest.raises(ValueError, match="divide"):
        lat.blocks(3)
    assert make_lattice("1d", 5) == Chain(5)
    assert make_lattice("2d", 5) == SquareLattice(5)


# --------------------------------------------------------------------------- Ising energy


def _naive_chain_energy(s, K, h, periodic):
    n = len(s)
    e = 0.0
    for i in range(n if periodic else n - 1):
        e -= K * s[i] * s[(i + 1) % n]
    return e - h * sum(s)


def _naive_torus_energy(s, K, h):
    L = s.shape[0]
    e = 0.0
    for x in range(L):
        for y in range(L):
            e -= K * s[x, y] * (s[(x + 1) % L, y] + s[x, (y + 1) % L])
            e -= h * s[x, y]
    return e


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("n", [2, 5, 9])
@pytest.mark.parametrize("field", [0.0, 0.3])
def test_chain_energy_matches_naive_loop(periodic, n, field):
    rng = np.random.default_rng(2)
    s = rng.choice(np.array([-1, 1], dtype=np.int8), size=(20, n))
    model = IsingModel(Chain(n, periodic=periodic), 0.7, field)
    expected = [_naive_chain_energy(row.astype(int), 0.7, field, periodic) for row in s]
    np.testing.assert_allclose(model.energy(s), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("field", [0.0, -0.45])
def test_torus_energy_matches_naive_loop(L, field):
    rng = np.random.default_rng(3)
    s = rng.choice(np.array([-1, 1], dtype=np.int8), size=(3, 5, L, L))  # extra batch axes
    model = IsingModel(SquareLattice(L), 0.41, field)
    e = model.energy(s)
    assert e.shape == (3, 5)
    expected = np.array(
        [_naive_torus_energy(c.astype(int), 0.41, field) for c in s.reshape(-1, L, L)]
    )
    np.testing.assert_allclose(e.ravel(), expected, rtol=0, atol=1e-12)


def test_model_validation_and_couplings():
    with pytest.raises(ValueError, match="lattice shape"):
        IsingModel(SquareLattice(3), 0.4).energy(np.ones((4, 4), np.int8))
    with pytest.raises(ValueError, match="finite"):
        IsingModel(Chain(4), math.nan)
    assert coupling_from(T=2.0) == 0.5
    assert abs(K_CRITICAL - 0.4406867935) < 1e-10 and abs(T_CRITICAL - 2.2691853142) < 1e-9
    with pytest.raises(ValueError, match="exactly one"):
        coupling_from(K=1.0, T=1.0)


# --------------------------------------------------------------------------- statistics


def _ar1(phi: float, n: int, seed: int) -> np.ndarray:
    """Stationary AR(1) with unit variance: tau_int = (1 + phi) / (1 - phi)."""
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal(n) * math.sqrt(1 - phi * phi)
    eps[0] = rng.standard_normal()  # start in the stationary distribution
    return lfilter([1.0], [1.0, -phi], eps)


def test_integrated_time_on_ar1():
    phi, n = 0.8, 200_000
    tau_exact = (1 + phi) / (1 - phi)  # 9
    x = _ar1(phi, n, seed=12345)
    est = integrated_time(x)
    # Sokal: sigma_tau ~ tau sqrt(2 (2M + 1) / n); truncation bias 2 phi^(M+1)/(1-phi) with
    # M ~ 5 tau = 45 is 7e-4 * sigma_tau, negligible. z = 4.5.
    sigma = tau_exact * math.sqrt(2 * (2 * est.window + 1) / n)
    assert abs(est.tau - tau_exact) < 4.5 * sigma
    assert est.reliable and abs(est.n_effective - n / est.tau) < 1e-9
    # white noise: tau = 1 within the same bound
    w = np.random.default_rng(7).standard_normal(n)
    est_w = integrated_time(w)
    assert abs(est_w.tau - 1) < 4.5 * math.sqrt(2 * (2 * est_w.window + 1) / n)


def test_mean_error_on_ar1():
    phi, n = 0.8, 200_000
    tau_exact = (1 + phi) / (1 - phi)
    x = 3.0 + _ar1(phi, n, seed=2024)
    m, err = mean_error(x)
    true_err = math.sqrt(tau_exact / n)  # unit variance
    assert abs(m - 3.0) < 4.5 * true_err
    # err / true_err = sqrt(tau_hat var_hat / tau): relative error = half that of tau_hat
    # (Sokal, sigma_tau / tau = sqrt(2 (2M + 1) / n)) combined with half that of var_hat
    # (sqrt(2 tau2 / n), tau2 = (1 + phi^2) / (1 - phi^2) the time of x^2 for an AR(1)).
    window = integrated_time(x).window
    rel_tau = math.sqrt(2 * (2 * window + 1) / n)
    rel_var = math.sqrt(2 * (1 + phi**2) / (1 - phi**2) / n)
    assert abs(err / true_err - 1) < 4.5 * 0.5 * math.hypot(rel_tau, rel_var)
    # explicit tau: exact formula
    m2, err2 = mean_error(x, tau=4.0)
    assert m2 == m and abs(err2 - math.sqrt(4.0 * x.var(ddof=1) / n)) < 1e-15


def test_jackknife_exact_identities():
    rng = np.random.default_rng(5)
    x = rng.standard_normal(1000) + 0.5
    B = 20
    means = x.reshape(B, -1).mean(1)
    # linear function: estimate = mean, error = std of block means / sqrt(B)
    est, err = jackknife(np.mean, x, n_blocks=B)
    assert abs(est - x.mean()) < 1e-13
    assert abs(err - means.std(ddof=1) / math.sqrt(B)) < 1e-13
    # mean^2: the jackknife removes the bias exactly: xbar^2 - var(block means) / B
    est2, _ = jackknife(lambda a: np.mean(a) ** 2, x, n_blocks=B)
    assert abs(est2 - (x.mean() ** 2 - means.var(ddof=1) / B)) < 1e-12
    with pytest.raises(ValueError, match="n_blocks"):
        jackknife(np.mean, x[:5], n_blocks=10)


# --------------------------------------------------------------------------- io


def test_npz_round_trip(tmp_path):
    arrays = {"spins": np.ones((3, 4), np.int8), "e": np.linspace(0, 1, 5)}
    meta = {"seed": 3, "K": np.float64(0.4), "note": "x"}
    path = write_npz(tmp_path / "sub" / "run.npz", arrays, meta)
    got, got_meta = read_npz(path)
    assert set(got) == {"spins", "e"}
    for k in arrays:
        np.testing.assert_array_equal(got[k], arrays[k])
        assert got[k].dtype == arrays[k].dtype
    assert got_meta == {"seed": 3, "K": 0.4, "note": "x"}
    assert [p.name for p in path.parent.iterdir()] == ["run.npz"]  # no temp files left
    write_json(tmp_path / "m.json", {"a": np.arange(2)})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": [0, 1]}


def test_atomic_path_leaves_target_untouched_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_read_npz_refuses_bad_files(tmp_path):
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, meta=np.array("{}"), obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(FileFormatError, match="pickle"):
        read_npz(pickled)
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 this is not a zip file")
    with pytest.raises(FileFormatError):
        read_npz(corrupt)
    good = write_npz(tmp_path / "good.npz", {"a": np.arange(100)}, {})
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:60])
    with pytest.raises(FileFormatError):
        read_npz(truncated)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.arange(3))
    with pytest.raises(FileFormatError, match="meta"):
        read_npz(foreign)
    bad_meta = tmp_path / "badmeta.npz"
    np.savez(bad_meta, meta=np.array("{not json"))
    with pytest.raises(FileFormatError, match="JSON"):
        read_npz(bad_meta)
    with zipfile.ZipFile(tmp_path / "empty.npz", "w"):
        pass
    with pytest.raises(FileFormatError, match="meta"):
        read_npz(tmp_path / "empty.npz")
    with pytest.raises(FileNotFoundError):
        read_npz(tmp_path / "missing.npz")
    with pytest.raises(TypeError, match="pickle"):
        write_npz(tmp_path / "o.npz", {"o": np.array([None], dtype=object)}, {})
    with pytest.raises(ValueError, match=".npz"):
        write_npz(tmp_path / "o.dat", {}, {})


# --------------------------------------------------------------------------- seeds


def test_rng_reproducible_and_independent():
    a = _rng.make_rng(42).random(5)
    np.testing.assert_array_equal(a, _rng.make_rng(42).random(5))
    assert not np.array_equal(a, _rng.make_rng(43).random(5))
    g = np.random.default_rng(0)
    assert _rng.make_rng(g) is g  # generators pass through
    s1 = [r.random(4) for r in _rng.spawn(7, 3)]
    s2 = [r.random(4) for r in _rng.spawn(7, 3)]
    np.testing.assert_array_equal(s1, s2)
    assert len({tuple(v) for v in s1}) == 3  # distinct streams
    # spawned streams are uncorrelated: |corr| < 4.5 / sqrt(n) for independent normals
    x, y = (r.standard_normal(20_000) for r in _rng.spawn(11, 2))
    assert abs(np.corrcoef(x, y)[0, 1]) < 4.5 / math.sqrt(20_000)
    assert _rng.kernel_key(5) == _rng.kernel_key(5)
    g = _rng.make_rng(5)
    assert _rng.kernel_key(g) != _rng.kernel_key(g)  # a generator advances
    ss = np.random.SeedSequence(9)
    np.testing.assert_array_equal(_rng.make_rng(ss).random(3), _rng.make_rng(9).random(3))


def test_rng_rejects_bad_seeds():
    with pytest.raises(ValueError, match="non-negative"):
        _rng.make_rng(-1)
    with pytest.raises(TypeError, match="seed"):
        _rng.make_rng(True)
    with pytest.raises(TypeError, match="seed"):
        _rng.make_rng(1.5)


def test_torch_generator_reproducible():
    torch = pytest.importorskip("torch")
    a = torch.rand(4, generator=_rng.torch_generator(3))
    b = torch.rand(4, generator=_rng.torch_generator(3))
    assert torch.equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(20))
def test_integrated_time_seed_sweep(seed):
    phi, n = 0.5, 100_000
    x = _ar1(phi, n, seed=1000 + seed)
    est = integrated_time(x)
    tau_exact = (1 + phi) / (1 - phi)
    assert abs(est.tau - tau_exact) < 4.5 * tau_exact * math.sqrt(2 * (2 * est.window + 1) / n)
