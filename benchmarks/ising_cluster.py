"""Benchmark: Wolff and Swendsen-Wang cluster samplers of kadanoff against PyPI peers.

Run ``python benchmarks/ising_cluster.py [--seconds S] [--rounds R] [--L L] [--K K]``;
prints a table.

Measured per implementation, on the ``L x L`` torus at coupling ``K``:

- ``flips_per_ns``: spin flips per nanosecond of a pure sampling run (no measurements);
  for kadanoff and mcising the sum of the cluster sizes they report, for ising-rs
  ``|Delta M| / 2`` per cluster (a Wolff cluster is all one sign, so this is exact);
- ``samples_per_s``: saved configurations per second with the energy and ``|m|``
  measured after each (``interval`` Wolff clusters / one SW sweep between saves), over
  all chains that run at once; kadanoff saves the configurations themselves
  (``record``, blocks of 256 per compiled call), mcising measures in Rust without
  storing them, ising-rs measures through Python calls (one per cluster);
- ``tau_E``, ``tau_absm``: integrated autocorrelation times of the energy and ``|m|`` in
  units of saved steps (:func:`kadanoff.stats.integrated_time` on each chain's whole
  series, averaged over chains);
- ``eff_per_s = samples_per_s / (2 max(tau_E, tau_absm))``: effectively independent
  samples per second; ``*_vs_mcising``: ratios to mcising's single-replica Wolff row.

The machine may be shared, so the implementations are measured in ``rounds`` short,
interleaved rounds and each rate is the best round (the least disturbed); the series
for ``tau`` continue across rounds.

Peers: ``mcising`` (Rust, ``_core.IsingSimulation`` with ``algorithm="wolff"``; its
``production_sweeps`` measures inside Rust; ``run_independent_temperatures`` with the
same temperature twice runs two replicas on its Rayon pool) and ``ising-rs`` (module
``isingmodel``, Rust, ``Lattice.wolff_step()`` grows one cluster per Python call, returns
nothing and takes no seed). ising-rs has no Swendsen-Wang; mcising has one, but only
kadanoff's is benchmarked here.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
from numba import njit

from kadanoff.ising.model import IsingModel
from kadanoff.ising.samplers.swendsen_wang import SwendsenWangSampler
from kadanoff.ising.samplers.wolff import WolffSampler
from kadanoff.lattice import SquareLattice
from kadanoff.stats import integrated_time

__all__ = ["bench_wolff", "bench_sw"]

Series = tuple[np.ndarray, np.ndarray]  # energy per site, |m|; each (n_chains, n_saved)


@njit(cache=True)
def _observables_kernel(flat, L, e, m):  # pragma: no cover - compiled
    for k in range(flat.shape[0]):
        b = 0
        t = 0
        for x in range(L):
            xd = (x + 1) % L
            for y in range(L):
                v = flat[k, x * L + y]
                b += v * (flat[k, x * L + (y + 1) % L] + flat[k, xd * L + y])
                t += v
        e[k] = -b
        m[k] = abs(t)


def _observables(samples: np.ndarray) -> Series:
    """Energy per site and ``|m|`` of samples ``(T, C, L, L)``, as two ``(C, T)`` arrays."""
    T, C, L, _ = samples.shape
    e = np.empty(T * C, dtype=np.int64)
    m = np.empty(T * C, dtype=np.int64)
    _observables_kernel(samples.reshape(T * C, L * L), L, e, m)
    n = L * L
    return (e / n).reshape(T, C).T, (m / n).reshape(T, C).T


class _Contender:
    """One implementation: ``flip_round(sec) -> (flips, elapsed)`` and
    ``sample_round(sec) -> (n_samples, elapsed, energy, absm)``."""

    def __init__(self, impl: str, variant: str, cores: int, flip_round, sample_round, **extra):
        self.impl, self.variant, self.cores, self.extra = impl, variant, cores, extra
        self.flip_round: Callable | None = flip_round
        self.sample_round: Callable = sample_round
        self.best_flips = float("nan")
        self.best_rate = 0.0
        self.e: list[np.ndarray] = []
        self.m: list[np.ndarray] = []

    def round(self, seconds: float) -> None:
        if self.flip_round is not None:
            f, dt = self.flip_round(seconds / 3)
            rate = f / dt / 1e9
            self.best_flips = rate if np.isnan(self.best_flips) else max(self.best_flips, rate)
        k, dt, e, m = self.sample_round(2 * seconds / 3)
        self.best_rate = max(self.best_rate, k / dt)
        self.e.append(np.atleast_2d(e))
        self.m.append(np.atleast_2d(m))

    def row(self) -> dict:
        e, m = np.concatenate(self.e, axis=1), np.concatenate(self.m, axis=1)
        te = float(np.mean([integrated_time(x).tau for x in e]))
        tm = float(np.mean([integrated_time(x).tau for x in m]))
        out = {
            "impl": self.impl,
            "variant": self.variant,
            "cores": self.cores,
            "flips_per_ns": self.best_flips,
            "samples_per_s": self.best_rate,
            "tau_E": te,
            "tau_absm": tm,
            "eff_per_s": self.best_rate / (2.0 * max(te, tm)),
            "n_saved_per_chain": int(e.shape[1]),
        }
        out.update({k: v() if callable(v) else v for k, v in self.extra.items()})
        return out


def _kadanoff(smp, label: str, n_chains: int, note: str, seed: int, block: int = 256):
    rng = np.random.default_rng(seed)
    n = smp.model.n_sites
    state = {"s": smp.run(smp.init_state(n_chains, seed=rng), 200, seed=rng)[0]}
    sites = {"best": 0.0}

    def flip_round(sec):
        t0, flips, sweeps = time.perf_counter(), 0, 0
        while time.perf_counter() - t0 < sec:
            state["s"], info = smp.run(state["s"], 200, seed=rng)
            flips += info.flipped
            sweeps += 200
        dt = time.perf_counter() - t0
        sites["best"] = max(sites["best"], sweeps * n_chains * n / dt / 1e9)
        return flips, dt

    def sample_round(sec):
        es, ms = [], []
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < sec:
            samples, state["s"], _ = smp.record(state["s"], block, seed=rng)
            e, m = _observables(samples)
            es.append(e)
            ms.append(m)
        dt = time.perf_counter() - t0
        e, m = np.concatenate(es, axis=1), np.concatenate(ms, axis=1)
        return e.size, dt, e, m

    extra = {"sites_per_ns": lambda: sites["best"]} if label == "SW" else {}
    return _Contender(
        "kadanoff",
        f"{label} x{n_chains} chains ({note})",
        min(n_chains, os.cpu_count() or 1),
        flip_round,
        sample_round,
        **extra,
    )


def _mcising(L: int, K: float, interval: int, seed: int) -> list[_Contender]:
    try:
        from mcising._core import IsingSimulation, run_independent_temperatures
    except ImportError:  # pragma: no cover
        print("mcising is not installed: skipped")
        return []
    T = 1.0 / K
    sim = IsingSimulation(L, 1.0, 0.0, 0.0, 0.0, seed, "wolff", "square")
    sim.sweep(2000, temperature=T)
    per = {"meas": None}

    def flip_round(sec):
        # accepted = total cluster size (its documented accounting for Wolff)
        t0, flips = time.perf_counter(), 0
        while time.perf_counter() - t0 < sec:
            flips += sim.sweep(2000, temperature=T)[0]
        return flips, time.perf_counter() - t0

    def n_for(sec):
        if per["meas"] is None:
            t0 = time.perf_counter()
            sim.production_sweeps(200, interval, temperature=T, store_configs=False)
            per["meas"] = (time.perf_counter() - t0) / 200
        return max(200, int(sec / per["meas"]))

    def sample_round(sec):
        k = n_for(sec)
        t0 = time.perf_counter()
        out = sim.production_sweeps(k, interval, temperature=T, store_configs=False)
        dt = time.perf_counter() - t0
        return k, dt, np.asarray(out["energies"]), np.abs(np.asarray(out["magnetizations"]))

    offs = {"k": 0}

    def sample_round2(sec):
        # two fresh replicas per round (its runner starts from random states), so
        # thermalize them for 2000 clusters outside the timed production
        k = n_for(sec)
        offs["k"] += 2
        args = (L, 1.0, 0.0, 0.0, 0.0, seed, "wolff", "square", [T, T])
        t0 = time.perf_counter()
        res = run_independent_temperatures(
            *args, 2000, k * interval, interval, seed_offsets=[offs["k"], offs["k"] + 1]
        )
        dt = time.perf_counter() - t0
        dt_therm = 2000 * per["meas"] / interval  # the thermalization's share of dt
        e = np.array([np.asarray(r["energies"]) for r in res])
        m = np.abs(np.array([np.asarray(r["magnetizations"]) for r in res]))
        return e.size, max(dt - dt_therm, 1e-9), e, m

    return [
        _Contender("mcising", f"Wolff, 1 replica (interval {interval})", 1, flip_round,
                   sample_round),
        _Contender("mcising", f"Wolff, 2 replicas (interval {interval})", 2, None,
                   sample_round2),
    ]  # fmt: skip


def _isingrs(L: int, K: float, interval: int) -> list[_Contender]:
    try:
        import isingmodel
    except ImportError:  # pragma: no cover
        print("ising-rs is not installed: skipped")
        return []
    lat = isingmodel.Lattice(L, L, 1.0 / K, 0.0)  # J = 1, T = 1/K; it takes no seed
    for _ in range(2000):
        lat.wolff_step()
    n = L * L

    def flip_round(sec):
        m0 = lat.get_total_magnetization()
        t0, flips = time.perf_counter(), 0.0
        while time.perf_counter() - t0 < sec:
            for _ in range(500):
                lat.wolff_step()
                m1 = lat.get_total_magnetization()
                flips += abs(m1 - m0) / 2
                m0 = m1
        return flips, time.perf_counter() - t0

    def sample_round(sec):
        es, ms = [], []
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < sec:
            for _ in range(interval):
                lat.wolff_step()
            es.append(lat.get_energy() / n)
            ms.append(abs(lat.get_total_magnetization()) / n)
        return len(es), time.perf_counter() - t0, np.array(es), np.array(ms)

    return [_Contender("ising-rs", f"Wolff (interval {interval})", 1, flip_round, sample_round)]


def _run(contenders: list[_Contender], seconds: float, rounds: int) -> list[dict]:
    for _ in range(rounds):
        for c in contenders:
            c.round(seconds / rounds)
    return [c.row() for c in contenders]


def bench_wolff(
    L: int = 40,
    K: float = 0.408,
    seconds: float = 6.0,
    *,
    rounds: int = 4,
    clusters_per_sweep: int = 16,
    seed: int = 0,
) -> list[dict]:
    """Wolff on the ``L x L`` torus: kadanoff (1, 2, 8 chains), mcising and ising-rs.

    Every implementation saves a sample each ``clusters_per_sweep`` clusters and gets
    about ``seconds`` in total, split into ``rounds`` interleaved rounds. Each row is a
    dict with the keys of the module docstring, plus ``flips_vs_mcising`` and
    ``eff_vs_mcising`` (ratios to mcising's single-replica row).
    """
    model = IsingModel(SquareLattice(L), K)
    smp = WolffSampler(model, clusters_per_sweep=clusters_per_sweep)
    note = f"interval {clusters_per_sweep}"
    contenders = [_kadanoff(smp, "Wolff", c, note, seed + c) for c in (1, 2, 8)]
    contenders += _mcising(L, K, clusters_per_sweep, seed + 100)
    contenders += _isingrs(L, K, clusters_per_sweep)
    rows = _run(contenders, seconds, rounds)
    base = next((r for r in rows if r["impl"] == "mcising" and r["cores"] == 1), None)
    for r in rows:
        if base is not None:
            r["flips_vs_mcising"] = r["flips_per_ns"] / base["flips_per_ns"]
            r["eff_vs_mcising"] = r["eff_per_s"] / base["eff_per_s"]
    return rows


def bench_sw(
    L: int = 40, K: float = 0.408, seconds: float = 6.0, *, rounds: int = 4, seed: int = 0
) -> list[dict]:
    """Swendsen-Wang on the ``L x L`` torus, kadanoff only (1, 2 and 8 chains), one saved
    sample per sweep. Rows also carry ``sites_per_ns`` (sites swept per ns)."""
    smp = SwendsenWangSampler(IsingModel(SquareLattice(L), K))
    return _run([_kadanoff(smp, "SW", c, "1 sweep", seed + c) for c in (1, 2, 8)], seconds, rounds)


def _print(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    cols = [
        ("variant", 46, "", "impl: variant"),
        ("flips_per_ns", 9, ".4f", "flips/ns"),
        ("sites_per_ns", 9, ".4f", "sites/ns"),
        ("samples_per_s", 10, ".0f", "samples/s"),
        ("tau_E", 6, ".2f", "tau_E"),
        ("tau_absm", 7, ".2f", "tau_|m|"),
        ("eff_per_s", 7, ".0f", "eff/s"),
        ("flips_vs_mcising", 7, ".2f", "xflips"),
        ("eff_vs_mcising", 6, ".2f", "xeff"),
    ]
    used = [c for c in cols if c[0] == "variant" or any(c[0] in r for r in rows)]
    print("  ".join(h.ljust(w) if c == "variant" else h.rjust(w) for c, w, _, h in used))
    for r in rows:
        cells = []
        for c, w, f, _ in used:
            if c == "variant":
                cells.append(f"{r['impl']}: {r['variant']}".ljust(w))
            else:
                v = r.get(c)
                cells.append((format(v, f) if v is not None else "-").rjust(w))
        print("  ".join(cells))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--L", type=int, default=40)
    ap.add_argument("--K", type=float, default=0.408)
    ap.add_argument("--seconds", type=float, default=6.0, help="per implementation")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--clusters-per-sweep", type=int, default=16)
    a = ap.parse_args()
    print(f"cpus={os.cpu_count()} load(1 min)={os.getloadavg()[0]:.2f} L={a.L} K={a.K}")
    _print(
        bench_wolff(a.L, a.K, a.seconds, rounds=a.rounds, clusters_per_sweep=a.clusters_per_sweep),
        f"Wolff, {a.L}x{a.L} torus, K = {a.K}",
    )
    _print(
        bench_sw(a.L, a.K, a.seconds, rounds=a.rounds),
        f"Swendsen-Wang, {a.L}x{a.L} torus, K = {a.K}",
    )
    print(f"\nload(1 min) at the end = {os.getloadavg()[0]:.2f}")
