"""Every registered coarse-graining rule meets the CoarseGraining contract (issue 9,
acceptance 3): the checks of ``tests/coarse_graining_checks.py`` run on ``cls.example()`` of
each class in the registry, so a new rule is tested by registering it."""

from __future__ import annotations

import time

import pytest

from coarse_graining_checks import CHECKS
from kadanoff.lattice import SquareLattice
from kadanoff.rg import Compose, Decimation, MajorityRule, RBMLayer, SoftKernel
from kadanoff.rg.coarse_graining import (
    coarse_graining_class,
    coarse_graining_classes,
    register_coarse_graining,
    unregister_coarse_graining,
)

RULES = coarse_graining_classes()


@pytest.fixture(scope="module", params=sorted(RULES))
def rule(request):
    start = time.perf_counter()
    instance = RULES[request.param].example()
    assert time.perf_counter() - start < 5.0, "example() must be quick (no training)"
    return instance


@pytest.mark.parametrize("check", list(CHECKS))
def test_rule_meets_the_contract(rule, check):
    CHECKS[check](rule)


def test_kadanoffs_rules_are_registered():
    for cls in (MajorityRule, Decimation, SoftKernel, RBMLayer, Compose):
        assert cls in RULES.values(), cls
    assert coarse_graining_class("majority") is MajorityRule
    with pytest.raises(ValueError, match="unknown coarse-graining rule 'blocky'"):
        coarse_graining_class("blocky")


def test_registration_needs_an_example_and_a_free_name():
    class NoExample:
        pass

    with pytest.raises(TypeError, match="example"):
        register_coarse_graining("no-example")(NoExample)

    class Other:
        @classmethod
        def example(cls):
            return cls()

    with pytest.raises(ValueError, match="already registered"):
        register_coarse_graining("majority")(Other)
    try:
        register_coarse_graining("other")(Other)
        register_coarse_graining("other")(Other)  # the same class again (a re-import) is fine
        assert coarse_graining_classes()["other"] is Other
    finally:
        unregister_coarse_graining("other")
    assert "other" not in coarse_graining_classes()


class _WrongMean(SoftKernel):
    """coarse_mean of another lambda than the draws use."""

    def _mean_hidden(self, v):
        return super()._mean_hidden(v) * 0.8


class _IgnoresSeed(SoftKernel):
    def coarse_grain(self, v, *, seed):
        return super().coarse_grain(v, seed=0)


class _FloatOutput(Decimation):
    def coarse_grain(self, v, *, seed=None):
        return super().coarse_grain(v, seed=seed).astype(float)


class _AcceptsZeros(Decimation):
    def coarse_grain(self, v, *, seed=None):
        return v[:, :: self.b, :: self.b].astype("int8")


@pytest.mark.parametrize(
    "broken, check",
    [
        (_WrongMean, "mean"),
        (_IgnoresSeed, "reproducible"),
        (_FloatOutput, "protocol"),
        (_AcceptsZeros, "bad_input"),
    ],
)
def test_the_checks_reject_a_broken_rule(broken, check):
    args = (SquareLattice(4), 2, 0.5) if issubclass(broken, SoftKernel) else (SquareLattice(4), 2)
    with pytest.raises(AssertionError):
        CHECKS[check](broken(*args))
