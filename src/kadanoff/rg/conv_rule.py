"""A convolutional spin RBM as a coarse-graining rule (theory.md 7; Chung & Kao, PRR 3, 023230).

:class:`ConvRBMRule` wraps a :class:`~kadanoff.rbm.conv.ConvSpinRBM` (one filter, stride ``b``)
in the :class:`~kadanoff.rg.coarse_graining.CoarseGraining` protocol: the coarse spins are the
hidden spins, either drawn from ``p(h | v)`` (``mode="sample"``: the RBM's conditional is the RG
weight ``exp(T) = p(h | v)``, which satisfies the trace condition MS 9 exactly) or the sign of the
hidden field (``mode="sign"``: a deterministic learned block spin; an exactly zero field is a tie
broken by a fair seeded coin, as majority rule's ties are). Weight sharing makes the rule the same
at every site, so one trained filter applies to any lattice size and at every level
(:meth:`ConvRBMRule.repeated`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit, prange

from .._rng import SeedLike, make_rng
from .coarse_graining import Compose, check_batch, register_coarse_graining

if TYPE_CHECKING:  # torch is imported only when a conv RBM is used, not when rules are listed
    from ..rbm.conv import ConvSpinRBM

__all__ = ["ConvRBMRule", "MODES", "conv_field"]

#: how coarse spins are made from the hidden field
MODES = ("sample", "sign")


@njit(parallel=True, cache=True)
def _field_kernel(v, W, rows, cols, c, out):
    """out[i, X, Y] = c + sum_{dx,dy} W[dx, dy] v[i, rows[X, dx], cols[Y, dy]]."""
    n, Lc, f = out.shape[0], out.shape[1], W.shape[0]
    for i in prange(n):
        for X in range(Lc):
            for Y in range(Lc):
                s = c
                for dx in range(f):
                    r = rows[X, dx]
                    for dy in range(f):
                        s += W[dx, dy] * v[i, r, cols[Y, dy]]
                out[i, X, Y] = s


def conv_field(rbm: ConvSpinRBM, v: np.ndarray) -> np.ndarray:
    """``c + (W * v)_j`` of ``(n, L, L)`` int8 spins, float64 ``(n, L/b, L/b)`` (compiled).

    The same numbers as :meth:`ConvSpinRBM.hidden_field` (float64), without torch's copies.
    """
    p = rbm.numpy()
    idx = (rbm.b * np.arange(rbm.coarse_side)[:, None] + rbm.offset + np.arange(rbm.f)) % rbm.L
    out = np.empty((len(v), rbm.coarse_side, rbm.coarse_side))
    if len(v):
        _field_kernel(np.ascontiguousarray(v, dtype=np.int8), p["weights"], idx, idx,
                      float(p["hidden_bias"]), out)  # fmt: skip
    return out


@register_coarse_graining("conv_rbm")
class ConvRBMRule:
    """``h ~ p(h | v)`` (``"sample"``) or ``h = sign(c + W * v)`` (``"sign"``) of a conv RBM.
    See theory.md 7.

    Parameters
    ----------
    rbm : ConvSpinRBM
        ``fine_shape = (L, L)``, ``coarse_shape = (L/b, L/b)`` of this machine.
    mode : ``"sample"`` or ``"sign"``
    """

    def __init__(self, rbm: ConvSpinRBM, mode: str = "sample") -> None:
        from ..rbm import conv

        if not isinstance(rbm, conv.ConvSpinRBM):
            raise TypeError(f"ConvRBMRule needs a ConvSpinRBM, got {type(rbm).__name__}")
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
        self.rbm, self.mode = rbm, mode

    @classmethod
    def example(cls) -> ConvRBMRule:
        """A small random machine (8 x 8 -> 4 x 4, f = 3), no training (conformance tests).

        See theory.md 7.
        """
        from ..rbm import conv

        return cls(conv.ConvSpinRBM.random(8, 2, 3, seed=0))

    @classmethod
    def repeated(cls, rbm: ConvSpinRBM, L: int, levels: int, mode: str = "sample") -> Compose:
        """The same filter applied ``levels`` times from an ``L x L`` torus (theory.md 7)."""
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
            raise ValueError(f"levels must be an integer >= 1, got {levels!r}")
        if L % rbm.b**levels or L // rbm.b**levels < 1:
            raise ValueError(f"{levels} levels of b = {rbm.b} need L divisible by {rbm.b**levels}")
        sides = [L // rbm.b**k for k in range(levels)]
        if min(sides) < rbm.f:
            raise ValueError(
                f"the filter (f = {rbm.f}) does not fit on the {min(sides)} x {min(sides)} "
                "lattice of the last level: use fewer levels or a larger L"
            )
        return Compose([cls(rbm.resized(s), mode) for s in sides])

    @property
    def fine_shape(self) -> tuple[int, ...]:
        """``(L, L)`` of the machine's visible layer (theory.md 7)."""
        return (self.rbm.L, self.rbm.L)

    @property
    def coarse_shape(self) -> tuple[int, ...]:
        """``(L/b, L/b)`` of the machine's hidden layer (theory.md 7)."""
        return (self.rbm.coarse_side, self.rbm.coarse_side)

    def _fields(self, v: Any) -> np.ndarray:
        return conv_field(self.rbm, check_batch(v, self.fine_shape, "ConvRBMRule"))

    def coarse_grain(self, v: np.ndarray, *, seed: SeedLike) -> np.ndarray:
        """Coarse ±1 int8 spins ``(n, L/b, L/b)`` (module docstring; MS 9, 18-22)."""
        x = self._fields(v)
        u = make_rng(seed).random(x.shape)
        if self.mode == "sample":
            up = u < 1.0 / (1.0 + np.exp(-2.0 * x))  # p(h = +1 | v) = sigmoid(2 x)
        else:
            up = np.where(x == 0, u < 0.5, x > 0)
        return np.where(up, 1, -1).astype(np.int8)

    def coarse_mean(self, v: np.ndarray) -> np.ndarray:
        """``E[h | v]``: ``tanh`` of the field (``"sample"``) or its sign (``"sign"``), float64.

        See theory.md 7.
        """
        x = self._fields(v)
        return np.tanh(x) if self.mode == "sample" else np.sign(x)
