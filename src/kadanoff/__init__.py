"""kadanoff: Kadanoff's variational RG and its exact mapping to RBMs (arXiv:1410.3831)."""

from __future__ import annotations

__version__ = "0.1.0"

from .ising.model import K_CRITICAL, T_CRITICAL, IsingModel
from .lattice import Chain, SquareLattice, make_lattice

__all__ = [
    "__version__",
    "IsingModel",
    "Chain",
    "SquareLattice",
    "make_lattice",
    "K_CRITICAL",
    "T_CRITICAL",
]


def __getattr__(name: str):  # lazy: keep `import kadanoff` fast (no torch/numba at import)
    if name == "load_dataset":
        from .ising.dataset import load_dataset

        return load_dataset
    if name == "load_model":
        from .dbn import load_model

        return load_model
    raise AttributeError(f"module 'kadanoff' has no attribute {name!r}")
