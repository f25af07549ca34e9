"""Sweep engine benchmark: 8 equal fig3 points, serially and on 1 and 2 local Dask workers.

    python benchmarks/sweep.py [--points 8] [--size default|small] [--workers 1 2]

The 8 points differ only in their seed (equal work, distinct keys). Peers, in this run:
``serial`` (the points one after another in this process, one compute thread, no Dask) and
``dask, N workers`` (a local cluster of N single-thread worker processes, one compute thread per
point). Each peer writes into a fresh store. Startup (cluster start, and a warm-up point per worker
that pays the imports and Numba compilation) is timed apart from the sweep. Reported:

* speed-up = sweep time on 1 worker / on 2 workers (goal >= 1.8 on 2 cores);
* per-point engine overhead = (sweep time on 1 worker - serial time) / points (goal < 1 s).

Run it on a quiet machine: the load average is printed, and timings on shared cores are noise.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from kadanoff.sweep.engine import open_client, run_sweep
from kadanoff.sweep.grid import build_sweep
from kadanoff.sweep.point import point_folder, run_point

SIZES = {
    # about 10 s a point on one core (dataset, two 3-layer DBNs, analysis, figures, report)
    "default": {"L": 24, "n_samples": 2000, "hidden": [144, 36, 9], "epochs": 15, "n_eval": 500},
    # about 2 s a point: for checking that the script works
    "small": {
        "L": 16,
        "n_samples": 200,
        "hidden": [16, 4],
        "epochs": 1,
        "n_eval": 50,
        "top_down_gibbs": 5,
        "block_sizes": [2, 4],
        "ablation": False,
    },
}


def cpu_features() -> str:
    try:
        flags = next(
            line for line in Path("/proc/cpuinfo").read_text().splitlines() if "flags" in line
        ).split()
    except (OSError, StopIteration):
        return "unknown"
    return ", ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags)


def serial(sweep, store: Path) -> float:
    """The points one after another in this process (after a warm-up point)."""
    warm = build_sweep("fig3", {**_fixed(sweep), "seed": 10_000}).points()[0]
    run_point("fig3", warm.config, point_folder(store, "fig3", warm.config), threads=1)
    t = time.perf_counter()
    for p in sweep.points():
        rec = run_point("fig3", p.config, point_folder(store, "fig3", p.config), threads=1)
        assert rec["status"] == "done", rec
    return time.perf_counter() - t


def on_dask(sweep, store: Path, out: Path, workers: int) -> tuple[float, float]:
    """(startup seconds, sweep seconds) on a local cluster of ``workers`` processes."""
    t = time.perf_counter()
    with open_client(workers=workers, threads=1) as client:
        client.wait_for_workers(workers)
        warm = build_sweep("fig3", {**_fixed(sweep), "seed": f"{10_001}:{10_000 + workers}:"
                                    f"{workers}"}).points()  # fmt: skip
        futs = [
            client.submit(
                run_point,
                "fig3",
                w.config,
                str(point_folder(store, "fig3", w.config)),
                threads=1,
                workers=[addr],
                pure=False,
            )  # fmt: skip
            for w, addr in zip(warm, sorted(client.nthreads()), strict=False)
        ]
        client.gather(futs)
        startup = time.perf_counter() - t
        t = time.perf_counter()
        doc = run_sweep(sweep, out, store=store, client=client, threads=1, progress=False,
                        log=lambda *a: None)  # fmt: skip
        seconds = time.perf_counter() - t
    assert doc["counts"]["done"] == len(sweep.points()), doc["counts"]
    return startup, seconds


def _fixed(sweep) -> dict:
    return {k: (list(v[0]) if isinstance(v[0], tuple) else v[0]) for k, v in sweep.axes.items()
            if len(v) == 1}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=8)
    ap.add_argument("--size", choices=list(SIZES), default="default")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    values = SIZES[args.size] | {"seed": f"1:{args.points}:{args.points}"}
    sweep = build_sweep("fig3", values)
    assert len(sweep.points()) == args.points
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        f"({cpu_features()}), load average {os.getloadavg()[0]:.2f}; fig3 {args.size} points "
        f"x {args.points}, one compute thread per point"
    )
    root = Path(tempfile.mkdtemp(prefix="kadanoff-sweep-bench-"))
    try:
        t_serial = serial(sweep, root / "serial")
        print(f"{'serial (no Dask)':<22} {t_serial:8.1f} s   {t_serial / args.points:6.2f} s/point")
        times = {}
        for w in args.workers:
            startup, t = on_dask(sweep, root / f"store{w}", root / f"out{w}", w)
            times[w] = t
            print(
                f"{f'dask, {w} worker(s)':<22} {t:8.1f} s   {t / args.points:6.2f} s/point   "
                f"(startup {startup:.1f} s, not included)"
            )
        if 1 in times:
            overhead = (times[1] - t_serial) / args.points
            print(f"per-point engine overhead (1 worker vs serial): {overhead:+.2f} s (goal < 1 s)")
            for w in times:
                if w > 1:
                    print(f"speed-up {w} workers vs 1: {times[1] / times[w]:.2f}x (goal >= 1.8x)")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":  # Dask's worker processes re-import this module
    main()
