"""``kadanoff rg``: Monte Carlo RG exponents and renormalized couplings (theory.md 7).

Examples::

    kadanoff rg exponents --size 128 --K critical --rule majority --b 2 --levels 4 \\
        --samples 1000000 --seed 1 --out runs/mcrg128
    kadanoff rg couplings --data data/ising64.npz --rule majority --b 2 --levels 3 \\
        --out runs/couplings64

Each prints its tables with error bars and writes one JSON file per table (keys naming the
quantity: ``y_t``, ``y_t_error``, ``K_nn``, ``K_nn_error``, ...), ``run.json`` (settings, seed,
timings, versions) and figures into ``--out``. Bad input prints one line and exits with code 2.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from . import UsageError
from ._common import (
    LazyChoices,
    add_command,
    add_device_option,
    add_quiet,
    check_choice,
    help_values,
    show_progress,
    user_input,
)

__all__ = ["add_parser", "run"]


def _rules() -> tuple[str, ...]:
    from ..rg.coarse_graining import RULES

    return RULES


def _samplers() -> tuple[str, ...]:
    from ..rg.mcrg import SAMPLERS

    return SAMPLERS


def _operators() -> tuple[str, ...]:
    from ..rg.mcrg_operators import BASIS

    return tuple(op.name for op in BASIS)


def _default_couplings() -> tuple[str, ...]:
    from ..rg.mcrg_couplings import DEFAULT_COUPLINGS

    return DEFAULT_COUPLINGS


#: the library's names, read when checked or shown (the modules import Numba)
_RULES = LazyChoices(_rules)
_SAMPLERS = LazyChoices(_samplers)
_OPERATORS = LazyChoices(_operators)
_DEFAULT_COUPLINGS = LazyChoices(_default_couplings)


def _add_rule(p: argparse.ArgumentParser) -> None:
    rule = p.add_argument(
        "--rule", default="majority", help="coarse-graining rule: %(names)s (default %(default)s)"
    )
    help_values(rule, names=_RULES)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``rg exponents`` and ``rg couplings`` (imports nothing heavy: --help stays fast)."""
    p = add_command(
        subparsers,
        "rg",
        help="Monte Carlo RG: critical exponents and renormalized couplings",
        description="Monte Carlo renormalization group (Swendsen 1979) for block-spin rules.",
    )
    sub = p.add_subparsers(dest="rg_command", metavar="{exponents,couplings}")
    e = add_command(
        sub,
        "exponents",
        under="kadanoff rg",
        help="y_t and y_h from the linearized RG matrix T = G^-1 F",
        description="Sample the 2D Ising model with a cluster algorithm, coarse-grain every "
        "configuration level by level, and print the y_t / y_h tables by level and number of "
        "operators with jackknife errors.",
    )
    e.add_argument("--size", type=int, default=64, help="L of the L x L torus (default 64)")
    e.add_argument("--K", default="critical", help="coupling, or 'critical' (default)")
    _add_rule(e)
    e.add_argument("--b", type=int, default=2, help="scale factor (default 2)")
    e.add_argument("--levels", type=int, default=3, help="RG steps (default 3)")
    e.add_argument("--samples", type=int, default=20_000, help="measured configurations")
    ops = e.add_argument("--operators", help="comma-separated, of %(names)s (default: all)")
    help_values(ops, names=_OPERATORS)
    sampler = e.add_argument(
        "--sampler", default="wolff", help="cluster sampler: %(names)s (default %(default)s)"
    )
    help_values(sampler, names=_SAMPLERS)
    e.add_argument("--chains", type=int, default=2, help="independent chains (default 2)")
    e.add_argument("--blocks", type=int, default=50, help="jackknife blocks (default 50)")
    e.add_argument("--seed", type=int, help="root seed (default: drawn and recorded)")
    add_device_option(e, "the cluster samplers and MCRG kernels run on the CPU only")
    e.add_argument("--out", required=True, help="output folder")
    add_quiet(e, "no progress bar")
    c = add_command(
        sub,
        "couplings",
        under="kadanoff rg",
        help="renormalized couplings of a dataset's coarse levels (pseudo-likelihood)",
        description="Coarse-grain the configurations of a kadanoff dataset (kadanoff sample) "
        "level by level and estimate the couplings of each level by pseudo-likelihood.",
    )
    c.add_argument("--data", required=True, help="dataset .npz written by kadanoff sample")
    _add_rule(c)
    c.add_argument("--b", type=int, default=2, help="scale factor (default 2)")
    c.add_argument("--levels", type=int, default=2, help="RG steps (default 2)")
    couplings = c.add_argument(
        "--couplings", help="comma-separated names to fit (default %(names)s)"
    )
    help_values(couplings, names=_DEFAULT_COUPLINGS)
    c.add_argument("--blocks", type=int, default=50, help="blocks for the error bars")
    c.add_argument("--seed", type=int, help="seed of the random tie-breaks (default: drawn)")
    c.add_argument("--out", required=True, help="output folder")
    return p


