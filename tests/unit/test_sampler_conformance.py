"""Every registered sampler meets the sampler contract (issue 9, acceptance 3 and 5).

Parametrized over the registry, so a sampler module added to
``kadanoff/ising/samplers/`` is tested here without any change to the tests; the checks
themselves (chi-square against enumeration with a power check, reproducibility,
``run(state, n)`` twice equal to ``run(state, 2n)``, ``.npz`` round trip, capabilities,
declarations) are in ``tests/sampler_checks.py``. Entries that do not run on the CPU get
the ``gpu`` marker; entries that also run on CUDA are checked there as well.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from kadanoff.ising.model import IsingModel
from kadanoff.ising.samplers import ALGORITHMS, ChainState, make_sampler, registry, sampler_specs
from kadanoff.lattice import SquareLattice
from sampler_checks import CHECKS, random_spins, same_state, small_model

SPECS = sampler_specs()


def _cases():
    for spec in SPECS:
        marks = [] if "cpu" in spec.capabilities.devices else [pytest.mark.gpu]
        for check in CHECKS:
            yield pytest.param(spec, check, id=f"{spec.label}-{check}", marks=marks)


@pytest.mark.parametrize("spec, check", list(_cases()))
def test_sampler_contract(spec, check, tmp_path, request):
    if set(spec.capabilities.devices) != {"cpu"}:  # a torch sampler: small tensors, 1 thread
        request.getfixturevalue("one_torch_thread")
    CHECKS[check](spec, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1_000, 2_000, 3_000, 4_000])
@pytest.mark.parametrize(
    "spec",
    [pytest.param(s, id=s.label) for s in SPECS if "cpu" in s.capabilities.devices],
)
def test_histogram_seed_sweep(spec, seed, request):
    if set(spec.capabilities.devices) != {"cpu"}:
        request.getfixturevalue("one_torch_thread")
    CHECKS["histogram"](spec, None, seed=seed)


def test_registry_lists_every_sampler_module():
    """Each sampler module of the package registers something, and names are unique per
    module and class; the listing matches the command-line names."""
    labels = [s.label for s in SPECS]
    assert len(labels) == len(set(labels))
    modules = {s.module.rsplit(".", 1)[-1] for s in SPECS}
    assert {
        "checkerboard",
        "wolff",
        "swendsen_wang",
        "exact_chain",
        "torch_checkerboard",
    } <= modules
    assert set(ALGORITHMS) == {s.name for s in SPECS}


def test_listing_imports_no_sampler_module():
    """Listing the registry reads the source: Numba and torch are not imported."""
    import subprocess

    code = (
        "import sys, kadanoff.ising.samplers as s; s.sampler_specs(); print(s.ALGORITHMS); "
        "print(sorted(m for m in ('numba', 'torch') if m in sys.modules))"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
    assert time.perf_counter() - t0 < 30


def test_state_of_another_sampler_is_refused():
    model = IsingModel(SquareLattice(4), 0.3)
    metro, wolff = make_sampler("metropolis", model), make_sampler("wolff", model)
    state = metro.start(random_spins(model, 4, seed=0), seed=1)
    with pytest.raises(ValueError, match="made by a MetropolisSampler"):
        wolff.run(state, 1)
    bad = ChainState(state.spins, state.rng[:1], state.kind)
    with pytest.raises(ValueError, match="corrupt chain state"):
        metro.run(bad, 1)


def test_cuda_routing_without_a_device(monkeypatch):
    """With CUDA (pretended), the local rules go to the Triton class on even 2D tori when
    triton is installed and not switched off, else to the torch class; even sizes only."""
    import kadanoff.ising.samplers as samplers

    monkeypatch.setattr(samplers, "cuda_available", lambda: True)
    monkeypatch.setenv("KADANOFF_NO_TRITON", "1")
    even, odd = IsingModel(SquareLattice(4), 0.3), IsingModel(SquareLattice(5), 0.3)
    for name in ("metropolis", "heatbath"):
        spec, dev = samplers.select_spec(name, even, device="cuda")
        assert spec.qualname == "TorchCheckerboardSampler" and dev == "cuda"
        assert dict(spec.options) == {"rule": name}
        assert samplers.resolve_device(name, even, "auto") == "cuda"
        assert samplers.resolve_device(name, odd, "auto") == "cpu"
        assert samplers.select_spec(name, even, device="cpu")[0].module.endswith("checkerboard")
        with pytest.raises(ValueError, match="even"):
            samplers.select_spec(name, odd, device="cuda")
    assert samplers.resolve_device("wolff", even, "auto") == "cpu"


def test_runtime_registration_is_found_and_removed():
    """A sampler registered outside the package is listed and built by make_sampler."""
    from kadanoff.ising.samplers.checkerboard import HeatBathSampler

    caps = registry.Capabilities(reports=("acceptance", "flipped"))

    @registry.register_sampler("test-heatbath", capabilities=caps, rank=999)
    class Renamed(HeatBathSampler):
        pass

    try:
        assert "test-heatbath" in registry.algorithm_names()
        model = IsingModel(SquareLattice(4), 0.3)
        assert type(make_sampler("test-heatbath", model)) is Renamed
        assert registry.capabilities_of(Renamed(model)) == caps
    finally:
        registry.unregister_sampler("test-heatbath")
    assert "test-heatbath" not in registry.algorithm_names()


@pytest.mark.gpu
@pytest.mark.parametrize(
    "spec", [s for s in SPECS if "cuda" in s.capabilities.devices], ids=lambda s: s.label
)
def test_cuda_state_continues_bit_for_bit(spec):
    model = small_model(spec.capabilities)
    smp = spec.build(model, device="cuda")
    state = smp.start(random_spins(model, 32, seed=3), seed=11)
    once, _ = smp.run(state, 6)
    twice, _ = smp.run(smp.run(state, 3)[0], 3)
    assert same_state(once, twice)
    again, _ = spec.build(model, device="cuda").run(smp.start(state.spins, seed=11), 6)
    assert same_state(once, again)


# ------------------------------------------------------------- the checks can fail


def _register_temporarily(cls, caps):
    registry.register_sampler("broken", capabilities=caps, rank=999)(cls)
    return next(s for s in registry.specs_for("broken"))


def test_checks_reject_a_sampler_that_restarts_its_stream():
    """The old behaviour (every call restarts the counter) fails the split and
    continuation checks."""
    from kadanoff.ising.samplers.checkerboard import MetropolisSampler
    from sampler_checks import check_reproducible, check_split

    class Forgetful(MetropolisSampler):
        def advance(self, state, n_sweeps, **kw):
            rng = np.array([state.rng[0], 0], dtype=np.uint64)
            return super().advance(ChainState(state.spins, rng, state.kind, state.sweeps), n_sweeps)

    try:
        spec = _register_temporarily(Forgetful, registry.Capabilities())
        for check in (check_split, check_reproducible):
            with pytest.raises(AssertionError):
                check(spec)
    finally:
        registry.unregister_sampler("broken")


def test_checks_reject_a_false_capability():
    """A sampler declared zero-field-only that accepts a field fails the capability check."""
    from kadanoff.ising.samplers.checkerboard import HeatBathSampler
    from sampler_checks import check_capabilities

    class Claims(HeatBathSampler):
        pass

    try:
        spec = _register_temporarily(Claims, registry.Capabilities(field=False))
        with pytest.raises(pytest.fail.Exception):
            check_capabilities(spec)
    finally:
        registry.unregister_sampler("broken")


def test_static_reading_gives_up_on_non_literal_declarations(tmp_path):
    """A declaration the registry cannot read from the text makes it import the module
    instead (so a non-literal decorator is slower to list, never wrong)."""
    path = tmp_path / "mod.py"
    path.write_text(
        "from kadanoff.ising.samplers.registry import Capabilities, register_sampler\n"
        "CAPS = Capabilities(field=False)\n"
        '@register_sampler("x", capabilities=CAPS)\n'
        "class X: ...\n"
    )
    assert registry._static_specs("mod", path) is None
    path.write_text(
        "from kadanoff.ising.samplers.registry import Capabilities, register_sampler\n"
        '@register_sampler("x", capabilities=Capabilities(field=False, reports=()), rank=7)\n'
        "class X: ...\n"
    )
    (spec,) = registry._static_specs("mod", path)
    assert (spec.name, spec.qualname, spec.rank, spec.capabilities.field) == ("x", "X", 7, False)
