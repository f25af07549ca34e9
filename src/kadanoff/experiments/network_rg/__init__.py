"""Does the network do RG? (issue 11): learned coarse-grainings measured like block spins.

The experiment ``network_rg`` runs its *parts*, the driver modules listed in :data:`PARTS`,
each in its own subfolder with its own seed, and gathers them into one report section: a claims
table (claim, how checked, result, verdict) over all parts, then each part's figures and reading.
``metrics.json`` carries ``network_rg.<part>.<key>``.

A part module defines exactly:

- ``QUICK`` and ``PAPER``: frozen dataclass configs (the quick one computes in seconds);
- ``compute(config, folder, *, seed, device="cpu", progress=False) -> dict``: writes its
  arrays/JSON into ``folder`` and returns JSON-able metrics;
- ``plot(folder) -> list[Path]``: PNGs from the saved files only;
- ``claims(metrics) -> list[dict]`` with keys ``claim``, ``how``, ``result`` and ``verdict``
  (one of :data:`VERDICTS`);
- ``reading(metrics) -> str``: a plain-language paragraph;
- optionally ``summary(metrics) -> dict``: rows for the cross-part summary (exponents beside
  majority rule, couplings per level, KL per level, tables, figures; keys documented in
  :mod:`.summary`). A part without it is listed as skipped in the summary's reading.

The summary (:func:`.summary.collect`) is saved as ``summary.json`` and carried in the metrics
under ``network_rg.summary``; the section opens with it: the exponents table, the KL-per-layer
table, the parts' own summary tables, the coupling-flow figure (:mod:`.summary_plots`: every
rule's renormalized couplings per level, network and block-spin flows on one plot) and the
figures the parts name (e.g. the RBM flow).

An entry of :data:`PARTS` is a module name, relative to this package (``"mi"``) or absolute.
A part's seed is an int drawn from the stream spawned for its name (:func:`part_seed`), so it
does not change when parts are added, removed or reordered.
"""

from __future__ import annotations

import importlib
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ...io import strict_json, write_json
from ..base import (
    Experiment,
    Figure,
    Report,
    Verdict,
    config_dict,
    is_done,
    load_metrics,
    mark_done,
)
from ..registry import register_experiment
from ..report import Section, Table

__all__ = ["PARTS", "SUMMARY", "VERDICTS", "Config", "NetworkRG", "load_part", "part_seed"]

#: the part driver modules, in report order
PARTS: tuple[str, ...] = ("mi", "dbn", "conv", "flow")

#: the metrics key of the cross-part summary (no part may have this name)
SUMMARY = "summary"

VERDICTS = ("agrees", "differs", "inconclusive")

NAME = "network_rg"
TITLE = "Does the network do RG?"

INTRO = (
    "The paper's claim is that a deep network trained on Ising data performs something like "
    "Kadanoff's block-spin RG. Here each learned coarse-graining gets the instruments that "
    "measure majority rule (renormalized couplings, MCRG exponents, correlation functions, "
    "flows) and its distance from an exact RG step. The table lists each claim, how it is "
    "checked and the verdict: agrees (with block-spin RG or the exact value), differs, or "
    "inconclusive at this preset's statistics; each part's figures and reading follow."
)


@dataclass(frozen=True)
class Config:
    """The parts to run, with their configs, and the seed their seeds are drawn from."""

    #: (part name, its frozen config) pairs, in report order
    parts: tuple[tuple[str, Any], ...] = ()
    seed: int = 2018


def load_part(name: str) -> ModuleType:
    """The part module ``name`` (relative to this package unless it contains a dot)."""
    return importlib.import_module(name if "." in name else f"{__name__}.{name}")


def _key(name: str) -> str:
    """A part's folder and metrics key: the last component of its module name."""
    return name.rsplit(".", 1)[-1]


def part_seed(seed: int, name: str) -> int:
    """The seed of part ``name``: 63 bits of the stream ``SeedSequence(seed)`` spawns under a key
    made from the name (independent of the other parts)."""
    key = zlib.crc32(_key(name).encode())
    words = np.random.SeedSequence(seed, spawn_key=(key,)).generate_state(2, np.uint32)
    return int((int(words[0]) << 31) ^ int(words[1]))


def _preset(which: str) -> Config:
    return Config(parts=tuple((name, getattr(load_part(name), which)) for name in PARTS))


@dataclass(frozen=True)
class _PartRun:
    """What a part's results depend on (its cache key)."""

    config: Any
    seed: int


def _checked(part: str, row: dict[str, Any]) -> dict[str, str]:
    """A part's claim row, refused unless it has exactly the four keys and a known verdict."""
    if set(row) != {"claim", "how", "result", "verdict"} or row["verdict"] not in VERDICTS:
        raise ValueError(
            f"part {part!r} returned the claim {row!r}: a claim has exactly the keys claim, how, "
            f"result and verdict, the verdict one of {', '.join(VERDICTS)}"
        )
    return {k: str(row[k]) for k in ("claim", "how", "result", "verdict")}


