"""``kadanoff sample``: every bad input is one line on stderr and exit code 2; runs succeed."""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from kadanoff.cli import main
from kadanoff.ising.dataset import load_dataset


def _has(module: str) -> bool:
    return importlib.util.find_spec(f"kadanoff.ising.samplers.{module}") is not None


needs = {
    m: pytest.mark.skipif(not _has(m), reason=f"kadanoff.ising.samplers.{m} not written yet")
    for m in ("checkerboard", "wolff", "exact_chain")
}


def _call(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse-level errors (bad types, bad choices)
        return int(e.code)


def _base(tmp_path, **over) -> list[str]:
    opts = {
        "--lattice": "2d",
        "--size": "4",
        "--K": "0.3",
        "--samples": "10",
        "--algorithm": "metropolis",
        "--seed": "1",
        "--out": str(tmp_path / "out.npz"),
    }
    opts.update(over)
    argv = ["sample"]
    for k, v in opts.items():
        if v is not None:
            argv += [k, v]
    return argv


def _one_line_error(capsys, argv, match: str) -> str:
    rc = _call(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc == 2, (rc, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("kadanoff sample: error: "), lines[0]
    assert match in lines[0], lines[0]
    assert out == ""
    return lines[0]


@pytest.mark.parametrize(
    "over, match",
    [
        ({"--size": "0"}, "--size must be at least 2"),
        ({"--size": "-4"}, "--size must be at least 2"),
        ({"--size": "1"}, "--size must be at least 2"),
        ({"--size": "four"}, "invalid int value"),
        ({"--size": None}, "--size is required"),
        ({"--lattice": None}, "--lattice"),
        ({"--lattice": "3d"}, "invalid choice"),
        ({"--T": "2.0"}, "only one of --K"),
        ({"--K": None}, "--K or the temperature --T"),
        ({"--K": None, "--T": "0"}, "--T must be a positive"),
        ({"--K": None, "--T": "-1.5"}, "--T must be a positive"),
        ({"--K": "nan"}, "--K must be a finite"),
        ({"--field": "inf"}, "--field must be a finite"),
        ({"--samples": "0"}, "--samples must be a positive"),
        ({"--samples": "-5"}, "--samples must be a positive"),
        ({"--samples": None}, "--samples is required"),
        ({"--chains": "0"}, "--chains must be >= 1"),
        ({"--thin": "0"}, "--thin must be >= 1"),
        ({"--thermalization": "-1"}, "--thermalization must be >= 0"),
        ({"--seed": "-3"}, "--seed must be >= 0"),
        ({"--algorithm": "glauber"}, "invalid choice"),
        ({"--algorithm": "wolff", "--field": "0.1"}, "zero field"),
        ({"--algorithm": "sw", "--field": "0.1"}, "zero field"),
        ({"--algorithm": "exact"}, "1D"),
        ({"--device": "tpu"}, "unknown device"),
        ({"--size": "5", "--device": "cuda"}, "even"),
        ({"--algorithm": "wolff", "--device": "cuda"}, "CPU only"),
        ({"--out": None}, "--out"),
        ({"--out": "data.h5"}, "must end in .npz"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, capsys, over, match):
    _one_line_error(capsys, _base(tmp_path, **over), match)
    assert not (tmp_path / "out.npz").exists()


def test_cuda_unavailable(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    _one_line_error(capsys, _base(tmp_path, **{"--device": "cuda"}), "no CUDA device")


def test_refuses_overwrite_without_force(tmp_path, capsys):
    out = tmp_path / "out.npz"
    out.write_bytes(b"precious")
    _one_line_error(capsys, _base(tmp_path), "--force")
    assert out.read_bytes() == b"precious"


def test_output_is_folder_or_under_a_file(tmp_path, capsys):
    (tmp_path / "d.npz").mkdir()
    _one_line_error(capsys, _base(tmp_path, **{"--out": str(tmp_path / "d.npz")}), "folder")
    (tmp_path / "f").write_text("x")
    _one_line_error(capsys, _base(tmp_path, **{"--out": str(tmp_path / "f/x.npz")}), "is a file")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        _one_line_error(capsys, _base(tmp_path, **{"--out": str(ro / "sub/x.npz")}), "writable")
    finally:
        ro.chmod(0o700)


@needs["checkerboard"]
def test_success_2d_metropolis_with_field(tmp_path, capsys):
    argv = _base(tmp_path, **{"--field": "0.2", "--chains": "2", "--seed": "5"})
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "out.npz" in out and "acceptance" in out and "tau_E" in out
    d = load_dataset(tmp_path / "out.npz")
    assert d.spins.shape == (10, 4, 4) and d.spins.dtype == np.int8
    assert d.meta["field"] == 0.2 and d.meta["seed"] == 5 and d.meta["algorithm"] == "metropolis"
    assert not (tmp_path / "out.partial.npz").exists()
    # same command with --force: same data bit for bit
    assert main([*argv, "--force", "--quiet"]) == 0
    out2, _ = capsys.readouterr()
    assert out2 == ""
    np.testing.assert_array_equal(load_dataset(tmp_path / "out.npz").spins, d.spins)


@needs["wolff"]
def test_success_2d_wolff_temperature_random_seed(tmp_path, capsys):
    argv = _base(tmp_path, **{"--algorithm": "wolff", "--K": None, "--T": "2.5", "--seed": None})
    assert main([*argv, "--chains", "2"]) == 0
    out, _ = capsys.readouterr()
    assert "mean cluster size" in out
    d = load_dataset(tmp_path / "out.npz")
    assert d.meta["K"] == pytest.approx(0.4, abs=1e-15)
    assert isinstance(d.meta["seed"], int) and d.meta["seed_drawn_at_random"] is True


@needs["exact_chain"]
def test_success_1d_exact(tmp_path, capsys):
    argv = _base(tmp_path, **{"--lattice": "1d", "--size": "12", "--algorithm": "exact"})
    assert main(argv) == 0
    d = load_dataset(tmp_path / "out.npz")
    assert d.spins.shape == (10, 12) and d.meta["algorithm"] == "exact"
    assert d.meta["thinning"] == 1


def test_python_dash_m_subprocess(tmp_path):
    """``python -m kadanoff sample`` works end to end in a fresh interpreter."""
    alg = "exact" if _has("exact_chain") else "metropolis"
    if alg == "metropolis" and not _has("checkerboard"):
        pytest.skip("no sampler module written yet")
    out = tmp_path / "sub" / "chain.npz"
    cmd = [sys.executable, "-m", "kadanoff", "sample", "--lattice", "1d", "--size", "8"]
    cmd += ["--K", "0.5", "--samples", "6", "--algorithm", alg, "--seed", "3"]
    cmd += ["--chains", "2", "--out", str(out), "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert load_dataset(out).spins.shape == (6, 8)


# ------------------------------------------------ files and errors (issue 8, sections 3-4)
@pytest.fixture
def no_sampling(monkeypatch):
    """Fail the test if any sampling starts: errors must come before any work."""

    def refuse(*a, **k):
        raise AssertionError("sampling started before the error")

    monkeypatch.setattr("kadanoff.ising.dataset.generate_dataset", refuse)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_unwritable_proc_refused_before_the_warm_up(tmp_path, capsys, no_sampling):
    """/proc is 'writable' to root by its mode bits, yet nothing can be created there."""
    line = _one_line_error(capsys, _base(tmp_path, **{"--out": "/proc/x.npz"}), "writable")
    assert ".tmp" not in line and "Errno" not in line


@pytest.mark.skipif(not os.path.isfile("/etc/passwd"), reason="needs /etc/passwd")
def test_out_under_a_system_file(tmp_path, capsys, no_sampling):
    _one_line_error(capsys, _base(tmp_path, **{"--out": "/etc/passwd/x.npz"}), "is a file")


@pytest.mark.parametrize(
    "lattice, size, samples",
    [("2d", "1000000000", "10"), ("2d", "100000", "10000"), ("1d", "1000000000", "10000")],
)
def test_memory_checked_up_front(tmp_path, capsys, no_sampling, lattice, size, samples):
    argv = _base(tmp_path, **{"--lattice": lattice, "--size": size, "--samples": samples})
    argv[argv.index("metropolis")] = "exact" if lattice == "1d" else "metropolis"
    line = _one_line_error(capsys, argv, "of memory")
    assert "GiB" in line and "available" in line and "--size" in line and "--samples" in line


def test_os_error_while_writing_is_one_line(tmp_path, capsys, monkeypatch):
    def disk_full(*a, **k):
        raise OSError(28, "No space left on device", str(tmp_path / "out.npz"))

    monkeypatch.setattr("kadanoff.ising.dataset.save_dataset", disk_full)
    argv = _base(tmp_path, **{"--lattice": "1d", "--size": "6", "--algorithm": "exact"})
    line = _one_line_error(capsys, argv, "No space left on device")
    assert str(tmp_path / "out.npz") in line and "Errno" not in line


@needs["exact_chain"]
@pytest.mark.parametrize("mask", [0o002, 0o027])
def test_dataset_mode_honours_umask_also_with_force(tmp_path, capsys, mask):
    out = tmp_path / "out.npz"
    argv = _base(tmp_path, **{"--lattice": "1d", "--size": "6", "--algorithm": "exact"})
    old = os.umask(mask)
    try:
        assert main([*argv, "--quiet"]) == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask
        out.chmod(0o644)
        assert main([*argv, "--quiet", "--force"]) == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]  # no temp, no partial


def test_memory_error_that_slips_through_is_one_line(tmp_path, capsys, monkeypatch):
    def too_big(*a, **k):
        raise MemoryError("Unable to allocate 74.5 GiB for an array")

    monkeypatch.setattr("kadanoff.ising.dataset.generate_dataset", too_big)
    argv = _base(tmp_path, **{"--lattice": "1d", "--size": "6", "--algorithm": "exact"})
    line = _one_line_error(capsys, argv, "not enough memory")
    assert "74.5 GiB" in line and "fewer samples" in line


# ------------------------------------------------ choices from the registries (issue 9)
def test_building_the_parser_imports_neither_numba_nor_torch():
    """Every command's choices come from the library, read lazily: `kadanoff --help` stays fast."""
    code = (
        "import sys; from kadanoff.cli import build_parser; build_parser(); "
        "print(sorted({'numba', 'torch'} & set(sys.modules)))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_help_lists_the_registered_samplers_and_devices(capsys):
    from kadanoff.ising.samplers import ALGORITHMS, DEVICES

    with pytest.raises(SystemExit) as e:
        main(["sample", "--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert all(name in out for name in ALGORITHMS)
    assert f"--device DEVICE {', '.join(DEVICES)} (default cpu)" in out


def test_a_value_error_from_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    """Only the calls that check user input turn ValueError into a usage error."""

    def bug(*a, **k):
        raise ValueError("a bug deep in the sampler")

    monkeypatch.setattr("kadanoff.ising.dataset.generate_dataset", bug)
    argv = _base(tmp_path, **{"--lattice": "1d", "--size": "6", "--algorithm": "exact"})
    with pytest.raises(ValueError, match="a bug deep in the sampler"):
        main(argv)


def test_lazy_choices_read_the_registry_once_and_only_when_used():
    from kadanoff.cli._common import LazyChoices

    calls = []

    def load():
        calls.append(1)
        return ("a", "b")

    names = LazyChoices(load)
    assert calls == []
    assert "a" in names and "c" not in names and list(names) == ["a", "b"]
    assert names == ("a", "b") and ("a", "b") == names and names != ("a",)
    assert str(names) == "a, b" and len(names) == 2 and calls == [1]
