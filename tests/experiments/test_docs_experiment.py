"""The worked example of docs/extending.md ("Adding an experiment") registers, passes the
registry's conformance test and runs through `reproduce` into the report (issue 9, acceptance 3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import test_experiment_registry as conformance
from test_report import decode_images

from doc_examples import imported_example, python_blocks
from kadanoff.experiments import EXPERIMENTS, get_experiment
from kadanoff.experiments.registry import unregister_experiment

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def _python_blocks() -> list[str]:
    return python_blocks("Adding an experiment")


@pytest.fixture
def example(tmp_path):
    """The example saved as a module file and imported (so it registers itself)."""
    path = tmp_path / "chain_correlation.py"
    try:
        with imported_example(_python_blocks()[0], path, "kadanoff_docs_example_chain_correlation"):
            yield get_experiment("chain_correlation")
    finally:
        unregister_experiment("chain_correlation")


def test_example_conforms(example):
    assert "chain_correlation" in EXPERIMENTS
    conformance.test_registered_experiment_conforms("chain_correlation")
    with pytest.raises(ValueError, match="n_spins >= 4"):
        example.Config(n_spins=2)


def test_usage_block_runs_into_the_report(example, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_python_blocks()[1], str(DOC), "exec"), {"__name__": "docs_usage"})
    out = capsys.readouterr().out
    assert "max |z| =" in out and out.strip().endswith("True")
    html = (tmp_path / "runs" / "chain" / "report.html").read_text()
    assert example.title in html and "G(r): samples and exact" in html
    _, images = decode_images(html)
    assert len(images) == 1 and np.isfinite(images[0]).all()


def test_example_rejects_a_wrong_exact_value(example, tmp_path, monkeypatch):
    """The claim can fail: against the correlation of a ring at another K it does not hold."""
    m = example.run(example.Config(n_samples=4000), tmp_path, seed=3, progress=False)
    assert m["max_abs_z"] < 4.5
    wrong = example.run(example.Config(K=0.6, n_samples=4000), tmp_path, seed=3, progress=False)
    m["G_exact"] = wrong["G_exact"]
    G, err, exact = (np.array(m[k]) for k in ("G", "G_err", "G_exact"))
    m["max_abs_z"] = float(np.abs((G[1:] - exact[1:]) / err[1:]).max())
    assert example.report(m).claims[0].holds is False
