"""The paper's experiments, one module each (``fig2``: 1D, ``fig3``: 2D), and the runner."""

from __future__ import annotations

EXPERIMENTS = ("fig2", "fig3")

__all__ = ["EXPERIMENTS"]
