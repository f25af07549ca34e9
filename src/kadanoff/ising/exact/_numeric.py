"""Numeric helpers shared by the exact-result modules (private to :mod:`kadanoff.ising.exact`)."""

from __future__ import annotations

import numpy as np

FloatOrArray = float | np.ndarray


def scalar(x: np.ndarray) -> FloatOrArray:
    """A 0-d result as a Python float, any other array unchanged."""
    return float(x) if np.ndim(x) == 0 else x


def positive_K(K: FloatOrArray, what: str) -> np.ndarray:
    """``K`` as a float64 array, or ``ValueError`` unless every entry is finite and ``> 0``."""
    K = np.asarray(K, dtype=np.float64)
    if np.any(~np.isfinite(K)) or np.any(K <= 0):
        raise ValueError(f"{what} needs finite couplings K > 0 (ferromagnet), got {K}")
    return K
