"""Sweep grids: values typed from the config's dataclass fields, one-line errors (exit code 2)."""

import json
import sys
from pathlib import Path

import pytest

from kadanoff.cli import main
from kadanoff.experiments import EXPERIMENTS
from kadanoff.experiments.base import config_hash
from kadanoff.sweep.grid import build_sweep, field_types, load_sweep_file, parse_set


def test_ranges_lists_and_types():
    sw = build_sweep("fig3", {"K": "0.38:0.46:9", "seed": "1,2,3"})
    assert sw.axes["K"] == (0.38, 0.39, 0.4, 0.41, 0.42, 0.43, 0.44, 0.45, 0.46)  # no 0.39000001
    assert sw.axes["seed"] == (1, 2, 3) and all(type(s) is int for s in sw.axes["seed"])
    pts = sw.points()
    assert len(pts) == 27 and len({p.key for p in pts}) == 27
    assert pts[0].params == {"K": 0.38, "seed": 1} and pts[1].params == {"K": 0.38, "seed": 2}
    # the key is the hash of the full config: the same as a config written by hand
    assert pts[3].key == config_hash("fig3", sw.base.__class__(K=0.39, seed=1))

    sw = build_sweep(
        "fig3", {"hidden": "[64,16,4],[16,4]", "L": "8:32:4", "ablation": "false", "l1": "1e-4"}
    )
    assert sw.axes["hidden"] == ((64, 16, 4), (16, 4))
    assert sw.axes["L"] == (8, 16, 24, 32) and sw.axes["ablation"] == (False,)
    assert sw.swept == ["hidden", "L"] and set(sw.points()[0].params) == {"hidden", "L"}
    log = build_sweep("fig3", {"l1": "1e-4:1e-2:3:log"}).axes["l1"]
    assert log == pytest.approx((1e-4, 1e-3, 1e-2), rel=1e-12)
    assert build_sweep("fig3", {"seed": "1,1,2"}).axes["seed"] == (1, 2)  # repeats dropped


def test_file_values_toml_and_json(tmp_path):
    (tmp_path / "s.toml").write_text(
        'experiment = "fig3"\npreset = "paper"\n[set]\nK = "0.30:0.50:3"\nseed = [1, 2]\n'
        "hidden = [[400, 100, 25], [16, 4]]\nblock_sizes = [2, 4]\nepochs = 3\n"
        "n_samples = {start = 100, stop = 300, num = 3}\n"
    )
    spec = load_sweep_file(tmp_path / "s.toml")
    sw = build_sweep(spec["experiment"], spec["set"], preset=spec["preset"])
    assert sw.axes["K"] == (0.3, 0.4, 0.5) and sw.axes["hidden"] == ((400, 100, 25), (16, 4))
    assert sw.axes["block_sizes"] == ((2, 4),)  # a flat list for a tuple key: one value, fixed
    assert sw.axes["n_samples"] == (100, 200, 300) and sw.base.top_down_gibbs == 2000  # paper
    spec = {"experiment": "fig2", "set": {"chi2_ring": [4, 8]}}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    spec = load_sweep_file(tmp_path / "s.json")
    assert build_sweep(spec["experiment"], spec["set"]).axes["chi2_ring"] == (4, 8)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"KK": "1"}, "unknown parameter 'KK' for fig3: choose from L, K, n_samples"),
        ({"K": "abc"}, "bad value abc for K (float) in fig3: expected a number"),
        ({"K": "nan"}, "expected a finite number"),
        ({"L": "8:30:4"}, "expected integers, but 8:30:4 gives 8, 15.3333"),
        ({"L": "16.5"}, "expected an integer"),
        ({"ablation": "maybe"}, "expected true or false"),
        ({"hidden": "64"}, None),  # one int is a 1-tuple: fine
        ({"K": "0.3:0.5"}, "start:stop:num"),
        ({"K": "0.3,,0.4"}, "nothing empty"),
    ],
)
def test_bad_values_name_what_is_valid(values, message):
    if message is None:
        assert build_sweep("fig3", values).axes["hidden"] == ((64,),)
        return
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_sweep("fig3", values)


