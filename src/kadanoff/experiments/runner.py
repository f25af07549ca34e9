"""Run the experiments, cache them by config hash, and write the report.

``reproduce(preset, out)`` runs every experiment (or ``only`` some), skipping those whose folder
already holds finished results for the same config, then draws the figures from the saved results
and writes ``report.html`` and ``metrics.json`` in ``out``. ``metrics.json`` is strict JSON
(:func:`kadanoff.io.to_json`): a number with no finite value (NaN, inf) is written as ``null``,
and the report shows it as "n/a".
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io import environment_info, strict_json, write_json
from . import EXPERIMENTS
from .base import Claim, Experiment, is_done, load_metrics, mark_done
from .registry import get_experiment
from .report import Section, build_report

__all__ = ["reproduce", "load_experiment"]

INTRO = (
    "kadanoff reproduces P. Mehta and D. J. Schwab, 'An exact mapping between the Variational "
    "Renormalization Group and Deep Learning' (arXiv:1410.3831): the 1D decimation example "
    "(Fig. 2) exactly, and the 2D Ising deep-belief-network experiment (Fig. 3) with the "
    "quantification the paper lacks. The table lists each claim, how it is checked here and the "
    "result; the sections below show the figures, the numbers and a short reading."
)


def load_experiment(name: str) -> Experiment:
    """The registered experiment ``name`` (:func:`kadanoff.experiments.get_experiment`)."""
    return get_experiment(name)


def reproduce(
    preset: str = "quick",
    out: str | Path = "runs/quick",
    *,
    device: str = "cpu",
    seed: int | None = None,
    only: Sequence[str] | None = None,
    progress: bool = True,
    force: bool = False,
    configs: dict[str, Any] | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Run the experiments of ``preset`` into ``out``; return the combined metrics.

    ``configs`` maps an experiment name to a config that replaces its preset (e.g. for tests).
    """
    out = Path(out)
    names = list(only) if only else list(EXPERIMENTS)
    experiments = [load_experiment(n) for n in names]
    for exp in experiments:
        if preset not in exp.presets and exp.name not in (configs or {}):
            raise ValueError(
                f"unknown preset {preset!r} for {exp.name}: choose from {', '.join(exp.presets)}"
            )
    out.mkdir(parents=True, exist_ok=True)
    claims: list[Claim] = []
    verdicts: list[dict[str, Any]] = []
    sections: list[Section] = []
    all_metrics: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for exp in experiments:
        config = (configs or {}).get(exp.name) or exp.presets[preset]
        if seed is not None:  # the seed is part of the config (and of its hash)
            config = dataclasses.replace(config, seed=seed)
        folder = out / exp.name
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        if is_done(folder, exp.name, config) and not force:
            log(f"[{exp.name}] cached results for this config in {folder}")
            metrics = load_metrics(folder)
        else:
            log(f"[{exp.name}] {exp.title}")
            raw = exp.run(config, folder, seed=config.seed, device=device, progress=progress)
            # as metrics.json will hold them (NaN -> null), so a rerun from cache is the same
            metrics = strict_json(raw)
            mark_done(folder, exp.name, config, metrics, seconds=time.perf_counter() - t0)
        sections.append(exp.section(folder, metrics, config))
        timings[exp.name] = time.perf_counter() - t0
        all_metrics[exp.name] = metrics
        rep = exp.report(metrics)
        claims += rep.claims
        verdicts += [{"experiment": exp.name, **dataclasses.asdict(v)} for v in rep.verdicts]
    info = {
        "preset": preset,
        "device": device,
        "seed": seed,
        "experiments": names,
        "seconds": timings,
        "environment": environment_info(),
    }
    combined = {
        "claims": [dataclasses.asdict(c) for c in claims],
        "verdicts": verdicts,
        **all_metrics,
        "run": info,
    }
    write_json(out / "metrics.json", combined)
    build_report(
        out / "report.html",
        title="kadanoff: the exact mapping between variational RG and deep learning, reproduced",
        intro=INTRO,
        claims=claims,
        sections=sections,
        info=info,
    )
    return combined
