"""Datasets: generation (thermalization, tau, thinning, reproducibility, resume), save/load."""

from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np
import pytest

from kadanoff import Chain, IsingModel, SquareLattice
from kadanoff._rng import make_rng
from kadanoff.io import FileFormatError, read_npz, write_npz
from kadanoff.ising import dataset as ds
from kadanoff.ising.dataset import (
    FORMAT,
    Dataset,
    checkpoint_path,
    checkpoint_seed,
    generate_dataset,
    load_dataset,
    save_dataset,
)
from kadanoff.ising.samplers import (
    ALGORITHMS,
    Sampler,
    SweepInfo,
    cuda_available,
    make_sampler,
    resolve_device,
)
from kadanoff.stats import integrated_time


class StandInMetropolis(Sampler):
    """Slow, obviously correct checkerboard Metropolis in numpy (even sizes), for tests."""

    name = "standin"

    def __init__(self, model: IsingModel) -> None:
        super().__init__(model)
        lat = model.lattice
        self.nb = lat.neighbours
        if lat.dim == 1:
            self.parity = np.arange(lat.n) % 2
        else:
            self.parity = lat.checkerboard().ravel()
        self.calls = 0

    def run(self, spins, n_sweeps=1, *, seed=None):
        s = self.check_state(spins).reshape(len(spins), -1).copy()
        rng = make_rng(seed)
        info = SweepInfo()
        K, h = self.model.K, self.model.field
        for _ in range(n_sweeps):
            for p in (0, 1):
                sites = np.flatnonzero(self.parity == p)
                loc = s[:, self.nb[sites]].astype(np.int64).sum(-1)
                dE = 2.0 * s[:, sites] * (K * loc + h)
                acc = rng.random(dE.shape) < np.exp(-np.maximum(dE, 0.0))
                s[:, sites] = np.where(acc, -s[:, sites], s[:, sites])
                info.attempted += acc.size
                info.accepted += int(acc.sum())
            info.n_sweeps += 1
        self.calls += 1
        return s.reshape(spins.shape).astype(np.int8), info


class Interrupting(StandInMetropolis):
    """Raises KeyboardInterrupt on call number ``stop_at`` (to test resuming)."""

    def __init__(self, model, stop_at):
        super().__init__(model)
        self.stop_at = stop_at

    def run(self, spins, n_sweeps=1, *, seed=None):
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        return super().run(spins, n_sweeps, seed=seed)


def _model2d(L=4, K=0.3, field=0.0):
    return IsingModel(SquareLattice(L), K, field)


def _fake_dataset(n=5, L=4, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    spins = (2 * rng.integers(0, 2, size=(n, L, L)) - 1).astype(np.int8)
    meta = {
        "format": FORMAT,
        "format_version": 1,
        **ds._model_meta(_model2d(L, 0.25)),
        "n_samples": n,
        "algorithm": "standin",
        "tau_energy": 1.2345678901234567,
        "seed": 2**62 + 3,
        "nested": {"a": [1, 2.5, None]},
    }
    return Dataset(spins=spins, meta=meta)


# ---------------------------------------------------------------- save / load


def test_round_trip_exact(tmp_path):
    d = _fake_dataset()
    p = save_dataset(d, tmp_path / "d.npz")
    back = load_dataset(p)
    assert back.spins.dtype == np.int8
    np.testing.assert_array_equal(back.spins, d.spins)
    assert back.meta == d.meta
    assert back.model == _model2d(4, 0.25)
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left nothing behind


def test_kadanoff_load_dataset_alias(tmp_path):
    import kadanoff

    p = save_dataset(_fake_dataset(), tmp_path / "d.npz")
    np.testing.assert_array_equal(kadanoff.load_dataset(p).spins, _fake_dataset().spins)


def test_load_refuses_pickle(tmp_path):
    p = tmp_path / "pickled.npz"
    meta = json.dumps(_fake_dataset().meta)
    np.savez(p, spins=np.array([object()], dtype=object), meta=np.array(meta))
    with pytest.raises(FileFormatError, match="pickle"):
        load_dataset(p)


def test_load_refuses_truncated(tmp_path):
    p = save_dataset(_fake_dataset(n=50), tmp_path / "d.npz")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError):
        load_dataset(p)


