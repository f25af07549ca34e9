"""``kadanoff sweep``: scan any experiment's config keys on a local or remote Dask cluster."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import UsageError, check_output_folder
from ._common import (
    add_command,
    add_device_option,
    add_quiet,
    add_repeatable,
    check_choice,
    log_to_stderr,
    resolve_device,
    show_progress,
    user_input,
)

if TYPE_CHECKING:
    from ..sweep.grid import Sweep

#: library parameter names -> the flags that set them, in the library's messages
_FLAGS = {"workers": "--workers", "threads": "--threads", "scheduler": "--scheduler"}

EPILOG = """\
values: a comma list (seed=1,2,3), a range start:stop:num with both ends (K=0.38:0.46:9,
l1=1e-4:1e-2:5:log), a list per tuple key (hidden=[64,16,4],[16,4]); one value fixes a key.
A sweep file (TOML or JSON) holds experiment, preset and a [set] table of the same values;
--set on the command line adds to or replaces its keys.

examples:
  kadanoff sweep fig3 --set K=0.30:0.50:11 --set seed=1,2,3 --out runs/scan
  kadanoff sweep --file scan.toml --scheduler tcp://10.0.0.1:8786 --out /shared/scan
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``sweep`` on the dispatcher's subparsers."""
    p = add_command(
        subparsers,
        "sweep",
        help="scan experiment settings on a Dask cluster (resumable, with a report)",
        description="Run every combination of the given config values of an experiment, one "
        "Dask task per point, on a local cluster (default) or an existing scheduler. Points are "
        "stored by the hash of their config: rerunning resumes, and shared points are computed "
        "once. Writes sweep.html and sweep.json into --out.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("experiment", nargs="?", help="a registered experiment (e.g. fig3)")
    add_repeatable(p, "--set", "KEY=VALUES", "values of one config key", dest="sets")
    p.add_argument("--file", type=Path, help="a TOML or JSON sweep file")
    p.add_argument(
        "--preset", default=None, help="base config, a preset of the experiment (default quick)"
    )
    p.add_argument("--out", type=Path, help="folder for sweep.html and sweep.json (required)")
    p.add_argument(
        "--store", type=Path, default=None, help="folder of the points (default OUT/points)"
    )
    p.add_argument(
        "--workers", type=int, default=None, help="local worker processes (default: cores)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="compute threads per point (default cores // workers; 1 with --scheduler)",
    )
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="existing Dask scheduler")
    add_device_option(p, "where each point computes (auto: cuda if this machine has it)")
    add_repeatable(
        p,
        "--metric",
        "PATTERN",
        "metric to plot, a glob on dotted names (e.g. 'receptive_fields.l1.*')",
    )
    p.add_argument("--dry-run", action="store_true", help="list the points and stop")
    add_quiet(p, "no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    from ..sweep.engine import check_options
    from ..sweep.grid import build_sweep, format_params, load_sweep_file, parse_set

    with user_input():  # an unreadable sweep file
        spec = load_sweep_file(args.file) if args.file else {}
    experiment = args.experiment or spec.get("experiment")
    if not experiment:
        raise UsageError("name the experiment (e.g. kadanoff sweep fig3 ...) or give --file")
    if spec.get("experiment") and args.experiment and spec["experiment"] != args.experiment:
        raise UsageError(
            f"{args.file} sweeps {spec['experiment']!r} but the command names {args.experiment!r}"
        )
    with user_input(_FLAGS):
        check_options(workers=args.workers, threads=args.threads, scheduler=args.scheduler)
    device = _device(args)
    with user_input():  # unknown keys, values that do not fit, points that are no config
        values = dict(spec.get("set", {})) | parse_set(args.sets)
        preset = args.preset or spec.get("preset")
        sweep = build_sweep(experiment, values, **({"preset": preset} if preset else {}))
        points = sweep.points()
    if args.out is None and not args.dry_run:
        raise UsageError("give --out DIR, the folder for sweep.html, sweep.json and the points")
    if args.dry_run:
        for p in points:
            print(f"{p.key}  {format_params(p.params)}")
        print(f"{len(points)} points")
        return 0
    check_output_folder(args.out)
    return _run(sweep, args, device)


def _device(args: argparse.Namespace) -> str:
    """``--device`` checked against this machine, or only by name for a ``--scheduler``'s
    workers (whose devices this machine cannot see)."""
    if not args.scheduler:
        return resolve_device(args.device)
    from ..ising.samplers import DEVICES

    if check_choice(args.device, DEVICES, "--device") == "auto":
        raise UsageError(
            "--device auto would be decided on this machine, not on the scheduler's workers: "
            "give --device cpu or --device cuda"
        )
    return args.device


def _run(sweep: Sweep, args: argparse.Namespace, device: str) -> int:
    from ..sweep.engine import DaskMissing, SchedulerUnreachable, require_dask, run_sweep
    from ..sweep.grid import format_params

    try:
        require_dask()
    except DaskMissing as e:
        raise UsageError(str(e)) from None
    t0 = time.perf_counter()
    try:
        doc = run_sweep(
            sweep,
            args.out,
            store=args.store,
            workers=args.workers,
            scheduler=args.scheduler,
            threads=args.threads,
            device=device,
            metrics=args.metric,
            progress=show_progress(args),
            log=log_to_stderr,
        )
    except SchedulerUnreachable as e:
        raise UsageError(str(e)) from None
    c = doc["counts"]
    for pt in doc["points"]:
        if pt["status"] == "failed":
            log_to_stderr(f"failed: {format_params(pt['params'])}: {pt['error']}")
    print(
        f"{doc['n_points']} points: {c['done']} computed, {c['cached']} already done, "
        f"{c['failed']} failed ({time.perf_counter() - t0:.0f} s)\n"
        f"report: {args.out / 'sweep.html'}   data: {args.out / 'sweep.json'}"
    )
    return 1 if c["failed"] else 0
