"""Zero-field histograms of every sampler against enumeration (issue 8, acceptance 2).

On the 3 x 3 torus (K = 0.3), the 8-site ring (K = 0.8) and the 4 x 4 torus (K = 0.3),
every sampler - Metropolis and heat-bath (Numba, and torch on the CPU where the sizes
are even), Wolff, Swendsen-Wang, and the exact chain sampler on the ring - runs
``N_CHAINS`` independent chains; the final states are compared with the Boltzmann
distribution by a Pearson chi-square test at significance ``P_MIN`` (fixed seeds).

* **Starts.** Half of the chains start from random states, the other half from ordered
  states (all up, the Neel state, row and column stripes of width 1): an ergodic sampler
  forgets any start, and ordered starts are where a non-ergodic one is caught (the old
  Metropolis rule keeps width-1 stripes of an even torus in a 2-cycle forever, which a
  hot start almost never visits).
* **Burn-in.** For the local rules the distribution after ``n`` sweeps from this start
  mixture is computed exactly (:meth:`SweepChain.propagate`), and
  :func:`test_local_burn_in_is_exactly_enough` checks that the chi-square test cannot
  see it: its non-centrality ``N_CHAINS * sum (q - pi)^2 / pi`` is below 1e-3 (the
  second-largest eigenvalue modulus of the sweep is at most 0.85 in these cases). For
  the cluster rules the burn-in is several times their decorrelation time at these
  couplings; ``test_*_long_burn_in`` (slow) repeats the test with 4x the burn-in.
* **Statistic.** 3 x 3 and 8-ring: the full state histogram (512 and 256 states). 4 x 4
  (65,536 states, most with expected counts below 5 at this sample size): the
  histogram of symmetry classes under the 128 translations, rotations and reflections of
  the torus (not the spin flip). Boltzmann weights are equal within a class, so the
  pooled test still checks the whole distribution, up to the lattice symmetry: 805
  classes, 564 of them with expected counts of 5 or more (they hold 99.2% of the
  probability); a class determines the energy and the magnetization.
* **Power.** The same test, same chains and seeds, rejects the old Metropolis rule
  (every ``Delta H = 0`` move accepted), Numba and torch, on each lattice.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from kadanoff._rng import spawn
from kadanoff.ising.exact import enumerate_model
from kadanoff.ising.model import IsingModel
from kadanoff.ising.samplers.checkerboard import (
    HeatBathSampler,
    MetropolisSampler,
    realized_flip_probabilities,
)
from kadanoff.ising.samplers.exact_chain import ExactChainSampler
from kadanoff.ising.samplers.swendsen_wang import SwendsenWangSampler
from kadanoff.ising.samplers.torch_checkerboard import TorchCheckerboardSampler
from kadanoff.ising.samplers.wolff import WolffSampler
from kadanoff.lattice import Chain, SquareLattice
from kadanoff.spins import all_states, state_index
from local_chains import (
    SweepChain,
    old_metropolis_realized,
    old_metropolis_sampler,
    old_torch_metropolis_sampler,
)
from sampler_checks import P_MIN, chi2_pvalue

N_CHAINS = 50_000
MODELS = {
    "torus3x3": IsingModel(SquareLattice(3), 0.3),
    "ring8": IsingModel(Chain(8), 0.8),
    "torus4x4": IsingModel(SquareLattice(4), 0.3),
}
#: burn-in sweeps of the local rules (exactly checked below) and of the cluster rules
LOCAL_SWEEPS = {"torus3x3": 60, "ring8": 100, "torus4x4": 60}
WOLFF_CLUSTERS, WOLFF_SWEEPS, SW_SWEEPS = 4, 10, 10
SEEDS = {"torus3x3": 81, "ring8": 82, "torus4x4": 83}


def make(alg: str, model: IsingModel):
    """``(sampler, n_sweeps)`` for the algorithm name (``old-*``: the pre-issue-8 rule)."""
    name = next(k for k, v in MODELS.items() if v is model)
    local = LOCAL_SWEEPS[name]
    return {
        "metropolis": lambda: (MetropolisSampler(model), local),
        "heatbath": lambda: (HeatBathSampler(model), local),
        "torch-metropolis": lambda: (TorchCheckerboardSampler(model, device="cpu"), local),
        "torch-heatbath": lambda: (
            TorchCheckerboardSampler(model, "heatbath", device="cpu"),
            local,
        ),
        "wolff": lambda: (WolffSampler(model, clusters_per_sweep=WOLFF_CLUSTERS), WOLFF_SWEEPS),
        "sw": lambda: (SwendsenWangSampler(model), SW_SWEEPS),
        "exact": lambda: (ExactChainSampler(model), 1),
        "old-metropolis": lambda: (old_metropolis_sampler(model), local),
        "old-torch-metropolis": lambda: (old_torch_metropolis_sampler(model, device="cpu"), local),
    }[alg]()


def ordered_states(model: IsingModel) -> np.ndarray:
    """All up, Neel, row stripes, column stripes (the last two in 2D), ``(k, *shape)``."""
    if isinstance(model.lattice, SquareLattice):
        x, y = np.indices(model.shape)
        patterns = [np.zeros_like(x), (x + y) % 2, x % 2, y % 2]
    else:
        patterns = [np.zeros(model.shape, int), np.arange(model.lattice.n) % 2]
    return np.stack([1 - 2 * p for p in patterns]).astype(np.int8)


def starts(model: IsingModel, n_chains: int, rng: np.random.Generator) -> np.ndarray:
    """Half random states, half the ordered states in turn, ``(n_chains, *shape)``."""
    n_hot = n_chains // 2
    hot = (2 * rng.integers(0, 2, size=(n_hot, *model.shape)) - 1).astype(np.int8)
    cold = np.resize(ordered_states(model), (n_chains - n_hot, *model.shape))
    return np.concatenate([hot, cold])


def start_distribution(model: IsingModel, n_chains: int) -> np.ndarray:
    """The exact distribution of :func:`starts` over all ``2^N`` states."""
    n_hot = n_chains // 2
    mu = np.full(2**model.n_sites, n_hot / 2**model.n_sites)
    cold = np.resize(ordered_states(model), (n_chains - n_hot, *model.shape))
    mu += np.bincount(state_index(cold.reshape(len(cold), -1)), minlength=len(mu))
    return mu / n_chains


@functools.cache
def symmetry_classes(L: int) -> np.ndarray:
    """Label of each state of the L x L torus under translations and the dihedral group,
    shape ``(2^(L^2),)``: the smallest state index in its orbit."""
    idx = np.arange(L * L).reshape(L, L)
    perms = []
    for k in range(4):
        for flip in (False, True):
            g = np.rot90(idx, k)
            g = g[:, ::-1] if flip else g
            for dx in range(L):
                for dy in range(L):
                    perms.append(np.roll(g, (dx, dy), axis=(0, 1)).ravel())
    bits = (all_states(L * L) > 0).astype(np.int64)
    weights = 1 << np.arange(L * L - 1, -1, -1, dtype=np.int64)
    return np.min([bits[:, p] @ weights for p in perms], axis=0)


def bins(model: IsingModel) -> np.ndarray:
    """Histogram bin of each of the ``2^N`` states (the state itself, or its 4x4 class)."""
    if isinstance(model.lattice, SquareLattice) and model.lattice.L == 4:
        return symmetry_classes(4)
    return np.arange(2**model.n_sites)


def pvalue(model: IsingModel, samples: np.ndarray) -> float:
    """Chi-square p-value of final states ``(n, *shape)`` against Boltzmann, binned."""
    b = bins(model)
    pi = enumerate_model(model).probabilities
    expected = np.bincount(b, weights=pi, minlength=len(b))
    observed = np.bincount(b[state_index(samples.reshape(len(samples), -1))], minlength=len(b))
    keep = expected > 0
    assert observed[~keep].sum() == 0
    return chi2_pvalue(observed[keep], expected[keep] * len(samples))


def final_states(alg: str, model: IsingModel, seed: int, n_chains: int = N_CHAINS, burn=1):
    smp, n_sweeps = make(alg, model)
    rng_start, rng_run = spawn(seed, 2)
    out, _ = smp.run(starts(model, n_chains, rng_start), burn * n_sweeps, seed=rng_run)
    return out


def algorithms(name: str) -> list[str]:
    algs = ["metropolis", "heatbath", "wolff", "sw"]
    if name != "torus3x3":
        algs += ["torch-metropolis", "torch-heatbath"]
    if name == "ring8":
        algs.append("exact")
    return algs


CASES = [pytest.param(name, alg, id=f"{name}-{alg}") for name in MODELS for alg in algorithms(name)]


@pytest.mark.parametrize("name,alg", CASES)
def test_zero_field_histogram_matches_enumeration(name, alg, one_torch_thread):
    model = MODELS[name]
    p = pvalue(model, final_states(alg, model, SEEDS[name]))
    print(f"{name} {alg}: p = {p:.3g}")
    assert p > P_MIN


POWER_CASES = [
    pytest.param(name, alg, id=f"{name}-{alg}")
    for name in MODELS
    for alg in ["old-metropolis"] + (["old-torch-metropolis"] if name != "torus3x3" else [])
]


@pytest.mark.parametrize("name,alg", POWER_CASES)
def test_zero_field_histogram_rejects_the_old_metropolis_rule(name, alg, one_torch_thread):
    """Same chains, starts, seeds and statistic: the old rule (dH = 0 always accepted) fails."""
    model = MODELS[name]
    p = pvalue(model, final_states(alg, model, SEEDS[name]))
    print(f"{name} {alg}: p = {p:.3g}")
    assert p < P_MIN


@pytest.mark.parametrize("name", list(MODELS))
def test_local_burn_in_is_exactly_enough(name):
    """The exact distribution after the burn-in from the start mixture is invisible to the
    chi-square test (non-centrality < 1e-3) for both local rules, and glaring for the old
    rule; also, the pooled bins keep the test well filled (few expected counts below 5)."""
    model = MODELS[name]
    pi = enumerate_model(model).probabilities
    b = bins(model)
    mu = start_distribution(model, N_CHAINS)
    pooled = lambda q: np.bincount(b, weights=q, minlength=len(b))[np.bincount(b) > 0]
    P = pooled(pi)

    def noncentrality(table: np.ndarray) -> float:
        q = SweepChain(model, table).propagate(mu, LOCAL_SWEEPS[name])
        return float(N_CHAINS * ((pooled(q) - P) ** 2 / P).sum())

    for rule in ("metropolis", "heatbath"):
        assert noncentrality(realized_flip_probabilities(model.K, 0.0, rule)) < 1e-3
    assert noncentrality(old_metropolis_realized(model.K, 0.0)) > 1e3
    assert P[N_CHAINS * P < 5].sum() < 0.01  # what chi2_pvalue merges into one bin


@pytest.mark.slow
@pytest.mark.parametrize("name,alg", CASES)
def test_zero_field_histogram_long_burn_in(name, alg, one_torch_thread):
    """As above with 4x the burn-in and another seed: the default burn-in is long enough."""
    model = MODELS[name]
    assert pvalue(model, final_states(alg, model, 1000 + SEEDS[name], burn=4)) > P_MIN


@pytest.mark.slow
@pytest.mark.parametrize("alg", ["metropolis", "heatbath", "wolff", "sw", "old-metropolis"])
def test_torus4x4_near_critical(alg):
    """4x4 torus at K = 0.44 (sweep |lambda_2| = 0.974 for Metropolis, 0.977 heat-bath):
    800 local sweeps (0.977^800 = 1e-8), 200,000 chains; the old rule is rejected."""
    model = IsingModel(SquareLattice(4), 0.44)
    smp, n = {
        "metropolis": lambda: (MetropolisSampler(model), 800),
        "heatbath": lambda: (HeatBathSampler(model), 800),
        "old-metropolis": lambda: (old_metropolis_sampler(model), 800),
        "wolff": lambda: (WolffSampler(model, clusters_per_sweep=8), 20),
        "sw": lambda: (SwendsenWangSampler(model), 20),
    }[alg]()
    rng_start, rng_run = spawn(84, 2)
    p = pvalue(model, smp.run(starts(model, 200_000, rng_start), n, seed=rng_run)[0])
    assert (p < P_MIN) if alg == "old-metropolis" else (p > P_MIN), p