def test_load_refuses_foreign_npz(tmp_path):
    p = tmp_path / "foreign.npz"
    np.savez(p, x=np.zeros(3))
    with pytest.raises(FileFormatError, match="meta"):
        load_dataset(p)
    q = tmp_path / "foreign_meta.npz"
    write_npz(q, {"spins": _fake_dataset().spins}, {"format": "something.else"})
    with pytest.raises(FileFormatError, match="not a kadanoff dataset"):
        load_dataset(q)


def test_load_refuses_missing_spins(tmp_path):
    p = tmp_path / "nospins.npz"
    write_npz(p, {"x": np.zeros(2)}, _fake_dataset().meta)
    with pytest.raises(FileFormatError, match="spins"):
        load_dataset(p)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path / "nope.npz")


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda s, m: (np.where(s == 1, 0, s).astype(np.int8), m), "other than -1"),
        (lambda s, m: (s.astype(np.int16), m), "dtype"),
        (lambda s, m: (s[:, :3, :], m), "shape"),
        (lambda s, m: (s, {**m, "size": 5}), "shape"),
        (lambda s, m: (s, {**m, "n_samples": 7}), "shape"),
        (lambda s, m: (s, {**m, "lattice": "1d"}), "shape"),
        (lambda s, m: (s, {k: v for k, v in m.items() if k != "K"}), "required"),
        (lambda s, m: (s, {**m, "format_version": 99}), "newer"),
        (lambda s, m: (s, {**m, "model": "potts"}), "unknown model"),
        (lambda s, m: (s, {**m, "size": -3}), "valid Ising model"),
    ],
)
def test_load_validates(tmp_path, mutate, match):
    d = _fake_dataset()
    spins, meta = mutate(d.spins, d.meta)
    p = tmp_path / "bad.npz"
    write_npz(p, {"spins": spins}, meta)
    with pytest.raises(FileFormatError, match=match):
        load_dataset(p)