def _coupling(text: str) -> float:
    from ..ising.model import K_CRITICAL

    if text.strip().lower() in ("critical", "kc", "k_c"):
        return K_CRITICAL  # decided on the input, never by rounding an output
    try:
        K = float(text)
    except ValueError:
        raise UsageError(f"--K must be a number or 'critical', got {text!r}") from None
    if not math.isfinite(K) or K < 0:
        raise UsageError(f"--K must be a finite coupling >= 0 (ferromagnet), got {text!r}")
    return K


def _levels_check(L: int, b: int, levels: int) -> None:
    if b < 2:
        raise UsageError(f"--b must be at least 2, got {b}")
    if levels < 1:
        raise UsageError(f"--levels must be at least 1, got {levels}")
    if L < 2:
        raise UsageError(f"--size must be at least 2, got {L}")
    if L // b**levels < 2:
        raise UsageError(
            f"{levels} levels of b = {b} go beyond the {L} x {L} lattice (coarse side "
            f"{L / b**levels:g} < 2): use fewer --levels or a larger --size"
        )
    if L % b**levels:
        raise UsageError(
            f"--size {L} is not divisible by b^levels = {b**levels}: use a multiple of it"
        )


def _out(path: str) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder: choose another path")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _fmt(y: float, e: float) -> str:
    from ..experiments.rg_plots import value_error

    return value_error(y, e)


def _print_table(t: dict[str, Any]) -> None:
    q = t["quantity"]
    print(f"\n{q} (exact {t['exact']:g}), b = {t['b']}; columns: first k operators of")
    print("  " + ", ".join(t["operators"]))
    head = f"{'step':>5} {'side':>5} " + " ".join(f"{k:>15d}" for k in range(1, len(t[q][0]) + 1))
    print(head)
    for lv, side, flag, row, err in zip(
        t["levels"], t["coarse_sides"], t["flagged_small_lattice"], t[q], t[f"{q}_error"],
        strict=True,
    ):  # fmt: skip
        mark = "*" if flag else " "
        cells = " ".join(f"{_fmt(y, e):>15}" for y, e in zip(row, err, strict=True))
        print(f"{lv:>5} {side:>4}{mark} {cells}")
    if any(t["flagged_small_lattice"]):
        print("  * coarse lattice smaller than 8 x 8: unreliable (finite size)")


def _exponents(args: argparse.Namespace) -> int:
    from .._rng import fresh_seed
    from ..experiments.rg_plots import plot_exponents
    from ..io import environment_info, write_json
    from ..rg.coarse_graining import Compose
    from ..rg.mcrg import exponents, measure
    from ..rg.mcrg_operators import OperatorSet

    check_choice(args.rule, _RULES, "--rule")
    # measure() checks its sampler too, but only once it is running
    check_choice(args.sampler, _SAMPLERS, "--sampler")
    from ..ising.samplers import DEVICES

    if check_choice(args.device, DEVICES, "--device") == "cuda":
        raise UsageError(
            f"--device {args.device}: the cluster samplers and MCRG kernels run on the CPU "
            "only; use --device cpu"
        )
    _levels_check(args.size, args.b, args.levels)
    K = _coupling(args.K)
    with user_input():  # unknown operator names
        ops = OperatorSet(args.operators.split(",") if args.operators else None)
    if args.samples < 1 or args.chains < 1 or args.blocks < 2:
        raise UsageError("--samples and --chains must be >= 1 and --blocks >= 2")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    seed = fresh_seed() if args.seed is None else args.seed
    out = _out(args.out)
    rule = Compose.repeated(args.rule, args.size, args.b, args.levels)
    t0 = time.perf_counter()
    res = measure(args.size, K, rule, args.samples, seed=seed, operators=ops,
                  sampler=args.sampler, n_chains=args.chains,
                  progress=show_progress(args))  # fmt: skip
    even_odd = []
    for parity in ("even", "odd"):
        if parity in ops.parities:
            with user_input():  # too few samples for the operators, levels or blocks asked for
                even_odd.append(exponents(res, n_blocks=args.blocks, sectors=(parity,))[0])
    elapsed = time.perf_counter() - t0
    tau = res.moments.autocorrelation()
    block_len = res.moments.n_configs / args.blocks
    tables = [t.to_dict() for t in even_odd]
    for t in tables:
        write_json(out / f"{t['quantity']}.json", t)
        _print_table(t)
    info = {
        "command": "kadanoff rg exponents",
        "args": {k: v for k, v in vars(args).items() if not k.startswith("_")},
        "seed": seed,
        **res.meta,
        "measured_configs": res.moments.n_configs,
        "tau_integrated_nn_absfield_by_level": tau.tolist(),
        "jackknife_blocks": args.blocks,
        "block_length_configs": block_len,
        "sampling_seconds": res.sampling_seconds,
        "measurement_seconds": res.measurement_seconds,
        "total_seconds": elapsed,
        "environment": environment_info(),
    }
    write_json(out / "run.json", info)
    plot_exponents(tables, out / "exponents.png")
    print(
        f"\n{res.moments.n_configs} configurations in {elapsed:.1f} s (sampling "
        f"{res.sampling_seconds:.1f} s, measurement {res.measurement_seconds:.1f} s); "
        f"max tau = {tau.max():.2f} configurations, jackknife blocks of {block_len:.0f}"
    )
    print(f"tables: {', '.join(str(out / (t['quantity'] + '.json')) for t in tables)}")
    return 0


