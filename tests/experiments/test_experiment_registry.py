"""Every registered experiment satisfies the Experiment protocol (issue 9): one conformance test
over the registry, so a new experiment is checked by registering it; and the registry's rules."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

from kadanoff.experiments import EXPERIMENTS, Experiment, experiment_names, get_experiment
from kadanoff.experiments.base import ModuleExperiment, Report
from kadanoff.experiments.registry import register_experiment, unregister_experiment


@pytest.mark.parametrize("name", experiment_names())
def test_registered_experiment_conforms(name):
    exp = get_experiment(name)
    assert isinstance(exp, Experiment) and exp.name == name and name.isidentifier()
    assert isinstance(exp.title, str) and exp.title
    assert dataclasses.is_dataclass(exp.Config) and exp.Config.__dataclass_params__.frozen
    assert "seed" in {f.name for f in dataclasses.fields(exp.Config)}
    assert {"quick", "paper"} <= set(exp.presets)
    for preset in exp.presets.values():
        assert isinstance(preset, exp.Config)
        assert isinstance(preset.seed, int) and hash(dataclasses.astuple(preset)) is not None
    run = inspect.signature(exp.run).parameters
    assert list(run)[:2] == ["config", "folder"]
    for kw in ("seed", "device", "progress"):
        assert run[kw].kind is inspect.Parameter.KEYWORD_ONLY, kw
    assert run["seed"].default is None  # None: the config's own seed
    assert list(inspect.signature(exp.plot).parameters) == ["folder"]
    assert list(inspect.signature(exp.report).parameters) == ["metrics"]
    assert all(isinstance(p, str) for p in exp.sweep_metrics)
    # the names kadanoff.sweep reads
    assert (exp.NAME, exp.TITLE, exp.PRESETS) == (exp.name, exp.title, exp.presets)


def test_live_names_and_lookup():
    assert tuple(EXPERIMENTS) == experiment_names()
    assert experiment_names()[:3] == ("fig2", "fig3", "rg_measured")
    assert "fig3" in EXPERIMENTS and "fig9" not in EXPERIMENTS and len(EXPERIMENTS) >= 3
    with pytest.raises(ValueError, match=r"unknown experiment 'fig9': choose from fig2, fig3"):
        get_experiment("fig9")


@dataclasses.dataclass(frozen=True)
class _Cfg:
    n: int = 1
    seed: int = 0


class _Toy(Experiment):
    name = "toy_registry_check"
    title = "toy"
    Config = _Cfg
    presets = {"quick": _Cfg(), "paper": _Cfg(n=2)}

    def run(self, config, folder, *, seed=None, device="cpu", progress=True):
        return {"n": config.n}

    def plot(self, folder):
        return []

    def report(self, metrics):
        return Report(paragraphs=[f"n = {metrics['n']}"])


@pytest.fixture
def toy():
    register_experiment(_Toy)
    try:
        yield get_experiment("toy_registry_check")
    finally:
        unregister_experiment("toy_registry_check")


def test_a_registered_class_is_seen_everywhere(toy):
    assert "toy_registry_check" in EXPERIMENTS
    assert toy.reading({"n": 3}) == ["n = 3"] and toy.claims({"n": 3}) == []
    section = toy.section(Path("."), {"n": 3}, _Cfg())
    assert section.title == "toy" and section.config == {"n": 1, "seed": 0}
    register_experiment(_Toy)  # the same class again (a reloaded module) replaces the entry

    class Other(_Toy):
        pass

    with pytest.raises(ValueError, match="already registered"):
        register_experiment(Other)


def test_bad_registrations_are_refused():
    with pytest.raises(TypeError, match="not a kadanoff.experiments.base.Experiment"):
        register_experiment(object)  # type: ignore[type-var]

    class NoPaper(_Toy):
        name = "toy_no_paper"
        presets = {"quick": _Cfg()}

    with pytest.raises(ValueError, match="lacks the preset"):
        register_experiment(NoPaper)

    class BadName(_Toy):
        name = "not a folder"

    with pytest.raises(ValueError, match="identifier"):
        register_experiment(BadName)
    assert "toy_no_paper" not in EXPERIMENTS


def test_module_experiment_reads_the_module_live(monkeypatch):
    from kadanoff.experiments import fig2

    exp = get_experiment("fig2")
    assert isinstance(exp, ModuleExperiment) and exp.module is fig2
    changed = fig2.Config(chi2_samples=123)
    monkeypatch.setitem(fig2.PRESETS, "quick", changed)
    assert exp.presets["quick"] is changed