def test_save_validates(tmp_path):
    d = _fake_dataset()
    bad = Dataset(spins=np.zeros_like(d.spins), meta=d.meta)
    with pytest.raises(FileFormatError):
        save_dataset(bad, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()
    with pytest.raises(ValueError, match=".npz"):
        save_dataset(d, tmp_path / "x.dat")


def test_checkpoint_path():
    assert checkpoint_path("a/b/run.npz").as_posix() == "a/b/run.partial.npz"


# ---------------------------------------------------------------- generation


def test_generate_reproducible_bit_for_bit():
    m = _model2d(4, 0.3)
    kw = dict(algorithm=StandInMetropolis(m), n_chains=3, progress=False, pilot_sweeps=50)
    a = generate_dataset(m, 20, seed=123, **kw)
    b = generate_dataset(m, 20, seed=123, **kw)
    c = generate_dataset(m, 20, seed=124, **kw)
    assert a.spins.shape == (20, 4, 4) and a.spins.dtype == np.int8
    np.testing.assert_array_equal(a.spins, b.spins)
    assert not np.array_equal(a.spins, c.spins)
    for k in ("thinning", "thermalization", "tau_energy", "tau_abs_magnetization"):
        assert a.meta[k] == b.meta[k]
    # seed given as a SeedSequence with the same entropy gives the same data
    d = generate_dataset(m, 20, seed=np.random.SeedSequence(123), **kw)
    np.testing.assert_array_equal(a.spins, d.spins)


def test_generate_meta_and_thinning_logic():
    m = _model2d(4, 0.35)
    d = generate_dataset(m, 30, algorithm=StandInMetropolis(m), seed=7, n_chains=4, progress=False)
    meta = d.meta
    for k in (
        "model",
        "lattice",
        "size",
        "K",
        "field",
        "algorithm",
        "device",
        "seed",
        "n_chains",
        "thermalization",
        "thinning",
        "tau_energy",
        "tau_abs_magnetization",
        "saved_tau_energy",
        "saved_tau_abs_magnetization",
        "effective_sample_size",
        "acceptance",
        "mean_cluster_size",
        "elapsed_seconds",
        "environment",
    ):
        assert k in meta, k
    assert meta["model"] == "ising" and meta["lattice"] == "2d" and meta["size"] == 4
    assert meta["seed"] == 7 and meta["n_chains"] == 4 and meta["algorithm"] == "standin"
    tau = max(meta["tau_energy"], meta["tau_abs_magnetization"])
    assert tau >= 1.0
    assert meta["thinning"] == math.ceil(2 * tau)
    assert meta["pilot_reliable"] and meta["pilot_sweeps"] > 50 * tau
    assert meta["thermalization"] >= max(ds.MIN_THERMALIZATION, 20 * tau)
    assert meta["thermalization"] == ds.MIN_THERMALIZATION + meta["pilot_sweeps"] + max(
        0, math.ceil(20 * tau) - ds.MIN_THERMALIZATION - meta["pilot_sweeps"]
    )
    assert 0 < meta["acceptance"] < 1 and meta["mean_cluster_size"] is None
    assert meta["effective_sample_size"] == pytest.approx(
        30 / max(meta["saved_tau_energy"], meta["saved_tau_abs_magnetization"])
    )
    assert meta["environment"]["kadanoff"]
    assert d.model == m


def test_pilot_tau_matches_direct_measurement():
    """The pilot tau is Sokal's estimate per chain, averaged: redo it by hand."""
    m = _model2d(4, 0.4)
    s = StandInMetropolis(m)
    d = generate_dataset(
        m, 4, algorithm=s, seed=5, n_chains=2, thermalization=10, thin=3, progress=False
    )
    assert d.meta["tau_energy"] is None and d.meta["thinning"] == 3  # no pilot needed
    assert d.meta["thermalization"] == 10
    # now with a pilot: replay the seeds by hand
    d = generate_dataset(
        m, 4, algorithm=s, seed=5, n_chains=2, thermalization=10, pilot_sweeps=300, progress=False
    )
    root = np.random.SeedSequence(5)
    x = s.init_state(2, seed=ds._stage_seed(root, ds._INIT, 0))
    x, _ = s.run(x, 10, seed=ds._stage_seed(root, ds._WARMUP, 0))
    es, ms = [], []
    for i in range(d.meta["pilot_sweeps"]):
        x, _ = s.run(x, 1, seed=ds._stage_seed(root, ds._PILOT, i))
        es.append(m.energy(x))
        ms.append(np.abs(m.magnetization_sum(x)) / 16)
    es, ms = np.array(es), np.array(ms)
    tau_e = np.mean([integrated_time(es[:, c]).tau for c in range(2)])
    tau_m = np.mean([integrated_time(ms[:, c]).tau for c in range(2)])
    assert d.meta["tau_energy"] == pytest.approx(tau_e, abs=1e-12)
    assert d.meta["tau_abs_magnetization"] == pytest.approx(tau_m, abs=1e-12)
    assert d.meta["thinning"] == math.ceil(2 * max(tau_e, tau_m))
    assert d.meta["thermalization"] == 10 + d.meta["pilot_sweeps"]


def test_saved_series_nearly_independent_and_correct_mean():
    """Thinned samples: tau of the saved series ~1 and <E> matches exact enumeration.

    4x4 torus at K = 0.3: <E> from all 2^16 states. The error bar uses the effective sample
    size measured on the saved series, z = 4.5.
    """
    from kadanoff.spins import all_states

    m = _model2d(4, 0.3)
    states = all_states(16).reshape(-1, 4, 4)
    e_all = m.energy(states)
    w = np.exp(-(e_all - e_all.min()))
    w /= w.sum()
    e_exact = float(w @ e_all)
    d = generate_dataset(
        m, 1600, algorithm=StandInMetropolis(m), seed=11, n_chains=16, progress=False
    )
    # thinning by 2 tau leaves tau_saved ~ 1.2; Sokal's estimate over 100 rounds has sd ~0.5
    # per chain, ~0.12 for the mean of 16 chains: 2.0 is > 6 sd away for a correct thinning
    assert d.meta["saved_tau_energy"] < 2.0 and d.meta["saved_tau_abs_magnetization"] < 2.0
    e = m.energy(d.spins)
    tau = max(d.meta["saved_tau_energy"], 1.0)
    err = math.sqrt(tau * e.var(ddof=1) / len(e))
    assert abs(e.mean() - e_exact) < 4.5 * err


def test_sample_order_round_major():
    m = _model2d(4, 0.3)
    s = StandInMetropolis(m)
    d = generate_dataset(
        m, 7, algorithm=s, seed=3, n_chains=3, thermalization=0, thin=2, progress=False
    )
    root = np.random.SeedSequence(3)
    x = s.init_state(3, seed=ds._stage_seed(root, ds._INIT, 0))
    out = []
    for r in range(3):
        x, _ = s.run(x, 2, seed=ds._stage_seed(root, ds._PRODUCTION, r))
        out.append(x)
    np.testing.assert_array_equal(d.spins, np.concatenate(out)[:7])
    assert d.meta["thermalization"] == 0 and d.meta["sweeps_per_chain"] == 6


def test_n_chains_capped_by_samples():
    m = _model2d(4, 0.3)
    d = generate_dataset(
        m, 2, algorithm=StandInMetropolis(m), seed=1, thermalization=0, thin=1, progress=False
    )
    assert d.meta["n_chains"] == 2 and d.spins.shape == (2, 4, 4)
    assert d.meta["saved_tau_energy"] is None  # one round: no series to measure


def test_resume_from_checkpoint_bit_for_bit(tmp_path):
    m = _model2d(4, 0.3)
    kw = dict(n_chains=2, thermalization=5, thin=2, progress=False)
    ref = generate_dataset(m, 20, algorithm=StandInMetropolis(m), seed=9, **kw)
    ck = tmp_path / "run.partial.npz"
    bad = Interrupting(m, stop_at=6)  # init is not a run() call; 1 warm-up + 4 production
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(m, 20, algorithm=bad, seed=9, checkpoint=ck, checkpoint_every=1e9, **kw)
    arrays, meta = read_npz(ck)
    assert meta["rounds_done"] == 5 and arrays["samples"].shape == (10, 4, 4)
    assert checkpoint_seed(ck) == 9
    resumed = Interrupting(m, stop_at=-1)  # same class: same configuration
    d = generate_dataset(m, 20, algorithm=resumed, seed=9, checkpoint=ck, **kw)
    assert resumed.calls == 5  # only the remaining production rounds
    np.testing.assert_array_equal(d.spins, ref.spins)
    assert d.meta["acceptance"] == ref.meta["acceptance"]
    assert not ck.exists()


def test_checkpoint_other_config_ignored(tmp_path):
    m = _model2d(4, 0.3)
    kw = dict(n_chains=2, thermalization=5, thin=2, progress=False)
    ck = tmp_path / "run.partial.npz"
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(m, 20, algorithm=Interrupting(m, 4), seed=9, checkpoint=ck, **kw)
    assert ck.exists()
    ref = generate_dataset(m, 20, algorithm=StandInMetropolis(m), seed=10, **kw)
    with pytest.warns(RuntimeWarning, match="different configuration"):
        d = generate_dataset(m, 20, algorithm=StandInMetropolis(m), seed=10, checkpoint=ck, **kw)
    np.testing.assert_array_equal(d.spins, ref.spins)


@pytest.mark.parametrize(
    "kw, exc",
    [
        (dict(n_samples=0), ValueError),
        (dict(n_samples=2.5), TypeError),
        (dict(n_chains=0), ValueError),
        (dict(thin=0), ValueError),
        (dict(thermalization=-1), ValueError),
    ],
)
def test_generate_rejects_bad_counts(kw, exc):
    m = _model2d(4, 0.3)
    args = dict(n_samples=4)
    args.update(kw)
    with pytest.raises(exc):
        generate_dataset(m, args.pop("n_samples"), algorithm=StandInMetropolis(m), seed=0, **args)


def test_generate_rejects_sampler_for_other_model():
    with pytest.raises(ValueError, match="different model"):
        generate_dataset(_model2d(4, 0.3), 4, algorithm=StandInMetropolis(_model2d(4, 0.2)), seed=0)


# ---------------------------------------------------------------- registry


def test_registry_errors():
    m2 = _model2d(4, 0.3)
    assert ALGORITHMS == ("metropolis", "heatbath", "wolff", "sw", "exact")
    with pytest.raises(ValueError, match="metropolis, heatbath, wolff, sw, exact"):
        make_sampler("glauber", m2)
    with pytest.raises(ValueError, match="1D"):
        make_sampler("exact", m2)
    for name in ("wolff", "sw"):
        with pytest.raises(ValueError, match="zero field"):
            make_sampler(name, _model2d(4, 0.3, field=0.1))
    with pytest.raises(ValueError, match="unknown device"):
        make_sampler("metropolis", m2, device="tpu")
    with pytest.raises(ValueError, match="CPU only"):
        make_sampler("wolff", m2, device="cuda")
    with pytest.raises(ValueError, match="even"):
        make_sampler("metropolis", _model2d(5, 0.3), device="cuda")


def test_registry_devices():
    m2, m_odd = _model2d(4, 0.3), _model2d(5, 0.3)
    assert resolve_device("wolff", m2, "auto") == "cpu"
    assert resolve_device("metropolis", m_odd, "auto") == "cpu"
    assert resolve_device("metropolis", m2, "cpu") == "cpu"
    assert resolve_device("metropolis", m2, "auto") == ("cuda" if cuda_available() else "cpu")
    if not cuda_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            make_sampler("metropolis", m2, device="cuda")


def _available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"kadanoff.ising.samplers.{module}") is not None


