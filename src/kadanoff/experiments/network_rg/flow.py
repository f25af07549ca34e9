"""RBM flow (Iso, Shiba & Yokoo, PRE 97, 053304, 2018) measured directly: a hyperparameter table.

An RBM with ±1 units is trained on Ising configurations pooled from temperatures in ``[1, 4]``;
held-out configurations at a few starting temperatures are iterated ``v -> h -> v``
(:func:`kadanoff.rg.rbm_flow.rbm_flow`, both the sampled and the sign-of-mean iteration) and
read at every step by two exact instruments instead of a trained thermometer: the
pseudo-likelihood coupling ``K_nn`` (the renormalized-coupling estimator of the block-spin flow)
and the energy coupling ``K_E`` (exact Kaufman energy of the same torus). For each
hyperparameter setting (hidden units, L1, epochs) and each of several seeds the fixed point is
where the flows end (:func:`~kadanoff.rg.rbm_flow.flow_fixed_point`, averaged over starts);
the table gives its mean and standard error over seeds and whether it sits near ``K_c``.

Seeds: the training data and the starting configurations are drawn once per run; each seed
replicate re-draws the RBM's initialization, its training noise and the flow's noise.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...io import strict_json, write_json, write_npz

__all__ = ["Setting", "Config", "QUICK", "PAPER", "compute", "plot", "claims", "reading"]

NAME = "network_rg_flow"
TITLE = "RBM flow (Iso, Shiba & Yokoo 2018), measured with exact instruments"


@dataclass(frozen=True)
class Setting:
    """One hyperparameter setting: hidden units, L1 strength on the weights, epochs."""

    n_hidden: int
    l1: float = 0.0
    epochs: int = 30

    @property
    def label(self) -> str:
        return f"N_h={self.n_hidden}, L1={self.l1:g}, {self.epochs} ep"


@dataclass(frozen=True)
class Config:
    """Settings of the RBM-flow experiment (training recipe: ``kadanoff.rbm`` preset "spin")."""

    L: int
    temperatures: tuple[float, ...]  # training temperatures, pooled
    samples_per_temperature: int
    start_temperatures: tuple[float, ...]
    start_configs: int  # held-out configurations per starting temperature
    n_steps: int
    record: tuple[int, ...] | None  # measured steps (None: every step)
    settings: tuple[Setting, ...]
    n_seeds: int
    modes: tuple[str, ...] = ("sample", "mean")
    algorithm: str = "sw"

    def __post_init__(self) -> None:
        if self.L % 2 or self.L < 4:
            raise ValueError(f"L must be even and >= 4 (exact energy inversion), got {self.L}")
        if len(self.temperatures) < 2 or min(self.temperatures) <= 0:
            raise ValueError("give at least 2 positive training temperatures")
        if self.n_seeds < 2:
            raise ValueError(f"n_seeds must be >= 2 for error bars over seeds, got {self.n_seeds}")

    @property
    def resolution(self) -> float:
        """Largest gap of the training temperature grid: the "near T_c" margin."""
        return float(np.diff(np.sort(self.temperatures)).max())


QUICK = Config(
    L=8,
    temperatures=(1.0, 1.75, 2.5, 3.25, 4.0),
    samples_per_temperature=160,
    start_temperatures=(1.0, 2.5, 4.0),
    start_configs=100,
    n_steps=6,
    record=None,
    settings=(Setting(16, 0.0, 4), Setting(32, 0.0, 4), Setting(16, 1e-3, 8)),
    n_seeds=2,
)
PAPER = Config(
    L=16,
    temperatures=tuple(float(t) for t in np.round(np.linspace(1.0, 4.0, 16), 6)),
    samples_per_temperature=500,
    start_temperatures=(1.0, 1.6, 2.2, 3.0, 4.0),
    start_configs=400,
    n_steps=64,
    record=(0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64),
    settings=(
        Setting(64, 0.0, 30),
        Setting(144, 0.0, 30),
        Setting(64, 1e-3, 30),
        Setting(64, 0.0, 120),
        Setting(256, 0.0, 30),
    ),
    n_seeds=3,
)

_QUANTITIES = (
    "K",
    "K_error",
    "K_E",
    "K_E_error",
    "energy",
    "energy_error",
    "abs_magnetization",
    "abs_magnetization_error",
)


def _dataset(config: Config, T: float, n: int, seed: Any) -> np.ndarray:
    from ...ising import IsingModel
    from ...ising.dataset import generate_dataset
    from ...lattice import SquareLattice

    model = IsingModel(SquareLattice(config.L), K=1.0 / T)
    return generate_dataset(model, n, algorithm=config.algorithm, seed=seed, progress=False).spins


def compute(
    config: Config, folder: Path, *, seed: Any, device: str = "cpu", progress: bool = False
) -> dict[str, Any]:
    """Train every setting x seed, run the flows, save ``flow.npz`` and ``flow.json``."""
    from ..._rng import seed_sequence
    from ...rbm.train import get_preset, train_rbm
    from ...rg.rbm_flow import flow_fixed_point, rbm_flow

    t0 = time.perf_counter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    s_data, s_start, s_models = seed_sequence(seed).spawn(3)
    data = np.concatenate(
        [
            _dataset(config, T, config.samples_per_temperature, s)
            for T, s in zip(
                config.temperatures, s_data.spawn(len(config.temperatures)), strict=True
            )
        ]
    )
    starts = [
        _dataset(config, T, config.start_configs, s)
        for T, s in zip(
            config.start_temperatures, s_start.spawn(len(config.start_temperatures)), strict=True
        )
    ]
    t_data = time.perf_counter() - t0
    S, R, M, B = (
        len(config.settings),
        config.n_seeds,
        len(config.modes),
        len(config.start_temperatures),
    )
    rec = set(range(config.n_steps + 1)) if config.record is None else set(config.record)
    arr = {q: np.full((S, R, M, B, len(rec | {0, config.n_steps})), np.nan) for q in _QUANTITIES}
    steps: list[int] = []
    fixed = {w: np.full((S, R, M, B, 2), np.nan) for w in ("coupling", "energy")}
    streams = s_models.spawn(S * R)
    t_train = 0.0
    for s, setting in enumerate(config.settings):
        for r in range(R):
            s_train, s_flow = streams[s * R + r].spawn(2)
            tc = time.perf_counter()
            cfg = get_preset("spin", epochs=setting.epochs, l1=setting.l1, device=device)
            rbm = train_rbm(
                (config.L**2, setting.n_hidden),
                data.reshape(len(data), -1),
                cfg,
                seed=s_train,
                progress=False,
            ).model
            t_train += time.perf_counter() - tc
            flow_seeds = s_flow.spawn(M * B)
            for m, mode in enumerate(config.modes):
                for b, v0 in enumerate(starts):
                    tr = rbm_flow(
                        rbm,
                        v0,
                        config.n_steps,
                        seed=flow_seeds[m * B + b],
                        mode=mode,  # type: ignore[arg-type]
                        record=config.record,
                    )
                    steps = tr.steps.tolist()
                    for q, x in zip(
                        _QUANTITIES,
                        (
                            tr.K,
                            tr.K_error,
                            tr.energy_coupling,
                            tr.energy_coupling_error,
                            tr.energy,
                            tr.energy_error,
                            tr.abs_magnetization,
                            tr.abs_magnetization_error,
                        ),
                        strict=True,
                    ):
                        arr[q][s, r, m, b] = x
                    for w in fixed:
                        fixed[w][s, r, m, b] = flow_fixed_point(tr, which=w)  # type: ignore[arg-type]
            if progress:
                print(f"[flow] {setting.label} seed {r}: done", flush=True)
    meta = {
        "settings": [setting.label for setting in config.settings],
        "modes": list(config.modes),
        "start_temperatures": list(config.start_temperatures),
        "L": config.L,
        "n_steps": config.n_steps,
        "steps": steps,
    }
    write_npz(folder / "flow.npz", {**arr, **{f"fixed_{w}": x for w, x in fixed.items()}}, meta)
    metrics = _summarize(config, fixed)
    metrics["timing"] = {
        "data_seconds": t_data,
        "training_seconds": t_train,
        "total_seconds": time.perf_counter() - t0,
    }
    metrics = strict_json(metrics)  # NaN/inf (no finite fixed point) -> None
    write_json(folder / "flow.json", metrics)
    return metrics


def _summarize(config: Config, fixed: dict[str, np.ndarray]) -> dict[str, Any]:
    """The table: per setting and mode, for both thermometers, ``K*`` over seeds (mean and
    standard error of the per-seed weighted mean over starts), whether the flows from all
    starts end at one point (chi-square of the starts' end points with their flow errors,
    pooled over seeds, p >= 0.01), the range of end points, and where ``K*`` sits."""
    from ...ising import K_CRITICAL, T_CRITICAL

    rows = []
    for s, setting in enumerate(config.settings):
        for m, mode in enumerate(config.modes):
            row: dict[str, Any] = {
                "setting": setting.label,
                "n_hidden": setting.n_hidden,
                "l1": setting.l1,
                "epochs": setting.epochs,
                "mode": mode,
            }
            for w, key in (("coupling", "K_star"), ("energy", "K_star_E")):
                row.update(_fixed_point_row(key, fixed[w][s, :, m], config.resolution, T_CRITICAL))
            rows.append(row)
    return {
        "K_critical": K_CRITICAL,
        "T_critical": T_CRITICAL,
        "resolution_T": config.resolution,
        "L": config.L,
        "n_seeds": config.n_seeds,
        "start_temperatures": list(config.start_temperatures),
        "n_steps": config.n_steps,
        "table": rows,
    }


def _fixed_point_row(key: str, kf: np.ndarray, margin: float, T_c: float) -> dict[str, Any]:
    """Columns ``key_*`` of one table row from ``kf``, ``(seeds, starts, 2)`` end points
    ``(K, error)``; "near K_c" means ``|T* - T_c| <= margin + 2 SE``."""
    from scipy import stats

    k, e = kf[..., 0], kf[..., 1]
    with np.errstate(divide="ignore"):
        T_end = np.where(np.isfinite(k), 1.0 / k, np.where(np.isnan(k), np.nan, 0.0))
    out: dict[str, Any] = {
        f"{key}_frozen_share": float(np.mean(~np.isfinite(k))),
        f"{key}_T_end_low": float(np.mean(np.min(T_end, axis=1))),
        f"{key}_T_end_high": float(np.mean(np.max(T_end, axis=1))),
    }
    nan = float("nan")
    if not np.all(np.isfinite(k) & np.isfinite(e)):
        out.update(
            {
                key: nan,
                f"{key}_err": nan,
                f"{key}_T": nan,
                f"{key}_T_err": nan,
                f"{key}_single_p": 0.0,
                f"{key}_position": "no single fixed point",
            }
        )
        return out
    w = 1.0 / np.maximum(e, 1e-12) ** 2
    per_seed = (w * k).sum(axis=1) / w.sum(axis=1)
    chi2 = float((w * (k - per_seed[:, None]) ** 2).sum())
    p_single = float(stats.chi2.sf(chi2, k.size - len(k))) if k.shape[1] > 1 else 1.0
    mean = float(per_seed.mean())
    err = float(per_seed.std(ddof=1) / math.sqrt(len(per_seed)))
    T, T_err = (1.0 / mean, err / mean**2) if mean > 0 else (nan, nan)
    out.update(
        {
            key: mean,
            f"{key}_err": err,
            f"{key}_T": T,
            f"{key}_T_err": T_err,
            f"{key}_single_p": p_single,
        }
    )
    if p_single < 0.01:
        out[f"{key}_position"] = "start-dependent"
    elif not math.isfinite(T):
        out[f"{key}_position"] = "no single fixed point"
    elif abs(T - T_c) <= margin + 2 * T_err:
        out[f"{key}_position"] = "near K_c"
    else:
        out[f"{key}_position"] = "above T_c" if T > T_c else "below T_c"
    return out


def claims(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Two claims judged from the table (sampled flow, the iteration of Iso et al.)."""
    from .flow_claims import claims as claims_of

    return claims_of(metrics)


def reading(metrics: dict[str, Any]) -> str:
    """A plain-language paragraph on what the table shows (every statement from the numbers)."""
    from .flow_claims import reading as reading_of

    return reading_of(metrics)


def summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """Rows for the network_rg summary (:mod:`.summary`): the fixed-point table and the
    sampled-flow figure."""
    from .flow_claims import summary as summary_of

    return summary_of(metrics)


def plot(folder: Path) -> list[Path]:
    """K_nn and K_E against flow step per starting temperature (see :mod:`.flow_plots`)."""
    from .flow_plots import plot_flows

    return plot_flows(Path(folder))
