"""The contract every registered Ising sampler must meet, as checks on a registry entry.

``tests/unit/test_sampler_conformance.py`` runs every check on every entry of the
registry (so a new sampler module is tested without touching any test), and
``tests/unit/test_docs_extending.py`` runs them on the worked example of
``docs/extending.md``. Each check takes a :class:`SamplerSpec` (and a temporary folder):

* :func:`check_histogram`: the state histogram of independent chains matches exact
  enumeration (chi-square at significance :data:`P_MIN`, fixed seeds), on a ring and a
  small torus where supported, and the same test rejects the sampler run at a wrong
  coupling (so it can fail);
* :func:`check_reproducible`: same seed, same numbers; different seeds differ; a
  continued state does not reuse its numbers;
* :func:`check_split`: ``run(state, n)`` twice equals ``run(state, 2n)`` bit for bit, and
  the input state is never modified;
* :func:`check_record`: ``record(state, n, thin=k)`` keeps the states of ``n`` runs of
  ``k`` sweeps;
* :func:`check_round_trip`: a state saved to ``.npz`` (no pickle) and loaded continues
  identically;
* :func:`check_capabilities`: the declared capabilities are honoured (a model outside them
  is refused with a ``ValueError``, inside them it runs, and ``SweepInfo`` reports what is
  declared);
* :func:`check_declaration`: what the source declares (read without importing) is what
  the decorator registers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from kadanoff.ising.exact import enumerate_model
from kadanoff.ising.model import IsingModel
from kadanoff.ising.samplers import ChainState, make_sampler
from kadanoff.ising.samplers.registry import Capabilities, SamplerSpec, sampler_specs
from kadanoff.lattice import Chain, SquareLattice
from kadanoff.spins import state_index

#: chi-square significance: a correct sampler fails one histogram test with probability 1e-5
P_MIN = 1e-5
#: sweeps from a random start before the histogram (1 for samplers of independent draws)
BURN_IN = 100
K_TEST, FIELD_TEST, K_WRONG = 0.4, 0.15, 0.55


def chi2_statistic(observed: np.ndarray, expected: np.ndarray) -> tuple[float, int]:
    """Pearson chi-square of counts against an oracle's expected counts: ``(statistic, dof)``.

    The one helper of every histogram test: bins with expected count < 5 are pooled into one;
    a bin of expected count 0 must be empty (asserted: an impossible event never happens)
    and is dropped.
    """
    observed = np.asarray(observed, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert observed[expected == 0].sum() == 0, "an event of probability 0 occurred"
    big = expected >= 5
    obs = np.append(observed[big], observed[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    keep = exp > 0
    obs, exp = obs[keep], exp[keep]
    return float(((obs - exp) ** 2 / exp).sum()), len(obs) - 1


def chi2_pvalue(observed: np.ndarray, expected: np.ndarray) -> float:
    """Chi-square p-value of counts against expected counts (rescaled to the observed total),
    pooled as in :func:`chi2_statistic`."""
    expected = np.asarray(expected, dtype=np.float64)
    stat, dof = chi2_statistic(observed, expected * np.sum(observed) / expected.sum())
    return float(stats.chi2.sf(stat, dof))


def chi2_rows(P: np.ndarray, counts: np.ndarray) -> tuple[float, int]:
    """Summed :func:`chi2_statistic` of each row's counts ``counts[a]`` against
    ``counts[a].sum() * P[a]`` (one-step transitions from every start state): ``(stat, dof)``."""
    total, dof = 0.0, 0
    for p, c in zip(np.asarray(P), np.asarray(counts), strict=True):
        s, d = chi2_statistic(c, c.sum() * p)
        total, dof = total + s, dof + d
    return total, dof


def histogram_pvalue(model: IsingModel, spins: np.ndarray) -> float:
    """Chi-square p-value of the states ``spins`` ``(n, *shape)`` against ``exp(-H)``."""
    exact = enumerate_model(model)
    counts = np.bincount(state_index(spins.reshape(len(spins), -1)), minlength=len(exact.states))
    return chi2_pvalue(counts, exact.probabilities * counts.sum())


# ------------------------------------------------------------------------ set-up


def cpu_specs() -> list[SamplerSpec]:
    """Registry entries that run on the CPU (the others need the `gpu` marker)."""
    return [s for s in sampler_specs() if "cpu" in s.capabilities.devices]


def build(spec: SamplerSpec, model: IsingModel):
    """The sampler on the CPU if it runs there, else on CUDA (`gpu`-marked tests)."""
    return spec.build(model, device="cpu" if "cpu" in spec.capabilities.devices else "cuda")


def histogram_models(caps: Capabilities, K: float = K_TEST) -> list[tuple[IsingModel, int]]:
    """Small supported models with the number of chains for their histogram test."""
    field = FIELD_TEST if caps.field else 0.0
    out = []
    if "chain" in caps.lattices:
        out.append((IsingModel(Chain(6), K, field), 20_000))
    if "square" in caps.lattices:
        L, n = (3, 50_000) if caps.odd_sizes else (2, 20_000)
        out.append((IsingModel(SquareLattice(L), 0.75 * K, field), n))
    return out


def small_model(caps: Capabilities) -> IsingModel:
    """One small supported model for the exact-equality checks."""
    model, _ = histogram_models(caps)[-1]
    if isinstance(model.lattice, SquareLattice) and not caps.odd_sizes:
        return IsingModel(SquareLattice(4), model.K, model.field)
    return model


def random_spins(model: IsingModel, n_chains: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (2 * rng.integers(0, 2, size=(n_chains, *model.shape)) - 1).astype(np.int8)


def final_states(spec: SamplerSpec, model: IsingModel, n_chains: int, seed: int) -> np.ndarray:
    """One state per chain after the burn-in (an ordered start for independent draws)."""
    smp = build(spec, model)
    independent = spec.capabilities.independent
    x = (
        np.ones((n_chains, *model.shape), np.int8)
        if independent
        else random_spins(model, n_chains, seed)
    )
    state, _ = smp.run(smp.start(x, seed=seed + 1), 1 if independent else BURN_IN)
    return state.spins


def same_state(a: ChainState, b: ChainState) -> bool:
    return (
        np.array_equal(a.spins, b.spins)
        and np.array_equal(a.rng, b.rng)
        and a.rng.dtype == b.rng.dtype
        and a.kind == b.kind
        and a.sweeps == b.sweeps
    )


# ------------------------------------------------------------------------ checks


def check_histogram(spec: SamplerSpec, tmp_path: Path | None = None, *, seed: int = 101) -> None:
    caps = spec.capabilities
    for i, (model, n_chains) in enumerate(histogram_models(caps)):
        out = final_states(spec, model, n_chains, seed=seed + 10 * i)
        p = histogram_pvalue(model, out)
        assert p > P_MIN, f"{spec.label} on {model}: chi-square p = {p:.2e}"
        # power: the same test, chains and seeds reject the sampler at a wrong coupling
        wrong = IsingModel(model.lattice, model.K * K_WRONG / K_TEST, model.field)
        p_wrong = histogram_pvalue(model, final_states(spec, wrong, n_chains, seed=seed + 10 * i))
        assert p_wrong < P_MIN, f"{spec.label}: the histogram test cannot see K {wrong.K}"


def check_reproducible(spec: SamplerSpec, tmp_path: Path | None = None) -> None:
    model = small_model(spec.capabilities)
    smp = build(spec, model)
    x = random_spins(model, 64, seed=5)
    a, info_a = smp.run(smp.start(x, seed=7), 5)
    b, info_b = build(spec, model).run(smp.start(x, seed=7), 5)
    assert same_state(a, b) and info_a.n_sweeps == info_b.n_sweeps == 5
    assert info_a.flipped == info_b.flipped
    c, _ = smp.run(smp.start(x, seed=8), 5)
    assert not np.array_equal(a.spins, c.spins), "different seeds gave the same chains"
    # the old form is start + run: run(spins, n, seed=s) == run(start(spins, seed=s), n)
    old, _ = smp.run(x, 1, seed=7)
    new, _ = smp.run(smp.start(x, seed=7), 1)
    assert np.array_equal(old, new.spins)
    # continuing a state draws new numbers: from the same spins, the advanced stream differs
    again, _ = smp.run(ChainState(x.copy(), a.rng, a.kind, a.sweeps), 5)
    assert not np.array_equal(again.spins, a.spins), "the continued stream repeated itself"
    with pytest.raises(TypeError, match="carries its own random stream"):
        smp.run(a, 1, seed=7)


def check_split(spec: SamplerSpec, tmp_path: Path | None = None) -> None:
    model = small_model(spec.capabilities)
    smp = build(spec, model)
    state = smp.start(random_spins(model, 32, seed=3), seed=11)
    spins0, rng0 = state.spins.copy(), state.rng.copy()
    for n in (1, 3):
        once, info = smp.run(state, 2 * n)
        half, info1 = smp.run(state, n)
        twice, info2 = smp.run(half, n)
        assert same_state(once, twice), (
            f"{spec.label}: run(state, {n}) twice != run(state, {2 * n})"
        )
        assert once.sweeps == 2 * n and info.n_sweeps == info1.n_sweeps + info2.n_sweeps
        if "acceptance" in spec.capabilities.reports:
            assert info.attempted == info1.attempted + info2.attempted
    same, info0 = smp.run(state, 0)
    assert same_state(same, state) and info0.n_sweeps == 0
    assert np.array_equal(state.spins, spins0) and np.array_equal(state.rng, rng0)


def check_record(spec: SamplerSpec, tmp_path: Path | None = None) -> None:
    model = small_model(spec.capabilities)
    smp = build(spec, model)
    state = smp.start(random_spins(model, 8, seed=2), seed=3)
    samples, final, _ = smp.record(state, 3, thin=2)
    assert samples.shape == (3, 8, *model.shape) and samples.dtype == np.int8
    s = state
    for k in range(3):
        s, _ = smp.run(s, 2)
        assert np.array_equal(samples[k], s.spins)
    assert same_state(final, s)
    x = random_spins(model, 8, seed=2)
    samples_old, final_old, _ = smp.record(x, 3, thin=2, seed=3)  # the old form: from a seed
    assert np.array_equal(samples_old, samples) and np.array_equal(final_old, final.spins)


def check_round_trip(spec: SamplerSpec, tmp_path: Path) -> None:
    model = small_model(spec.capabilities)
    smp = build(spec, model)
    state, _ = smp.run(smp.start(random_spins(model, 16, seed=1), seed=2), 3)
    path = state.save(tmp_path / "state.npz")
    loaded = ChainState.load(path)
    assert same_state(loaded, state)
    with np.load(path, allow_pickle=False) as f:  # plain arrays: no pickle needed
        assert set(f.files) >= {"spins", "rng"}
    np.savez(tmp_path / "plain.npz", **state.to_arrays())
    with np.load(tmp_path / "plain.npz", allow_pickle=False) as f:
        plain = ChainState.from_arrays(dict(f))
    expected, _ = smp.run(state, 4)
    for restored in (loaded, plain):
        got, _ = build(spec, model).run(restored, 4)
        assert same_state(got, expected)


def _refused(spec: SamplerSpec, model: IsingModel, what: str) -> None:
    """The class refuses ``model``; so does ``make_sampler`` when no other implementation
    of the name supports it, with a message that says ``what``."""
    with pytest.raises((ValueError, TypeError)):
        build(spec, model)
    same_name = [s for s in sampler_specs() if s.name == spec.name]
    if all(s.capabilities.unsupported(model) for s in same_name):
        with pytest.raises(ValueError, match=what):
            make_sampler(spec.name, model)


def check_capabilities(spec: SamplerSpec, tmp_path: Path | None = None) -> None:
    caps = spec.capabilities
    K = 0.3
    candidates = [Chain(6), Chain(5), Chain(5, periodic=False), SquareLattice(4), SquareLattice(3)]
    for lat in candidates:
        kind = "chain" if isinstance(lat, Chain) else "square"
        odd = any(s % 2 for s in lat.shape)
        model = IsingModel(lat, K, FIELD_TEST if caps.field else 0.0)
        if kind not in caps.lattices:
            _refused(spec, model, "supports only")
        elif odd and not caps.odd_sizes:
            _refused(spec, model, "even")
        else:
            smp = build(spec, model)
            x = random_spins(model, 8, seed=4)
            state, info = smp.run(smp.start(x, seed=9), 2)
            assert state.spins.shape == x.shape and state.spins.dtype == np.int8
            assert np.all(np.abs(state.spins) == 1)
            _check_reports(caps, x, state.spins, info)
    if not caps.field:
        lat = SquareLattice(4) if "square" in caps.lattices else Chain(6)
        _refused(spec, IsingModel(lat, K, 0.2), "zero field")


def _check_reports(caps: Capabilities, before: np.ndarray, after: np.ndarray, info) -> None:
    assert info.n_sweeps == 2
    if "acceptance" in caps.reports:
        assert info.attempted > 0 and 0 <= info.accepted <= info.attempted
    if "cluster_sizes" in caps.reports:
        assert info.cluster_sizes.size > 0 and info.cluster_sizes.min() >= 1
    else:
        assert info.cluster_sizes.size == 0
    if "flipped" in caps.reports:  # every changed spin flipped an odd number of times
        changed = int(np.count_nonzero(before != after))
        assert info.flipped >= changed and (info.flipped - changed) % 2 == 0
    if caps.independent:  # one sweep from an ordered start forgets it
        assert not np.array_equal(after, np.ones_like(after))


def check_declaration(spec: SamplerSpec, tmp_path: Path | None = None) -> None:
    from kadanoff.ising.samplers import registry

    cls = spec.load()
    runtime = registry._RUNTIME.get((spec.name, spec.module, spec.qualname))
    assert runtime is not None and runtime.cls is cls, f"{spec.label} did not register itself"
    assert runtime == spec, f"{spec.label}: the source declares {spec}, the decorator {runtime}"


CHECKS = {
    "histogram": check_histogram,
    "reproducible": check_reproducible,
    "split": check_split,
    "record": check_record,
    "round_trip": check_round_trip,
    "capabilities": check_capabilities,
    "declaration": check_declaration,
}
