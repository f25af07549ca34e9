"""Restricted Boltzmann machines: models, conventions, exact oracle, AIS, model files.

``exact`` (enumeration oracle) and ``ais`` are submodules: ``from kadanoff.rbm import exact``.
Names are loaded on first use, so ``kadanoff.rbm.train.config`` can be read without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes

if TYPE_CHECKING:
    from . import exact
    from .ais import AISResult, ais_log_partition, base_visible_bias
    from .conv import ConvSpinRBM, train_conv_rbm
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
    **dict.fromkeys(("ConvSpinRBM", "train_conv_rbm"), "conv"),
    "exact": "exact",
}

__all__ = [
    "RBM",
    "SpinRBM",
    "BinaryRBM",
    "rbm_class",
    "ConvSpinRBM",
    "train_conv_rbm",
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


__getattr__, __dir__ = lazy_attributes(globals(), _WHERE)
