"""Ising models: energies, exact results, samplers and datasets."""

from .model import K_CRITICAL, T_CRITICAL, IsingModel, coupling_from

__all__ = ["IsingModel", "K_CRITICAL", "T_CRITICAL", "coupling_from"]
