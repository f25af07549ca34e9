"""``kadanoff reproduce``: a bad --out is one line and exit code 2, before any experiment runs.

The run itself (every output walked: modes, strict JSON, figures) is tested in
tests/experiments/test_fig3.py.
"""

from __future__ import annotations

import os

import pytest

from kadanoff.cli import main


@pytest.mark.parametrize(
    "out, match",
    [
        ("/etc/passwd/x", "is a file"),  # the example: was a NotADirectoryError traceback
        ("/proc/x", "writable"),  # /proc: "writable" to root by its mode bits, yet read-only
        ("FILE/x", "is a file"),
        ("FILE", "not a folder"),
    ],
)
def test_bad_out_one_line_exit_2_before_any_work(out, match, tmp_path, capsys, monkeypatch):
    if out.startswith("/") and not os.path.exists(out.rsplit("/", 1)[0]):
        pytest.skip(f"{out} needs Linux")
    (tmp_path / "FILE").write_text("x")
    out = out.replace("FILE", str(tmp_path / "FILE"))

    def refuse(*a, **k):
        raise AssertionError("an experiment started before the error")

    monkeypatch.setattr("kadanoff.experiments.runner.reproduce", refuse)
    rc = main(["reproduce", "--out", out, "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("kadanoff reproduce: error: "), err
    assert match in err and "Errno" not in err, err


def test_os_error_during_the_run_is_one_line(tmp_path, capsys, monkeypatch):
    """Any OSError on an output (disk full, folder removed) is one line, not a traceback."""

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device", str(tmp_path / "out" / "metrics.json"))

    monkeypatch.setattr("kadanoff.experiments.runner.reproduce", disk_full)
    rc = main(["reproduce", "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert err.endswith("metrics.json: No space left on device"), err


def test_choices_come_from_the_experiment_registry(tmp_path, capsys, monkeypatch):
    """--only and --preset list what the registry holds (no hand-copied list): a newly
    registered experiment is accepted, an unknown one is a usage error before any work."""
    import dataclasses

    from kadanoff.experiments import Experiment, experiment_names
    from kadanoff.experiments.base import Report
    from kadanoff.experiments.registry import register_experiment, unregister_experiment

    @dataclasses.dataclass(frozen=True)
    class Cfg:
        seed: int = 0

    class Extra(Experiment):
        name, title, Config = "cli_extra_check", "extra", Cfg
        presets = {"quick": Cfg(), "paper": Cfg(), "tiny": Cfg()}

        def run(self, config, folder, *, seed=None, device="cpu", progress=True):
            return {}

        def plot(self, folder):
            return []

        def report(self, metrics):
            return Report()

    calls = []

    def fake(*a, **k):
        calls.append((a, k))
        return {"claims": []}

    monkeypatch.setattr("kadanoff.experiments.runner.reproduce", fake)
    with pytest.raises(SystemExit) as e:  # argparse's own usage error
        main(["reproduce", "--only", "fig9", "--out", str(tmp_path)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'fig9'" in err and ", ".join(map(repr, experiment_names())) in err
    register_experiment(Extra)
    try:
        args = ["--only", "cli_extra_check", "--preset", "tiny", "--out", str(tmp_path / "o")]
        assert main(["reproduce", *args]) == 0
        (preset, _), kwargs = calls[0]
        assert preset == "tiny" and kwargs["only"] == ["cli_extra_check"]
    finally:
        unregister_experiment("cli_extra_check")
