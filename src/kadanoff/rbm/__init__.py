"""Restricted Boltzmann machines: models, conventions, exact oracle, AIS, model files.

``exact`` (enumeration oracle) and ``ais`` are submodules: ``from kadanoff.rbm import exact``.
"""

from __future__ import annotations

from . import exact
from .ais import AISResult, ais_log_partition, base_visible_bias
from .convert import (
    binary_to_spin_parameters,
    from_paper_convention,
    spin_to_binary_parameters,
    to_paper_convention,
)
from .io import load_model, save_model
from .model import RBM, BinaryRBM, SpinRBM, rbm_class

__all__ = [
    "RBM",
    "SpinRBM",
    "BinaryRBM",
    "rbm_class",
    "to_paper_convention",
    "from_paper_convention",
    "spin_to_binary_parameters",
    "binary_to_spin_parameters",
    "exact",
    "AISResult",
    "ais_log_partition",
    "base_visible_bias",
    "save_model",
    "load_model",
]
