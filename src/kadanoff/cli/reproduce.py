"""``kadanoff reproduce``: the paper's experiments in one command, with an HTML report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import UsageError, check_output_folder


def add_parser(subparsers) -> None:
    from ..experiments import experiment_names, get_experiment

    names = experiment_names()
    presets = sorted({p for n in names for p in get_experiment(n).presets})
    p = subparsers.add_parser(
        "reproduce",
        help="reproduce the paper's Fig. 2 (1D), Fig. 3 (2D) and the measured RG, with a report",
        description="Reproduce Mehta & Schwab's experiments; writes report.html, metrics.json "
        "and figures into --out. Finished experiments are cached by config. metrics.json is "
        "strict JSON: a number with no finite value (NaN, inf) is written as null.",
    )
    p.add_argument(
        "--preset",
        default="quick",
        choices=presets,
        help="quick (minutes on a laptop; default) or paper (the paper's sizes)",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    p.add_argument("--out", default=None, help="output folder (default runs/<preset>)")
    p.add_argument("--seed", type=int, default=None, help="override the presets' seeds")
    p.add_argument(
        "--only",
        action="append",
        default=None,
        metavar="EXPERIMENT",
        choices=names,
        help=f"run only this experiment ({', '.join(names)}); repeatable",
    )
    p.add_argument("--force", action="store_true", help="recompute even if cached")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ..experiments.runner import reproduce

    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    device = args.device
    if device not in ("cpu", "cuda", "auto"):
        raise UsageError(f"--device must be cpu, cuda or auto, got {device!r}")
    if device != "cpu":
        import torch

        if device == "cuda" and not torch.cuda.is_available():
            raise UsageError("--device cuda, but no CUDA device is available: use --device cpu")
        device = "cuda" if torch.cuda.is_available() else "cpu"
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
        progress=not args.quiet and sys.stderr.isatty(),
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
    print()
    print(
        f"report: {out / 'report.html'}   metrics: {out / 'metrics.json'}   "
        f"({time.perf_counter() - t0:.0f} s)"
    )
    return 0