def _couplings(args: argparse.Namespace) -> int:
    from .._rng import fresh_seed
    from ..experiments.rg_plots import plot_level_couplings
    from ..io import environment_info, write_json
    from ..ising.dataset import load_dataset
    from ..rg.coarse_graining import Compose
    from ..rg.mcrg_couplings import CouplingBasis, fit_couplings

    check_choice(args.rule, _RULES, "--rule")
    with user_input():  # not a kadanoff dataset
        data = load_dataset(args.data)
    spins = data.spins
    if spins.ndim != 3 or spins.shape[1] != spins.shape[2]:
        raise UsageError(f"--data must hold 2D L x L configurations, got shape {spins.shape}")
    L = spins.shape[1]
    _levels_check(L, args.b, args.levels)
    if args.couplings is None:
        names = list(_DEFAULT_COUPLINGS)
    else:
        names = [x.strip() for x in args.couplings.split(",") if x.strip()]
    with user_input():  # unknown coupling names, or ones the data's lattice cannot carry
        CouplingBasis.square(L, names)
    if args.blocks < 2 or args.blocks > len(spins):
        raise UsageError(f"--blocks must be in [2, {len(spins)}] (the number of samples)")
    seed = fresh_seed() if args.seed is None else args.seed
    out = _out(args.out)
    levels = Compose.repeated(args.rule, L, args.b, args.levels).levels(spins, seed=seed)
    result: dict[str, Any] = {"couplings": names, "levels": [], "coarse_sides": []}
    for name in names:
        result[f"K_{name}"], result[f"K_{name}_error"] = [], []
    print(f"{'level':>5} {'side':>5} " + " ".join(f"{'K_' + n:>17}" for n in names))
    for n, x in enumerate(levels):
        side = x.shape[1]
        try:
            basis = CouplingBasis.square(side, names) if side >= 2 else None
            fit = fit_couplings(x, basis, n_blocks=args.blocks) if basis else None
        except ValueError as e:  # the data cannot be fitted: fatal for the data themselves
            if n == 0:
                raise UsageError(f"the data of --data: {e}") from None
            print(f"{n:>5} {side:>5}  no estimate: {e}")
            fit = None
        result["levels"].append(n)
        result["coarse_sides"].append(side)
        for a, name in enumerate(names):
            result[f"K_{name}"].append(None if fit is None else float(fit.couplings[a]))
            result[f"K_{name}_error"].append(None if fit is None else float(fit.errors[a]))
        if fit is not None:
            cells = " ".join(
                f"{_fmt(k, e):>17}" for k, e in zip(fit.couplings, fit.errors, strict=True)
            )
            print(f"{n:>5} {side:>5} {cells}")
    write_json(out / "couplings.json", result)
    write_json(
        out / "run.json",
        {
            "command": "kadanoff rg couplings",
            "data": str(args.data),
            "data_meta": {k: data.meta.get(k) for k in ("lattice", "size", "K", "n_samples")},
            "rule": args.rule,
            "b": args.b,
            "levels": args.levels,
            "seed": seed,
            "n_samples": int(len(spins)),
            "blocks": args.blocks,
            "environment": environment_info(),
        },
    )
    plot_level_couplings(result, out / "couplings.png")
    print(f"\ncouplings: {out / 'couplings.json'}  (H = c - sum_a K_a S_a; seed {seed})")
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch ``rg exponents`` / ``rg couplings``."""
    if args.rg_command == "exponents":
        return _exponents(args)
    if args.rg_command == "couplings":
        return _couplings(args)
    raise UsageError("choose a subcommand: kadanoff rg exponents | kadanoff rg couplings")
