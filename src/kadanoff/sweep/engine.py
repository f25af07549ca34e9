"""Run a sweep's points on ``dask.distributed``: a local cluster by default, or any scheduler.

Each point is one task (:func:`kadanoff.sweep.point.run_point`) whose Dask key is the point's
config hash, so two clients of one scheduler asking for the same point share one computation;
points already finished in the store are not submitted at all. Dask reschedules the task of a
worker that dies; the point resumes from the stages its experiment saved. The client shows a
progress bar (points done / running / failed, time per point) and writes ``sweep.json`` as points
finish and ``sweep.html`` at the end.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .grid import Point, Sweep, format_params
from .point import point_finished, point_folder, run_point, thread_env

if TYPE_CHECKING:
    from .report import SweepState

__all__ = [
    "run_sweep",
    "open_client",
    "check_options",
    "DaskMissing",
    "SchedulerUnreachable",
    "require_dask",
    "default_workers",
]

INSTALL_HINT = "pip install 'kadanoff[cluster]' (or pip install 'dask[distributed]')"


class DaskMissing(RuntimeError):
    """``dask.distributed`` is not installed."""


class SchedulerUnreachable(ValueError):
    """No Dask scheduler answers at the given address (the message says how to fix it)."""


def require_dask() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise DaskMissing(f"kadanoff sweep runs on dask.distributed: {INSTALL_HINT}") from None


def check_options(
    *, workers: int | None = None, threads: int | None = None, scheduler: str | None = None
) -> None:
    """Raise ``ValueError`` saying how to fix ``workers`` or ``threads`` below 1, or
    ``workers`` (the size of a local cluster) given with a ``scheduler``."""
    for name, v in (("workers", workers), ("threads", threads)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{name} must be at least 1, got {v!r}")
    if scheduler and workers:
        raise ValueError("workers makes a local cluster; drop it when using scheduler")


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def open_client(
    *, workers: int | None = None, scheduler: str | None = None, threads: int = 1
) -> Iterator[Any]:
    """A Dask client: of a new local cluster of ``workers`` processes (one task each, ``threads``
    compute threads each), or of the scheduler at ``scheduler``."""
    require_dask()
    import logging
    import warnings

    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as e:
            raise SchedulerUnreachable(
                f"cannot reach the Dask scheduler at {scheduler} ({type(e).__name__}): check the "
                "address, e.g. --scheduler tcp://10.0.0.1:8786"
            ) from None
        with client:
            yield client
        return
    with warnings.catch_warnings():
        # the scheduler's HTTP routes move off a busy port 8787 by themselves
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        cluster = LocalCluster(
            n_workers=workers or default_workers(),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            env=thread_env(threads),
            silence_logs=logging.ERROR,
        )
    with cluster, Client(cluster) as client:
        yield client


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class _Progress:
    """tqdm bar (or one log line per point) with done / running / failed and seconds per point."""

    def __init__(self, total: int, cached: int, name: str, show: bool, log: Callable) -> None:
        from tqdm.auto import tqdm

        self.total, self.cached, self.log = total, cached, log
        self.done = self.failed = self.running = 0
        self.seconds: list[float] = []
        self.bar = tqdm(total=total, initial=cached, desc=name, unit="point", disable=not show)
        self.show = show
        self._postfix()

    def _postfix(self) -> None:
        mean = sum(self.seconds) / len(self.seconds) if self.seconds else 0.0
        self.bar.set_postfix_str(
            f"done {self.done} running {self.running} failed {self.failed} cached {self.cached}"
            + (f" | {self.seconds[-1]:.1f} s last, {mean:.1f} s mean" if self.seconds else ""),
            refresh=True,
        )

    def set_running(self, n: int) -> None:
        if n != self.running:
            self.running = n
            self._postfix()

    def finished(self, point: Point, rec: dict[str, Any]) -> None:
        if rec["status"] == "failed":
            self.failed += 1
        elif rec["status"] == "cached":
            self.cached += 1
        else:
            self.done += 1
            self.seconds.append(rec["seconds"])
        self.bar.update(1)
        self._postfix()
        if not self.show:
            n = self.done + self.failed + self.cached
            err = f": {rec['error']}" if rec.get("error") else ""
            self.log(
                f"[{n}/{self.total}] {format_params(point.params)}: {rec['status']} "
                f"({rec['seconds']:.1f} s){err}"
            )

    def close(self) -> None:
        self.bar.close()


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    *,
    store: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    threads: int | None = None,
    device: str = "cpu",
    metrics: Sequence[str] | None = None,
    progress: bool = True,
    log: Callable[..., Any] = print,
    client: Any = None,
) -> dict[str, Any]:
    """Run every unfinished point of ``sweep``; write ``sweep.json`` and ``sweep.html`` in ``out``.

    Parameters
    ----------
    store : folder of the points (default ``out/points``); sweeps sharing it share points.
    workers : worker processes of the local cluster (default: the usable cores).
    scheduler : address of an existing Dask scheduler (its workers must see ``store``).
    threads : compute threads per point (default: cores // workers locally, 1 on a scheduler).
    device : passed to every point's experiment (``"cpu"``, ``"cuda"``); it is not part of a
        point's key, so a point found done is not recomputed on another device.
    metrics : glob patterns of the metrics to plot (default: the experiment's ``SWEEP_METRICS``,
        else every scalar that varies).
    client : an existing ``distributed.Client`` to use instead of making one.

    Returns the content of ``sweep.json``.
    """
    from .report import SweepState, write_sweep_json, write_sweep_report

    check_options(workers=workers, threads=threads, scheduler=scheduler)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder: choose another path")
    # absolute: a worker elsewhere resolves a relative path against its own working directory
    store = (Path(store) if store is not None else out / "points").resolve()
    out.mkdir(parents=True, exist_ok=True)
    points = sweep.points()
    n_workers = workers or default_workers()
    if threads is None:
        threads = 1 if scheduler or client is not None else max(1, default_workers() // n_workers)
    run_info: dict[str, Any] = {
        "started": _now(),
        "scheduler": scheduler,
        "workers": None if scheduler else n_workers,
        "threads_per_point": threads,
        "device": device,
    }
    records: dict[str, dict[str, Any]] = {}
    state = SweepState(sweep, points, records, store)
    todo: list[Point] = []
    for p in points:
        folder = point_folder(store, sweep.experiment, p.config)
        if point_finished(folder, sweep.experiment, p.config):
            records[p.key] = {"key": p.key, "status": "cached", "seconds": 0.0, "error": None}
        else:
            todo.append(p)
    log(
        f"{sweep.experiment}: {len(points)} points, {len(points) - len(todo)} already done, "
        f"{len(todo)} to compute" + (f" on {scheduler}" if scheduler else "")
    )
    t_start = time.perf_counter()

    def save() -> None:
        info = run_info | {"wall_seconds": time.perf_counter() - t_start}
        write_sweep_json(out, state, info)

    save()
    if todo:
        bar = _Progress(len(points), len(points) - len(todo), sweep.experiment, progress, log)
        try:
            with contextlib.ExitStack() as stack:
                if client is None:
                    client = stack.enter_context(
                        open_client(workers=n_workers, scheduler=scheduler, threads=threads)
                    )
                _compute(client, state, todo, threads, device, bar, save)
        except BaseException:  # Ctrl-C or a lost scheduler: keep what finished on record
            save()
            raise
        finally:
            bar.close()
    run_info["finished"] = _now()
    run_info["wall_seconds"] = time.perf_counter() - t_start
    return write_sweep_report(out, state, run_info, metrics)


def _compute(
    client: Any,
    state: SweepState,
    todo: list[Point],
    threads: int,
    device: str,
    bar: _Progress,
    save: Callable[[], None],
) -> None:
    from distributed import as_completed

    sweep, store, records = state.sweep, state.store, state.records
    by_key = {}
    futures = []
    for p in todo:
        folder = point_folder(store, sweep.experiment, p.config)
        key = f"kadanoff-{sweep.experiment}-{p.key}"
        by_key[key] = p
        futures.append(
            client.submit(
                run_point,
                sweep.experiment,
                p.config,
                str(folder),
                p.params,
                threads=threads,
                device=device,
                key=key,
                pure=False,
            )
        )
    keys = set(by_key)
    ac = as_completed(futures)
    last_save = time.perf_counter()
    nthreads = None
    while not ac.is_empty():
        batch = ac.next_batch(block=False)
        if not batch:
            try:
                if nthreads is None or time.perf_counter() - last_save > 5:
                    nthreads = sum(client.nthreads().values())
                busy = sum(len(set(v) & keys) for v in client.processing().values())
                bar.set_running(min(busy, nthreads))
            except Exception:  # noqa: BLE001 - display only
                pass
            time.sleep(0.2)
            continue
        for f in batch:
            p = by_key[f.key]
            if f.status == "finished":
                rec = f.result()
            else:  # the task itself never raises: a lost worker (KilledWorker) or a cancel
                if f.status == "error":
                    exc = f.exception()
                    error = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
                else:
                    error = f"task {f.status}"
                rec = {"key": p.key, "status": "failed", "seconds": 0.0, "error": error}
            records[p.key] = rec
            keys.discard(f.key)
            f.release()
            bar.finished(p, rec)
        if time.perf_counter() - last_save > 1:
            save()
            last_save = time.perf_counter()
