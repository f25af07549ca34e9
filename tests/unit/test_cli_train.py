"""``kadanoff train``: learning through the CLI, DBNs, bad input, and kill-and-resume."""

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
import torch

from kadanoff import Chain, IsingModel
from kadanoff.cli import main
from kadanoff.dbn import DeepBeliefNetwork, load_model
from kadanoff.ising.dataset import generate_dataset, save_dataset
from kadanoff.rbm import SpinRBM
from kadanoff.rbm.exact import kl_divergence
from kadanoff.rbm.train import load_checkpoint
from kadanoff.spins import all_states


def _dataset(folder: Path, n: int, n_samples: int, K: float = 0.5) -> Path:
    ds = generate_dataset(
        IsingModel(Chain(n), K), n_samples, algorithm="exact", seed=1, progress=False
    )
    return save_dataset(ds, folder / f"ring{n}_{n_samples}.npz")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def ring10(data_dir):
    return _dataset(data_dir, 10, 20_000)


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_cli_default_training_learns_ring(ring10, tmp_path):
    """Acceptance 3 through the CLI: defaults reach exact KL < 0.02 on the K = 0.5 ring."""
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            "--data",
            str(ring10),
            "--hidden",
            "10",
            "--seed",
            "3",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    model = load_model(out / "model.safetensors")
    assert isinstance(model, SpinRBM) and model.weights.shape == (10, 10)
    s = all_states(10).astype(np.float64)
    p = np.exp(0.5 * (s * np.roll(s, -1, 1)).sum(1))
    kl = kl_divergence(p / p.sum(), model)
    print(f"CLI default training: exact KL = {kl:.4f} nats")
    assert kl < 0.02
    log = _log(out)
    assert [r["epoch"] for r in log] == list(range(1, 31)) and {r["layer"] for r in log} == {0}
    assert {"reconstruction_error", "pseudo_log_likelihood"} <= set(log[-1]["metrics"])
    meta = json.loads((out / "model.json").read_text())
    assert meta["metadata"]["seed"] == 3 and meta["metadata"]["config"]["epochs"] == 30
    assert (out / "checkpoint.safetensors").is_file() and (out / "checkpoint.json").is_file()


def test_cli_several_hidden_sizes_train_a_dbn(data_dir, tmp_path):
    data = _dataset(data_dir, 8, 500)
    out = tmp_path / "dbn"
    args = [
        "train",
        "--data",
        str(data),
        "--hidden",
        "6,3",
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--units",
        "binary",
        "--no-pcd",
        "--cd-k",
        "2",
        "--l1",
        "1e-3",
        "--lr",
        "0.05",
        "--momentum",
        "0.8",
        "--dtype",
        "float64",
        "--seed",
        "1",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0
    model = load_model(out / "model.safetensors")
    assert isinstance(model, DeepBeliefNetwork) and model.sizes == [8, 6, 3]
    assert all(m.units == "binary" and m.dtype == torch.float64 for m in model.layers)
    assert [(r["layer"], r["epoch"]) for r in _log(out)] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    cfg = load_checkpoint(out / "layer1")["config"]
    assert (cfg.persistent, cfg.cd_k, cfg.l1, cfg.learning_rate, cfg.momentum) == (
        False,
        2,
        1e-3,
        0.05,
        0.8,
    )
    # rerunning the finished command changes nothing; other settings in the same --out fail
    assert main(args) == 0
    assert len(_log(out)) == 4
    new = load_model(out / "model.safetensors")
    assert all(torch.equal(a.weights, b.weights) for a, b in zip(new.layers, model.layers))
    assert main([*args[:-5], "--seed", "2", "--out", str(out), "--quiet"]) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hidden", "4", "--out", "X"], "--data is required"),
        (["--data", "D", "--hidden", "4,a", "--out", "X"], "comma-separated"),
        (["--data", "D", "--hidden", "0", "--out", "X"], "positive"),
        (["--data", "missing.npz", "--hidden", "4", "--out", "X"], "no such file"),
        (["--data", "D", "--hidden", "4", "--out", "X", "--lr", "-1"], "--lr"),
        (["--data", "D", "--hidden", "4", "--out", "X", "--momentum", "1.5"], "--momentum"),
        (["--data", "D", "--hidden", "4", "--out", "X", "--batch-size", "100000"], "fewer"),
        (["--data", "D", "--hidden", "4", "--out", "X", "--units", "potts"], "invalid choice"),
    ],
)
def test_cli_bad_input_one_line_exit_2(args, message, data_dir, tmp_path, capsys):
    data = _dataset(data_dir, 8, 500)
    args = [str(data) if a == "D" else str(tmp_path / "o") if a == "X" else a for a in args]
    with pytest.raises(SystemExit) if message == "invalid choice" else _nothing():
        rc = main(["train", *args])
        assert rc == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and err.startswith("kadanoff train")


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _command(data: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "kadanoff",
        "train",
        "--data",
        str(data),
        "--hidden",
        "128",
        "--batch-size",
        "10",
        "--epochs",
        "8",
        "--seed",
        "5",
        "--out",
        str(out),
        "--quiet",
    ]


