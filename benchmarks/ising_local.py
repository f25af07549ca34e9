"""Throughput of local (single-spin-flip) Metropolis: kadanoff vs its peers.

Measures spin updates *attempted* per nanosecond of wall time at the 2D critical point
(``K = K_CRITICAL``), for kadanoff's Numba checkerboard kernel (all cores, several
chains) and for the peers:

* ``mcising`` (Rust): ``IsingSimulation.sweep(n, temperature=T)``, one lattice, one core;
  it returns ``(accepted, attempted, cluster_flips)`` and we count ``attempted``.
* ``ising-rs`` (Rust): ``isingmodel.Lattice.simulation_step()`` performs one single-spin
  attempt per Python call (no batched entry point), so it is dominated by call overhead.

Also ``bench_torch(device)`` for the PyTorch checkerboard path (CUDA when present).
Run ``python benchmarks/ising_local.py`` for a table. Timings are only meaningful on an
otherwise idle machine.
"""

from __future__ import annotations

import time

import numba
import numpy as np

from kadanoff.ising.model import K_CRITICAL, IsingModel
from kadanoff.ising.samplers.checkerboard import MetropolisSampler
from kadanoff.lattice import SquareLattice

__all__ = ["bench_metropolis", "bench_torch", "compile_time"]


def _timed(step, seconds: float) -> tuple[int, float, float]:
    """Call ``step() -> attempts`` until ``seconds`` have passed.

    Returns ``(attempts, wall seconds, CPU seconds of this process, all threads)``.
    """
    n = 0
    t0 = time.perf_counter()
    c0 = time.process_time()
    while True:
        n += step()
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return n, dt, time.process_time() - c0


