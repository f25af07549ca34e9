"""The worked example of docs/extending.md ("Adding a coarse-graining rule") is a complete rule:
it satisfies the protocol, registers itself, passes the conformance checks of every registered
rule, coarse-grains exactly as written, and Monte Carlo RG takes it unchanged (issue 9,
acceptance 3)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from coarse_graining_checks import CHECKS
from kadanoff.rg import CoarseGraining
from kadanoff.rg.coarse_graining import coarse_graining_classes, unregister_coarse_graining

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def _blocks() -> list[str]:
    section = DOC.read_text(encoding="utf-8").split("## Adding a coarse-graining rule", 1)[1]
    section = section.split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.fixture(scope="module")
def namespace():
    ns: dict = {"__name__": "docs_coarse_graining"}
    exec(compile(_blocks()[0], str(DOC), "exec"), ns)
    yield ns
    unregister_coarse_graining("corner-majority")


def test_example_is_registered(namespace):
    assert coarse_graining_classes()["corner-majority"] is namespace["CornerMajority"]


@pytest.mark.parametrize("check", list(CHECKS))
def test_example_passes_the_conformance_checks(namespace, check):
    CHECKS[check](namespace["CornerMajority"].example())


def test_example_rule_is_a_coarse_graining(namespace):
    rule = namespace["CornerMajority"](4)
    assert isinstance(rule, CoarseGraining)
    assert rule.fine_shape == (4, 4) and rule.coarse_shape == (2, 2)
    v = np.ones((1, 4, 4), dtype=np.int8)
    v[0, 0, 1] = v[0, 1, 0] = -1  # block (0, 0): two of its three spins are down
    h = rule.coarse_grain(v, seed=0)
    assert h.dtype == np.int8 and h.tolist() == [[[-1, 1], [1, 1]]]
    np.testing.assert_array_equal(rule.coarse_mean(v), h)
    with pytest.raises(ValueError, match="even lattice side"):
        namespace["CornerMajority"](5)


def test_example_runs_through_monte_carlo_rg(namespace, capsys):
    exec(compile(_blocks()[1], str(DOC), "exec"), namespace)
    out = capsys.readouterr().out
    y_t = [float(x) for x in re.search(r"y_t by step: \[(.*)\]", out).group(1).split(",")]
    assert len(y_t) == 2 and all(0.5 < y < 1.5 for y in y_t)  # sanity: an RG eigenvalue
