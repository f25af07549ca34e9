"""Training data: validation and conversion to a contiguous tensor of unit values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ...spins import Units

__all__ = ["prepare_data"]


def prepare_data(
    data: Any, n_visible: int | None, units: str | Units, *, dtype: torch.dtype, device: Any
) -> torch.Tensor:
    """Validate and convert ``data`` to a contiguous ``(n, n_visible)`` tensor of unit values.

    Accepts ``(n, n_visible)`` or ``(n, *shape)`` arrays/tensors (flattened). Spin units need
    values in [-1, 1] (±1 data, or means for upper DBN layers); {0,1} bits are refused with a
    hint. Binary units need values in [0, 1]; ±1 spin data is converted with ``x = (s+1)/2``
    (as :func:`kadanoff.spins.spin_to_binary`).
    """
    x = data if isinstance(data, torch.Tensor) else torch.from_numpy(np.asarray(data))
    if x.ndim < 2:
        raise ValueError(f"data must have shape (n_samples, n_visible), got shape {tuple(x.shape)}")
    x = x.reshape(x.shape[0], -1)
    if n_visible is not None and x.shape[1] != n_visible:
        raise ValueError(
            f"data has {x.shape[1]} visible units per sample but the RBM has {n_visible}"
        )
    if x.shape[0] == 0:
        raise ValueError("data is empty")
    if x.dtype == torch.bool:
        x = x.to(torch.int8)
    if x.is_complex():
        raise ValueError("data must be real-valued")
    lo, hi = float(x.min()), float(x.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("data contains NaN or infinite values")
    if Units.parse(units) is Units.SPIN:
        if lo < -1 or hi > 1:
            raise ValueError(f"spin-unit data must lie in [-1, 1] (found range [{lo}, {hi}])")
        if lo >= 0 and bool((x == 0).any()):
            raise ValueError(
                "data looks like {0,1} bits but the RBM has ±1 spin units: convert with "
                "kadanoff.spins.binary_to_spin, or train a BinaryRBM (units='binary')"
            )
    else:
        if lo < 0:
            if not bool(((x == 1) | (x == -1)).all()):
                raise ValueError(
                    f"binary-unit data must lie in [0, 1] (or be ±1 spins; found [{lo}, {hi}])"
                )
            x = Units.BINARY.from_spins(x.to(torch.float64))
        elif hi > 1:
            raise ValueError(f"binary-unit data must lie in [0, 1] (found range [{lo}, {hi}])")
    return x.to(device=device, dtype=dtype).contiguous()
