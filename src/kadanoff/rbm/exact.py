"""Exact enumeration oracle for small RBMs (float64, CPU).

States are enumerated in :func:`kadanoff.spins.all_states` order (site 0 the most
significant bit); for binary units the same order with ``x = (s + 1) / 2``.

:func:`log_partition` sums over the *smaller* layer with the other one traced out
analytically (MS 12-13), so it is cheap whenever ``min(n_visible, n_hidden) <= ~20``.
Distributions over one layer need that layer to be enumerable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.special import logsumexp

from ..spins import MAX_ENUMERATION_SITES, Units, all_states
from .model import RBM

__all__ = [
    "layer_states",
    "log_partition",
    "visible_distribution",
    "hidden_distribution",
    "joint_distribution",
    "log_hidden_conditional",
    "kl_divergence",
    "log_likelihood",
    "exact_kl_gradient",
]

#: Rows per chunk when enumerating (bounds memory to ~chunk x layer size floats).
_CHUNK = 1 << 15


def _f64(rbm: RBM) -> RBM:
    if not isinstance(rbm, RBM):
        raise TypeError(f"expected an RBM, got {type(rbm).__name__}")
    if rbm.dtype == torch.float64 and rbm.device.type == "cpu":
        return rbm
    return rbm.to(device="cpu", dtype=torch.float64)


def layer_states(rbm: RBM, n: int) -> np.ndarray:
    """All ``2**n`` states of a layer of ``n`` units of ``rbm``'s type, ``(2**n, n)`` float64."""
    if n > MAX_ENUMERATION_SITES:
        raise ValueError(
            f"cannot enumerate a layer of {n} units (limit {MAX_ENUMERATION_SITES}); "
            "use kadanoff.rbm.ais.ais_log_partition for large models"
        )
    return Units(rbm.units).from_spins(all_states(n).astype(np.float64))


def _neg_free_energies(rbm: RBM, layer: str) -> np.ndarray:
    """``-H^RBM(x)`` for every state of ``layer`` ("visible" or "hidden"), float64."""
    n = rbm.n_visible if layer == "visible" else rbm.n_hidden
    states = layer_states(rbm, n)
    fn = rbm.free_energy_visible if layer == "visible" else rbm.free_energy_hidden
    out = np.empty(states.shape[0])
    with torch.no_grad():
        for start in range(0, states.shape[0], _CHUNK):
            x = torch.from_numpy(states[start : start + _CHUNK])
            out[start : start + _CHUNK] = -fn(x).numpy()
    return out


def log_partition(rbm: RBM) -> float:
    """``ln Z = ln Tr_{v,h} exp(-E(v, h))``, enumerating the smaller layer."""
    rbm = _f64(rbm)
    layer = "hidden" if rbm.n_hidden <= rbm.n_visible else "visible"
    return float(logsumexp(_neg_free_energies(rbm, layer)))


def visible_distribution(rbm: RBM) -> np.ndarray:
    """``p(v)`` for all visible states, shape ``(2**n_visible,)``, all_states order."""
    rbm = _f64(rbm)
    x = _neg_free_energies(rbm, "visible")
    return np.exp(x - logsumexp(x))


def hidden_distribution(rbm: RBM) -> np.ndarray:
    """``p(h)`` for all hidden states, shape ``(2**n_hidden,)``, all_states order."""
    rbm = _f64(rbm)
    x = _neg_free_energies(rbm, "hidden")
    return np.exp(x - logsumexp(x))


