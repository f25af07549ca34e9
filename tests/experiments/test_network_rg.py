"""The "Does the network do RG?" aggregator (issue 11, Report): fake part modules through the
runner: metrics under network_rg.<part>.<key>, one seed per part, a report section with one
claims table and each part's figures and reading, every image decodable; part-wise resume."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from test_report import decode_images

from kadanoff.experiments import get_experiment, network_rg
from kadanoff.experiments.runner import reproduce
from kadanoff.io import read_npz, write_npz


@dataclass(frozen=True)
class FakeConfig:
    n: int = 50
    offset: float = 0.0


def _fake_part(key: str, verdict: str = "agrees") -> types.ModuleType:
    """A part module by the contract, computing a mean of seeded normal numbers."""
    mod = types.ModuleType(f"kadanoff_test_parts.{key}", f"Fake part {key}.\n\nFor tests.")
    mod.QUICK, mod.PAPER = FakeConfig(), FakeConfig(n=500)
    mod.calls = []

    def compute(config, folder: Path, *, seed, device="cpu", progress=False):
        mod.calls.append(seed)
        x = np.random.default_rng(seed).normal(config.offset, 1.0, size=config.n)
        write_npz(folder / "x.npz", {"x": x}, {"part": key})
        return {"mean": float(x.mean()), "mean_err": float(x.std() / np.sqrt(config.n)),
                "seed": seed, "nan": float("nan")}  # fmt: skip

    def plot(folder: Path) -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        arrays, _ = read_npz(folder / "x.npz")
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.hist(arrays["x"], bins=10)
        path = folder / f"{key}_histogram.png"
        fig.savefig(path, dpi=60)
        plt.close(fig)
        return [path]

    def claims(m):
        result = f"{m['mean']:.3f} +- {m['mean_err']:.3f}"
        how = "z-score of the sample mean"
        return [
            {"claim": f"{key}: the mean is 0", "how": how, "result": result, "verdict": verdict}
        ]

    def reading(m):
        return f"The fake part {key} drew a mean of {m['mean']:.3f}."

    mod.compute, mod.plot, mod.claims, mod.reading = compute, plot, claims, reading
    return mod


@pytest.fixture
def parts(monkeypatch):
    mods = {k: _fake_part(k) for k in ("alpha", "beta")}
    for m in mods.values():
        monkeypatch.setitem(sys.modules, m.__name__, m)
    monkeypatch.setattr(network_rg, "PARTS", tuple(m.__name__ for m in mods.values()))
    return mods


def _run(out: Path, **kw):
    return reproduce("quick", out, only=["network_rg"], progress=False, log=lambda *a: None, **kw)


def test_parts_run_into_subfolders_with_their_own_seeds(parts, tmp_path):
    m = _run(tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    r = saved["network_rg"]
    assert set(r) == {"alpha", "beta", "summary"} and r["alpha"]["nan"] is None  # strict JSON
    assert r["summary"]["skipped"] == ["alpha", "beta"]  # the fake parts have no summary()
    assert r["alpha"]["mean"] == m["network_rg"]["alpha"]["mean"]
    for key in ("alpha", "beta"):
        assert (tmp_path / "network_rg" / key / "x.npz").exists()
        done = json.loads((tmp_path / "network_rg" / key / "config.json").read_text())
        assert done["finished"] and done["seconds"] >= 0  # each part's time, for the budget
        assert abs(r[key]["mean"]) < 5 * r[key]["mean_err"]
    seeds = {k: r[k]["seed"] for k in ("alpha", "beta")}
    assert seeds["alpha"] != seeds["beta"]
    # a part's seed depends on the run's seed and its own name only, not on the other parts
    assert (
        seeds["alpha"] == network_rg.part_seed(2018, "alpha") != network_rg.part_seed(2019, "alpha")
    )
    assert saved["claims"] == []  # its claims are in its own section, not the paper's table
    # ... and among the verdicts beyond the paper, each with its experiment and part
    assert [(v["experiment"], v["source"], v["verdict"]) for v in saved["verdicts"]] == [
        ("network_rg", "alpha", "agrees"),
        ("network_rg", "beta", "agrees"),
    ]


def test_report_section_table_figures_and_readings(parts, tmp_path):
    _run(tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "<h2>Does the network do RG?</h2>" in html
    assert html.count("<th>how checked</th>") == 1  # one claims table for all parts
    for key in ("alpha", "beta"):
        assert f"<h3>Fake part {key}</h3>" in html and f"The fake part {key} drew" in html
        assert f"{key}: the mean is 0" in html
    _, images = decode_images(html)
    assert len(images) == 2 and all(np.isfinite(im).all() and im.ndim == 3 for im in images)


def test_finished_parts_are_not_recomputed(parts, tmp_path):
    _run(tmp_path)
    (tmp_path / "network_rg" / "config.json").unlink()  # the experiment did not finish
    (tmp_path / "network_rg" / "beta" / "config.json").unlink()  # nor did part beta
    _run(tmp_path)
    assert len(parts["alpha"].calls) == 1 and len(parts["beta"].calls) == 2
    assert parts["beta"].calls[0] == parts["beta"].calls[1]  # same seed, same numbers


def test_a_bad_verdict_is_refused(monkeypatch, tmp_path):
    bad = _fake_part("gamma", verdict="holds")
    monkeypatch.setitem(sys.modules, bad.__name__, bad)
    monkeypatch.setattr(network_rg, "PARTS", (bad.__name__,))
    with pytest.raises(ValueError, match="one of agrees, differs, inconclusive"):
        _run(tmp_path)


def test_no_parts_yet_is_a_short_section(monkeypatch, tmp_path):
    monkeypatch.setattr(network_rg, "PARTS", ())
    exp = get_experiment("network_rg")
    assert exp.presets["quick"].parts == ()
    m = _run(tmp_path)
    assert m["network_rg"] == {}
    assert "No part has been added yet" in (tmp_path / "report.html").read_text()


def test_terminal_summary_lists_the_verdicts(parts, tmp_path, capsys):
    from kadanoff.cli import main

    assert main(["reproduce", "--only", "network_rg", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    block = out.split("beyond the paper (learned rule vs block spins)", 1)[1]
    for key in ("alpha", "beta"):
        assert f"[{key}] {key}: the mean is 0" in block
    assert block.count("agrees") == 2
