"""RG measured: Monte Carlo RG of the majority rule on the 2D Ising model (theory.md 7).

Beyond the paper's pictures, numbers: (1) the critical exponents ``y_t`` and ``y_h`` from the
linearized RG matrix ``T = G^-1 F`` (Swendsen 1979) by level and number of operators, with the
exact values beside them; (2) the measured flow of the couplings ``(K_nn, K_nnn)`` from both
sides of ``K_c`` (pseudo-likelihood estimates at every level); (3) ``K_c`` by MCRG matching of
two lattice sizes. The same instruments accept any coarse-graining (a trained RBM layer plugs
in through :class:`~kadanoff.rg.coarse_graining.CoarseGraining`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io import write_json
from ..ising import K_CRITICAL
from .base import Claim, Figure, ModuleExperiment
from .registry import register_experiment
from .rg_plots import value_error

NAME = "rg_measured"
TITLE = "RG measured: Monte Carlo RG of the majority rule (2D Ising)"


@dataclass(frozen=True)
class Config:
    """Settings of the MCRG experiment (majority rule, random ties, b = 2)."""

    L: int = 64
    levels: int = 3
    samples: int = 20_000
    margins: tuple[float, float] = (0.03, 0.01)  # |y_t - 1|, |y_h - 15/8| at unflagged levels
    flow_L: int = 64
    flow_levels: int = 3
    flow_K: tuple[float, ...] = (0.40, 0.42, K_CRITICAL, 0.46, 0.48)
    flow_samples: int = 8000
    flow_keep: int = 1000
    match_L: int = 64
    match_levels: int = 3
    match_half_width: float = 0.004
    match_samples: int = 20_000
    match_tolerance: float = 0.001
    seed: int = 0

    def __post_init__(self) -> None:
        for name, L, lv in (
            ("L", self.L, self.levels),
            ("flow_L", self.flow_L, self.flow_levels),
            ("match_L", self.match_L, self.match_levels),
        ):
            if L % 2**lv or L // 2**lv < 2:
                raise ValueError(f"{name} = {L} must be divisible by 2^levels = {2**lv}")


PRESETS = {
    "quick": Config(),
    "paper": Config(
        L=128, levels=4, samples=1_000_000, margins=(0.01, 0.005), flow_L=128, flow_levels=4,
        flow_samples=20_000, flow_keep=2000, match_L=128, match_levels=4,
        match_half_width=0.003, match_samples=100_000, match_tolerance=0.001,
    ),
}  # fmt: skip

#: metrics a sweep report plots by default (e.g. the exponents against L)
SWEEP_METRICS = ("exponents.y_t.final", "exponents.y_h.final", "matching.K_c_best")


def run(
    config: Config,
    folder: Path,
    *,
    seed: int | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> dict:
    """Measure exponents, flow and matching; save them as JSON; return metrics.

    ``seed`` (default ``config.seed``) is split into the exponent, flow and matching streams.
    """
    from .._rng import spawn
    from ..rg.coarse_graining import Compose
    from ..rg.mcrg import exponents, measure
    from ..rg.mcrg_flow import coupling_flow, match_critical_point

    s_exp, s_flow, s_match = spawn(config.seed if seed is None else seed, 3)
    rule = Compose.repeated("majority", config.L, 2, config.levels)
    res = measure(config.L, K_CRITICAL, rule, config.samples, seed=s_exp, progress=progress)
    tables = [t.to_dict() for t in exponents(res)]
    for t in tables:
        write_json(folder / f"{t['quantity']}.json", t)
    flow = coupling_flow(
        config.flow_K, config.flow_L, levels=config.flow_levels, n_samples=config.flow_samples,
        keep=config.flow_keep, seed=s_flow, progress=progress,
    ).to_dict()  # fmt: skip
    write_json(folder / "flow.json", flow)
    w = config.match_half_width
    match = match_critical_point(
        [K_CRITICAL - w, K_CRITICAL, K_CRITICAL + w], config.match_L, levels=config.match_levels,
        n_samples=config.match_samples, seed=s_match, progress=progress,
    ).to_dict()  # fmt: skip
    write_json(folder / "matching.json", match)
    summary = {}
    for t in tables:
        q = t["quantity"]
        ok = [i for i, f in enumerate(t["flagged_small_lattice"]) if not f and t["levels"][i] > 1]
        ok = ok or [len(t["levels"]) - 1]
        summary[q] = {
            "levels": [t["levels"][i] for i in ok],
            "values": [t[q][i][-1] for i in ok],
            "errors": [t[f"{q}_error"][i][-1] for i in ok],
            "exact": t["exact"],
        }
        # the deepest unflagged step with the full operator set: one number per run (sweeps)
        summary[q].update(
            final_level=summary[q]["levels"][-1],
            final=summary[q]["values"][-1],
            final_error=summary[q]["errors"][-1],
        )
    return {
        "exponents": summary,
        "margins": list(config.margins),
        "tables": {t["quantity"]: t for t in tables},
        "flow": flow,
        "matching": match,
        "K_critical": K_CRITICAL,
        "match_tolerance": config.match_tolerance,
        "timing": {
            "sampling_seconds": res.sampling_seconds,
            "measurement_seconds": res.measurement_seconds,
            "configurations": res.moments.n_configs,
        },
    }


def plot(folder: Path) -> list[Figure]:
    """Exponent convergence and coupling-flow figures from the saved JSON."""
    from .rg_plots import plot_exponents, plot_flow

    tables = [json.loads((folder / f"{q}.json").read_text()) for q in ("y_t", "y_h")]
    flow = json.loads((folder / "flow.json").read_text())
    return [
        (
            plot_exponents(tables, folder / "rg_exponents.png"),
            "y_t and y_h from the linearized RG matrix by RG step, for 1..all operators; dashed: "
            "exact (1 and 15/8); shaded steps have a coarse lattice below 8 x 8.",
        ),
        (
            plot_flow(flow, folder / "rg_flow.png", K_critical=K_CRITICAL),
            "Measured flow of (K_nn, K_nnn) under the majority rule from couplings on both sides "
            "of K_c (pseudo-likelihood at every level; numbers: RG step).",
        ),
    ]


def _flow_diverges(m: dict[str, Any]) -> tuple[bool, str]:
    flow = m["flow"]
    K0 = flow["K_start"]
    Knn = flow["K_nn"]
    ic = min(range(len(K0)), key=lambda i: abs(K0[i] - m["K_critical"]))
    sides = flow["coarse_sides"]
    last = max([n for n, s in enumerate(sides) if s >= 8] or [0])  # unflagged levels only
    while last > 0 and any(Knn[i][last] is None for i in range(len(K0))):
        last -= 1
    ok, parts = True, []
    for i, k in enumerate(K0):
        if i == ic or last < 1:
            continue
        gap0 = Knn[i][0] - Knn[ic][0]
        gap = Knn[i][last] - Knn[ic][last]
        ok &= gap * gap0 > 0 and abs(gap) > abs(gap0)
        parts.append(f"K={k:.3f}: {gap0:+.3f} -> {gap:+.3f}")
    return ok, f"gap to the K_c trajectory after {last} steps: " + "; ".join(parts)


def claims(m: dict[str, Any]) -> list[Claim]:
    out = []
    for (q, s), margin in zip(m["exponents"].items(), m["margins"], strict=True):
        vals = ", ".join(
            f"{value_error(v, e)} at step {lv}"
            for lv, v, e in zip(s["levels"], s["values"], s["errors"], strict=True)
        )
        ok = all(abs(v - s["exact"]) <= margin for v in s["values"])
        out.append(
            Claim(
                f"A block-spin RG step reproduces the exact exponent {q} = {s['exact']:g}",
                f"MCRG (Swendsen 1979): T = G^-1 F, majority rule b = 2 at K_c, all operators; "
                f"|{q} - exact| <= {margin}",
                vals,
                ok,
            )
        )
    ok, text = _flow_diverges(m)
    out.append(
        Claim(
            "K_c is the unstable fixed point of the block-spin flow",
            "pseudo-likelihood couplings of every level, runs started on both sides of K_c",
            text,
            ok,
        )
    )
    mt = m["matching"]
    dk = mt["K_c_best"] - m["K_critical"]
    out.append(
        Claim(
            "MCRG matching locates the critical coupling",
            f"coarse <S_nn> of L = {mt['L_large']} at step n vs L = {mt['L_small']} at n - 1, "
            f"step {mt['K_c_best_level']}; exact ln(1+sqrt2)/2",
            f"K_c = {mt['K_c_best']:.5f}({mt['K_c_best_error']:.5f}), off by {dk:+.5f}",
            abs(dk) <= m["match_tolerance"],
        )
    )
    return out


def tables(m: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    out = []
    for q, t in m["tables"].items():
        n_ops = len(t["operators"])
        rows = []
        for i, lv in enumerate(t["levels"]):
            cells = [value_error(y, e) for y, e in zip(t[q][i], t[f"{q}_error"][i], strict=True)]
            side = f"{t['coarse_sides'][i]}" + (
                " (< 8: flagged)" if t["flagged_small_lattice"][i] else ""
            )
            rows.append([lv, side, *cells, t["exact"]])
        out.append(
            (
                f"{q} by RG step (rows) and number of operators "
                f"(columns: first k of {', '.join(t['operators'])})",
                ["step", "coarse side", *[str(k) for k in range(1, n_ops + 1)], "exact"],
                rows,
            )
        )
    flow = m["flow"]
    rows = []
    for i, k in enumerate(flow["K_start"]):
        pairs = zip(flow["K_nn"][i], flow["K_nn_error"][i], strict=True)
        rows.append([f"{k:.4f}", *["-" if v is None else f"{v:.3f}({e:.3f})" for v, e in pairs]])
    out.append(
        (
            "Measured K_nn by RG step (pseudo-likelihood, error in brackets)",
            ["K start", *[f"step {n} ({s})" for n, s in enumerate(flow["coarse_sides"])]],
            rows,
        )
    )
    mt = m["matching"]
    out.append(
        (
            f"MCRG matching, L = {mt['L_large']} vs {mt['L_small']}: K_c by step and operator "
            f"(exact {m['K_critical']:.6f})",
            ["step", "coarse side", *mt["operators"]],
            [
                [lv, side, *[f"{k:.5f}({e:.5f})" for k, e in zip(ks, es, strict=True)]]
                for lv, side, ks, es in zip(mt["levels"], mt["coarse_sides"], mt["K_c"],
                                            mt["K_c_error"], strict=True)
            ],
        )
    )  # fmt: skip
    return out


def reading(m: dict[str, Any]) -> list[str]:
    t = m["timing"]
    return [
        "Monte Carlo RG turns the paper's qualitative question (does a coarse-graining do RG?) "
        "into numbers. Configurations at K_c are blocked repeatedly with the majority rule "
        "(b = 2, ties broken at random); the linearized RG matrix T = G^-1 F of translation-"
        "summed even and odd operators gives y_t and y_h. One operator is never enough (the "
        "first column); with a handful the estimates settle near the exact 1 and 15/8, and move "
        "away again on coarse lattices below 8 x 8 (flagged).",
        "The couplings of each level, estimated by pseudo-likelihood (validated on four exactly "
        "known Hamiltonians in the test suite), show the flow: runs started below K_c lose "
        "their couplings, those above gain, and the critical run stays near a fixed point with "
        "a small next-nearest-neighbour coupling. Matching the blocked observables of two "
        "lattice sizes locates K_c without any fit to an exponent.",
        f"This run measured {t['configurations']} configurations; sampling took "
        f"{t['sampling_seconds']:.1f} s and the measurement of every operator at every level "
        f"{t['measurement_seconds']:.1f} s.",
    ]


register_experiment(ModuleExperiment(__name__))