def test_sigkill_mid_epoch_then_resume_is_complete_and_bit_for_bit(data_dir, tmp_path):
    """Acceptance 6: SIGKILL after the first checkpoint, rerun, compare with a run in one go."""
    data = _dataset(data_dir, 64, 8000)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    proc = subprocess.Popen(
        _command(data, killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while not (killed / "checkpoint.safetensors").exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no checkpoint after 120 s"
        time.sleep(0.01)
    time.sleep(0.1)  # now inside epoch 2 (an epoch takes ~0.3 s)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # everything on disk after the kill is readable and consistent
    ck = load_checkpoint(killed)
    assert 1 <= ck["start_epoch"] < 8
    assert [r["epoch"] for r in _log(killed)] == list(range(1, len(_log(killed)) + 1))
    assert not (killed / "model.safetensors").exists()
    # rerun the same command: resumes and finishes with exactly 8 epochs
    subprocess.run(_command(data, killed), env=env, check=True, capture_output=True)
    subprocess.run(_command(data, whole), env=env, check=True, capture_output=True)
    log = _log(killed)
    assert [r["epoch"] for r in log] == list(range(1, 9))
    a, b = load_model(killed / "model.safetensors"), load_model(whole / "model.safetensors")
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert load_checkpoint(killed)["start_epoch"] == 8
    assert [r["metrics"] for r in log] == [r["metrics"] for r in _log(whole)]


def test_cli_preset_names_match_the_library():
    from kadanoff.cli import train as cli_train
    from kadanoff.rbm.train import DEFAULT_PRESET, PRESETS

    assert set(cli_train._PRESET_NAMES) == set(PRESETS)
    assert cli_train._DEFAULT_PRESET == DEFAULT_PRESET


# ------------------------------------------------ files and errors (issue 8, sections 3-4)
def _one_line(capsys, argv, match):
    rc = main(["train", *argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("kadanoff train: error: "), err
    assert match in err, err
    assert "Traceback" not in err and "Errno" not in err
    return err


@pytest.mark.parametrize(
    ("args", "message", "absent"),
    [
        (["--lr", "inf"], "--lr must be a finite positive number", "learning_rate"),
        (["--lr", "nan"], "--lr must be a finite positive number", "learning_rate"),
        (["--l1", "inf"], "--l1 must be a finite", None),
        (["--hidden", "16,,4"], "empty entry", None),
        (["--hidden", "16,"], "empty entry", None),
        (["--hidden", ",4"], "empty entry", None),
    ],
)
def test_cli_bad_numbers_name_the_flag(args, message, absent, data_dir, tmp_path, capsys):
    data = _dataset(data_dir, 8, 500)
    argv = ["--data", str(data), "--hidden", "4", "--out", str(tmp_path / "o"), *args]
    err = _one_line(capsys, argv, message)
    assert absent is None or absent not in err
    assert not (tmp_path / "o").exists()


def test_cli_config_errors_name_the_flag(data_dir, tmp_path, capsys, monkeypatch):
    """A TrainConfig complaint about a field is reported as the flag that set it."""
    import kadanoff.rbm.train as rbm_train

    def refuse(name, **changes):
        raise ValueError(f"learning_rate must be positive, got {changes['learning_rate']}")

    monkeypatch.setattr(rbm_train, "get_preset", refuse)
    data = _dataset(data_dir, 8, 500)
    argv = ["--data", str(data), "--hidden", "4", "--out", str(tmp_path / "o"), "--lr", "0.1"]
    err = _one_line(capsys, argv, "--lr must be positive")
    assert "learning_rate" not in err


def test_cli_data_that_is_not_a_dataset(tmp_path, capsys):
    folder = tmp_path / "folder.npz"
    folder.mkdir()
    argv = ["--hidden", "4", "--out", str(tmp_path / "o")]
    _one_line(capsys, ["--data", str(folder), *argv], "is a folder")
    text = tmp_path / "text.npz"
    text.write_text("v1,v2\n1,-1\n")
    err = _one_line(capsys, ["--data", str(text), *argv], "not an .npz archive")
    assert "pickle" not in err


@pytest.mark.parametrize(
    "out, match",
    [
        ("/etc/passwd/x", "is a file"),  # the example: was a NotADirectoryError traceback
        ("/proc/x", "writable"),  # /proc: root may "write" by the mode bits, but cannot create
        ("FILE/x", "is a file"),
    ],
)
def test_cli_unwritable_out_is_one_line_before_any_work(
    out, match, data_dir, tmp_path, capsys, monkeypatch
):
    if out.startswith("/") and not os.path.exists(out.rsplit("/", 1)[0]):
        pytest.skip(f"{out} needs Linux")
    (tmp_path / "FILE").write_text("x")
    out = out.replace("FILE", str(tmp_path / "FILE"))

    def refuse(*a, **k):
        raise AssertionError("work started before the error")

    monkeypatch.setattr("kadanoff.cli.train._load_spins", refuse)
    data = _dataset(data_dir, 8, 500)
    _one_line(capsys, ["--data", str(data), "--hidden", "4", "--out", out], match)


def _strict(text):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("hidden", ["4", "4,2"])
def test_cli_outputs_honour_umask_and_are_strict_json(hidden, data_dir, tmp_path):
    """Every file of a run: mode 0666 & ~umask, JSON strict; load_model takes the folder."""
    data = _dataset(data_dir, 8, 500)
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), "--hidden", hidden, "--epochs", "2"]
    argv += ["--batch-size", "50", "--seed", "1", "--out", str(out), "--quiet"]
    old = os.umask(0o027)
    try:
        assert main(argv) == 0
    finally:
        os.umask(old)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {"model.safetensors", "model.json", "run.json", "log.jsonl"} <= {p.name for p in files}
    for p in files:
        assert p.stat().st_mode & 0o777 == 0o640, (p, oct(p.stat().st_mode))
        assert not p.name.endswith(".tmp"), p
        if p.suffix == ".json":
            _strict(p.read_text())
        elif p.suffix == ".jsonl":
            [_strict(line) for line in p.read_text().splitlines()]
        elif p.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(p), framework="pt") as f:
                _strict(f.metadata()["kadanoff"])
    for d in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        assert d.stat().st_mode & 0o777 == 0o750, d
    model = load_model(out)  # the --out folder itself
    assert (isinstance(model, SpinRBM) and model.n_hidden == 4) or model.sizes == [8, 4, 2]


# ------------------------------------- the library checks, choices from the library (issue 9)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
        (["--batch-size", "-1"], "--batch-size must be a positive integer, got -1"),
        (["--cd-k", "0"], "--cd-k must be a positive integer, got 0"),
        (["--momentum", "-0.1"], "--momentum must lie in [0, 1), got -0.1"),
        (["--dtype", "float16"], "unsupported --dtype 'float16': use 'float32' or 'float64'"),
    ],
)
def test_cli_config_checked_by_the_library_names_the_flag(
    args, message, data_dir, tmp_path, capsys
):
    data = _dataset(data_dir, 8, 500)
    argv = ["--data", str(data), "--hidden", "4", "--out", str(tmp_path / "o"), *args]
    _one_line(capsys, argv, message)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("flag", "names"),
    [
        ("--preset", "kadanoff.rbm.train:PRESETS"),
        ("--precision", "kadanoff.rbm.precision:PRECISIONS"),
        ("--units", None),
        ("--next-layer-input", None),
    ],
)
def test_cli_choices_are_the_librarys(flag, names, capsys):
    import importlib
    import typing

    from kadanoff.dbn import train_dbn
    from kadanoff.rbm.train import TrainConfig

    if names:
        module, attr = names.split(":")
        expected = list(getattr(importlib.import_module(module), attr))
    elif flag == "--units":
        expected = list(typing.get_args(typing.get_type_hints(TrainConfig)["units"]))
    else:
        expected = list(typing.get_args(typing.get_type_hints(train_dbn)["next_layer_input"]))
    with pytest.raises(SystemExit) as e:
        main(["train", flag, "bogus"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("kadanoff train: error: ") and "(see kadanoff train --help)" in err
    assert f"invalid choice: 'bogus' (choose from {', '.join(map(repr, expected))})" in err


def test_cli_help_lists_the_presets_and_the_default(capsys):
    from kadanoff.rbm.train import DEFAULT_PRESET, PRESETS

    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"{', '.join(PRESETS)} (default {DEFAULT_PRESET})" in out


def test_cli_value_error_from_a_bug_keeps_its_traceback(data_dir, tmp_path, monkeypatch):
    """Only the calls that check user input turn ValueError into a usage error."""
    import kadanoff.rbm.train as rbm_train

    def bug(*a, **k):
        raise ValueError("a bug deep in the trainer")

    monkeypatch.setattr(rbm_train, "train_rbm", bug)
    data = _dataset(data_dir, 8, 500)
    with pytest.raises(ValueError, match="a bug deep in the trainer"):
        main(["train", "--data", str(data), "--hidden", "4", "--out", str(tmp_path / "o")])
