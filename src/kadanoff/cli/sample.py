"""``kadanoff sample``: draw an equilibrium Ising dataset and save it as ``.npz``.

Example::

    kadanoff sample --lattice 2d --size 40 --K 0.408 --samples 20000 \\
        --algorithm wolff --seed 1 --out data/ising40.npz

Every argument is checked before any sampling starts (that the output folder can be
written, and that the request fits in memory); a bad one prints a single line
``kadanoff sample: error: ...`` and exits with code 2. A long run checkpoints every stage,
the warm-up included, into ``OUT.partial.npz`` and resumes from it when rerun with the same
arguments (a missing ``--seed`` is then taken from the checkpoint).
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._rng import fresh_seed
from ..ising.model import IsingModel, coupling_from
from ..ising.samplers import ALGORITHMS, select_spec, specs_for
from ..lattice import make_lattice
from . import UsageError, check_output_folder
from ._common import add_command, add_device_option, add_quiet, user_input

__all__ = ["add_parser", "run"]


def _algorithm_help() -> str:
    """``--algorithm`` help from the registry: each name with its declared restrictions."""
    parts = []
    for name in ALGORITHMS:
        caps = [s.capabilities for s in specs_for(name)]
        lattices = {k for c in caps for k in c.lattices}
        notes = [] if any(c.field for c in caps) else ["zero field"]
        if lattices == {"chain"}:
            notes.append("1d only")
        elif lattices == {"square"}:
            notes.append("2d only")
        if all(c.independent for c in caps):
            notes.append("independent draws")
        if any("cuda" in c.devices for c in caps):
            notes.append("cuda too")
        parts.append(name + (f" ({', '.join(notes)})" if notes else ""))
    return (
        f"sampler: {', '.join(parts)} (default: exact for 1d, wolff for 2d at zero field, "
        "else metropolis)"
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``sample`` on the dispatcher's subparsers."""
    p = add_command(
        subparsers,
        "sample",
        help="draw equilibrium Ising configurations into a .npz dataset",
        description=(
            "Draw effectively independent equilibrium configurations of the Ising model "
            "H = -K sum_<ij> v_i v_j - field sum_i v_i (periodic boundaries) and save them "
            "with their metadata. Thinning is set from the measured autocorrelation time."
        ),
    )
    p.add_argument("--lattice", choices=("1d", "2d"), help="1d ring or 2d torus (required)")
    p.add_argument("--size", type=int, help="ring length N, or L of the L x L torus (required)")
    p.add_argument("--K", type=float, help="coupling K = J/kT (give --K or --T)")
    p.add_argument("--T", type=float, help="temperature, K = 1/T (give --K or --T)")
    p.add_argument("--field", type=float, default=0.0, help="uniform field (default 0)")
    p.add_argument("--samples", type=int, help="number of configurations to save (required)")
    p.add_argument("--algorithm", choices=ALGORITHMS, help=_algorithm_help())
    p.add_argument("--seed", type=int, help="root seed (default: drawn at random and recorded)")
    add_device_option(p, "auto runs the local rules on cuda when available")
    p.add_argument("--chains", type=int, help="independent chains (default: 16 CPU, 512 CUDA)")
    p.add_argument("--thin", type=int, help="sweeps between saved samples (default: ceil(2 tau))")
    p.add_argument(
        "--thermalization", type=int, help="warm-up sweeps (default: automatic, >= 20 tau)"
    )
    p.add_argument("--out", help="output file, must end in .npz (required)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    add_quiet(p, "no progress bars and no summary")
    return p


@dataclass(frozen=True)
class _Plan:
    model: IsingModel
    algorithm: str
    device: str
    seed: int
    seed_drawn: bool
    out: Path


def _require(args: argparse.Namespace, name: str, flag: str) -> Any:
    value = getattr(args, name, None)
    if value is None:
        raise UsageError(f"{flag} is required")
    return value


def _check_output(out: str, force: bool) -> Path:
    if not out.endswith(".npz"):
        raise UsageError(f"--out must end in .npz, got {out!r} (e.g. --out {out}.npz)")
    path = Path(out)
    if path.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name ending in .npz")
    if path.exists() and not force:
        raise UsageError(f"{out} already exists; pass --force to overwrite or choose another --out")
    check_output_folder(path.parent)
    return path


#: bytes per site and chain of the chains' state (int8 spins and a float64 random number),
#: and per site of the lattice tables (int64 neighbours, or 2 x 2 transfer matrices): a
#: lower bound, so that no request that fits is refused
_BYTES_PER_CHAIN_SITE = 9
_BYTES_PER_SITE = 32


def _available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), if known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.0f} MiB"