@pytest.mark.parametrize(
    "name, module, cls, model",
    [
        ("metropolis", "checkerboard", "MetropolisSampler", _model2d(4, 0.3, 0.1)),
        ("heatbath", "checkerboard", "HeatBathSampler", IsingModel(Chain(6), 0.3)),
        ("wolff", "wolff", "WolffSampler", _model2d(4, 0.3)),
        ("sw", "swendsen_wang", "SwendsenWangSampler", _model2d(4, 0.3)),
        ("exact", "exact_chain", "ExactChainSampler", IsingModel(Chain(6), 0.3)),
    ],
)
def test_registry_builds(name, module, cls, model):
    if not _available(module):
        with pytest.raises(ValueError, match="not available"):
            make_sampler(name, model)
        pytest.skip(f"kadanoff.ising.samplers.{module} is not written yet")
    s = make_sampler(name, model)
    assert type(s).__name__ == cls and isinstance(s, Sampler) and s.model == model


@pytest.mark.gpu
def test_registry_cuda_picks_torch():
    if not _available("torch_checkerboard"):
        pytest.skip("torch_checkerboard is not written yet")
    s = make_sampler("heatbath", _model2d(4, 0.3), device="cuda")
    assert type(s).__name__ == "TorchCheckerboardSampler"


def test_pickled_npz_never_loaded_even_with_spins_ok(tmp_path):
    """A zip whose meta is fine but which carries an extra pickled array is refused."""
    d = _fake_dataset()
    p = tmp_path / "mixed.npz"
    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(p, "w") as z:
        for name, arr in (("spins", d.spins), ("meta", np.array(json.dumps(d.meta)))):
            b = io.BytesIO()
            np.save(b, arr)
            z.writestr(f"{name}.npy", b.getvalue())
        z.writestr("extra.npy", buf.getvalue())
    with pytest.raises(FileFormatError, match="pickle"):
        load_dataset(p)


