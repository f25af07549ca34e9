"""One sweep point without Dask: two concurrent runs of one point compute it once; its report
opens with every image decodable; the sweep summary's error bars are the standard error."""

import json
import threading

import numpy as np
import pytest
from test_report import decode_images

from kadanoff.experiments import fig2
from kadanoff.sweep.point import point_folder, run_point
from kadanoff.sweep.report import _summary, flatten_scalars


def test_concurrent_runs_of_one_point_compute_it_once(tmp_path):
    config = fig2.Config(chi2_samples=20_000, seed=3)
    folder = point_folder(tmp_path, "fig2", config)
    records = []

    def go():
        records.append(run_point("fig2", config, folder, {"seed": 3}, threads=1))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(r["status"] for r in records) == ["cached", "done"], records
    saved = json.loads((folder / "config.json").read_text())
    assert saved["finished"] is True and saved["seed"] == 3 and saved["params"] == {"seed": 3}
    parser, images = decode_images((folder / "report.html").read_text())
    assert len(images) == 1 and np.isfinite(images[0]).all() and images[0].shape[0] > 100
    assert "Claim" in "".join(parser.first_table_text)
    again = run_point("fig2", config, folder, {"seed": 3})
    assert again["status"] == "cached" and again["seconds"] < 5


def test_a_failing_point_is_recorded_not_raised(tmp_path):
    config = fig2.Config(couplings=())  # passes the config's checks, fails in run()
    folder = point_folder(tmp_path, "fig2", config)
    for _ in range(2):  # not cached: a rerun tries again
        rec = run_point("fig2", config, folder)
        assert rec["status"] == "failed" and rec["error"].startswith("IndexError: ")
    saved = json.loads((folder / "error.json").read_text())
    assert saved["key"] == rec["key"] and "Traceback" in saved["traceback"]
    assert not (folder / "config.json").exists()


def test_flatten_and_standard_error_over_seeds():
    m = {"a": 1, "b": {"c": 2.5, "ok": True, "v": [1.0, 2.0]}, "layers": [{"x": 1}, {"x": 3}]}
    m["nan"] = float("nan")
    assert flatten_scalars(m) == {"a": 1.0, "b.c": 2.5, "layers.0.x": 1.0, "layers.1.x": 3.0}
    entries = [
        {"params": {"K": 0.4, "seed": s}, "metrics": {"y": y}} for s, y in [(1, 1.0), (2, 2.0)]
    ] + [{"params": {"K": 0.5, "seed": 1}, "metrics": {"y": 7.0}}]
    out = _summary(entries, ["K"])["y"]
    assert out[0]["params"] == {"K": 0.4} and out[0]["n"] == 2 and out[0]["mean"] == 1.5
    assert out[0]["stderr"] == pytest.approx(np.std([1.0, 2.0], ddof=1) / np.sqrt(2), rel=1e-12)
    assert out[1] == {"params": {"K": 0.5}, "mean": 7.0, "stderr": None, "n": 1}


def test_run_sweep_passes_the_device_to_every_point(tmp_path, monkeypatch):
    """``run_sweep(device=...)`` reaches each point's task (an in-process cluster, so that the
    stand-in for run_point, which only reports its device, is the one the workers call)."""
    distributed = pytest.importorskip("distributed")
    from kadanoff.sweep.engine import run_sweep
    from kadanoff.sweep.grid import build_sweep

    def record(experiment, config, folder, params=None, *, threads=1, device="cpu"):
        return {"key": "k", "status": "failed", "seconds": 0.0, "error": f"ran on {device}"}

    monkeypatch.setattr("kadanoff.sweep.engine.run_point", record)
    sweep = build_sweep("fig2", {"seed": "1,2"})
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None
    ) as client:
        doc = run_sweep(sweep, tmp_path, client=client, device="cuda", progress=False, log=print)
    assert doc["run"]["device"] == "cuda"
    assert [p["error"] for p in doc["points"]] == ["ran on cuda"] * 2
    assert (tmp_path / "sweep.html").exists()