def test_invalid_points_and_experiments_are_refused_before_running():
    with pytest.raises(ValueError, match=r"fig2 point ring=10 is not a valid config: .*divisible"):
        build_sweep("fig2", {"ring": "16,10"})
    with pytest.raises(ValueError, match="unknown experiment 'fig9': choose from fig2"):
        build_sweep("fig9", {"seed": "1"})
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        build_sweep("fig3", {"seed": "1"}, preset="huge")
    with pytest.raises(ValueError, match="given twice"):
        parse_set(["K=1", "K=2"])
    with pytest.raises(ValueError, match="use KEY=VALUES"):
        parse_set(["K"])


def test_every_registered_experiment_can_be_swept_over_every_key():
    for name in EXPERIMENTS:
        types = field_types(name)
        assert types
        sw = build_sweep(name, {"seed": "3,4"} if "seed" in types else {next(iter(types)): "1"})
        assert sw.points()


def test_cli_errors_exit_2_with_one_line(capsys, tmp_path):
    assert main(["sweep", "fig3", "--set", "KK=1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "choose from L, K" in err
    (tmp_path / "bad.toml").write_text("experiment = 'fig3'\n[set\n")
    assert main(["sweep", "--file", str(tmp_path / "bad.toml"), "--out", str(tmp_path)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert main(["sweep", "--set", "K=1", "--out", str(tmp_path)]) == 2
    assert "name the experiment" in capsys.readouterr().err
    assert main(["sweep", "fig3", "--set", "K=0.4"]) == 2
    assert "give --out DIR" in capsys.readouterr().err
    rc = main(["sweep", "fig3", "--set", "seed=1,2", "--out", str(tmp_path), "--dry-run"])
    assert rc == 0 and "2 points" in capsys.readouterr().out
    assert not (tmp_path / "sweep.json").exists()


def test_without_dask_the_cli_says_how_to_install(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    assert main(["sweep", "fig2", "--set", "seed=1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'kadanoff[cluster]'" in err


def test_documented_sweep_file_parses(capsys, tmp_path):
    path = Path(__file__).parents[2] / "docs" / "sweeps" / "fig3_temperature_scan.toml"
    rc = main(["sweep", "--file", str(path), "--out", str(tmp_path), "--dry-run"])
    assert rc == 0 and "33 points" in capsys.readouterr().out


# ------------------------------------------- options checked by the library, --device (issue 9)
def _one_line(capsys, argv: list[str], match: str) -> str:
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse-level errors
        rc = int(e.code)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("kadanoff sweep: error: "), err
    assert match in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--workers", "0"], "--workers must be at least 1, got 0"),
        (["--threads", "-2"], "--threads must be at least 1, got -2"),
        (
            ["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
            "--workers makes a local cluster; drop it when using --scheduler",
        ),
        (["--device", "tpu"], "unknown --device 'tpu': choose one of cpu, cuda, auto"),
        (["--workers", "two"], "argument --workers: invalid int value: 'two' (see kadanoff sweep"),
    ],
)
def test_bad_options_are_one_line_before_any_point(capsys, tmp_path, extra, match):
    argv = ["sweep", "fig2", "--set", "seed=1,2", "--out", str(tmp_path / "o"), *extra]
    _one_line(capsys, argv, match)
    assert not (tmp_path / "o").exists()


def test_check_options_is_the_library_check():
    from kadanoff.sweep.engine import check_options

    check_options(workers=2, threads=1)
    check_options(scheduler="tcp://x:1", threads=3)
    with pytest.raises(ValueError, match="workers must be at least 1"):
        check_options(workers=0)
    with pytest.raises(ValueError, match="threads must be at least 1, got True"):
        check_options(threads=True)
    with pytest.raises(ValueError, match="drop it when using scheduler"):
        check_options(workers=1, scheduler="tcp://x:1")


def test_device_cuda_without_a_device_says_use_cpu(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("kadanoff.ising.samplers.cuda_available", lambda: False)
    argv = ["sweep", "fig2", "--set", "seed=1", "--out", str(tmp_path), "--device", "cuda"]
    _one_line(capsys, argv, "--device cuda, but no CUDA device is available: use --device cpu")


def _fake_run_sweep(monkeypatch) -> dict:
    """Stand in for run_sweep (no Dask work); returns the dict that receives its options."""
    pytest.importorskip("distributed")
    seen: dict = {}

    def fake_run_sweep(sweep, out, **kwargs):
        seen.update(kwargs)
        return {"counts": {"done": 0, "cached": 0, "failed": 0}, "points": [], "n_points": 0}

    monkeypatch.setattr("kadanoff.sweep.engine.run_sweep", fake_run_sweep)
    return seen


@pytest.mark.parametrize(
    ("device", "cuda", "expected"),
    [("cpu", True, "cpu"), ("auto", False, "cpu"), ("auto", True, "cuda"), ("cuda", True, "cuda")],
)
def test_device_reaches_run_sweep(capsys, tmp_path, monkeypatch, device, cuda, expected):
    pytest.importorskip("distributed")
    monkeypatch.setattr("kadanoff.ising.samplers.cuda_available", lambda: cuda)
    seen = _fake_run_sweep(monkeypatch)
    argv = ["sweep", "fig2", "--set", "seed=1", "--out", str(tmp_path), "--device", device]
    assert main([*argv, "--quiet"]) == 0
    assert seen["device"] == expected


def test_out_that_is_a_file_is_one_line(capsys, tmp_path):
    (tmp_path / "f").write_text("x")
    argv = ["sweep", "fig2", "--set", "seed=1", "--out", str(tmp_path / "f")]
    _one_line(capsys, argv, "is a file, not a folder; choose another")


def test_unreachable_scheduler_is_one_line(capsys, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    from kadanoff.sweep.engine import SchedulerUnreachable

    def unreachable(**kwargs):
        raise SchedulerUnreachable(
            "cannot reach the Dask scheduler at tcp://10.9.9.9:1 (OSError): check the address, "
            "e.g. --scheduler tcp://10.0.0.1:8786"
        )

    monkeypatch.setattr("kadanoff.sweep.engine.open_client", unreachable)
    argv = ["sweep", "fig2", "--set", "seed=1", "--out", str(tmp_path), "--quiet"]
    assert main([*argv, "--scheduler", "tcp://10.9.9.9:1"]) == 2
    log, err = capsys.readouterr().err.strip().splitlines()  # the progress log, the error
    assert log.startswith("fig2: 1 points") and "Traceback" not in err
    assert err.startswith("kadanoff sweep: error: cannot reach") and "check the address" in err


def test_a_value_error_from_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    """Only the calls that check user input turn ValueError into a usage error."""
    pytest.importorskip("distributed")

    def bug(*args, **kwargs):
        raise ValueError("a bug deep in the engine")

    monkeypatch.setattr("kadanoff.sweep.engine.run_sweep", bug)
    with pytest.raises(ValueError, match="a bug deep in the engine"):
        main(["sweep", "fig2", "--set", "seed=1", "--out", str(tmp_path), "--quiet"])


def test_device_with_a_scheduler_is_the_workers(capsys, tmp_path, monkeypatch):
    """With --scheduler this machine's CUDA says nothing about the workers': cuda passes, auto
    (decided here) is refused."""
    pytest.importorskip("distributed")
    monkeypatch.setattr("kadanoff.ising.samplers.cuda_available", lambda: False)
    seen = _fake_run_sweep(monkeypatch)
    argv = ["sweep", "fig2", "--set", "seed=1", "--out", str(tmp_path), "--quiet"]
    argv += ["--scheduler", "tcp://10.9.9.9:1"]
    assert main([*argv, "--device", "cuda"]) == 0 and seen["device"] == "cuda"
    capsys.readouterr()
    _one_line(capsys, [*argv, "--device", "auto"], "give --device cpu or --device cuda")
