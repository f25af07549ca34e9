"""What every experiment shares: frozen configs, a result folder, caching by config hash.

An experiment is a module with ``NAME``, a frozen dataclass ``Config``, ``PRESETS`` (at least
``"quick"`` and ``"paper"``), ``run(config, folder, *, device, progress) -> dict`` that computes and
saves arrays and returns metrics, ``plot(folder) -> list[Path]`` that only reads saved results, and
``claims(metrics) -> list[Claim]``; optionally ``SWEEP_METRICS``, glob patterns of the metrics a
sweep report plots by default. A finished experiment is not recomputed when rerun with the same
config: its folder holds ``config.json`` with the config's hash and ``metrics.json``. Stages inside
``run`` save their own artefacts (datasets, models), so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io import to_json, write_json

__all__ = ["Claim", "config_hash", "config_dict", "is_done", "mark_done", "load_metrics"]

#: bump when the meaning of saved results changes, to invalidate old caches
RESULTS_VERSION = 1


@dataclass(frozen=True)
class Claim:
    """A row of the report's opening table: what the paper claims, how kadanoff checks it,
    what came out, and whether it holds (``None`` for a measurement with no pass/fail)."""

    claim: str
    check: str
    result: str
    holds: bool | None


def config_dict(config: Any) -> dict[str, Any]:
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a dataclass config instance, got {type(config).__name__}")
    return dataclasses.asdict(config)


def config_hash(name: str, config: Any) -> str:
    """Stable hash of an experiment's name, config and :data:`RESULTS_VERSION`."""
    payload = to_json(
        {"experiment": name, "config": config_dict(config), "version": RESULTS_VERSION},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def is_done(folder: Path, name: str, config: Any) -> bool:
    """Whether ``folder`` holds finished results for exactly this config."""
    try:
        saved = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return (
        saved.get("hash") == config_hash(name, config)
        and saved.get("finished") is True
        and (folder / "metrics.json").exists()
    )


def mark_done(folder: Path, name: str, config: Any, metrics: dict[str, Any], **extra: Any) -> None:
    """Write ``metrics.json``, then ``config.json`` with the hash (the completion marker)."""
    write_json(folder / "metrics.json", metrics)
    write_json(
        folder / "config.json",
        {
            "experiment": name,
            "hash": config_hash(name, config),
            "config": config_dict(config),
            "finished": True,
            **extra,
        },
    )


def load_metrics(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "metrics.json").read_text())
