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
