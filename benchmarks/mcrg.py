"""Benchmark: Monte Carlo RG at K_c, sampling against measurement (issue 10, acceptance 5).

Run ``python benchmarks/mcrg.py [--L 128] [--levels 4] [--samples 4000] [--rounds 3]``;
prints tables.

1. Samplers at ``K_c``: configurations per second of kadanoff's Wolff sampler (``c`` clusters
   between configurations, ``c = 1, 2, round(L^2/<|C|>), 2 round(L^2/<|C|>)``) and of
   Swendsen-Wang (one sweep), two chains in parallel; integrated autocorrelation times of
   ``S_nn`` at level 0 and at the last level and of ``|S_field|`` (in configurations); and
   ``eff_per_s = configs_per_s / (2 max tau)``, effectively independent configurations per
   CPU-second, with the ratio to Swendsen-Wang.
2. Measurement (majority rule b = 2 to every level, all 11 operators at every level) against
   the sampling of the same configurations, and the operator kernel against two peers on
   the same configurations: a straightforward int8 Numba kernel (loops over rows of a padded
   copy, kept in kadanoff as the second implementation) and plain NumPy (``np.roll`` products).

The machine may be shared: each rate is the best of ``rounds`` interleaved rounds.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from kadanoff.ising.model import K_CRITICAL, IsingModel
from kadanoff.ising.samplers.swendsen_wang import SwendsenWangSampler
from kadanoff.ising.samplers.wolff import WolffSampler
from kadanoff.lattice import SquareLattice
from kadanoff.rg.coarse_graining import Compose
from kadanoff.rg.mcrg_operators import OperatorSet, _pattern_sums
from kadanoff.stats import integrated_time


def _numpy_operators(ops: OperatorSet, v: np.ndarray) -> np.ndarray:
    """Peer: the same sums with np.roll (vectorized NumPy, int8 products)."""
    out = np.zeros((len(v), len(ops)), dtype=np.int64)
    for a, op in enumerate(ops.operators):
        for img in op.images:
            prod = np.ones_like(v)
            for dx, dy in img:
                prod = prod * np.roll(v, (-dx, -dy), axis=(1, 2))
            out[:, a] += prod.reshape(len(v), -1).sum(axis=1, dtype=np.int64)
    return out


def _int8_kernel(ops: OperatorSet, v: np.ndarray) -> np.ndarray:
    out = np.zeros((len(v), len(ops._order)), dtype=np.int64)
    _pattern_sums(v, ops._R, ops._dx, ops._dy, ops._order, out)
    return out


def _best(fn, rounds: int) -> tuple[float, object]:
    best, res = np.inf, None
    for _ in range(rounds):
        t = time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t)
    return best, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--L", type=int, default=128)
    ap.add_argument("--levels", type=int, default=4)
    ap.add_argument("--samples", type=int, default=4000, help="configurations per chain")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    L, n = args.L, args.samples
    model = IsingModel(SquareLattice(L), K_CRITICAL)
    ops = OperatorSet()
    rule = Compose.repeated("majority", L, 2, args.levels)
    nn, fld = ops.names.index("nn"), ops.names.index("field")
    print(f"MCRG benchmark: L = {L}, K_c, {n} configurations x 2 chains per round, "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()})")  # fmt: skip

    warm = WolffSampler(model)
    state, info = warm.run(warm.init_state(2, seed=0), 3000, seed=1)
    c0 = max(1, round(L * L / float(np.mean(info.cluster_sizes[-2000:]))))
    samplers = {f"wolff c={c}": WolffSampler(model, c) for c in sorted({1, 2, c0, 2 * c0})}
    samplers["sw"] = SwendsenWangSampler(model)
    rows, configs = [], None
    for name, smp in samplers.items():
        t, res = _best(lambda s=smp: s.record(state, n, seed=2), args.rounds)
        samples = res[0]  # type: ignore[index]
        flat = samples.reshape(-1, L, L)
        levels = rule.levels(flat, seed=3)
        S0, SN = ops.evaluate(levels[0]), ops.evaluate(levels[-1])
        taus = []
        for series in (S0[:, nn], SN[:, nn], np.abs(S0[:, fld])):
            x = series.reshape(n, 2).astype(float)
            taus.append(np.mean([integrated_time(x[:, c]).tau for c in range(2)]))
        rate = 2 * n / t
        rows.append((name, rate, *taus, rate / (2 * max(taus))))
        if name == f"wolff c={c0}":
            configs, t_sample = flat, t
    sw_eff = rows[-1][-1]
    print(f"\n{'sampler':<14}{'configs/s':>11}{'tau nn(0)':>11}{'tau nn(N)':>11}"
          f"{'tau |m|':>9}{'eff/s':>9}{'vs sw':>7}")  # fmt: skip
    for r in rows:
        print(f"{r[0]:<14}{r[1]:>11.0f}{r[2]:>11.2f}{r[3]:>11.2f}{r[4]:>9.2f}{r[5]:>9.0f}"
              f"{r[5] / sw_eff:>7.2f}")  # fmt: skip

    assert configs is not None

    def measure_all():
        return [ops.evaluate(x) for x in rule.levels(configs, seed=4)]

    t_meas, _ = _best(measure_all, args.rounds)
    t_cg, _ = _best(lambda: rule.levels(configs, seed=4), args.rounds)
    t_bits, ref = _best(lambda: ops.evaluate(configs), args.rounds)
    t_int8, r8 = _best(lambda: _int8_kernel(ops, configs), args.rounds)
    sub = configs[: max(1, len(configs) // 20)]
    t_np, rnp = _best(lambda: _numpy_operators(ops, sub), 1)
    t_np *= len(configs) / len(sub)
    assert np.array_equal(ops.evaluate(sub), rnp)
    m = len(configs)
    print(f"\nmeasurement of {m} configurations (wolff c={c0}), majority b=2, "
          f"{args.levels} levels, {len(ops)} operators")  # fmt: skip
    print(f"  sampling                 {t_sample:8.3f} s  {m / t_sample:9.0f} configs/s")
    print(f"  measurement, all levels  {t_meas:8.3f} s  {m / t_meas:9.0f} configs/s"
          f"   measurement / sampling = {t_meas / t_sample:.2f}")  # fmt: skip
    print(f"    of which coarse-graining {t_cg:6.3f} s")
    print(f"\noperator kernel at level 0 (L = {L}):")
    print(f"  kadanoff bit-parallel    {t_bits:8.4f} s  (1.00)")
    print(f"  kadanoff int8 kernel     {t_int8:8.4f} s  ({t_int8 / t_bits:.1f}x slower)")
    print(f"  numpy np.roll            {t_np:8.4f} s  ({t_np / t_bits:.1f}x slower, "
          f"extrapolated from {len(sub)} configurations)")  # fmt: skip
    del ref, r8


if __name__ == "__main__":
    main()