def _check_memory(
    lattice: str, size: int, samples: int, chains: int | None, algorithm: str, device: str
) -> None:
    """Refuse, before allocating anything, a request that cannot fit in memory.

    The dataset holds ``samples x sites`` int8 spins, and is copied once when returned.
    """
    from ..ising.dataset import default_chains

    sites = size if lattice == "1d" else size * size
    specs = specs_for(algorithm)
    caps = specs[0].capabilities if specs else None
    # "auto" may mean CUDA: assume its (larger) default, as this is a lower bound
    n_chains = min(chains or default_chains(caps, "cpu" if device == "cpu" else "cuda"), samples)
    need = 2 * samples * sites + sites * (n_chains * _BYTES_PER_CHAIN_SITE + _BYTES_PER_SITE)
    have = _available_memory()
    if have is not None and need > have:
        raise UsageError(
            f"{samples:,} samples of {sites:,} spins (--size {size}, {lattice}) with "
            f"{n_chains} chains need at least {_gib(need)} of memory, more than the "
            f"{_gib(have)} available: use a smaller --size, fewer --samples or --chains"
        )


def _plan(args: argparse.Namespace) -> _Plan:
    """Validate every argument (no sampling); raise UsageError/ValueError with a fix."""
    lattice = _require(args, "lattice", "--lattice {1d,2d}")
    size = _require(args, "size", "--size")
    if size < 2:
        raise UsageError(f"--size must be at least 2, got {size}")
    if args.K is not None and args.T is not None:
        raise UsageError("give only one of --K (coupling) and --T (temperature, K = 1/T)")
    if args.K is None and args.T is None:
        raise UsageError("give the coupling --K or the temperature --T")
    if args.T is not None and not (math.isfinite(args.T) and args.T > 0):
        raise UsageError(f"--T must be a positive temperature, got {args.T}")
    if args.K is not None and not math.isfinite(args.K):
        raise UsageError(f"--K must be a finite number, got {args.K}")
    if not math.isfinite(args.field):
        raise UsageError(f"--field must be a finite number, got {args.field}")
    samples = _require(args, "samples", "--samples")
    if samples < 1:
        raise UsageError(f"--samples must be a positive number of samples, got {samples}")
    for flag, value, minimum in (
        ("--chains", args.chains, 1),
        ("--thin", args.thin, 1),
        ("--thermalization", args.thermalization, 0),
        ("--seed", args.seed, 0),
    ):
        if value is not None and value < minimum:
            raise UsageError(f"{flag} must be >= {minimum}, got {value}")
    out = _check_output(_require(args, "out", "--out PATH.npz"), args.force)
    algorithm = args.algorithm
    if algorithm is None:
        algorithm = "exact" if lattice == "1d" else ("wolff" if args.field == 0 else "metropolis")
    _check_memory(lattice, size, samples, args.chains, algorithm, args.device)

    with user_input():  # the model, sampler and device as the library checks them
        lat, K = make_lattice(lattice, size), coupling_from(K=args.K, T=args.T)
        model = IsingModel(lat, K, args.field)
        spec, device = select_spec(algorithm, model, device=args.device)
        spec.build(model, device=device)  # any remaining incompatibility, up front

    seed, drawn = args.seed, False
    if seed is None:
        from ..ising.dataset import checkpoint_path, checkpoint_seed

        seed = checkpoint_seed(checkpoint_path(out))
        if seed is None:
            seed, drawn = fresh_seed(), True
    return _Plan(model, algorithm, device, int(seed), drawn, out)


def _fmt(x: Any, spec: str = ".3g") -> str:
    return "n/a" if x is None else format(x, spec)


def run(args: argparse.Namespace) -> int:
    """Run ``kadanoff sample``; returns the exit code."""
    plan = _plan(args)
    from ..ising.dataset import checkpoint_path, generate_dataset, save_dataset

    ds = generate_dataset(
        plan.model,
        args.samples,
        algorithm=plan.algorithm,
        seed=plan.seed,
        device=plan.device,
        n_chains=args.chains,
        thermalization=args.thermalization,
        thin=args.thin,
        progress=not args.quiet,
        checkpoint=checkpoint_path(plan.out),
    )
    ds.meta["seed_drawn_at_random"] = plan.seed_drawn
    save_dataset(ds, plan.out)
    if not args.quiet:
        m = ds.meta
        if m["mean_cluster_size"] is not None:
            work = f"mean cluster size {m['mean_cluster_size']:.1f}"
        elif m["acceptance"] is not None:
            work = f"acceptance {m['acceptance']:.3f}"
        else:
            work = "independent draws"
        print(
            f"wrote {plan.out}: spins {ds.spins.shape} int8 | {m['algorithm']} on {m['device']}, "
            f"seed {m['seed']} | tau_E {_fmt(m['tau_energy'])}, "
            f"tau_|m| {_fmt(m['tau_abs_magnetization'])} sweeps, thinning {m['thinning']}, "
            f"thermalization {m['thermalization']} | effective samples "
            f"{_fmt(m['effective_sample_size'], '.0f')} | {work} | "
            f"{m['elapsed_seconds']:.1f} s"
        )
    return 0
