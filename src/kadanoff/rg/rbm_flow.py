"""The "RBM flow" of Iso, Shiba & Yokoo (PRE 97, 053304, 2018), measured directly (theory.md 7).

An RBM trained on Ising configurations pooled from many temperatures is iterated
``v -> h -> v`` from configurations at one temperature; Iso et al. read the temperature of the
reconstructions with a trained classifier and saw them drift towards ``T_c``. Later work found
that thermometer unreliable (Veiga et al. 2020; Acevedo et al. 2022). :func:`rbm_flow` reads the
flow with exact instruments instead, at every step ``n`` or at chosen ones (``record``;
``n = 0`` are the starting configurations):

* the nearest-neighbour energy per spin ``u = -(1/N) sum_<ij> v_i v_j`` and ``|m|`` of the
  reconstructed ``v^(n)`` (means over the chains with their standard errors);
* the renormalized coupling ``K_nn`` of ``v^(n)`` by maximum pseudo-likelihood
  (:func:`~kadanoff.rg.mcrg_couplings.fit_couplings`, the estimator of the block-spin flow);
* the *energy coupling* ``K_E``: the ``K`` at which the exact energy of the same ``L x L`` torus
  (Kaufman 1949, :func:`kadanoff.ising.exact.kaufman_derivatives`) equals the measured ``u``.
  On true Ising samples at ``K`` both estimators return ``K``; where they disagree the
  reconstructions are not nearest-neighbour Ising configurations at any temperature.

Two iterations (``mode``):

* ``"sample"``: ``h ~ p(h | v)``, ``v' ~ p(v | h)``: block Gibbs sampling of the RBM, so the
  flow ends, for any start, at the RBM's own equilibrium ``p(v)`` (if it mixes in
  ``n_steps``); its "fixed point" is a property of the model, not of an RG transformation.
* ``"mean"``: ``h = sign E[h | v]``, ``v' = sign E[v | h]`` (sign of the conditional mean at
  both layers, exact ties broken at random): a deterministic map of ±1 configurations.

Configurations of different chains are independent, so the errors are those of independent
samples (pseudo-likelihood: sandwich errors over blocks of chains).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import torch
from scipy import optimize

from .._rng import SeedLike, torch_generator
from ..ising import IsingModel
from ..ising.exact import kaufman_derivatives
from ..lattice import SquareLattice
from ..rbm import RBM
from ..spins import check_spins
from .mcrg_couplings import CouplingBasis, PseudoLikelihood, fit_couplings

__all__ = [
    "FlowTrace",
    "MODES",
    "rbm_flow",
    "flow_fixed_point",
    "energy_coupling",
    "lattice_observables",
]

#: iterations of :func:`rbm_flow`
MODES = ("sample", "mean")
#: couplings beyond this have an energy within 1e-8 of the ground state: ``K_E = inf``
_K_MAX = 10.0
#: below this coupling Kaufman's energy loses digits; the high-temperature term is used
_K_SMALL = 1e-3


def lattice_observables(configs: np.ndarray) -> dict[str, float]:
    """Means and standard errors of ``u`` (nn energy per spin, units of J) and ``|m|``.

    ``configs``: ``(n, L, L)`` ±1, independent rows. Keys ``energy``, ``energy_error``,
    ``abs_magnetization``, ``abs_magnetization_error`` (theory.md 8 conventions).
    """
    v = check_spins(configs, "configs")
    if v.ndim != 3 or v.shape[1] != v.shape[2] or len(v) < 2:
        raise ValueError(f"configs must be (n >= 2, L, L) ±1 spins, got shape {v.shape}")
    lat = SquareLattice(int(v.shape[1]))
    u = -IsingModel(lat, K=1.0).bond_sum(v) / lat.n_sites
    m = np.abs(v.reshape(len(v), -1).astype(np.int64).sum(1)) / lat.n_sites
    n = len(v)
    return {
        "energy": float(u.mean()),
        "energy_error": float(u.std(ddof=1) / np.sqrt(n)),
        "abs_magnetization": float(m.mean()),
        "abs_magnetization_error": float(m.std(ddof=1) / np.sqrt(n)),
    }


@lru_cache(maxsize=16)
def _energy_table(L: int) -> tuple[np.ndarray, np.ndarray]:
    """Kaufman energies per site on a grid of ``K`` from ``_K_SMALL`` to ``_K_MAX`` (brackets)."""
    grid = np.geomspace(_K_SMALL, _K_MAX, 400)
    return grid, np.asarray(-kaufman_derivatives(L, grid)[1] / (L * L))


def energy_coupling(L: int, u: float, u_error: float = 0.0) -> tuple[float, float]:
    """Coupling ``K_E`` with exact torus energy ``u_L(K_E) = u``, and its propagated error.

    ``u_L`` is Kaufman's exact energy per site of the ``L x L`` torus (``L`` even, so
    ``u_L(-K) = -u_L(K)`` and ``u > 0`` gives an antiferromagnetic ``K_E < 0``). A ground-state
    energy ``|u| >= u_L(K_max)`` gives ``+-inf`` with an infinite error. Kaufman's formula loses
    precision for ``|K| < 1e-3`` (``|u| < 2e-3``); there ``K_E = atanh(|u| / 2)``, the leading
    high-temperature term (relative error below ``3 K^2``, i.e. 3e-6). Error:
    ``u_error / |du_L/dK|`` with ``du_L/dK = -(1/N) d^2 lnZ/dK^2`` (exact; ``-2`` at small ``K``).
    """
    if L % 2 or L < 4:
        raise ValueError(f"energy_coupling needs an even torus side L >= 4, got {L}")
    if not np.isfinite(u):
        return float("nan"), float("nan")
    N = L * L
    grid, energies = _energy_table(L)
    target = -abs(u)
    if energies[-1] >= target:
        return float(np.copysign(np.inf, -u)), float("inf")
    if energies[0] <= target:
        K, slope = float(np.arctanh(abs(u) / 2)), 2.0
    else:
        i = int(np.searchsorted(-energies, -target))  # energies decrease along the grid

        def gap(k: float) -> float:
            return float(-kaufman_derivatives(L, k)[1] / N) - target

        K = float(optimize.brentq(gap, grid[i - 1], grid[i], xtol=1e-15))
        slope = float(kaufman_derivatives(L, K)[2]) / N
    err = float(u_error / slope) if slope > 0 else float("inf")
    return (K if u <= 0 else -K), err


@dataclass
class FlowTrace:
    """Observables of the reconstructions ``v^(n)`` at the recorded steps (theory.md 7).

    ``steps``: the recorded steps, increasing, from 0 to ``n_steps``; every other array has one
    entry per recorded step (``couplings``: ``(len(steps), len(names))``); NaN where the
    pseudo-likelihood has no finite maximum and ``+-inf`` for a single coupling of frozen
    configurations. ``snapshots``: ``(len(steps), k, L, L)`` int8, the first ``k`` chains;
    ``final``: ``(n, L, L)`` int8, every chain after the last step.
    """

    mode: str
    L: int
    n_configs: int
    names: tuple[str, ...]
    steps: np.ndarray
    energy: np.ndarray
    energy_error: np.ndarray
    abs_magnetization: np.ndarray
    abs_magnetization_error: np.ndarray
    couplings: np.ndarray
    coupling_errors: np.ndarray
    energy_coupling: np.ndarray
    energy_coupling_error: np.ndarray
    snapshots: np.ndarray = field(repr=False)
    final: np.ndarray = field(repr=False)

    @property
    def n_steps(self) -> int:
        return int(self.steps[-1])

    @property
    def K(self) -> np.ndarray:
        """Pseudo-likelihood ``K_nn`` per step."""
        return self.couplings[:, self.names.index("nn")]

    @property
    def K_error(self) -> np.ndarray:
        return self.coupling_errors[:, self.names.index("nn")]

    @property
    def temperature(self) -> np.ndarray:
        """``1 / K_nn`` per step."""
        with np.errstate(divide="ignore"):
            return 1.0 / self.K

    @property
    def energy_temperature(self) -> np.ndarray:
        """``1 / K_E`` per step (the exact energy-temperature relation of the torus)."""
        with np.errstate(divide="ignore"):
            return 1.0 / self.energy_coupling

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready lists (``None`` for NaN/inf), one key per coupling (``K_nn``, ...)."""
        out: dict[str, Any] = {"mode": self.mode, "L": self.L, "n_configs": self.n_configs,
                               "steps": [int(s) for s in self.steps]}  # fmt: skip
        for key in ("energy", "energy_error", "abs_magnetization", "abs_magnetization_error",
                    "energy_coupling", "energy_coupling_error"):  # fmt: skip
            out[key] = _finite_list(getattr(self, key))
        for a, name in enumerate(self.names):
            out[f"K_{name}"] = _finite_list(self.couplings[:, a])
            out[f"K_{name}_error"] = _finite_list(self.coupling_errors[:, a])
        return out


