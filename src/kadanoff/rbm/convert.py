"""Parameter conventions: kadanoff <-> paper (MS 10), ±1 spin units <-> {0,1} binary units.

kadanoff: ``E(v, h) = -(v W h + a.v + b.h)``; paper (MS 10): ``E = b.h + v w h + c.v``, so
``(w, c, b)_paper = -(W, a, b)`` (theory.md section 3).

Spin <-> binary with ``s = 2 x - 1`` (visible) and ``t = 2 y - 1`` (hidden)::

    -E_spin(s, t) = -E_binary(x, y) + log_const

with ``W' = 4 W``, ``a' = 2 a - 2 W 1``, ``b' = 2 b - 2 W^T 1`` and
``log_const = sum W - sum a - sum b``, so both define the same distribution over states and
``ln Z_spin = ln Z_binary + log_const``. All functions accept NumPy arrays or torch tensors
and return the same kind.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "to_paper_convention",
    "from_paper_convention",
    "spin_to_binary_parameters",
    "binary_to_spin_parameters",
]


def _sum(x: Any, axis: int | None = None) -> Any:
    if hasattr(x, "detach"):  # torch tensor
        return x.sum() if axis is None else x.sum(dim=axis)
    return x.sum() if axis is None else x.sum(axis=axis)


def _check(W: Any, a: Any, b: Any) -> None:
    if len(W.shape) != 2 or tuple(a.shape) != (W.shape[0],) or tuple(b.shape) != (W.shape[1],):
        raise ValueError(
            f"inconsistent RBM parameter shapes: weights {tuple(W.shape)}, visible bias "
            f"{tuple(a.shape)}, hidden bias {tuple(b.shape)}; need (nv, nh), (nv,), (nh,)"
        )


def _arr(x: Any) -> Any:
    if hasattr(x, "detach") or hasattr(x, "__array__") and hasattr(x, "shape"):
        return x
    import numpy as np

    return np.asarray(x, dtype=np.float64)


def to_paper_convention(W: Any, a: Any, b: Any) -> tuple[Any, Any, Any]:
    """kadanoff ``(W, a, b)`` -> paper (MS 10) ``(w, c, b_paper) = (-W, -a, -b)``."""
    W, a, b = _arr(W), _arr(a), _arr(b)
    _check(W, a, b)
    return -W, -a, -b


def from_paper_convention(w: Any, c: Any, b_paper: Any) -> tuple[Any, Any, Any]:
    """Paper (MS 10) ``(w, c, b)`` -> kadanoff ``(W, a, b) = (-w, -c, -b)``."""
    w, c, b_paper = _arr(w), _arr(c), _arr(b_paper)
    _check(w, c, b_paper)
    return -w, -c, -b_paper


def spin_to_binary_parameters(W: Any, a: Any, b: Any) -> tuple[Any, Any, Any, float]:
    """±1-unit parameters -> {0,1}-unit parameters ``(W', a', b', log_const)``.

    ``-E_spin(2x-1, 2y-1) = -E_binary(x, y) + log_const`` for all ``x, y``.
    """
    W, a, b = _arr(W), _arr(a), _arr(b)
    _check(W, a, b)
    Wb = 4.0 * W
    ab = 2.0 * a - 2.0 * _sum(W, 1)
    bb = 2.0 * b - 2.0 * _sum(W, 0)
    log_const = float(_sum(W) - _sum(a) - _sum(b))
    return Wb, ab, bb, log_const


def binary_to_spin_parameters(W: Any, a: Any, b: Any) -> tuple[Any, Any, Any, float]:
    """{0,1}-unit parameters -> ±1-unit parameters ``(W', a', b', log_const)``.

    ``-E_binary((s+1)/2, (t+1)/2) = -E_spin(s, t) + log_const`` for all ``s, t``.
    """
    W, a, b = _arr(W), _arr(a), _arr(b)
    _check(W, a, b)
    Ws = 0.25 * W
    as_ = 0.5 * a + 0.25 * _sum(W, 1)
    bs = 0.5 * b + 0.25 * _sum(W, 0)
    log_const = float(0.25 * _sum(W) + 0.5 * _sum(a) + 0.5 * _sum(b))
    return Ws, as_, bs, log_const
