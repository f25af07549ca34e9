"""One sweep point, as run by a worker: compute (or find cached), mark done, write its report.

A point's folder is ``<store>/<experiment>/<config hash>``. It holds what ``kadanoff reproduce``
writes for one experiment (``config.json`` with the hash is the completion marker, written last and
atomically, after ``metrics.json``), plus ``report.html``. While a point runs, its process holds an
exclusive ``flock`` on ``.lock`` in the folder: the kernel releases it if the process dies, so a
second sweep (or a rescheduled task) that reaches the same point waits and then finds it done
instead of computing it twice. Errors are written to ``error.json`` and returned, never raised, so
one bad point does not stop the others.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..experiments.base import config_dict, config_hash, is_done, load_metrics, mark_done
from ..io import environment_info, write_json

__all__ = ["point_folder", "point_finished", "run_point", "thread_limits", "write_point_report"]

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def point_folder(store: str | Path, experiment: str, config: Any) -> Path:
    return Path(store) / experiment / config_hash(experiment, config)


def point_finished(folder: Path, experiment: str, config: Any) -> bool:
    """Done and reported: nothing is left to do for this point."""
    return is_done(folder, experiment, config) and (folder / "report.html").exists()


def thread_env(threads: int) -> dict[str, str]:
    """Environment that caps OpenMP/MKL/OpenBLAS/Numba (and so torch) at ``threads`` threads."""
    return {v: str(threads) for v in _THREAD_VARS}


@contextlib.contextmanager
def thread_limits(threads: int) -> Iterator[None]:
    """Run the block with at most ``threads`` compute threads in torch and Numba; restore after.

    Numba is set directly (it cannot go above the pool it started with: worker processes get
    ``NUMBA_NUM_THREADS`` in their environment); torch directly if imported, else through
    ``OMP_NUM_THREADS``, which it reads when it starts.
    """
    import numba

    env_vars = _THREAD_VARS[:-1]  # not NUMBA_NUM_THREADS: numba is imported already
    saved_env = {v: os.environ.get(v) for v in env_vars}
    os.environ.update({v: str(threads) for v in env_vars})
    torch = sys.modules.get("torch")
    torch_before = torch.get_num_threads() if torch is not None else None
    numba_before = numba.get_num_threads()
    try:
        if torch is not None:
            torch.set_num_threads(threads)
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
        yield
    finally:
        for v, old in saved_env.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old
        if torch is not None and torch_before is not None:
            torch.set_num_threads(torch_before)
        numba.set_num_threads(numba_before)


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no cross-process lock
        yield
        return
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_point_report(mod: Any, folder: Path, config: Any, params: dict[str, Any]) -> Path:
    """``report.html`` of one point: its claims, figures, tables and config (experiments/report)."""
    from ..experiments.base import config_dict as cd
    from ..experiments.report import Section, Table, build_report
    from .grid import format_params

    metrics = load_metrics(folder)
    figures = mod.plot(folder)
    section = Section(
        title=mod.TITLE,
        paragraphs=mod.reading(metrics),
        figures=figures,
        tables=[Table(c, h, r) for c, h, r in mod.tables(metrics)],
        config=cd(config),
    )
    return build_report(
        folder / "report.html",
        title=f"{mod.NAME} sweep point: {format_params(params)}",
        intro=f"One point of a kadanoff sweep of {mod.NAME} ({mod.TITLE}); its key is the hash "
        f"{config_hash(mod.NAME, config)} of its full config (below).",
        claims=mod.claims(metrics),
        sections=[section],
        info={"point": params, "environment": environment_info()},
    )


def run_point(
    experiment: str,
    config: Any,
    folder: str | Path,
    params: dict[str, Any] | None = None,
    *,
    threads: int = 1,
    device: str = "cpu",
) -> dict[str, Any]:
    """Compute one point into ``folder`` unless it is already done; never raises.

    Returns ``{"key", "status" ("done", "cached" or "failed"), "seconds", "error", "host",
    "pid"}``; ``seconds`` is the time spent computing and reporting in this call.
    """
    from ..experiments.runner import load_experiment

    folder = Path(folder)
    params = params or {}
    key = config_hash(experiment, config)
    record: dict[str, Any] = {
        "key": key,
        "status": "failed",
        "seconds": 0.0,
        "error": None,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    t0 = time.perf_counter()
    try:
        mod = load_experiment(experiment)
        folder.mkdir(parents=True, exist_ok=True)
        with _exclusive(folder), thread_limits(threads):
            for stale in folder.rglob(".*.tmp"):  # left by a killed writer; we hold the lock
                stale.unlink(missing_ok=True)
            if is_done(folder, experiment, config):
                record["status"] = "cached"
            else:
                started = _now()
                metrics = mod.run(config, folder, device=device, progress=False)
                used = {"numba": sys.modules["numba"].get_num_threads()}
                if "torch" in sys.modules:
                    used["torch"] = sys.modules["torch"].get_num_threads()
                mark_done(
                    folder,
                    experiment,
                    config,
                    metrics,
                    seconds=time.perf_counter() - t0,
                    seed=getattr(config, "seed", None),
                    params=params,
                    started_at=started,
                    finished_at=_now(),
                    host=record["host"],
                    pid=record["pid"],
                    threads=threads,
                    threads_used=used,
                )
                record["status"] = "done"
            if not (folder / "report.html").exists():
                write_point_report(mod, folder, config, params)
            (folder / "error.json").unlink(missing_ok=True)
    except Exception as e:  # recorded, not raised: the other points go on
        record["status"] = "failed"
        record["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:500]
        try:
            write_json(
                folder / "error.json",
                {
                    "experiment": experiment,
                    "key": key,
                    "config": config_dict(config),
                    "error": record["error"],
                    "traceback": traceback.format_exc(),
                    "when": _now(),
                    "host": record["host"],
                },
            )
        except Exception:  # noqa: BLE001 - the record still carries the error
            pass
    record["seconds"] = time.perf_counter() - t0
    return record
