"""The worked example of docs/extending.md ("Adding a sampler") runs and passes every
check of the sampler conformance test (issue 9, acceptance 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from doc_examples import imported_example, python_blocks
from kadanoff.ising.samplers import make_sampler, registry
from sampler_checks import CHECKS

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def _python_blocks() -> list[str]:
    return python_blocks("Adding a sampler")


@pytest.fixture
def toy_spec(tmp_path):
    """The example saved as a module file, imported (so it registers itself)."""
    path = tmp_path / "toy_heatbath.py"
    name = "kadanoff_docs_example_toy_heatbath"
    try:
        with imported_example(_python_blocks()[0], path, name):
            (found,) = registry.specs_for("toy-heatbath")
            yield found, path, name
    finally:
        registry.unregister_sampler("toy-heatbath")


def test_example_is_read_from_its_source_like_a_package_module(toy_spec):
    """As a file in the package, the registry would read the same declaration statically."""
    spec, path, module = toy_spec
    assert registry._static_specs(module, path) == [spec]
    assert spec.qualname == "ToyHeatBathSampler"


@pytest.mark.parametrize("check", list(CHECKS))
def test_example_passes_the_conformance_checks(toy_spec, check, tmp_path):
    CHECKS[check](toy_spec[0], tmp_path)


def test_usage_block_runs(toy_spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(_python_blocks()[1], str(DOC), "exec"), {"__name__": "docs_usage"})
    assert (tmp_path / "chains.npz").exists()
    assert type(make_sampler("toy-heatbath", _model())).__name__ == "ToyHeatBathSampler"


def _model():
    from kadanoff.ising.model import IsingModel
    from kadanoff.lattice import Chain

    return IsingModel(Chain(5), 0.2)
