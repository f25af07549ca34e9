"""Parameter sweeps of any registered experiment, on ``dask.distributed``, resumable.

``grid`` turns ``--set KEY=VALUES`` (or a TOML/JSON sweep file) into type-checked points;
``point`` runs one point in a worker (cached by config hash, atomic, locked); ``engine`` submits
the points to a local cluster or an existing scheduler and shows progress; ``report`` writes
``sweep.json`` and ``sweep.html``. Only ``engine`` needs Dask (``pip install 'kadanoff[cluster]'``).

Layering: experiments -> sweep -> cli.
"""

from __future__ import annotations

from .grid import Point, Sweep, build_sweep, load_sweep_file, parse_set

__all__ = ["Point", "Sweep", "build_sweep", "load_sweep_file", "parse_set", "run_sweep"]


def __getattr__(name: str):  # lazy: importing the grid must not need Dask
    if name == "run_sweep":
        from .engine import run_sweep

        return run_sweep
    raise AttributeError(f"module 'kadanoff.sweep' has no attribute {name!r}")
