"""What every experiment shares: the :class:`Experiment` protocol, frozen configs, result
folders and caching by config hash.

An experiment is a subclass of :class:`Experiment` registered with
:func:`kadanoff.experiments.registry.register_experiment`. It declares ``name``, ``title``, its
frozen dataclass ``Config``, ``presets`` (at least ``"quick"`` and ``"paper"``) and optionally
``sweep_metrics`` (glob patterns of the metrics a sweep report plots by default), and implements

- ``run(config, folder, *, seed=None, device="cpu", progress=True) -> dict``: computes, saves its
  arrays in ``folder`` and returns JSON-able metrics (``seed=None``: the config's own seed);
- ``plot(folder) -> list[(png path, caption)]``: figures from the saved files only;
- ``report(metrics) -> Report``: claims, tables and prose, from the metrics only.

A finished experiment is not recomputed when rerun with the same config: its folder holds
``config.json`` with the config's hash and ``metrics.json``. Stages inside ``run`` save their own
artefacts (datasets, models), so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from ..io import to_json, write_json

if TYPE_CHECKING:
    from .report import Section, Table

__all__ = [
    "Claim",
    "Experiment",
    "Figure",
    "ModuleExperiment",
    "Report",
    "Verdict",
    "config_hash",
    "config_dict",
    "is_done",
    "mark_done",
    "load_metrics",
]

#: bump when the meaning of saved results changes, to invalidate old caches
RESULTS_VERSION = 1

#: a figure of the report: the PNG's path and its caption
Figure = tuple[Path, str]


@dataclass(frozen=True)
class Claim:
    """A row of the report's opening table: what the paper claims, how kadanoff checks it,
    what came out, and whether it holds (``None`` for a measurement with no pass/fail)."""

    claim: str
    check: str
    result: str
    holds: bool | None


@dataclass(frozen=True)
class Verdict:
    """A claim beyond the paper's, judged by comparison (a learned rule beside block-spin RG):
    ``verdict`` is "agrees", "differs" or "inconclusive"; ``source`` names the part that made it."""

    source: str
    claim: str
    check: str
    result: str
    verdict: str


@dataclass(frozen=True)
class Report:
    """What an experiment says about its metrics: rows of the opening claims table, verdicts of
    its own comparisons (listed after the paper's claims), its own tables
    (:class:`kadanoff.experiments.report.Table`) and paragraphs of prose."""

    claims: Sequence[Claim] = ()
    verdicts: Sequence[Verdict] = ()
    tables: Sequence[Table] = ()
    paragraphs: Sequence[str] = ()


class Experiment(ABC):
    """One experiment of ``kadanoff reproduce`` (and of ``kadanoff sweep``): see the module doc."""

    name: ClassVar[str]
    title: ClassVar[str]
    #: the frozen dataclass of its settings; a field ``seed`` (int) seeds the run
    Config: ClassVar[type]
    #: named configs, at least "quick" and "paper" (a property where they are built lazily)
    presets: Mapping[str, Any]
    sweep_metrics: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def run(
        self,
        config: Any,
        folder: Path,
        *,
        seed: int | None = None,
        device: str = "cpu",
        progress: bool = True,
    ) -> dict[str, Any]:
        """Compute into ``folder``; return the metrics (``seed=None``: ``config.seed``)."""

    @abstractmethod
    def plot(self, folder: Path) -> list[Figure]:
        """Draw the figures from the files ``run`` saved in ``folder`` only."""

    @abstractmethod
    def report(self, metrics: dict[str, Any]) -> Report:
        """Claims, tables and prose from the metrics only."""

    def section(self, folder: Path, metrics: dict[str, Any], config: Any) -> Section:
        """The experiment's section of the HTML report: its figures, prose and tables."""
        from .report import Section

        rep = self.report(metrics)
        return Section(
            title=self.title,
            paragraphs=rep.paragraphs,
            figures=self.plot(folder),
            tables=rep.tables,
            config=config_dict(config),
        )

    # the module-style names that kadanoff.sweep reads
    @property
    def NAME(self) -> str:  # noqa: N802
        return self.name

    @property
    def TITLE(self) -> str:  # noqa: N802
        return self.title

    @property
    def PRESETS(self) -> Mapping[str, Any]:  # noqa: N802
        return self.presets

    @property
    def SWEEP_METRICS(self) -> tuple[str, ...]:  # noqa: N802
        return self.sweep_metrics

    def claims(self, metrics: dict[str, Any]) -> list[Claim]:
        return list(self.report(metrics).claims)

    def tables(self, metrics: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
        """The report's tables as ``(caption, header, rows)``."""
        return [
            (t.caption, list(t.header), [list(r) for r in t.rows])
            for t in self.report(metrics).tables
        ]

    def reading(self, metrics: dict[str, Any]) -> list[str]:
        return list(self.report(metrics).paragraphs)


class ModuleExperiment(Experiment):
    """An experiment that is a module, as the built-in ones are: the module defines ``NAME``,
    ``TITLE``, ``Config``, ``PRESETS``, optionally ``SWEEP_METRICS``, and the functions ``run``
    (the signature of :meth:`Experiment.run`), ``plot(folder)``, ``claims(metrics)``,
    ``tables(metrics)`` (``(caption, header, rows)`` tuples) and ``reading(metrics)``.

    The module registers itself on its last line:
    ``register_experiment(ModuleExperiment(__name__))``. Names are read from the module when used,
    so a test that changes ``module.PRESETS`` changes the experiment.
    """

    def __init__(self, module: str | ModuleType) -> None:
        self.module = sys.modules[module] if isinstance(module, str) else module

    name = property(lambda self: self.module.NAME)  # type: ignore[assignment]
    title = property(lambda self: self.module.TITLE)  # type: ignore[assignment]
    Config = property(lambda self: self.module.Config)  # type: ignore[assignment]
    presets = property(lambda self: self.module.PRESETS)  # type: ignore[assignment]
    sweep_metrics = property(lambda self: getattr(self.module, "SWEEP_METRICS", ()))  # type: ignore[assignment]

    def run(
        self,
        config: Any,
        folder: Path,
        *,
        seed: int | None = None,
        device: str = "cpu",
        progress: bool = True,
    ) -> dict[str, Any]:
        return self.module.run(config, folder, seed=seed, device=device, progress=progress)

    def plot(self, folder: Path) -> list[Figure]:
        return self.module.plot(folder)

    def report(self, metrics: dict[str, Any]) -> Report:
        from .report import Table

        m = self.module
        return Report(
            claims=m.claims(metrics),
            tables=[Table(c, h, r) for c, h, r in m.tables(metrics)],
            paragraphs=m.reading(metrics),
        )


def config_dict(config: Any) -> dict[str, Any]:
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a dataclass config instance, got {type(config).__name__}")
    return dataclasses.asdict(config)


def config_hash(name: str, config: Any) -> str:
    """Stable hash of an experiment's name, config and :data:`RESULTS_VERSION`."""
    payload = to_json(
        {"experiment": name, "config": config_dict(config), "version": RESULTS_VERSION},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def is_done(folder: Path, name: str, config: Any) -> bool:
    """Whether ``folder`` holds finished results for exactly this config."""
    try:
        saved = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return (
        saved.get("hash") == config_hash(name, config)
        and saved.get("finished") is True
        and (folder / "metrics.json").exists()
    )


def mark_done(folder: Path, name: str, config: Any, metrics: dict[str, Any], **extra: Any) -> None:
    """Write ``metrics.json``, then ``config.json`` with the hash (the completion marker)."""
    write_json(folder / "metrics.json", metrics)
    write_json(
        folder / "config.json",
        {
            "experiment": name,
            "hash": config_hash(name, config),
            "config": config_dict(config),
            "finished": True,
            **extra,
        },
    )


def load_metrics(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "metrics.json").read_text())
