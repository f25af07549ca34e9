"""`kadanoff sweep` on a real Dask cluster on loopback: a `dask scheduler` and two `dask worker`
processes (one process, one thread each). Results equal the same points run serially; a worker
killed with SIGKILL mid-sweep and a client killed mid-sweep lose nothing and recompute nothing
finished.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

from test_report import decode_images  # noqa: E402

from kadanoff.cli import main  # noqa: E402
from kadanoff.experiments import fig3  # noqa: E402
from kadanoff.experiments.base import is_done  # noqa: E402
from kadanoff.io import read_npz, to_json  # noqa: E402
from kadanoff.sweep.engine import default_workers  # noqa: E402
from kadanoff.sweep.grid import build_sweep  # noqa: E402
from kadanoff.sweep.point import point_folder, thread_limits  # noqa: E402

SRC = str(Path(__file__).resolve().parents[2] / "src")

#: a fig3 point of about a second of computing (plus its figures): the fixed part of every sweep
MINI = {
    "L": 16,
    "n_samples": 100,
    "hidden": [16, 4],
    "epochs": 1,
    "n_eval": 50,
    "top_down_gibbs": 5,
    "block_sizes": [2, 4],
    "ablation": False,
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env |= {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    env["MPLBACKEND"] = "Agg"
    return env


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers on 127.0.0.1, stopped at the end of the module."""
    from distributed import Client

    root = tmp_path_factory.mktemp("dask")
    sched_file = root / "scheduler.json"
    common = ["--no-dashboard"]
    log = open(root / "cluster.log", "wb")  # noqa: SIM115 - closed in the finalizer
    procs: list[subprocess.Popen] = []
    try:
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0"]
                + ["--scheduler-file", str(sched_file), *common]
                + ["--idle-timeout", "300"],  # gone 5 min after the tests even if pytest dies
                env=_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            assert time.monotonic() < deadline and procs[0].poll() is None, "no scheduler"
            time.sleep(0.1)
        for i in range(2):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "dask", "worker", "--scheduler-file", str(sched_file)]
                    + ["--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1", *common]
                    + ["--name", f"w{i}", "--local-directory", str(root / f"w{i}")]
                    + ["--death-timeout", "60"],
                    env=_env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            yield {"address": address, "client": client, "root": root}
    finally:
        _stop(procs[1:])
        _stop(procs[:1])
        log.close()


def _sweep_file(path: Path, **swept) -> Path:
    path.write_text(json.dumps({"experiment": "fig3", "set": MINI | swept}))
    return path


def _cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kadanoff", "sweep", *args, "--quiet"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _stable(obj):
    """Metrics without wall-clock times (NaN read as None, so equal values compare equal)."""
    if isinstance(obj, dict):
        return {k: _stable(v) for k, v in obj.items() if "seconds" not in k and "timings" not in k}
    if isinstance(obj, list):
        return [_stable(v) for v in obj]
    return obj


def _load(path: Path):
    return _stable(json.loads(path.read_text(), parse_constant=lambda c: None))


def _check_points(store: Path, sweep) -> None:
    """Every point exactly once, finished, readable; no temporary files left."""
    folders = sorted(p.name for p in (store / "fig3").iterdir())
    assert folders == sorted(p.key for p in sweep.points())
    for p in sweep.points():
        folder = point_folder(store, "fig3", p.config)
        assert is_done(folder, "fig3", p.config)
        json.loads((folder / "metrics.json").read_text())
        arrays, meta = read_npz(folder / "results.npz")
        assert meta["experiment"] == "fig3" and arrays["examples"].shape == (3, 16, 16)
        assert (folder / "report.html").stat().st_size > 10_000
        assert not list(folder.rglob("*.tmp"))


def test_sweep_on_scheduler_equals_serial_run(cluster, tmp_path):
    store = tmp_path / "store"
    spec = _sweep_file(tmp_path / "sweep.json", K=[0.40, 0.42, 0.44], seed=[1, 2])
    rc = main(
        ["sweep", "--file", str(spec), "--scheduler", cluster["address"], "--out",
         str(tmp_path / "out"), "--store", str(store), "--quiet"]
    )  # fmt: skip
    assert rc == 0
    doc = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert doc["counts"] == {"done": 6, "cached": 0, "failed": 0, "pending": 0}
    assert doc["grouped_by"] == ["K"] and len(doc["summary"]["data.energy_per_site.mean"]) == 3
    assert {p["seed"] for p in doc["points"]} == {1, 2}
    sweep = build_sweep("fig3", MINI | {"K": [0.40, 0.42, 0.44], "seed": [1, 2]})
    _check_points(store, sweep)
    for p in sweep.points():  # one compute thread per point in torch and Numba, as asked
        saved = json.loads((point_folder(store, "fig3", p.config) / "config.json").read_text())
        assert saved["threads_used"] == {"numba": 1, "torch": 1}
        assert saved["seed"] == p.config.seed == p.params["seed"]
    # the same points, serially in this process with the same thread count
    for p in sweep.points():
        folder = tmp_path / "serial" / p.key
        folder.mkdir(parents=True)
        with thread_limits(1):
            metrics = fig3.run(p.config, folder, progress=False)
        remote = point_folder(store, "fig3", p.config)
        assert _load(remote / "metrics.json") == _stable(
            json.loads(to_json(metrics), parse_constant=lambda c: None)
        )
        a, _ = read_npz(remote / "results.npz")
        b, _ = read_npz(folder / "results.npz")
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # the report: one figure per chunk of metrics, a link to each point's report
    html = (tmp_path / "out" / "sweep.html").read_text()
    assert html.count('href="../store/fig3/') == 6
    _, images = decode_images(html)
    assert images and all(np.isfinite(im).all() and im.shape[0] > 100 for im in images)

    # a second sweep sharing the store computes only its new point; a failing point (L = 10:
    # blocks of 4 do not tile it) is recorded and does not stop the other
    spec2 = _sweep_file(tmp_path / "sweep2.json", K=0.40, seed=1, L=[16, 10])
    rc = main(
        ["sweep", "--file", str(spec2), "--scheduler", cluster["address"], "--out",
         str(tmp_path / "out2"), "--store", str(store), "--quiet"]
    )  # fmt: skip
    assert rc == 1  # a point failed
    doc = json.loads((tmp_path / "out2" / "sweep.json").read_text())
    assert doc["counts"] == {"done": 0, "cached": 1, "failed": 1, "pending": 0}
    failed = [p for p in doc["points"] if p["status"] == "failed"][0]
    assert "does not divide" in failed["error"] and failed["params"] == {"L": 10}
    error = json.loads((tmp_path / "out2" / failed["folder"] / "error.json").read_text())
    assert "does not divide" in error["traceback"]
    assert "does not divide" in (tmp_path / "out2" / "sweep.html").read_text()


