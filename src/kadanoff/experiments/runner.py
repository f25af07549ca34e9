"""Run the experiments, cache them by config hash, and write the report.

``reproduce(preset, out)`` runs every experiment (or ``only`` some), skipping those whose folder
already holds finished results for the same config, then draws the figures from the saved results
and writes ``report.html`` and ``metrics.json`` in ``out``. ``metrics.json`` is strict JSON
(:func:`kadanoff.io.to_json`): a number with no finite value (NaN, inf) is written as ``null``,
and the report shows it as "n/a".
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io import environment_info, strict_json, write_json
from . import EXPERIMENTS
from .base import Claim, config_dict, is_done, load_metrics, mark_done
from .report import Section, Table, build_report

__all__ = ["reproduce", "load_experiment"]

INTRO = (
    "kadanoff reproduces P. Mehta and D. J. Schwab, 'An exact mapping between the Variational "
    "Renormalization Group and Deep Learning' (arXiv:1410.3831): the 1D decimation example "
    "(Fig. 2) exactly, and the 2D Ising deep-belief-network experiment (Fig. 3) with the "
    "quantification the paper lacks. The table lists each claim, how it is checked here and the "
    "result; the sections below show the figures, the numbers and a short reading."
)


def load_experiment(name: str) -> Any:
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}: choose from {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"kadanoff.experiments.{name}")


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
    modules = [load_experiment(n) for n in names]
    for mod in modules:
        if preset not in mod.PRESETS and mod.NAME not in (configs or {}):
            raise ValueError(
                f"unknown preset {preset!r} for {mod.NAME}: choose from {', '.join(mod.PRESETS)}"
            )
    out.mkdir(parents=True, exist_ok=True)
    claims: list[Claim] = []
    sections: list[Section] = []
    all_metrics: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for mod in modules:
        config = (configs or {}).get(mod.NAME) or mod.PRESETS[preset]
        if seed is not None:
            config = dataclasses.replace(config, seed=seed)
        folder = out / mod.NAME
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        if is_done(folder, mod.NAME, config) and not force:
            log(f"[{mod.NAME}] cached results for this config in {folder}")
            metrics = load_metrics(folder)
        else:
            log(f"[{mod.NAME}] {mod.TITLE}")
            # as metrics.json will hold them (NaN -> null), so a rerun from cache is the same
            metrics = strict_json(mod.run(config, folder, device=device, progress=progress))
            mark_done(folder, mod.NAME, config, metrics, seconds=time.perf_counter() - t0)
        figures = mod.plot(folder)
        timings[mod.NAME] = time.perf_counter() - t0
        all_metrics[mod.NAME] = metrics
        claims += mod.claims(metrics)
        sections.append(
            Section(
                title=mod.TITLE,
                paragraphs=mod.reading(metrics),
                figures=figures,
                tables=[Table(c, h, r) for c, h, r in mod.tables(metrics)],
                config=config_dict(config),
            )
        )
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