@register_experiment
class NetworkRG(Experiment):
    """The parts of issue 11 as one experiment (see the module doc)."""

    name = NAME
    title = TITLE
    Config = Config

    @property
    def presets(self) -> dict[str, Any]:  # type: ignore[override]
        """``quick``/``paper``: every part of :data:`PARTS` with its ``QUICK``/``PAPER``."""
        return {"quick": _preset("QUICK"), "paper": _preset("PAPER")}

    def run(
        self,
        config: Any,
        folder: Path,
        *,
        seed: int | None = None,
        device: str = "cpu",
        progress: bool = True,
    ) -> dict[str, Any]:
        """Each part's ``compute`` in ``folder/<part>``, resumed part by part; the metrics by
        part. ``seed`` (default ``config.seed``) gives each part :func:`part_seed`."""
        seed = config.seed if seed is None else seed
        metrics: dict[str, Any] = {}
        for name, part_config in config.parts:
            key = _key(name)
            if key == SUMMARY:
                raise ValueError(f"rename the part {name!r}: {SUMMARY!r} is the summary's key")
            sub = folder / key
            sub.mkdir(parents=True, exist_ok=True)
            run = _PartRun(part_config, part_seed(seed, name))
            if is_done(sub, f"{NAME}.{key}", run):
                metrics[key] = load_metrics(sub)
                continue
            t0 = time.perf_counter()
            m = load_part(name).compute(
                part_config, sub, seed=run.seed, device=device, progress=progress
            )
            m = strict_json(m)  # as the cache will hold it (NaN -> null)
            mark_done(sub, f"{NAME}.{key}", run, m, seconds=time.perf_counter() - t0)
            metrics[key] = m
        write_json(folder / "parts.json", [[_key(n), n] for n, _ in config.parts])
        if metrics:
            metrics[SUMMARY] = self._summary(folder, metrics)
        return metrics

    def _summary(self, folder: Path, metrics: dict[str, Any]) -> dict[str, Any]:
        """The cross-part summary of the parts' metrics, saved as ``summary.json``."""
        from .summary import collect

        parts = {k: m for k, m in metrics.items() if k != SUMMARY}
        summary = strict_json(collect(parts, dict(self._parts(folder))))
        summary["claims"] = self._claims(parts)  # checked once here; report() reads them back
        write_json(folder / "summary.json", summary)
        return summary

    def _claims(self, parts: dict[str, Any]) -> list[dict[str, str]]:
        """Every part's claim rows, checked, each with its part's key."""
        return [
            {"part": key, **_checked(key, row)}
            for key, m in parts.items()
            for row in self._module(key).claims(m)
        ]

    def _parts(self, folder: Path) -> list[tuple[str, ModuleType]]:
        import json

        return [(k, load_part(n)) for k, n in json.loads((folder / "parts.json").read_text())]

    def plot(self, folder: Path) -> list[Figure]:
        """The coupling-flow figure and every part's figures, from the saved files."""
        parts = [f for key, mod in self._parts(folder) for f in self._figures(folder, key, mod)]
        return self._flow_figure(folder) + parts

    @staticmethod
    def _flow_figure(folder: Path) -> list[Figure]:
        from .summary_plots import plot_coupling_flow

        if not (folder / "summary.json").exists():
            return []
        p = plot_coupling_flow(folder / "summary.json", folder / "coupling_flow.png")
        return [] if p is None else [(p, "Coupling flow: learned rules and majority rule")]

    @staticmethod
    def _figures(folder: Path, key: str, mod: ModuleType) -> list[Figure]:
        title = _title(key, mod)
        return [
            (Path(p), f"{title}: {Path(p).stem.replace('_', ' ')}") for p in mod.plot(folder / key)
        ]

    def report(self, metrics: dict[str, Any]) -> Report:
        """The claims table of every part and the introduction; no row in the opening table
        (its claims are the paper's)."""
        rows = (metrics.get(SUMMARY) or {}).get("claims")
        if rows is None:  # metrics cached before the summary carried the claims
            rows = self._claims({k: m for k, m in metrics.items() if k != SUMMARY})
        table = Table(
            "Does the network do RG? Each learned coarse-graining beside block-spin RG",
            ["claim", "how checked", "result", "verdict"],
            [[r["claim"], r["how"], r["result"], r["verdict"]] for r in rows],
        )
        verdicts = [
            Verdict(r["part"], r["claim"], r["how"], r["result"], r["verdict"]) for r in rows
        ]
        return Report(verdicts=verdicts, tables=[table], paragraphs=[INTRO])

    def _module(self, key: str) -> ModuleType:
        names = {_key(n): n for n in PARTS}
        return load_part(names.get(key, key))

    def section(self, folder: Path, metrics: dict[str, Any], config: Any) -> Section:
        """Introduction, the one claims table, the summary across parts, then per part its
        reading and figures."""
        from .summary import reading_of, tables_of

        rep = self.report(metrics)
        figures = {key: self._figures(folder, key, mod) for key, mod in self._parts(folder)}
        subsections = [
            Section(
                title=_title(key, mod), paragraphs=[mod.reading(metrics[key])], figures=figures[key]
            )
            for key, mod in self._parts(folder)
        ]
        if subsections:
            summary = metrics.get(SUMMARY) or self._summary(folder, metrics)
            shown = [
                f for key, names in summary.get("figures", {}).items() for f in figures.get(key, [])
                if Path(f[0]).name in names
            ]  # fmt: skip
            subsections.insert(0, Section(
                title="Summary across rules: exponents, distance from an exact RG step, flows",
                paragraphs=[reading_of(summary)], tables=tables_of(summary),
                figures=self._flow_figure(folder) + shown,
            ))  # fmt: skip
        paragraphs = list(rep.paragraphs)
        if not subsections:
            paragraphs.append("No part has been added yet (network_rg.PARTS is empty).")
        return Section(
            title=self.title,
            paragraphs=paragraphs,
            tables=rep.tables if subsections else (),
            subsections=subsections,
            config=config_dict(config),
        )


def _title(key: str, mod: ModuleType) -> str:
    """A part's heading: the first line of its module docstring, else its name."""
    doc = (mod.__doc__ or "").strip().splitlines()
    return doc[0].rstrip(".") if doc else key
