"""Fig. 2 of the paper (1D): decimation as a deep network, with exact checks (theory.md 5).

``config`` (settings, presets), ``compute`` (flow and exact checks), ``plots``, ``report``;
the last line registers the package as an experiment (:class:`..base.ModuleExperiment`).
"""

from __future__ import annotations

from ..base import ModuleExperiment
from ..registry import register_experiment
from .compute import run
from .config import NAME, PRESETS, TITLE, Config
from .plots import plot
from .report import claims, reading, tables

__all__ = ["NAME", "PRESETS", "TITLE", "Config", "claims", "plot", "reading", "run", "tables"]

register_experiment(ModuleExperiment(__name__))
