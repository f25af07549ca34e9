"""The cross-part summary of ``network_rg`` (issue 11, Report): exponents, couplings, KL.

A part opts in with an optional function ``summary(metrics) -> dict`` (its own metrics in,
JSON-able rows out); a part without it is skipped and the section says so. Every key is
optional; each is a list of rows (dicts of numbers and strings, ``None`` where there is no
finite value):

- ``"exponents"``: ``{"rule", "L", "level", "y_t", "y_t_err", "y_h", "y_h_err", "y_t_exact",
  "y_h_exact", "small_lattice", "same_configurations"}``, one row per MCRG step; the part's
  majority rule has ``rule == "majority"`` at the same ``L`` and ``level``, and the exponents
  table sets every other rule beside it; ``same_configurations`` says whether the two rules
  blocked the same Ising configurations (else independent ones at the same ``L`` and ``K``);
- ``"couplings"``: ``{"rule", "L", "levels": [0, ..., n], "K_<c>": [...], "K_<c>_err": [...]}``
  for ``c`` in :data:`COUPLINGS` (one value per level; level 0 is the fine lattice), from
  :func:`kadanoff.rg.fit_couplings` (:func:`level_couplings`);
- ``"kl"``: ``{"network", "level", "value", "value_err", "kind", "ais_effective_chains",
  "ais_chains"}``, kind one of :data:`KL_KINDS`;
- ``"tables"``: ``{"caption", "header", "rows"}`` drawn as they are (e.g. the RBM-flow table);
- ``"figures"``: file names in the part's folder (written by its ``plot``) shown again here.

:func:`collect` gathers the rows of every part (each tagged with ``"part"``) and the paired
exponents table (:func:`exponent_table`); the aggregator puts the result in
``metrics.json`` under ``network_rg.summary``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "COUPLINGS",
    "KEYS",
    "KL_KINDS",
    "collect",
    "exponent_table",
    "level_couplings",
    "pm",
]

#: the couplings every rule's flow is drawn in (others may be fitted too)
COUPLINGS = ("nn", "nnn", "field")
KEYS = ("exponents", "couplings", "kl", "tables", "figures")
KL_KINDS = ("exact", "estimate", "upper_bound", "reference")
#: the goal of issue 11 (acceptance 3): a learned rule's exponents within this of majority's
GOAL = 0.03


def level_couplings(
    kept: Sequence[np.ndarray], names: Sequence[str] = COUPLINGS, n_blocks: int = 50
) -> dict[str, list[float | None]]:
    """``{"K_<c>": [per level], "K_<c>_err": [...]}`` fitted by pseudo-likelihood to the kept
    coarse configurations of each level (``(n, side, side)`` each); a level the fit refuses
    (too few configurations, operators that coincide on a tiny torus) gives ``None``."""
    from ...rg import CouplingBasis, fit_couplings

    out: dict[str, list[float | None]] = {}
    for c in names:
        out[f"K_{c}"], out[f"K_{c}_err"] = [], []
    for x in kept:
        fit: dict[str, Any] = {}
        if len(x) >= 2:
            try:
                fit = fit_couplings(x, CouplingBasis.square(x.shape[-1], names),
                                    n_blocks=min(n_blocks, len(x))).as_dict()  # fmt: skip
            except ValueError:
                fit = {}
        for c in names:
            out[f"K_{c}"].append(_finite(fit.get(f"K_{c}")))
            out[f"K_{c}_err"].append(_finite(fit.get(f"K_{c}_error")))
    return out


def _finite(x: Any) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def pm(v: float | None, e: float | None, digits: int = 4) -> str:
    """``"v ± e"`` (``"n/a"`` without a value)."""
    if v is None or not math.isfinite(v):
        return "n/a"
    if e is None or not math.isfinite(e):
        return f"{v:.{digits}f}"
    return f"{v:.{digits}f} ± {e:.{digits}f}"


def _numbers(r: Mapping[str, Any], keys: Sequence[str]) -> list[float] | None:
    """The finite numbers ``r[k]`` for ``keys``, or ``None`` when one is missing."""
    vals = [r.get(k) for k in keys]
    if any(v is None or not math.isfinite(v) for v in vals):
        return None
    return [float(v) for v in vals]  # type: ignore[arg-type]


def _distance(r: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """Euclidean distance of ``(y_t, y_h)`` from the exact pair, with its propagated error."""
    vals = _numbers(r, ("y_t", "y_t_err", "y_h", "y_h_err", "y_t_exact", "y_h_exact"))
    if vals is None:
        return None, None
    yt, et, yh, eh, xt, xh = vals
    dt, dh = yt - xt, yh - xh
    d = math.hypot(dt, dh)
    err = math.hypot(dt * et, dh * eh) / d if d > 0 else math.hypot(et, eh)
    return d, err


def _diff(a: Mapping[str, Any], b: Mapping[str, Any], q: str) -> tuple[float | None, ...]:
    x, y = _numbers(a, (q, f"{q}_err")), _numbers(b, (q, f"{q}_err"))
    if x is None or y is None:
        return None, None
    return x[0] - y[0], math.hypot(x[1], y[1])


def _within_goal(row: Mapping[str, Any]) -> bool | None:
    """Both exponents within :data:`GOAL` of majority rule's; ``None`` (inconclusive) when a
    difference is missing or its error exceeds :data:`GOAL`."""
    d = [(row[f"{q}_minus_majority"], row[f"{q}_minus_majority_err"]) for q in ("y_t", "y_h")]
    if any(v is None or e is None or e > GOAL for v, e in d):
        return None
    return all(abs(v) <= GOAL for v, _ in d)


def exponent_table(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every non-majority exponent row beside its part's majority row at the same ``L`` and
    level: both exponents, their differences (errors in quadrature, which overstates them when
    both rules blocked the same configurations), each one's distance from the exact
    ``(1, 15/8)``, and whether the rule is within :data:`GOAL` of majority rule in both
    exponents (``None``: inconclusive, an error above the goal)."""
    ref = {(r["part"], r["L"], r["level"]): r for r in rows if r["rule"] == "majority"}
    out = []
    for r in rows:
        if r["rule"] == "majority":
            continue
        m = ref.get((r["part"], r["L"], r["level"]), {})
        d, d_err = _distance(r)
        md, md_err = _distance(m) if m else (None, None)
        row: dict[str, Any] = {k: r.get(k) for k in ("part", "rule", "L", "level")}
        row["small_lattice"] = bool(r.get("small_lattice", False))
        row["same_configurations"] = bool(r.get("same_configurations", False))
        for q in ("y_t", "y_h"):
            row[q], row[f"{q}_err"] = r.get(q), r.get(f"{q}_err")
            row[f"majority_{q}"], row[f"majority_{q}_err"] = m.get(q), m.get(f"{q}_err")
            row[f"{q}_minus_majority"], row[f"{q}_minus_majority_err"] = _diff(r, m, q)
        row["distance_exact"], row["distance_exact_err"] = d, d_err
        row["majority_distance_exact"], row["majority_distance_exact_err"] = md, md_err
        row["within_goal"] = _within_goal(row)
        out.append(row)
    return out


