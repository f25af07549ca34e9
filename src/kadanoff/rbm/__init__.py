"""Restricted Boltzmann machines: models, conventions, exact oracle, AIS, model files.

``exact`` (enumeration oracle) and ``ais`` are submodules: ``from kadanoff.rbm import exact``.
Names are loaded on first use, so ``kadanoff.rbm.train.config`` can be read without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: public name -> submodule that defines it
_WHERE = {
    **dict.fromkeys(("RBM", "SpinRBM", "BinaryRBM", "rbm_class"), "model"),
    **dict.fromkeys(
        (
            "to_paper_convention",
            "from_paper_convention",
            "spin_to_binary_parameters",
            "binary_to_spin_parameters",
        ),
        "convert",
    ),
    **dict.fromkeys(("AISResult", "ais_log_partition", "base_visible_bias"), "ais"),
    **dict.fromkeys(("save_model", "load_model"), "io"),
}

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


def __getattr__(name: str) -> Any:
    if name == "exact":
        return importlib.import_module(".exact", __name__)
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