def _finite_list(x: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(x, dtype=np.float64)]


def _signs(field: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``sign(field)`` with exact zeros replaced by random ±1."""
    coin = torch.rand(field.shape, generator=generator, dtype=field.dtype, device=field.device)
    out = torch.sign(field)
    return torch.where(out == 0, torch.where(coin < 0.5, -1.0, 1.0).to(field.dtype), out)


def _unbounded_direction(pl: PseudoLikelihood) -> np.ndarray | None:
    """A direction ``K`` with ``d . K >= 0`` for every local vector and ``> 0`` on average, if
    one exists: then the pseudo-likelihood grows without bound along it (frozen data)."""
    rows, w = pl.rows, pl.total
    res = optimize.linprog(
        np.zeros(rows.shape[1]), A_ub=-rows, b_ub=np.zeros(len(rows)),
        A_eq=(w @ rows)[None, :], b_eq=[1.0], bounds=[(None, None)] * rows.shape[1],
    )  # fmt: skip
    return np.asarray(res.x) if res.status == 0 else None


def _fit(conf: np.ndarray, basis: CouplingBasis, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-likelihood couplings and errors; ``+-inf`` (one coupling) or NaN (several) when
    the data are separable (no finite maximum; checked when the fit fails or a coupling
    exceeds 1.5, where the optimizer can stop on a flat slope), NaN on other failures."""
    nan = np.full(len(basis.names), np.nan)
    n_blocks = min(100, n)
    try:
        fit = fit_couplings(conf, basis, n_blocks=n_blocks)
        K, err = fit.couplings, fit.errors
    except ValueError:
        K, err = nan, nan.copy()
    if np.all(np.isfinite(K)) and np.abs(K).max() <= 1.5:
        return K, err
    direction = _unbounded_direction(PseudoLikelihood(basis, conf, n_blocks=n_blocks))
    if direction is None:
        return K, err
    if len(basis.names) == 1:
        return np.sign(direction) * np.inf, nan
    return nan, nan.copy()


def rbm_flow(
    rbm: RBM,
    v0: Any,
    n_steps: int,
    *,
    seed: SeedLike,
    mode: Literal["sample", "mean"] = "sample",
    names: Sequence[str] = ("nn",),
    record: Sequence[int] | None = None,
    n_snapshots: int = 4,
) -> FlowTrace:
    """Iterate ``v -> h -> v`` from ``v0`` and measure every step (Iso et al. 2018; theory.md 7).

    Parameters
    ----------
    rbm : RBM
        A spin (±1) RBM with ``n_visible = L * L`` (any ``n_hidden``).
    v0 : (n, L, L) ±1
        Independent starting configurations (``n >= 2``; ``L`` even, >= 4).
    n_steps : int
        Steps ``v -> h -> v`` (>= 1).
    seed : int, SeedSequence or Generator
        Draws of ``"sample"`` mode and the tie-breaks of ``"mean"`` mode.
    mode : ``"sample"`` (block Gibbs) or ``"mean"`` (sign of the conditional means).
    names : couplings fitted by pseudo-likelihood (must include ``"nn"``).
    record : steps to measure (default: every step); 0 and ``n_steps`` are always measured.
    n_snapshots : chains kept at every recorded step for pictures.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if getattr(rbm, "units", None) != "spin":
        raise ValueError("rbm_flow needs a ±1-unit RBM: convert a BinaryRBM with .to_spin()")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    if "nn" not in names:
        raise ValueError(f"names must include 'nn' (the coupling of the flow), got {names}")
    v = check_spins(v0, "v0")
    if v.ndim != 3 or v.shape[1] != v.shape[2] or len(v) < 2:
        raise ValueError(f"v0 must be (n >= 2, L, L) ±1 spins, got shape {v.shape}")
    n, L = int(v.shape[0]), int(v.shape[1])
    if L * L != rbm.n_visible:
        raise ValueError(f"v0 has {L} x {L} = {L * L} sites but the RBM {rbm.n_visible} visible")
    if L % 2 or L < 4:
        raise ValueError(f"the lattice side must be even and >= 4 (Kaufman inversion), got {L}")
    steps = np.unique(np.concatenate([[0, n_steps], np.arange(n_steps + 1) if record is None
                                      else np.asarray(record, dtype=np.int64)]))  # fmt: skip
    if steps[0] < 0 or steps[-1] > n_steps:
        raise ValueError(f"record must hold steps in [0, {n_steps}], got {list(record or [])}")
    basis = CouplingBasis.square(L, tuple(names))
    g = torch_generator(seed, str(rbm.device))
    k = min(int(n_snapshots), n)
    rows: list[dict[str, float]] = []
    Ks = np.full((len(steps), len(names)), np.nan)
    Kerr = np.full_like(Ks, np.nan)
    snaps = np.empty((len(steps), k, L, L), dtype=np.int8)
    row = dict(zip(steps.tolist(), range(len(steps)), strict=True))
    x = torch.as_tensor(v.reshape(n, -1).astype(np.float64), device=rbm.device).to(rbm.dtype)
    for step in range(n_steps + 1):
        if step:
            if mode == "sample":
                x = rbm.sample_visible(rbm.sample_hidden(x, generator=g), generator=g)
            else:
                h = _signs(rbm.hidden_field(x), g)
                x = _signs(rbm.visible_field(h), g)
        if step not in row:
            continue
        conf = x.detach().cpu().numpy().astype(np.int8).reshape(n, L, L)
        i = row[step]
        snaps[i] = conf[:k]
        obs = lattice_observables(conf)
        obs["K_E"], obs["K_E_error"] = energy_coupling(L, obs["energy"], obs["energy_error"])
        rows.append(obs)
        Ks[i], Kerr[i] = _fit(conf, basis, n)

    def col(key: str) -> np.ndarray:
        return np.array([r[key] for r in rows])

    return FlowTrace(
        mode=mode, L=L, n_configs=n, names=tuple(names), steps=steps,
        energy=col("energy"), energy_error=col("energy_error"),
        abs_magnetization=col("abs_magnetization"),
        abs_magnetization_error=col("abs_magnetization_error"),
        couplings=Ks, coupling_errors=Kerr,
        energy_coupling=col("K_E"), energy_coupling_error=col("K_E_error"),
        snapshots=snaps, final=conf,
    )  # fmt: skip


def flow_fixed_point(
    trace: FlowTrace, *, which: Literal["coupling", "energy"] = "coupling"
) -> tuple[float, float]:
    """Where the flow ends: ``(K*, error)`` from the last step (theory.md 7).

    ``K*`` is ``K_nn`` (``which="coupling"``) or ``K_E`` (``"energy"``) after the last step.
    The error adds in quadrature the statistical error of that step and the change over the
    last quarter of the flow (``|K_n - K_m|``, ``m`` the last recorded step ``<= 3n/4``, or
    the one before the last), so a flow that has not settled gets a large error instead of a
    false fixed point. ``(+-inf or NaN, NaN)`` when the last step has no finite estimate.
    """
    if which == "coupling":
        K, err = trace.K, trace.K_error
    elif which == "energy":
        K, err = trace.energy_coupling, trace.energy_coupling_error
    else:
        raise ValueError(f"which must be 'coupling' or 'energy', got {which!r}")
    steps = np.asarray(trace.steps)
    n = trace.n_steps
    back = min(int(np.searchsorted(steps, n - max(1, n // 4), side="right")) - 1, len(steps) - 2)
    last, earlier = float(K[-1]), float(K[max(back, 0)])
    if not np.isfinite(last):
        return last, float("nan")
    if not np.isfinite(earlier):
        return last, float("inf")
    return last, float(np.hypot(err[-1], last - earlier))
