"""The sweep report: ``sweep.json`` (every point, its scalar metrics, means over seeds) and
``sweep.html`` (each plotted metric against each swept key, error bars over seeds, links to the
points' own reports), built with :mod:`kadanoff.experiments.report`.

A metric is any finite number in a point's ``metrics.json``, named by its dotted path
(``receptive_fields.l1.0.localized_fraction``: list items by their index). Points that differ only
in ``seed`` form a group; its value is the mean over seeds with error bar the standard error
``std / sqrt(n)`` (none for one seed).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..experiments.base import config_dict
from ..experiments.runner import load_experiment
from ..io import environment_info, write_json
from .grid import Point, Sweep, format_params
from .point import point_folder

__all__ = [
    "SweepState",
    "flatten_scalars",
    "write_sweep_json",
    "write_sweep_report",
    "MAX_PLOTTED",
]

#: at most this many metrics are plotted unless chosen with ``--metric`` (all are in sweep.json)
MAX_PLOTTED = 36
_PER_FIGURE = 12
_SKIP = ("timings", "seconds", "elapsed")


@dataclass(frozen=True)
class SweepState:
    """A sweep as far as it has run: its points, the records of those finished so far (by
    point key, as :func:`~kadanoff.sweep.point.run_point` returns them; the dict fills in as
    points finish) and the store of the points' folders."""

    sweep: Sweep
    points: Sequence[Point]
    records: dict[str, dict[str, Any]]
    store: Path


def flatten_scalars(obj: Any, prefix: str = "") -> dict[str, float]:
    """Every finite number (not a bool) in nested dicts and lists of dicts, by dotted path;
    lists of numbers (vectors) are left out."""
    out: dict[str, float] = {}
    if isinstance(obj, dict):
        items: Any = obj.items()
    elif isinstance(obj, list):
        if obj and all(isinstance(x, (int, float)) for x in obj):
            return out  # a vector (a correlation function, a flow), not a scalar metric
        items = enumerate(obj)
    else:
        if isinstance(obj, (int, float)) and not isinstance(obj, bool) and math.isfinite(obj):
            out[prefix] = float(obj)
        return out
    for k, v in items:
        out |= flatten_scalars(v, f"{prefix}.{k}" if prefix else str(k))
    return out


