"""Distance of a trained layer from an exact RG step: ``KL(P || p_RBM)`` per spin (theory.md 4, 7).

By the exact mapping (MS 18-22) ``Tr_h exp T(v, h) = exp(H(v) - H^RBM(v))``: the trace condition
(MS 9) holds for every ``v`` exactly when the RBM's marginal reproduces the data distribution
``P = exp(-H) / Z``, i.e. when ``KL(P || p_RBM) = 0``. The KL per spin is therefore the layer's
distance from an exact RG step. Three ways to get it, each labelled by :attr:`Distance.kind`:

- ``"exact"``: enumeration of every visible state (1D ring, 4 x 4 torus): :func:`exact_distance`
  (one RBM) and :func:`exact_network_distance` (a DBN truncated at level ``l``).
- ``"estimate"`` (first layer, large lattices): with ``F(v) = H^RBM(v) = -ln p*_RBM(v)``,

      KL = <F(v) - H(v)>_P + ln Z_RBM - ln Z_Ising,

  ``ln Z_Ising`` exact (Kaufman / ring formula), ``ln Z_RBM`` by AIS
  (:func:`kadanoff.rbm.ais_log_partition`), the average over data samples. Pairing ``F - H``
  sample by sample is the same as ``-S_data - <ln p_RBM>_P`` but has a much smaller variance
  when the model is good. Error bar: data and AIS standard errors in quadrature.
- ``"upper_bound"`` (deeper layers, theory.md 7): level ``l`` of a DBN is measured as a
  generative model of the *Ising* data (the layer's own input distribution has no exact
  ``ln Z``). Its log-likelihood has the variational lower bound of Salakhutdinov & Murray
  (ICML 2008), with the recognition pass ``Q = prod_k p_k(h_k | h_{k-1})`` (sampled up pass)::

      ln p(v) >= E_Q[ ln p*_top(h_{l-1}) - ln Z_top + sum_{k<l} (ln p_k(h_{k-1} | h_k)
                                                               - ln p_k(h_k | h_{k-1})) ]

  (``h_0 = v``; ``p*_top`` the top RBM's unnormalized visible marginal; ``ln Z_top`` by AIS), so
  ``<-H>_P - ln Z_Ising - <bound>`` is an upper bound on the network's KL per spin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._rng import SeedLike, spawn
from ..spins import MAX_ENUMERATION_SITES, all_states
from ._common import log_two_state_sum, logsumexp, rbm_arrays, spins_to_units

__all__ = [
    "Distance",
    "ring_distribution",
    "torus_distribution",
    "ising_reference",
    "free_energies",
    "exact_distance",
    "network_log_probabilities",
    "exact_network_distance",
    "rbm_distance",
    "network_distance",
]

_CHUNK = 4096


@dataclass(frozen=True)
class Distance:
    """``KL(P || p_model) / N`` and how it was obtained (theory.md 7).

    ``kind``: ``"exact"``, ``"estimate"`` (unbiased up to AIS's ``stderr^2 / 2``) or
    ``"upper_bound"``; ``stderr`` per spin (0 for exact); ``log_z_model`` and its error,
    ``log_z_data`` (exact), ``n_samples`` data configurations (0 for exact), ``level``,
    ``ais_effective_chains`` (AIS's effective sample size; nan without AIS: a value much below
    the number of chains means the annealing schedule is too short and ``ln Z`` is doubtful).
    """

    kl_per_spin: float
    stderr: float
    kind: str
    n_sites: int
    log_z_model: float
    log_z_model_stderr: float
    log_z_data: float
    n_samples: int = 0
    level: int = 1
    ais_effective_chains: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict (theory.md 7)."""
        return asdict(self)


def ring_distribution(n: int, K: float) -> np.ndarray:
    """Exact ``P(v)`` of the ring ``H = -K sum v_i v_{i+1}``, ``(2^n,)`` all_states order."""
    from .decimation import ring_hamiltonian, ring_log_partition

    return np.exp(-ring_hamiltonian(n, K) - ring_log_partition(n, K))


def torus_distribution(L: int, K: float) -> np.ndarray:
    """Exact ``P(v)`` of the ``L x L`` torus at ``K`` by enumeration, ``(2^(L^2),)``."""
    from ..ising.exact import enumerate_model
    from ..ising.model import IsingModel
    from ..lattice import SquareLattice

    return enumerate_model(IsingModel(SquareLattice(L), float(K))).probabilities


def ising_reference(configs: Any, K: float) -> tuple[np.ndarray, float]:
    """``H(v)`` per configuration and the exact ``ln Z`` of the zero-field Ising model.

    ``configs``: ``(n, L, L)`` torus (Kaufman) or ``(n, N)`` ring configurations, ±1.
    Returns ``(energies (n,), log_z)``.
    """
    from ..ising.exact import kaufman_log_partition
    from ..ising.model import IsingModel
    from ..lattice import Chain, SquareLattice
    from .decimation import ring_log_partition

    v = np.asarray(configs)
    if v.ndim == 3 and v.shape[1] == v.shape[2]:
        L = v.shape[1]
        model = IsingModel(SquareLattice(L), float(K))
        return model.energy(v), float(kaufman_log_partition(L, float(K)))
    if v.ndim == 2:
        model = IsingModel(Chain(v.shape[1]), float(K))
        return model.energy(v), ring_log_partition(v.shape[1], float(K))
    raise ValueError(f"configs must be (n, L, L) torus or (n, N) ring spins, got shape {v.shape}")


def free_energies(rbm: Any, v: Any) -> np.ndarray:
    """``F(v) = H^RBM(v) = -ln p*_RBM(v)`` (MS 12) of ±1 spins ``v (n, n_visible)``, float64."""
    W, a, b, units = rbm_arrays(rbm)
    s = np.asarray(v).reshape(len(v), -1)
    out = np.empty(len(s))
    for i in range(0, len(s), _CHUNK):
        x = spins_to_units(s[i : i + _CHUNK], units)
        out[i : i + _CHUNK] = -(x @ a) - log_two_state_sum(b + x @ W, units).sum(-1)
    return out


def _as_rbm(obj: Any) -> Any:
    """A float64 :class:`kadanoff.rbm.RBM` with ``obj``'s parameters (for AIS / enumeration)."""
    import torch

    from ..rbm import RBM, rbm_class

    if isinstance(obj, RBM):
        return obj.to(device="cpu", dtype=torch.float64)
    W, a, b, units = rbm_arrays(obj)
    return rbm_class(units).from_parameters(W, a, b, dtype=torch.float64)


def exact_distance(p_data: Any, rbm: Any) -> Distance:
    """Exact ``KL(P || p_RBM) / N`` by enumeration, ``p_data (2^N,)`` in all_states order.

    See theory.md 7.
    """
    from ..rbm import exact

    model = _as_rbm(rbm)
    kl = exact.kl_divergence(p_data, model)
    n = model.n_visible
    return Distance(
        kl_per_spin=kl / n, stderr=0.0, kind="exact", n_sites=n,
        log_z_model=exact.log_partition(model), log_z_model_stderr=0.0, log_z_data=float("nan"),
    )  # fmt: skip


def _log_conditional(x: np.ndarray, field: np.ndarray, units: str) -> np.ndarray:
    """``sum_i ln p(x_i | field_i)`` with ``p ∝ exp(field x)`` (factorized conditional)."""
    return (x * field).sum(-1) - log_two_state_sum(field, units).sum(-1)


def network_log_probabilities(layers: Sequence[Any], level: int) -> np.ndarray:
    """Exact ``ln p(v)`` of a DBN truncated at ``level``, every visible state, ``(2^n_0,)``.

    Generative model: the top RBM (layer ``level``) gives ``p(h_{level-1})``; each layer below
    passes down by ``p_k(h_{k-1} | h_k)``. Every layer below the top is enumerated (small only).
    """
    from ..rbm import exact

    layers = list(layers)[:level]
    sizes = [rbm_arrays(m)[0].shape[0] for m in layers]
    if max(sizes) > MAX_ENUMERATION_SITES - 4:
        raise ValueError(f"layer sizes {sizes} are too large to enumerate (<= 20 units each)")
    top = _as_rbm(layers[-1])
    states = all_states(top.n_visible)
    lp = -free_energies(top, states) - exact.log_partition(top)
    for m in reversed(layers[:-1]):
        W, a, _, units = rbm_arrays(m)
        h = spins_to_units(all_states(W.shape[1]), units)
        x = spins_to_units(all_states(W.shape[0]), units)
        field_v = a + h @ W.T  # (2^nh, nv)
        out = np.empty(len(x))
        for i in range(0, len(x), 256):
            xi = x[i : i + 256]
            t = (xi @ field_v.T) - log_two_state_sum(field_v, units).sum(-1)[None, :]
            out[i : i + 256] = logsumexp(t + lp[None, :], axis=1)
        lp = out
    return lp


def exact_network_distance(p_data: Any, layers: Sequence[Any], level: int) -> Distance:
    """Exact ``KL(P || p_level) / N`` of a DBN truncated at ``level`` (enumeration)."""
    P = np.asarray(p_data, dtype=np.float64)
    lp = network_log_probabilities(layers, level)
    if P.shape != lp.shape:
        raise ValueError(f"p_data has shape {P.shape}, the network's visible states {lp.shape}")
    nz = P > 0
    n = int(np.log2(len(P)))
    return Distance(
        kl_per_spin=float(np.sum(P[nz] * (np.log(P[nz]) - lp[nz]))) / n, stderr=0.0,
        kind="exact", n_sites=n, log_z_model=float("nan"), log_z_model_stderr=0.0,
        log_z_data=float("nan"), level=int(level),
    )  # fmt: skip


def _ais(rbm: Any, inputs: np.ndarray, seed: SeedLike, n_chains: int, n_betas: int, device: str):
    from ..rbm import ais_log_partition, base_visible_bias

    model = _as_rbm(rbm).to(device=device)
    base = base_visible_bias(spins_to_units(inputs, model.units), model.units)
    res = ais_log_partition(model, n_chains=n_chains, n_betas=n_betas, seed=seed, base=base)
    return res.log_z, res.stderr, res.effective_sample_size


def _check_data(configs: Any, energies: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(spins (n, N) int8, H (n,) float64)`` from configurations and their energies."""
    v = np.asarray(configs).reshape(len(configs), -1).astype(np.int8)
    H = np.asarray(energies, dtype=np.float64)
    if H.shape != (len(v),) or len(v) < 2:
        raise ValueError(f"need >= 2 configurations and one energy each, got {v.shape}, {H.shape}")
    return v, H


def _distance(
    d: np.ndarray, n_sites: int, log_z: tuple[float, float, float], log_z_data: float,
    tau: float, kind: str, level: int,
) -> Distance:  # fmt: skip
    """``KL/N = (<d> + ln Z_model - ln Z_data) / N``; error: data and AIS in quadrature."""
    lz, lz_err, ess = log_z
    err = np.sqrt(tau * d.var(ddof=1) / len(d) + lz_err**2)
    return Distance(
        kl_per_spin=float(d.mean() + lz - log_z_data) / n_sites, stderr=float(err) / n_sites,
        kind=kind, n_sites=n_sites, log_z_model=float(lz), log_z_model_stderr=float(lz_err),
        log_z_data=float(log_z_data), n_samples=len(d), level=int(level),
        ais_effective_chains=float(ess),
    )  # fmt: skip


def rbm_distance(
    rbm: Any,
    configs: Any,
    energies: Any,
    log_z_data: float,
    *,
    seed: SeedLike,
    n_chains: int = 100,
    n_betas: int = 10_000,
    tau: float = 1.0,
    log_z_model: tuple[float, float] | None = None,
    device: str = "cpu",
) -> Distance:
    """``KL(P || p_RBM) / N`` of one layer from data samples, AIS and the exact ``ln Z_Ising``.

    See theory.md 7.

    Parameters
    ----------
    rbm : RBM-like on the ``N`` data spins
    configs : (n, ...) ±1 samples of ``P``; energies : (n,) ``H(v)`` of each (dimensionless)
    log_z_data : exact ``ln Z`` of ``P`` (:func:`ising_reference`)
    seed : AIS stream
    tau : integrated autocorrelation time of the samples (1 for independent ones)
    log_z_model : ``(ln Z_RBM, stderr)`` to use instead of running AIS (e.g. exact)
    device : where AIS runs (float64; ``"cuda"`` for large models)
    """
    v, H = _check_data(configs, energies)
    d = free_energies(rbm, v) - H
    lz, lz_err, ess = (
        (*log_z_model, float("nan"))
        if log_z_model is not None
        else _ais(rbm, v, seed, n_chains, n_betas, device)
    )
    return _distance(d, v.shape[1], (lz, lz_err, ess), log_z_data, tau, "estimate", 1)


def network_distance(
    layers: Sequence[Any],
    level: int,
    configs: Any,
    energies: Any,
    log_z_data: float,
    *,
    seed: SeedLike,
    n_chains: int = 100,
    n_betas: int = 10_000,
    tau: float = 1.0,
    log_z_top: tuple[float, float] | None = None,
    device: str = "cpu",
) -> Distance:
    """Upper bound on ``KL(P || p_level) / N`` of a DBN truncated at ``level`` (theory.md 7).

    Level 1 is :func:`rbm_distance` (an estimate, not a bound). For ``level > 1``, one sampled
    recognition pass per data configuration gives an unbiased estimate of the Salakhutdinov-
    Murray lower bound on ``ln p(v)`` (module docstring); ``ln Z_top`` comes from AIS on the
    top RBM, whose base model is fitted to the sampled inputs. Same arguments as
    :func:`rbm_distance`; ``log_z_top`` replaces AIS (e.g. an exact value).
    """
    layers = list(layers)
    if isinstance(level, bool) or not 1 <= int(level) <= len(layers):
        raise ValueError(f"level must lie in 1..{len(layers)}, got {level!r}")
    if level == 1:
        return rbm_distance(
            layers[0], configs, energies, log_z_data, seed=seed, n_chains=n_chains,
            n_betas=n_betas, tau=tau, log_z_model=log_z_top, device=device,
        )  # fmt: skip
    v, H = _check_data(configs, energies)
    s_up, s_ais = spawn(seed, 2)
    bound = np.zeros(len(v))
    h = v
    for m in layers[: level - 1]:
        W, a, b, units = rbm_arrays(m)
        x = spins_to_units(h, units)
        field_h = b + x @ W
        p_up = 0.5 * (1.0 + np.tanh(field_h if units == "spin" else 0.5 * field_h))
        h = np.where(s_up.random(p_up.shape) < p_up, 1, -1).astype(np.int8)
        y = spins_to_units(h, units)
        bound += _log_conditional(x, a + y @ W.T, units) - _log_conditional(y, field_h, units)
    bound -= free_energies(layers[level - 1], h)
    lz, lz_err, ess = (
        (*log_z_top, float("nan"))
        if log_z_top is not None
        else _ais(layers[level - 1], h, s_ais, n_chains, n_betas, device)
    )
    d = -H - bound  # KL_ub = <d> + ln Z_top - ln Z_data
    return _distance(d, v.shape[1], (lz, lz_err, ess), log_z_data, tau, "upper_bound", level)
