"""``kadanoff reproduce``: the paper's experiments in one command, with an HTML report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from . import UsageError, check_output_folder
from ._common import (
    LazyChoices,
    add_command,
    add_device_option,
    add_quiet,
    add_repeatable,
    resolve_device,
    show_progress,
)


def _experiments() -> tuple[str, ...]:
    from ..experiments import experiment_names

    return experiment_names()


def _presets() -> tuple[str, ...]:
    from ..experiments import get_experiment

    return tuple(sorted({p for n in _experiments() for p in get_experiment(n).presets}))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``reproduce`` on the dispatcher's subparsers (choices from the registry)."""
    p = add_command(
        subparsers,
        "reproduce",
        help="reproduce the paper's Fig. 2 (1D), Fig. 3 (2D), the measured RG and 'Does the "
        "network do RG?', with a report",
        description="Reproduce Mehta & Schwab's experiments; writes report.html, metrics.json "
        "and figures into --out. Finished experiments are cached by config. metrics.json is "
        "strict JSON: a number with no finite value (NaN, inf) is written as null.",
    )
    p.add_argument(
        "--preset",
        default="quick",
        choices=LazyChoices(_presets),
        help="quick (minutes on a laptop; default) or paper (the paper's sizes)",
    )
    add_device_option(p, "where training runs (and sampling, where the sampler runs there)")
    p.add_argument("--out", default=None, help="output folder (default runs/<preset>)")
    p.add_argument("--seed", type=int, default=None, help="override the presets' seeds")
    add_repeatable(
        p,
        "--only",
        "EXPERIMENT",
        "run only this registered experiment (%(choices)s)",
        choices=LazyChoices(_experiments),
    )
    p.add_argument("--force", action="store_true", help="recompute even if cached")
    add_quiet(p)
    return p


def run(args: argparse.Namespace) -> int:
    from ..experiments.runner import reproduce

    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    device = resolve_device(args.device)
    out = Path(args.out or f"runs/{args.preset}")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder: choose another path")
    check_output_folder(out)
    t0 = time.perf_counter()
    metrics = reproduce(
        args.preset,
        out,
        device=device,
        seed=args.seed,
        only=args.only,
        progress=show_progress(args),
        force=args.force,
    )
    print()
    print(f"{'claim':<70} {'verdict':>14}")
    print("-" * 85)
    for c in metrics["claims"]:
        verdict = {True: "holds", False: "DOES NOT HOLD", None: "measured"}[c["holds"]]
        text = c["claim"] if len(c["claim"]) <= 68 else c["claim"][:65] + "..."
        print(f"{text:<70} {verdict:>14}")
        print(f"    {c['result']}")
    if metrics.get("verdicts"):
        print()
        print(f"{'beyond the paper (learned rule vs block spins)':<70} {'verdict':>14}")
        print("-" * 85)
        for c in metrics["verdicts"]:
            text = f"[{c['source']}] {c['claim']}"
            text = text if len(text) <= 68 else text[:65] + "..."
            print(f"{text:<70} {c['verdict']:>14}")
            print(f"    {c['result']}")
    print()
    print(
        f"report: {out / 'report.html'}   metrics: {out / 'metrics.json'}   "
        f"({time.perf_counter() - t0:.0f} s)"
    )
    return 0