def _check(part: str, s: Any) -> dict[str, Any]:
    if not isinstance(s, Mapping) or set(s) - set(KEYS):
        raise ValueError(
            f"part {part!r}: summary() must return a dict with keys among {', '.join(KEYS)}"
        )
    for r in s.get("kl", ()):
        if r.get("kind") not in KL_KINDS:
            raise ValueError(f"part {part!r}: KL row kind must be one of {', '.join(KL_KINDS)}")
    return dict(s)


def collect(metrics: Mapping[str, Any], modules: Mapping[str, ModuleType]) -> dict[str, Any]:
    """The summary of the parts' metrics (``{key: metrics}``, modules by the same keys):
    ``contributors`` and ``skipped`` part keys, every row of each kind tagged with its part,
    and ``exponent_table`` (:func:`exponent_table`)."""
    out: dict[str, Any] = {"contributors": [], "skipped": [], **{k: [] for k in KEYS}}
    out["figures"] = {}
    for key, m in metrics.items():
        fn = getattr(modules[key], "summary", None)
        if fn is None:
            out["skipped"].append(key)
            continue
        s = _check(key, fn(m))
        out["contributors"].append(key)
        for k in ("exponents", "couplings", "kl", "tables"):
            out[k] += [{"part": key, **r} for r in s.get(k, ())]
        if s.get("figures"):
            out["figures"][key] = [str(f) for f in s["figures"]]
    out["exponent_table"] = exponent_table(out["exponents"])
    return out