@pytest.mark.parametrize(
    "stop_at, phase, kw",
    [
        # 350 warm-up sweeps are 4 calls (100, 100, 100, 50): stop after two of them
        (2, "warmup", dict(thermalization=350, thin=2)),
        # automatic mode: 1 warm-up call, then one call per pilot sweep; stop in the pilot
        (60, "pilot", dict()),
    ],
)
def test_interrupted_warm_up_and_pilot_resume_bit_for_bit(tmp_path, stop_at, phase, kw):
    """The warm-up and the pilot are checkpointed too: Ctrl-C there loses nothing, and the
    resumed run equals one run in one go, bit for bit."""
    m = _model2d(4, 0.3)
    kw = dict(n_chains=2, progress=False, **kw)
    ref = generate_dataset(m, 20, algorithm=StandInMetropolis(m), seed=4, **kw)
    ck = tmp_path / "run.partial.npz"
    bad = Interrupting(m, stop_at=stop_at)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(m, 20, algorithm=bad, seed=4, checkpoint=ck, checkpoint_every=1e9, **kw)
    arrays, meta = read_npz(ck)
    assert meta["phase"] == phase and meta["rounds_done"] == 0
    if phase == "warmup":
        assert meta["warmup_sweeps"] == 200 and meta["pilot_sweeps"] == 0
    else:
        assert meta["warmup_sweeps"] == ds.MIN_THERMALIZATION
        assert meta["pilot_sweeps"] == stop_at - 1 == len(arrays["pilot_energy"])
    resumed = Interrupting(m, stop_at=-1)
    d = generate_dataset(m, 20, algorithm=resumed, seed=4, checkpoint=ck, **kw)
    whole = StandInMetropolis(m)
    generate_dataset(m, 20, algorithm=whole, seed=4, **kw)
    assert resumed.calls == whole.calls - stop_at  # only the sweeps not done before
    np.testing.assert_array_equal(d.spins, ref.spins)
    for key in ("thermalization", "thinning", "tau_energy", "tau_abs_magnetization", "acceptance"):
        assert d.meta[key] == ref.meta[key], key
    assert not ck.exists()


