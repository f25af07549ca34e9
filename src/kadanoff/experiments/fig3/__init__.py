"""Fig. 3 of the paper (2D): a deep belief network learns block-spin-like receptive fields.

``config`` (settings, presets), ``compute`` (sample, train, analyse), ``plots`` (figures from the
saved files), ``report`` (claims, tables, reading); the last line registers the package.
"""

from __future__ import annotations

from ..base import ModuleExperiment
from ..registry import register_experiment
from .compute import run
from .config import NAME, PAPER_KC, PRESETS, SWEEP_METRICS, TITLE, Config, fast_config
from .plots import plot
from .report import claims, reading, tables

__all__ = [
    "NAME", "PAPER_KC", "PRESETS", "SWEEP_METRICS", "TITLE", "Config", "claims",
    "fast_config", "plot", "reading", "run", "tables",
]  # fmt: skip

register_experiment(ModuleExperiment(__name__))
