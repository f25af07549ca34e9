"""The experiments of ``kadanoff reproduce`` and ``kadanoff sweep``, one folder or module each
(``fig2``: 1D, ``fig3``: 2D, ``rg_measured``: MCRG, ``network_rg``: does the network do RG?).

Each registers itself (:mod:`.registry`) when imported; importing this package imports the
built-in ones in report order. :data:`EXPERIMENTS` is a live view of the registered names.
"""

from __future__ import annotations

import importlib

from .base import Experiment
from .registry import ExperimentNames, experiment_names, get_experiment, register_experiment

#: the built-in experiments, in report order; each registers itself when imported
BUILT_IN = ("fig2", "fig3", "rg_measured", "network_rg")
for _name in BUILT_IN:
    importlib.import_module(f"{__name__}.{_name}")

#: the registered experiments' names, in report order (a live view of the registry)
EXPERIMENTS = ExperimentNames()

__all__ = [
    "BUILT_IN",
    "EXPERIMENTS",
    "Experiment",
    "experiment_names",
    "get_experiment",
    "register_experiment",
]