def test_old_production_only_checkpoint_is_ignored(tmp_path):
    m = _model2d(4, 0.3)
    kw = dict(n_chains=2, thermalization=5, thin=2, progress=False)
    ck = tmp_path / "run.partial.npz"
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(m, 20, algorithm=Interrupting(m, 3), seed=9, checkpoint=ck, **kw)
    arrays, meta = read_npz(ck)
    write_npz(ck, arrays, {**meta, "format_version": 1})
    with pytest.warns(RuntimeWarning, match="version"):
        d = generate_dataset(m, 20, algorithm=StandInMetropolis(m), seed=9, checkpoint=ck, **kw)
    ref = generate_dataset(m, 20, algorithm=StandInMetropolis(m), seed=9, **kw)
    np.testing.assert_array_equal(d.spins, ref.spins)


def test_warm_up_checkpointed_while_it_runs(tmp_path):
    """Without an exception (kill -9), the warm-up on disk is at most checkpoint_every old."""
    m = _model2d(4, 0.3)
    ck = tmp_path / "run.partial.npz"
    seen = []

    class Watching(StandInMetropolis):
        def run(self, spins, n_sweeps=1, *, seed=None):
            seen.append(read_npz(ck)[1]["warmup_sweeps"] if ck.exists() else None)
            return super().run(spins, n_sweeps, seed=seed)

    generate_dataset(
        m, 4, algorithm=Watching(m), seed=1, n_chains=2, thermalization=300, thin=1,
        progress=False, checkpoint=ck, checkpoint_every=0.0,
    )  # fmt: skip
    assert seen[:4] == [None, 100, 200, 300]  # saved after every warm-up chunk


@pytest.mark.parametrize("phase", ["pilot", "production"])
def test_interrupt_between_the_sweep_and_its_bookkeeping(tmp_path, monkeypatch, phase):
    """Ctrl-C after the chains moved on but before the counters did (here: while measuring
    the new state) must not save the new state with the old count."""
    from kadanoff.ising import _chains

    m = _model2d(4, 0.3)
    kw = dict(n_chains=2, thermalization=100, pilot_sweeps=200, progress=False)
    kw["thin"] = 1 if phase == "production" else None  # a given thin: no pilot
    stop_at = 30  # the 30th measurement: pilot sweep 30, or production round 30
    ref = generate_dataset(m, 80, algorithm=StandInMetropolis(m), seed=6, **kw)
    real, calls = _chains.observables, []

    def interrupted(model, spins):
        calls.append(1)
        if len(calls) == stop_at:
            raise KeyboardInterrupt
        return real(model, spins)

    ck = tmp_path / "run.partial.npz"
    monkeypatch.setattr(_chains, "observables", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(m, 80, algorithm=StandInMetropolis(m), seed=6, checkpoint=ck, **kw)
    monkeypatch.setattr(_chains, "observables", real)
    _, meta = read_npz(ck)
    assert meta["phase"] == phase
    assert meta["pilot_sweeps" if phase == "pilot" else "rounds_done"] == stop_at - 1
    d = generate_dataset(m, 80, algorithm=StandInMetropolis(m), seed=6, checkpoint=ck, **kw)
    np.testing.assert_array_equal(d.spins, ref.spins)