def tables_of(summary: Mapping[str, Any]) -> list[Any]:
    """The exponents table, the KL-per-layer table and the parts' own tables (report
    :class:`~kadanoff.experiments.report.Table`), each only when it has rows."""
    from ..report import Table

    out = []
    ex = summary.get("exponent_table", [])
    if ex:
        rows = []
        for r in ex:
            level = f"{r['level']}" + (" (small lattice)" if r["small_lattice"] else "")
            goal = {None: "inconclusive", True: "yes", False: "no"}[r["within_goal"]]
            rows.append([
                r["part"], r["rule"], r["L"], level,
                pm(r["y_t"], r["y_t_err"]), pm(r["y_h"], r["y_h_err"]),
                pm(r["majority_y_t"], r["majority_y_t_err"]),
                pm(r["majority_y_h"], r["majority_y_h_err"]),
                pm(r["y_t_minus_majority"], r["y_t_minus_majority_err"]),
                pm(r["y_h_minus_majority"], r["y_h_minus_majority_err"]),
                pm(r["distance_exact"], r["distance_exact_err"]),
                pm(r["majority_distance_exact"], r["majority_distance_exact_err"]), goal,
                "same" if r["same_configurations"] else "independent",
            ])  # fmt: skip
        out.append(Table(
            "MCRG exponents at K_c of every learned rule beside majority rule at the same L and "
            "level (on the same Ising configurations, or independent ones: last column); "
            "distance = |(y_t, y_h) - (1, 15/8)| (exact); "
            f"goal: within {GOAL} of majority rule in both exponents",
            ["part", "rule", "L", "level", "y_t", "y_h", "majority y_t", "majority y_h",
             "y_t - majority", "y_h - majority", "distance from exact", "majority's distance",
             f"within {GOAL} of majority", "configurations"],
            rows,
        ))  # fmt: skip
    kl = summary.get("kl", [])
    if kl:
        rows = []
        for r in kl:
            ess, n = r.get("ais_effective_chains"), r.get("ais_chains")
            chains = "n/a" if ess is None else f"{ess:.1f} of {n}"
            rows.append([r["part"], r["network"], r["level"], pm(r["value"], r["value_err"]),
                         r["kind"].replace("_", " "), chains])  # fmt: skip
        out.append(Table(
            "Distance from an exact RG step: KL(P || p) per spin by network level (estimate: "
            "exact ln Z of the Ising model, AIS for the network; upper bound: Salakhutdinov-"
            "Murray; reference: independent spins). Few AIS effective chains (far below the "
            "number run) mean the ln Z of the network, hence the estimate, is unreliable",
            ["part", "network", "level", "KL per spin", "kind", "AIS effective chains"],
            rows,
        ))  # fmt: skip
    for t in summary.get("tables", []):
        out.append(Table(f"{t['caption']} ({t['part']})", list(t["header"]),
                         [list(r) for r in t["rows"]]))  # fmt: skip
    return out


def reading_of(summary: Mapping[str, Any]) -> str:
    """Which parts contributed, which were skipped, and the exponent comparison in numbers."""
    parts = [
        "This summary sets the parts side by side: "
        + (", ".join(summary["contributors"]) or "none")
        + " contributed (a part contributes through an optional summary(metrics) function)"
        + (
            f"; without one, skipped: {', '.join(summary['skipped'])}" if summary["skipped"] else ""
        )  # fmt: skip
        + "."
    ]
    big = [r for r in summary.get("exponent_table", []) if not r["small_lattice"]]
    if big:
        n = {v: sum(r["within_goal"] is v for r in big) for v in (True, False, None)}
        parts.append(
            f"Of {len(big)} learned-rule exponent pairs measured on coarse lattices of at least "
            f"8 x 8 (beside majority rule at the same L and level), {n[True]} lie within "
            f"{GOAL} of majority rule in both y_t and y_h, {n[False]} do not, and {n[None]} are "
            f"inconclusive (an error above {GOAL}); the distances from the exact (1, 15/8) are "
            "in the table. Pairs on smaller coarse lattices are listed but not counted."
        )
    weak = [
        r for r in summary.get("kl", [])
        if r.get("ais_effective_chains") is not None and r.get("ais_chains")
        and r["ais_effective_chains"] < r["ais_chains"] / 4
    ]  # fmt: skip
    if weak:
        parts.append(
            "KL values resting on an AIS run with fewer than a quarter of its chains effective "
            "are unreliable (ln Z of the network is doubtful): "
            + "; ".join(
                f"{r['network']} level {r['level']} ({r['ais_effective_chains']:.1f} of "
                f"{r['ais_chains']})"
                for r in weak
            )  # fmt: skip
            + "."
        )
    return " ".join(parts)