def joint_distribution(rbm: RBM) -> np.ndarray:
    """``p(v, h)``, shape ``(2**n_visible, 2**n_hidden)`` (for tiny models)."""
    rbm = _f64(rbm)
    if rbm.n_visible + rbm.n_hidden > MAX_ENUMERATION_SITES:
        raise ValueError(
            f"joint enumeration of {rbm.n_visible} + {rbm.n_hidden} units is too large "
            f"(limit {MAX_ENUMERATION_SITES} in all)"
        )
    V = layer_states(rbm, rbm.n_visible)
    H = layer_states(rbm, rbm.n_hidden)
    W, a, b = (p for p in rbm.numpy().values())
    neg_e = V @ W @ H.T + (V @ a)[:, None] + (H @ b)[None, :]
    m = neg_e.max()
    p = np.exp(neg_e - m)
    return p / p.sum()


def log_hidden_conditional(rbm: RBM, v: Any) -> np.ndarray:
    """``ln p(h | v)`` for every hidden state (all_states order), ``(batch, nv) -> (batch, 2^nh)``.

    ``p(h | v) = prod_j exp(f_j h_j) / Z_j(f_j)`` with ``f = b + v W`` (MS 12), so
    ``ln p(h | v) = h . f - sum_j ln Z_j``; float64.
    """
    rbm = _f64(rbm)
    H = layer_states(rbm, rbm.n_hidden)
    with torch.no_grad():
        f = rbm.hidden_field(np.atleast_2d(np.asarray(v, dtype=np.float64)))
        log_z = rbm.unit_log_partition(f).sum(-1).numpy()
    return f.numpy() @ H.T - log_z[:, None]


def _check_p_data(p_data: Any, rbm: RBM) -> np.ndarray:
    p = np.asarray(p_data, dtype=np.float64)
    n = 2**rbm.n_visible
    if p.shape != (n,):
        raise ValueError(
            f"p_data must be a distribution over the {n} visible states (shape ({n},), "
            f"all_states order), got shape {p.shape}"
        )
    if np.any(p < 0) or not np.all(np.isfinite(p)) or abs(p.sum() - 1.0) > 1e-9:
        raise ValueError("p_data must be finite, non-negative and sum to 1")
    return p


def kl_divergence(p_data: Any, rbm: RBM) -> float:
    """``KL(P || p) = sum_v P(v) ln(P(v) / p(v))`` (MS 14), ``P`` over all_states order."""
    rbm = _f64(rbm)
    P = _check_p_data(p_data, rbm)
    x = _neg_free_energies(rbm, "visible")
    log_p = x - logsumexp(x)
    nz = P > 0
    return float(np.sum(P[nz] * (np.log(P[nz]) - log_p[nz])))


def log_likelihood(rbm: RBM, v: Any) -> np.ndarray:
    """``ln p(v)`` per sample, ``(batch, n_visible) -> (batch,)`` float64 (unit values)."""
    rbm = _f64(rbm)
    log_z = log_partition(rbm)
    vt = torch.as_tensor(np.asarray(v, dtype=np.float64))
    with torch.no_grad():
        return -rbm.free_energy_visible(vt).numpy() - log_z


def exact_kl_gradient(p_data: Any, rbm: RBM) -> dict[str, np.ndarray]:
    """Gradient of ``KL(P || p_lambda)`` w.r.t. ``weights``, ``visible_bias``, ``hidden_bias``.

    ``dKL/dW_ij = -(<v_i h_j>_data - <v_i h_j>_model)`` with ``h`` averaged over
    ``p(h | v)`` in the data term (theory.md section 3); likewise ``-(<v>_data - <v>_model)``
    and ``-(<h>_data - <h>_model)``. Float64 arrays of the parameters' shapes.
    """
    rbm = _f64(rbm)
    P = _check_p_data(p_data, rbm)
    V = layer_states(rbm, rbm.n_visible)
    x = _neg_free_energies(rbm, "visible")
    Q = np.exp(x - logsumexp(x))
    with torch.no_grad():
        Hm = rbm.hidden_mean(torch.from_numpy(V)).numpy()
    D = P - Q  # data minus model weights over visible states
    return {
        "weights": -(V * D[:, None]).T @ Hm,
        "visible_bias": -(D @ V),
        "hidden_bias": -(D @ Hm),
    }
