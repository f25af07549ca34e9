"""Private helpers shared by :mod:`kadanoff.rg`: Hamiltonian and RBM adapters, log-sum-exp.

Everything here is float64 numpy. Spins are ±1 and states are enumerated in
:func:`kadanoff.spins.all_states` order (site 0 the most significant bit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..spins import all_states, state_index

HamiltonianLike = Callable[[np.ndarray], np.ndarray] | np.ndarray | Any

#: Chunk (in table entries) for enumeration loops: keeps temporaries below ~64 MB.
CHUNK_ENTRIES = 1 << 23


def logsumexp(x: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """``ln sum exp(x)`` along ``axis``, stable, with ``-inf`` entries allowed."""
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    if axis is None:
        return out.reshape(())
    return np.squeeze(out, axis=axis)


def n_sites_of(obj: Any) -> int | None:
    """Number of sites of a model / lattice, or ``None`` when it has no such notion."""
    for name in ("n_sites", "n_visible"):
        if hasattr(obj, name):
            return int(getattr(obj, name))
    return None


def as_energy_function(hamiltonian: HamiltonianLike, n: int) -> Callable[[np.ndarray], np.ndarray]:
    """Turn ``hamiltonian`` into ``f(v) -> H(v)`` for flat ±1 spins ``(..., n) -> (...)``.

    Accepted: a callable on flat spins; an array of ``2**n`` energies in ``all_states``
    order; an object with ``.energy(spins)`` and ``.shape`` (e.g. ``IsingModel``), whose
    lattice has ``n`` sites.
    """
    if isinstance(hamiltonian, np.ndarray) or isinstance(hamiltonian, (list, tuple)):
        table = np.asarray(hamiltonian, dtype=np.float64)
        if table.shape != (2**n,):
            raise ValueError(
                f"a Hamiltonian table must have shape (2**{n},) = ({2**n},) in all_states "
                f"order, got {table.shape}"
            )
        return lambda v: table[state_index(v)]
    if hasattr(hamiltonian, "energy") and hasattr(hamiltonian, "shape"):
        shape = tuple(hamiltonian.shape)
        if int(np.prod(shape)) != n:
            raise ValueError(
                f"the model has {int(np.prod(shape))} sites but the operator has {n} visible spins"
            )

        def f(v: np.ndarray) -> np.ndarray:
            v = np.asarray(v)
            return np.asarray(hamiltonian.energy(v.reshape(v.shape[:-1] + shape)), dtype=np.float64)

        return f
    if callable(hamiltonian):
        return lambda v: np.asarray(hamiltonian(np.asarray(v)), dtype=np.float64)
    raise TypeError(
        "hamiltonian must be a callable on flat ±1 spins (..., n), an array of 2**n energies "
        f"in all_states order, or a model with .energy and .shape; got {type(hamiltonian).__name__}"
    )


def energy_table(hamiltonian: HamiltonianLike, n: int) -> np.ndarray:
    """``H(v)`` for every state, shape ``(2**n,)`` in ``all_states`` order."""
    if isinstance(hamiltonian, np.ndarray):
        table = np.asarray(hamiltonian, dtype=np.float64)
        if table.shape != (2**n,):
            raise ValueError(
                f"a Hamiltonian table must have shape (2**{n},) = ({2**n},) in all_states "
                f"order, got {table.shape}"
            )
        return table
    f = as_energy_function(hamiltonian, n)
    out = np.empty(2**n, dtype=np.float64)
    for start, states in state_chunks(n, 1 << 16):
        out[start : start + len(states)] = f(states)
    return out


def state_chunks(n: int, chunk: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, states)`` blocks of ``all_states(n)``, at most ``chunk`` rows each."""
    total = 2**n
    chunk = max(1, min(chunk, total))
    if chunk == total:
        yield 0, all_states(n)
        return
    weights = np.arange(n - 1, -1, -1, dtype=np.int64)
    for start in range(0, total, chunk):
        k = np.arange(start, min(start + chunk, total), dtype=np.int64)[:, None]
        yield start, (2 * ((k >> weights) & 1) - 1).astype(np.int8)


def to_numpy(x: Any) -> np.ndarray:
    """A tensor or array -> float64 numpy array (detached, on the CPU)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    return np.array(x, dtype=np.float64)


def rbm_arrays(rbm: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """``(weights (nv, nh), visible_bias (nv,), hidden_bias (nh,), units)`` as float64 numpy.

    Accepts any object with ``.weights``, ``.visible_bias``, ``.hidden_bias`` (torch
    tensors or arrays) and optional ``.units`` (``"spin"``, the default, or ``"binary"``).
    """
    try:
        W = to_numpy(rbm.weights)
        a = to_numpy(rbm.visible_bias)
        b = to_numpy(rbm.hidden_bias)
    except AttributeError as exc:
        raise TypeError(
            "expected an RBM-like object with .weights, .visible_bias and .hidden_bias; "
            f"got {type(rbm).__name__}"
        ) from exc
    units = str(getattr(rbm, "units", "spin"))
    check_units(units)
    if W.ndim != 2 or a.shape != (W.shape[0],) or b.shape != (W.shape[1],):
        raise ValueError(
            f"inconsistent RBM shapes: weights {W.shape}, visible_bias {a.shape}, "
            f"hidden_bias {b.shape}; need (nv, nh), (nv,), (nh,)"
        )
    return W, a, b, units


def check_units(units: str) -> str:
    """Validate a unit type name."""
    if units not in ("spin", "binary"):
        raise ValueError(f"units must be 'spin' (±1) or 'binary' ({{0,1}}), got {units!r}")
    return units


def spins_to_units(s: np.ndarray, units: str) -> np.ndarray:
    """±1 spins -> float64 unit values (``s`` itself, or ``(s + 1) / 2`` for binary units)."""
    s = np.asarray(s, dtype=np.float64)
    return s if units == "spin" else 0.5 * (s + 1.0)


def log_two_state_sum(field: np.ndarray, units: str) -> np.ndarray:
    """``ln sum_{u} exp(u * field)`` over one unit: ``ln 2cosh`` (spin) or ``ln(1+e^x)``."""
    field = np.asarray(field, dtype=np.float64)
    if units == "spin":
        a = np.abs(field)
        return a + np.log1p(np.exp(-2.0 * a))
    return np.logaddexp(0.0, field)