def _chains_for(L: int) -> int:
    """Enough chains to give every thread whole chains (and a few per thread)."""
    nt = numba.get_num_threads()
    return nt * max(2, 8 * 64**2 // L**2)


def bench_kadanoff(L: int, K: float = K_CRITICAL, seconds: float = 2.0) -> tuple[float, float]:
    sampler = MetropolisSampler(IsingModel(SquareLattice(L), K))
    n_chains = _chains_for(L)
    x = sampler.init_state(n_chains, seed=0)
    x, _ = sampler.run(x, 2, seed=1)  # warm-up (compile / load cache)
    n_sweeps = max(1, int(2e7 // (n_chains * L * L)))  # ~20 M updates per call
    state = {"x": x, "seed": 2}

    def step() -> int:
        state["x"], info = sampler.run(state["x"], n_sweeps, seed=state["seed"])
        state["seed"] += 1
        return info.attempted

    n, dt, cpu = _timed(step, seconds)
    return n / dt / 1e9, n / cpu / 1e9


def bench_mcising(
    L: int, K: float = K_CRITICAL, seconds: float = 2.0
) -> tuple[float, float] | None:
    try:
        from mcising._core import IsingSimulation
    except ImportError:
        return None
    T = 1.0 / K
    sim = IsingSimulation(L, 1.0, 0.0, 0.0, 0.0, 42, "metropolis", "square")
    sim.sweep(10, temperature=T)
    n_sweeps = max(1, int(2e6 // (L * L)))

    def step() -> int:
        _acc, attempted, _ = sim.sweep(n_sweeps, temperature=T)
        return int(attempted)

    n, dt, cpu = _timed(step, seconds)
    return n / dt / 1e9, n / cpu / 1e9


def bench_ising_rs(
    L: int, K: float = K_CRITICAL, seconds: float = 1.0
) -> tuple[float, float] | None:
    try:
        from isingmodel import Lattice
    except ImportError:
        return None
    lat = Lattice(L, L, 1.0 / K, 0.0)
    chunk = 10_000

    def step() -> int:
        for _ in range(chunk):
            lat.simulation_step()  # one Metropolis attempt per call
        return chunk

    n, dt, cpu = _timed(step, seconds)
    return n / dt / 1e9, n / cpu / 1e9


def bench_metropolis(
    sizes: tuple[int, ...] = (64, 256), K: float = K_CRITICAL, seconds: float = 2.0
) -> list[dict]:
    """Rows ``{name, L, flips_per_ns, ratio_vs_fastest_peer, flips_per_cpu_ns,
    cpu_ratio_vs_fastest_peer}``.

    ``flips_per_ns``: attempted updates per ns of wall time (all threads together);
    ``flips_per_cpu_ns``: per ns of CPU time summed over threads, i.e. per core, which is
    less sensitive to other load on the machine (compare ``cpu_ratio_vs_fastest_peer``
    on a shared machine).
    """
    rows: list[dict] = []
    for L in sizes:
        res = {
            f"kadanoff (numba, {numba.get_num_threads()} threads, {_chains_for(L)} chains)": (
                bench_kadanoff(L, K, seconds)
            ),
            "mcising (rust, 1 core)": bench_mcising(L, K, seconds),
            "ising-rs (rust, 1 call per flip)": bench_ising_rs(L, K, min(seconds, 1.0)),
        }
        peers = [v for k, v in res.items() if not k.startswith("kadanoff") and v is not None]
        best = max(v[0] for v in peers) if peers else float("nan")
        best_cpu = max(v[1] for v in peers) if peers else float("nan")
        for name, v in res.items():
            if v is None:
                continue
            rows.append(
                {
                    "name": name,
                    "L": L,
                    "flips_per_ns": v[0],
                    "ratio_vs_fastest_peer": v[0] / best,
                    "flips_per_cpu_ns": v[1],
                    "cpu_ratio_vs_fastest_peer": v[1] / best_cpu,
                }
            )
    return rows


def bench_torch(
    device: str | None = None,
    cases: tuple[tuple[int, int], ...] = ((20000, 40), (16, 1024)),
    K: float = K_CRITICAL,
    seconds: float = 2.0,
) -> list[dict]:
    """Torch checkerboard Metropolis, rows ``{name, B, L, flips_per_ns}``.

    ``device`` defaults to CUDA; without CUDA it prints a note and returns ``[]``.
    """
    import torch

    from kadanoff._rng import torch_generator
    from kadanoff.ising.samplers.torch_checkerboard import TorchCheckerboardSampler

    if device is None:
        if not torch.cuda.is_available():
            print("bench_torch: CUDA not available, skipped")
            return []
        device = "cuda"
    rows = []
    for B, L in cases:
        smp = TorchCheckerboardSampler(IsingModel(SquareLattice(L), K), device=device)
        g = torch_generator(0, device=device)
        x = torch.as_tensor(smp.init_state(B, seed=0), device=device)
        x, _ = smp.run_tensor(x, 2, generator=g)  # warm-up
        n_sweeps = max(1, int(2e8 // (B * L * L)))

        def sync(dev=smp.device) -> None:
            if dev.type == "cuda":
                torch.cuda.synchronize()

        sync()
        state = {"x": x}

        def step(smp=smp, n_sweeps=n_sweeps, state=state, g=g, B=B, L=L) -> int:
            state["x"], _ = smp.run_tensor(state["x"], n_sweeps, generator=g)
            sync()
            return B * L * L * n_sweeps

        n, dt, _ = _timed(step, seconds)
        rows.append(
            {"name": f"kadanoff torch ({device})", "B": B, "L": L, "flips_per_ns": n / dt / 1e9}
        )
        print(f"torch {device}: B = {B:6d}, L = {L:5d}: {n / dt / 1e9:.3f} flips/ns")
    return rows


def bench_triton(
    cases: tuple[tuple[int, int], ...] = ((20000, 40), (1, 4096), (16, 1024)),
    K: float = K_CRITICAL,
    seconds: float = 2.0,
) -> list[dict]:
    """Fused Triton checkerboard Metropolis on CUDA, rows ``{name, B, L, flips_per_ns}``
    (attempted updates; goal >= 700/ns on an H100/H200). ``[]`` without CUDA or triton."""
    import importlib.util

    import torch

    if not torch.cuda.is_available() or importlib.util.find_spec("triton") is None:
        print("bench_triton: needs CUDA and triton, skipped")
        return []
    from kadanoff._rng import kernel_key
    from kadanoff.ising.samplers.triton_checkerboard import TritonCheckerboardSampler

    rows = []
    for B, L in cases:
        smp = TritonCheckerboardSampler(IsingModel(SquareLattice(L), K), device="cuda")
        x = torch.as_tensor(smp.init_state(B, seed=0), device="cuda").contiguous()
        key = kernel_key(0)
        smp.run_tensor(x, 2, key=key)  # compile, warm up
        torch.cuda.synchronize()
        n_sweeps = max(1, int(2e9 // (B * L * L)))
        state = {"t": 2}

        def step(smp=smp, x=x, n_sweeps=n_sweeps, state=state, B=B, L=L, key=key) -> int:
            smp.run_tensor(x, n_sweeps, key=key, t0=state["t"])
            state["t"] += n_sweeps
            torch.cuda.synchronize()
            return B * L * L * n_sweeps

        n, dt, _ = _timed(step, seconds)
        rate = n / dt / 1e9
        rows.append({"name": "kadanoff triton (cuda)", "B": B, "L": L, "flips_per_ns": rate})
        print(f"triton cuda: B = {B:6d}, L = {L:5d}: {rate:.1f} flips/ns")
    return rows


def compile_time() -> float:
    """Seconds for the first call of a fresh process (compilation, or loading the cache)."""
    import subprocess
    import sys

    code = (
        "import time; t = time.perf_counter();"
        "from kadanoff.ising.samplers.checkerboard import MetropolisSampler;"
        "from kadanoff.ising.model import IsingModel; from kadanoff.lattice import SquareLattice;"
        "s = MetropolisSampler(IsingModel(SquareLattice(8), 0.4));"
        "s.run(s.init_state(4, seed=0), 1, seed=0); print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    print(f"first call in a fresh process: {compile_time():.2f} s")
    rows = bench_metropolis()
    print(
        f"{'name':46s} {'L':>5s} {'flips/ns':>9s} {'ratio':>6s} {'per CPU-ns':>10s} "
        f"{'CPU ratio':>9s}"
    )
    for r in rows:
        print(
            f"{r['name']:46s} {r['L']:5d} {r['flips_per_ns']:9.4f} "
            f"{r['ratio_vs_fastest_peer']:6.2f} {r['flips_per_cpu_ns']:10.4f} "
            f"{r['cpu_ratio_vs_fastest_peer']:9.2f}"
        )
    bench_torch()


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