def _jsonable(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _group_keys(sweep: Sweep) -> list[str]:
    keys = [k for k in sweep.swept if k != "seed"]
    return keys or sweep.swept


def _point_entry(
    sweep: Sweep, p: Point, rec: dict[str, Any] | None, store: Path, out: Path
) -> dict[str, Any]:
    folder = point_folder(store, sweep.experiment, p.config)
    entry: dict[str, Any] = {
        "key": p.key,
        "params": {k: _jsonable(v) for k, v in p.params.items()},
        "seed": getattr(p.config, "seed", None),
        "status": rec["status"] if rec else "pending",
        "folder": os.path.relpath(folder, out),
        "report": None,
        "seconds": None,
        "error": rec.get("error") if rec else None,
    }
    if rec and rec["status"] in ("done", "cached"):
        if "_flat" not in rec:  # read once per sweep
            try:
                rec["_flat"] = flatten_scalars(json.loads((folder / "metrics.json").read_text()))
                rec["_saved"] = json.loads((folder / "config.json").read_text())
            except (OSError, json.JSONDecodeError) as e:
                rec["status"], rec["error"] = "failed", f"unreadable results: {e}"
                entry["status"], entry["error"] = rec["status"], rec["error"]
                return entry
        saved = rec["_saved"]
        entry["seconds"] = saved.get("seconds")  # computing, when the point was computed
        if rec.get("status") == "done":
            entry["task_seconds"] = rec.get("seconds")  # computing + figures + report, now
        entry["computed"] = {k: saved.get(k) for k in ("started_at", "finished_at", "host")}
        if (folder / "report.html").exists():
            entry["report"] = os.path.relpath(folder / "report.html", out)
        entry["metrics"] = rec["_flat"]
    return entry


def _summary(entries: list[dict[str, Any]], by: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per metric: mean and standard error over the points of each group (same values of ``by``)."""
    groups: dict[str, dict[str, Any]] = {}
    for e in entries:
        if "metrics" not in e:
            continue
        params = {k: e["params"][k] for k in by}
        g = groups.setdefault(json.dumps(params, sort_keys=True), {"params": params, "pts": []})
        g["pts"].append(e["metrics"])
    out: dict[str, list[dict[str, Any]]] = {}
    names = sorted({m for g in groups.values() for pt in g["pts"] for m in pt})
    for name in names:
        rows = []
        for g in groups.values():
            xs = [pt[name] for pt in g["pts"] if name in pt]
            if not xs:
                continue
            n = len(xs)
            mean = sum(xs) / n
            se = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1) / n) if n > 1 else None
            rows.append({"params": g["params"], "mean": mean, "stderr": se, "n": n})
        out[name] = rows
    return out


def write_sweep_json(out: Path, state: SweepState, info: dict[str, Any]) -> dict[str, Any]:
    """Write ``out/sweep.json`` (atomically) and return its content."""
    sweep, store = state.sweep, state.store
    entries = [_point_entry(sweep, p, state.records.get(p.key), store, out) for p in state.points]
    counts = {s: sum(e["status"] == s for e in entries) for s in ("done", "cached", "failed")}
    counts["pending"] = len(entries) - sum(counts.values())
    by = _group_keys(sweep)
    doc = {
        **sweep.describe(),
        "store": os.path.relpath(store, out),
        "grouped_by": by,
        "n_points": len(entries),
        "counts": counts,
        "points": entries,
        "summary": _summary(entries, by),
        "run": info | {"environment": environment_info()},
    }
    write_json(out / "sweep.json", doc)
    return doc


def _chosen(doc: dict[str, Any], patterns: Sequence[str] | None, mod: Any) -> tuple[list, int]:
    names = list(doc["summary"])
    pats = list(patterns or getattr(mod, "SWEEP_METRICS", ()) or [])
    if pats:
        picked = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in pats)]
        return (picked if patterns else picked[:MAX_PLOTTED]), 0
    varying = []
    for n in names:
        if any(s in n for s in _SKIP):
            continue
        means = {r["mean"] for r in doc["summary"][n]}
        if len(means) > 1:
            varying.append(n)
    return varying[:MAX_PLOTTED], max(0, len(varying) - MAX_PLOTTED)


def _plot(doc: dict[str, Any], names: list[str], folder: Path) -> list[tuple[Path, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = doc["grouped_by"]
    folder.mkdir(parents=True, exist_ok=True)
    figures = []
    for x in by:
        others = [k for k in by if k != x]
        xvals = doc["axes"][x]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xvals)
        pos = {json.dumps(v): (v if numeric else i) for i, v in enumerate(xvals)}
        for start in range(0, len(names), _PER_FIGURE):
            chunk = names[start : start + _PER_FIGURE]
            cols = min(3, len(chunk))
            rows = math.ceil(len(chunk) / cols)
            fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.1 * rows), squeeze=False)
            for ax, name in zip(axes.ravel(), chunk, strict=False):
                lines: dict[str, list[dict[str, Any]]] = {}
                for r in doc["summary"][name]:
                    label = format_params({k: r["params"][k] for k in others})
                    lines.setdefault(label, []).append(r)
                for label, rs in sorted(lines.items()):
                    rs = sorted(rs, key=lambda r: pos[json.dumps(r["params"][x])])
                    xs = [pos[json.dumps(r["params"][x])] for r in rs]
                    ys = [r["mean"] for r in rs]
                    err = [r["stderr"] or 0.0 for r in rs]
                    ax.errorbar(xs, ys, yerr=err, marker="o", ms=3, capsize=2, label=label or None)
                ys_all = [r["mean"] for r in doc["summary"][name]]
                if min(ys_all) > 0 and max(ys_all) > 100 * min(ys_all):
                    ax.set_yscale("log")  # errors, tolerances: decades apart
                ax.set_title(name, fontsize=8)
                ax.set_xlabel(x)
                if not numeric:
                    ax.set_xticks(range(len(xvals)), [json.dumps(v) for v in xvals], fontsize=7)
                if others and len(lines) > 1:
                    ax.legend(fontsize=6, frameon=False)
            for ax in axes.ravel()[len(chunk) :]:
                ax.axis("off")
            fig.tight_layout()
            path = folder / f"{x}_{start // _PER_FIGURE + 1}.png"
            fig.savefig(path, dpi=90)
            plt.close(fig)
            seeds = "mean ± standard error over seeds" if "seed" in doc["axes"] else "one run"
            figures.append((path, f"Metrics vs {x} ({seeds} per point)."))
    return figures


def write_sweep_report(
    out: Path, state: SweepState, info: dict[str, Any], metrics: Sequence[str] | None = None
) -> dict[str, Any]:
    """Write ``sweep.json`` and ``sweep.html`` in ``out``; return the JSON content."""
    from ..experiments.report import Link, Section, Table, build_report

    sweep = state.sweep
    doc = write_sweep_json(out, state, info)
    mod = load_experiment(sweep.experiment)
    names, more = _chosen(doc, metrics, mod)
    figures = _plot(doc, names, out / "figures") if names and doc["grouped_by"] else []
    keys = sweep.swept
    fixed = {k: v[0] for k, v in sweep.axes.items() if len(v) == 1}
    rows = []
    for e in doc["points"]:
        link = Link("report", e["report"]) if e["report"] else ""
        secs = f"{e['seconds']:.1f}" if e["seconds"] is not None else ""
        rows.append([*(e["params"][k] for k in keys), e["status"], secs, link, e["error"] or ""])
    header = [*keys, "status", "seconds (computing)", "report", "error"]
    c = doc["counts"]
    intro = (
        f"A sweep of {sweep.experiment} ({mod.TITLE}) over {', '.join(keys) or 'one point'}: "
        f"{doc['n_points']} points, {c['done']} computed now, {c['cached']} found done, "
        f"{c['failed']} failed. Base config: the {sweep.preset!r} preset."
    )
    paragraphs = []
    if more:
        paragraphs.append(
            f"{more} more varying metrics are in sweep.json; plot them with --metric PATTERN."
        )
    sections = [
        Section(title="Metrics vs swept parameters", paragraphs=paragraphs, figures=figures),
        Section(
            title="Points",
            paragraphs=[f"Set for every point: {format_params(fixed)}."] if fixed else [],
            tables=[Table("Every point", header, rows)],
            config=config_dict(dataclasses.replace(sweep.base, **fixed)),
        ),
    ]
    build_report(
        out / "sweep.html",
        title=f"kadanoff sweep: {sweep.experiment} over {', '.join(keys) or 'one point'}",
        intro=intro,
        claims=[],
        sections=sections,
        info=doc["run"],
    )
    return doc