def test_worker_killed_mid_sweep(cluster, tmp_path):
    client = cluster["client"]
    client.wait_for_workers(2, timeout=60)
    store = tmp_path / "store"
    spec = _sweep_file(tmp_path / "sweep.json", K=[0.41, 0.43], seed=[3, 4])
    proc = subprocess.Popen(
        [sys.executable, "-m", "kadanoff", "sweep", "--file", str(spec), "--scheduler",
         cluster["address"], "--out", str(tmp_path / "out"), "--store", str(store), "--quiet"],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        killed = None
        deadline = time.monotonic() + 90
        while killed is None and time.monotonic() < deadline and proc.poll() is None:
            busy = {w: ks for w, ks in client.processing().items() if ks}
            if busy:
                time.sleep(0.5)  # mid-task
                busy = {w: ks for w, ks in client.processing().items() if ks}
                if busy:
                    worker = sorted(busy)[0]
                    pid = client.run(os.getpid, workers=[worker])[worker]
                    os.kill(pid, signal.SIGKILL)
                    killed = busy[worker][0]
            time.sleep(0.05)
        out, _ = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed is not None, "no task was running to kill"
    assert proc.returncode == 0, out
    doc = json.loads((tmp_path / "out" / "sweep.json").read_text())
    c = doc["counts"]  # "cached": a point killed after its results, before its report
    assert c["done"] + c["cached"] == 4 and c["failed"] == 0, c
    sweep = build_sweep("fig3", MINI | {"K": [0.41, 0.43], "seed": [3, 4]})
    assert killed.removeprefix("kadanoff-fig3-") in {p.key for p in sweep.points()}
    _check_points(store, sweep)


@pytest.mark.parametrize("where", ["scheduler", pytest.param("local", marks=pytest.mark.slow)])
def test_client_killed_mid_sweep_resumes_without_recomputing(cluster, tmp_path, where):
    """The client is killed with SIGKILL (with its local cluster, the default path, or alone, its
    tasks left running on the scheduler's workers); the rerun finds the finished points and
    leaves them untouched."""
    cluster["client"].wait_for_workers(2, timeout=60)
    store = tmp_path / "out" / "points"
    seeds = [5, 6] if where == "local" else [7, 8]
    spec = _sweep_file(tmp_path / "sweep.json", K=[0.405, 0.415, 0.425], seed=seeds)
    args = ["--file", str(spec), "--out", str(tmp_path / "out")]
    args += ["--workers", "2"] if where == "local" else []  # default threads: cores // 2
    args += ["--scheduler", cluster["address"]] if where == "scheduler" else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "kadanoff", "sweep", *args, "--quiet"],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(store.glob("fig3/*/report.html"))) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # the client and its worker processes
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    finished = {
        f.parent: (f.stat().st_mtime_ns, (f.parent / "results.npz").stat().st_mtime_ns)
        for f in store.glob("fig3/*/report.html")
    }
    assert 2 <= len(finished) < 6
    res = _cli(*args)
    assert res.returncode == 0, res.stderr
    done_before = int(res.stderr.split(" already done")[0].rsplit(" ", 1)[1])
    assert done_before >= len(finished)  # (+ those its orphaned tasks finished after the kill)
    for folder, stamps in finished.items():
        now = (folder / "report.html").stat().st_mtime_ns, (folder / "results.npz").stat()
        assert (now[0], now[1].st_mtime_ns) == stamps, folder
    doc = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert doc["counts"]["cached"] >= len(finished)  # (+ any done but not yet reported)
    assert doc["counts"]["done"] + doc["counts"]["cached"] == 6
    sweep = build_sweep("fig3", MINI | {"K": [0.405, 0.415, 0.425], "seed": seeds})
    _check_points(store, sweep)
    if where == "local":  # the local cluster's workers share the cores
        n = max(1, default_workers() // 2)
        for p in sweep.points():
            saved = json.loads((point_folder(store, "fig3", p.config) / "config.json").read_text())
            assert saved["threads_used"] == {"numba": n, "torch": n}
