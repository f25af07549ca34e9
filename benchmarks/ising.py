"""Ising sampler benchmarks: kadanoff vs the PyPI peers mcising and ising-rs, in one run.

    python benchmarks/ising.py            # after `pip install -e ".[bench]"` (or `make bench`)
    python benchmarks/ising.py --gpu-only # just the CUDA rows (Triton kernel and torch)

Prints Metropolis flips/ns (L = 64, 256 at K_c), Wolff flipped spins/ns and effectively independent
40x40 samples/s at K = 0.408, with ratios to the fastest peer; on a CUDA machine also the CUDA
checkerboard throughput. Results and commands are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ising_cluster  # noqa: E402
import ising_local  # noqa: E402


def _print_rows(title: str, rows: list[dict]) -> None:
    print(f"\n## {title}")
    if not rows:
        print("(nothing measured)")
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))
    print(" | ".join(keys))
    for r in rows:
        cells = (f"{r.get(k):.4g}" if isinstance(r.get(k), float) else str(r.get(k)) for k in keys)
        print(" | ".join(cells))


def _gpu_rows() -> None:
    import torch

    print(f"\nGPU: {torch.cuda.get_device_name()}")
    _print_rows("CUDA checkerboard, fused Triton kernel", ising_local.bench_triton())
    _print_rows("CUDA checkerboard, torch (fallback)", ising_local.bench_torch("cuda"))


def main() -> None:
    import numba
    import torch

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numba threads {numba.get_num_threads()}, torch {torch.__version__}"
    )
    if "--gpu-only" in sys.argv[1:]:  # the GPU rows alone (benchmarks/gpu_check.sh)
        if not torch.cuda.is_available():
            raise SystemExit("benchmarks/ising.py --gpu-only: no CUDA device")
        _gpu_rows()
        return
    _print_rows("Metropolis (checkerboard), K = K_c", ising_local.bench_metropolis())
    _print_rows("Wolff, L = 40, K = 0.408", ising_cluster.bench_wolff())
    if torch.cuda.is_available():
        _gpu_rows()


if __name__ == "__main__":
    main()
