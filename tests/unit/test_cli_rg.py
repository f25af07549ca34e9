"""``kadanoff rg exponents | couplings``: tables, JSON per table, figures; bad input exits 2."""

from __future__ import annotations

import json

import pytest

from kadanoff.cli import main


def _call(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code)


def _exp(tmp_path, *extra: str) -> list[str]:
    return ["rg", "exponents", "--size", "16", "--levels", "1", "--samples", "2000",
            "--seed", "3", "--out", str(tmp_path / "exp"), *extra]  # fmt: skip


def test_exponents_writes_tables_json_and_figure(tmp_path, capsys):
    assert _call(_exp(tmp_path, "--K", "critical", "--blocks", "20")) == 0
    out = capsys.readouterr().out
    assert "y_t (exact 1)" in out and "y_h (exact 1.875)" in out
    folder = tmp_path / "exp"
    yt = json.loads((folder / "y_t.json").read_text())
    yh = json.loads((folder / "y_h.json").read_text())
    assert {"y_t", "y_t_error", "y_t_full_set", "flagged_small_lattice"} <= set(yt)
    assert {"y_h", "y_h_error"} <= set(yh)
    assert yt["flagged_small_lattice"] == [False] and yt["coarse_sides"] == [8]
    run = json.loads((folder / "run.json").read_text())
    assert run["seed"] == 3 and run["measured_configs"] == 2000
    assert run["measurement_seconds"] > 0 and run["sampling_seconds"] > 0
    assert (folder / "exponents.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--size", "24", "--levels", "4"], "beyond the 24 x 24 lattice"),
        (["--size", "20", "--levels", "3"], "not divisible by b^levels = 8"),
        (["--rule", "blocky"], "unknown --rule 'blocky'"),
        (["--operators", "nn,bogus"], "unknown operator 'bogus'"),
        (["--samples", "6", "--blocks", "2"], "singular"),
        (["--K", "hot"], "--K must be a number or 'critical'"),
        (["--device", "cuda"], "CPU only"),
        (["--b", "1"], "--b must be at least 2"),
    ],
)
def test_exponents_bad_input_is_one_line_exit_2(tmp_path, capsys, extra, message):
    assert _call(_exp(tmp_path, *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "ising16.npz"
    argv = ["sample", "--lattice", "2d", "--size", "16", "--K", "0.3", "--samples", "400",
            "--seed", "1", "--out", str(path), "--quiet"]  # fmt: skip
    assert _call(argv) == 0
    return path


def test_couplings_of_a_dataset(tmp_path, capsys, dataset):
    argv = ["rg", "couplings", "--data", str(dataset), "--levels", "2", "--seed", "2",
            "--couplings", "nn,nnn,field", "--out", str(tmp_path / "c")]  # fmt: skip
    assert _call(argv) == 0
    out = capsys.readouterr().out
    assert "K_nn" in out
    res = json.loads((tmp_path / "c" / "couplings.json").read_text())
    assert res["levels"] == [0, 1, 2] and res["coarse_sides"] == [16, 8, 4]
    k, e = res["K_nn"][0], res["K_nn_error"][0]
    assert abs(k - 0.3) < 4.5 * e  # level 0 recovers the sampled coupling
    assert res["K_nn"][1] < k  # above T_c the flow runs to K = 0
    assert (tmp_path / "c" / "couplings.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--levels", "5"], "beyond the 16 x 16 lattice"),
        (["--rule", "blocky"], "unknown --rule"),
        (["--couplings", "nn,zzz"], "unknown operator 'zzz'"),
        (["--blocks", "1"], "--blocks must be in"),
    ],
)
def test_couplings_bad_input(tmp_path, capsys, dataset, extra, message):
    argv = ["rg", "couplings", "--data", str(dataset), "--out", str(tmp_path / "c"), *extra]
    assert _call(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_couplings_missing_or_foreign_file(tmp_path, capsys):
    assert _call(["rg", "couplings", "--data", str(tmp_path / "no.npz"), "--out", "x"]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    assert _call(["rg", "couplings", "--data", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "\n" not in capsys.readouterr().err.strip()


# ------------------------------------------------ choices from the library (issue 9)
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sampler", "metropolis"], "unknown --sampler 'metropolis': choose one of wolff, sw"),
        (["--device", "tpu"], "unknown --device 'tpu': choose one of cpu, cuda, auto"),
        (["--rule", "blocky"], "unknown --rule 'blocky': choose one of majority, decimation"),
        (["--levels", "x"], "invalid int value: 'x' (see kadanoff rg exponents --help)"),
    ],
)
def test_exponents_choices_say_what_to_choose(tmp_path, capsys, extra, message):
    assert _call(_exp(tmp_path, *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kadanoff rg exponents: error: ") and "\n" not in err, err
    assert message in err, err
    assert not (tmp_path / "exp").exists()


def test_help_lists_the_librarys_rules_and_samplers(capsys):
    from kadanoff.rg.coarse_graining import RULES
    from kadanoff.rg.mcrg import SAMPLERS

    for sub, names in (("exponents", (RULES, SAMPLERS)), ("couplings", (RULES,))):
        with pytest.raises(SystemExit):
            main(["rg", sub, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        for n in names:
            assert f"{', '.join(n)} (default {n[0]})" in out, out


def test_couplings_default_to_the_librarys(tmp_path, capsys, dataset):
    from kadanoff.rg.mcrg_couplings import DEFAULT_COUPLINGS

    argv = ["rg", "couplings", "--data", str(dataset), "--levels", "1", "--seed", "2",
            "--out", str(tmp_path / "c")]  # fmt: skip
    assert _call(argv) == 0
    res = json.loads((tmp_path / "c" / "couplings.json").read_text())
    assert res["couplings"] == list(DEFAULT_COUPLINGS) and res["coarse_sides"] == [16, 8]
