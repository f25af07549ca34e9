"""The experiments, one module each (``fig2``: 1D, ``fig3``: 2D, ``rg_measured``: MCRG)."""

from __future__ import annotations

EXPERIMENTS = ("fig2", "fig3", "rg_measured")

__all__ = ["EXPERIMENTS"]
