"""Annealed importance sampling (AIS) estimate of an RBM's log partition function.

The Salakhutdinov-Murray scheme (ICML 2008). The base distribution has zero weights,
visible biases ``a_A`` (zero, or fitted to data with :func:`base_visible_bias`) and zero
hidden biases; its ``ln Z_A = sum_i ln sum_x exp(a_A,i x) + n_hidden ln 2`` is exact. The
intermediate distributions, for ``0 = beta_0 < ... < beta_K = 1``, are::

    p_beta(v, h) ∝ exp((1 - beta) a_A.v - beta E(v, h))
    p*_beta(v)   = exp((1 - beta) a_A.v + beta a.v) prod_j Z_unit(beta (b_j + (v W)_j))

(hidden units summed analytically). Each chain starts from an exact sample of ``p_0``;
at step ``k`` its log weight gains ``ln p*_{beta_k}(v) - ln p*_{beta_{k-1}}(v)`` and ``v``
is then moved by one block Gibbs step that leaves ``p_{beta_k}`` invariant. Then
``Z / Z_A`` is estimated by the mean importance weight and ``ln Z`` by its log; the
standard error of ``ln Z`` is the delta-method one, ``sd(w) / (sqrt(n) mean(w))`` with
``w = exp(log_w - max log_w)``. (The log of an unbiased estimate is biased low by about
``stderr**2 / 2``; negligible when ``stderr`` is small.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._rng import SeedLike, torch_generator
from ..spins import Units
from .model import RBM

__all__ = ["AISResult", "ais_log_partition", "default_betas", "base_visible_bias"]


@dataclass(frozen=True)
class AISResult:
    """Result of :func:`ais_log_partition`.

    Attributes
    ----------
    log_z : float
        Estimate of ``ln Z``.
    stderr : float
        Its standard error (delta method over the chains).
    log_weights : ndarray, shape (n_chains,)
        Log importance weights ``ln(w)``, so ``ln Z ≈ log_z_base + ln mean(w)``.
    log_z_base : float
        Exact ``ln Z`` of the base model.
    n_betas : int
        Number of inverse temperatures, including 0 and 1.
    effective_sample_size : float
        ``(sum w)^2 / sum w^2``: the number of chains the weights are worth.
    """

    log_z: float
    stderr: float
    log_weights: np.ndarray
    log_z_base: float
    n_betas: int
    effective_sample_size: float

    @property
    def n_chains(self) -> int:
        return int(self.log_weights.shape[0])


def default_betas(n_betas: int = 10_000) -> np.ndarray:
    """Salakhutdinov-Murray-shaped schedule of ``n_betas`` points from 0 to 1.

    The same proportions as their 14,500-point schedule: 1/29 of the steps uniform on
    [0, 0.5], 8/29 on [0.5, 0.9] and 20/29 on [0.9, 1]. Shape ``(n_betas,)``, float64.
    """
    if n_betas < 4:
        raise ValueError(f"n_betas must be at least 4, got {n_betas}")
    n = n_betas - 1  # number of intervals
    n1 = max(1, round(n * 500 / 14500))
    n2 = max(1, round(n * 4000 / 14500))
    n3 = n - n1 - n2
    if n3 < 1:
        raise ValueError(f"n_betas={n_betas} is too small for the default schedule")
    return np.concatenate(
        [
            np.linspace(0.0, 0.5, n1, endpoint=False),
            np.linspace(0.5, 0.9, n2, endpoint=False),
            np.linspace(0.9, 1.0, n3 + 1),
        ]
    )


def base_visible_bias(data: Any, units: str, *, pseudocount: float = 1.0) -> np.ndarray:
    """Visible biases of the independent-units model matching the data's unit means.

    ``data``: ``(n_samples, n_visible)`` unit values. With ``m`` the mean of ``up`` units
    (smoothed by ``pseudocount`` each way): spin units ``a = 0.5 ln(m / (1 - m))``
    (so ``tanh a`` is the spin mean), binary units ``a = ln(m / (1 - m))``. Float64.
    """
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"data must have shape (n_samples, n_visible), got {x.shape}")
    spin = Units.parse(units) is Units.SPIN
    up = (x > 0).astype(np.float64) if spin else x
    m = (up.sum(0) + pseudocount) / (x.shape[0] + 2.0 * pseudocount)
    logit = np.log(m) - np.log1p(-m)
    return 0.5 * logit if spin else logit


def ais_log_partition(
    rbm: RBM,
    *,
    n_chains: int = 100,
    betas: Any = None,
    n_betas: int | None = None,
    seed: SeedLike,
    base: Any = None,
    dtype: torch.dtype | None = torch.float64,
) -> AISResult:
    """AIS estimate of ``ln Z`` of ``rbm`` (spin or binary units; CPU or CUDA).

    Parameters
    ----------
    rbm : RBM
    n_chains : int
        Independent annealing runs (run in parallel as one batch).
    betas : array, optional
        Increasing inverse temperatures from exactly 0 to exactly 1.
    n_betas : int, optional
        Length of the :func:`default_betas` schedule (default 10,000) when ``betas`` is None.
    seed : int, SeedSequence or Generator
    base : array of shape (n_visible,), optional
        Base-model visible biases (e.g. :func:`base_visible_bias` of the training data);
        default zeros (the uniform distribution).
    dtype : torch.dtype, optional
        Compute dtype (float64 recommended); None keeps the model's.

    Returns
    -------
    AISResult
    """
    if not isinstance(rbm, RBM):
        raise TypeError(f"expected an RBM, got {type(rbm).__name__}")
    if isinstance(n_chains, bool) or not isinstance(n_chains, (int, np.integer)) or n_chains < 2:
        raise ValueError(f"n_chains must be an integer >= 2 (for an error bar), got {n_chains!r}")
    if betas is not None and n_betas is not None:
        raise ValueError("give either betas or n_betas, not both")
    if betas is None:
        beta_arr = default_betas(10_000 if n_betas is None else int(n_betas))
    else:
        beta_arr = np.asarray(betas, dtype=np.float64)
        if (
            beta_arr.ndim != 1
            or beta_arr.size < 2
            or beta_arr[0] != 0.0
            or beta_arr[-1] != 1.0
            or np.any(np.diff(beta_arr) <= 0)
        ):
            raise ValueError("betas must be a strictly increasing 1-D array from 0 to 1")
    model = rbm if dtype is None or dtype == rbm.dtype else rbm.to(dtype=dtype)
    dev, dt = model.device, model.dtype
    W, a, b = model.weights, model.visible_bias, model.hidden_bias
    if base is None:
        a0 = torch.zeros_like(a)
    else:
        a0 = torch.as_tensor(np.asarray(base, dtype=np.float64), device=dev).to(dt)
        if a0.shape != a.shape:
            raise ValueError(
                f"base visible biases must have shape ({model.n_visible},), got {tuple(a0.shape)}"
            )
        if not torch.all(torch.isfinite(a0)):
            raise ValueError("base visible biases must be finite")
    lz = model.unit_log_partition
    log_z_base = float(lz(a0).sum()) + model.n_hidden * math.log(2.0)

    g = torch_generator(seed, str(dev))
    n = int(n_chains)
    with torch.no_grad():
        v = model.sample_units(a0.expand(n, -1), g)
        log_w = torch.zeros(n, dtype=dt, device=dev)
        da = a - a0
        bt = torch.as_tensor(beta_arr, dtype=dt, device=dev)
        for k in range(1, beta_arr.size):
            b_prev, b_k = bt[k - 1], bt[k]
            phi = b + v @ W  # (n, nh) target hidden field
            log_w += (b_k - b_prev) * (v @ da) + (lz(b_k * phi) - lz(b_prev * phi)).sum(-1)
            if k == beta_arr.size - 1:
                break  # the last transition would not change the weights
            h = model.sample_units(b_k * phi, g)
            v = model.sample_units(a0 + b_k * (da + h @ W.T), g)
    lw = log_w.detach().cpu().to(torch.float64).numpy()
    m = float(lw.max())
    w = np.exp(lw - m)
    mean_w = float(w.mean())
    log_z = log_z_base + m + math.log(mean_w)
    stderr = float(w.std(ddof=1) / math.sqrt(n) / mean_w)
    ess = float(w.sum() ** 2 / np.sum(w**2))
    return AISResult(
        log_z=log_z,
        stderr=stderr,
        log_weights=lw,
        log_z_base=log_z_base,
        n_betas=int(beta_arr.size),
        effective_sample_size=ess,
    )
