"""The local samplers' one-sweep chains are irreducible and aperiodic (issue 8, acceptance 1).

For a transition matrix ``P`` with a positive stationary distribution (Boltzmann), "exactly
one eigenvalue of modulus 1" is equivalent to: the support graph of ``P`` (``x -> y`` iff
``P(x, y) > 0``) is strongly connected and aperiodic (Perron-Frobenius). A self-loop in a
strongly connected graph makes it aperiodic. Both properties only depend on which
single-site moves are forbidden (probability 0), optional (strictly between 0 and 1) or
forced (probability 1), so they are decided exactly, without floating-point eigenvalues,
from the probabilities the kernels *realize* (the Numba thresholds, the torch tables in
float64 and float32):

* strong connectivity: the states reachable from one state in one or more sweeps, and
  the states that reach it, are all ``2^N`` states. A sweep is applied to a set of states
  (a boolean vector over all ``2^N`` states) site by site in the documented update order,
  so a 4 x 4 torus (65,536 states) never needs its transition matrix;
* a self-loop: every site is updated exactly once per sweep, so ``P(x, x) > 0`` iff no
  spin of ``x`` is forced to flip.

The old Metropolis rule (every ``Delta H = 0`` move accepted) fails the same check on every
periodic lattice at zero field, and at ``K = 0`` on open chains too. On up to 9 sites the
dense sweep matrix of :mod:`test_checkerboard` also gives the eigenvalues directly.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_checkerboard import sweep_matrix

from kadanoff.ising.model import IsingModel
from kadanoff.ising.samplers.checkerboard import RULES, realized_flip_probabilities
from kadanoff.ising.samplers.torch_checkerboard import TorchCheckerboardSampler
from kadanoff.lattice import Chain, SquareLattice
from kadanoff.spins import all_states, state_index
from local_chains import (
    SweepChain,
    old_metropolis_realized,
    sweep_matrix_sparse,
)

LATTICES = [
    pytest.param(SquareLattice(2), id="torus2x2"),
    pytest.param(SquareLattice(3), id="torus3x3"),
    pytest.param(SquareLattice(4), id="torus4x4"),
    pytest.param(Chain(4), id="ring4"),
    pytest.param(Chain(5), id="ring5"),
    pytest.param(Chain(8), id="ring8"),
    pytest.param(Chain(4, periodic=False), id="open4"),
    pytest.param(Chain(5, periodic=False), id="open5"),
    pytest.param(Chain(8, periodic=False), id="open8"),
]
#: K = 0, below the zero-change tolerance, small, moderate, strong, very strong, AFM
COUPLINGS = (0.0, 1e-9, 1e-5, 0.3, 0.8, 3.0, -0.5)


def fields_for(K: float) -> tuple[float, ...]:
    """No field, a generic field, and fields that make ``K n + field = 0`` for some ``n``."""
    return (0.0, 0.2, K, 2 * K) if K else (0.0, 0.2)


def realized_tables(model: IsingModel, rule: str) -> dict[str, np.ndarray]:
    """Flip probabilities as each implementation realizes them, ``{name: (2, 9)}``.

    Numba: ``(threshold + 1) / 2**32``. Torch: ``P(u < p)`` with ``u`` uniform on a grid in
    ``[0, 1)`` is 0, 1 or strictly between exactly when the stored ``p`` is (it never is
    0: the table is clamped to the dtype's smallest normal number, and ``u`` can be 0).
    """
    import torch

    out = {"numba": realized_flip_probabilities(model.K, model.field, rule)}
    if all(s % 2 == 0 for s in model.shape):  # torch needs even sizes (refuses odd ones)
        for dt in (torch.float64, torch.float32):
            smp = TorchCheckerboardSampler(model, rule, device="cpu", dtype=dt)
            out[f"torch-{str(dt)[6:]}"] = smp._table.double().numpy().reshape(2, 9)
    return out


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize("lattice", LATTICES)
def test_every_local_rule_is_irreducible_and_aperiodic(lattice):
    """Every rule, K, field and implementation; the old rule fails where it should."""
    failures = []
    for K in COUPLINGS:
        for field in fields_for(K):
            model = IsingModel(lattice, K, field)
            for rule in RULES:
                for impl, table in realized_tables(model, rule).items():
                    if not SweepChain(model, table).ergodic():
                        failures.append((K, field, rule, impl))
            old = SweepChain(model, old_metropolis_realized(K, field))
            if field == 0 and (lattice.periodic or K == 0):
                assert not old.ergodic(), (K, field)  # the check has power
    assert not failures


def test_ground_state_has_the_self_loop():
    """Why aperiodicity holds in general: no single flip lowers the ground state's energy,
    so no spin there is forced (dH > 0: probability < 1; dH = 0: 1/2)."""
    for lattice in (SquareLattice(3), SquareLattice(4), Chain(5)):
        for K, field in ((0.4, 0.0), (-0.5, 0.0), (-0.5, 0.3), (3.0, 6.0)):
            model = IsingModel(lattice, K, field)
            states = all_states(model.n_sites)
            ground = int(np.argmin(model.energy(states.reshape(-1, *model.shape))))
            for rule in RULES:
                table = realized_flip_probabilities(K, field, rule)
                assert SweepChain(model, table).self_loops()[ground]


def test_old_rule_closed_classes_match_the_issue():
    """The check reproduces the issue's numbers: 8-ring at K = 0.8 and the 3x3 torus at
    K = 0.3 split into closed classes (140, 56, 56, 2, 2) and (504, 2, 2, 2, 2); width-1
    stripes on the 4x4 torus are 2-cycles; at K = 0 a state only reaches its reverse."""

    def closed_classes(model: IsingModel) -> list[int]:
        g = SweepChain(model, old_metropolis_realized(model.K, model.field))
        left = np.ones(g.n_states, dtype=bool)
        sizes = []
        while left.any():
            x = int(np.flatnonzero(left)[0])
            cls = g.closure(x, g.successors)  # pi > 0: no transient states, classes closed
            cls[x] = True
            sizes.append(int(cls.sum()))
            left &= ~cls
        return sorted(sizes, reverse=True)

    assert closed_classes(IsingModel(Chain(8), 0.8)) == [140, 56, 56, 2, 2]
    assert closed_classes(IsingModel(SquareLattice(3), 0.3)) == [504, 2, 2, 2, 2]
    model = IsingModel(SquareLattice(4), 0.44)
    stripes = np.where(np.arange(4)[:, None] % 2 == 0, 1, -1) * np.ones((1, 4), int)
    x = int(state_index(stripes.reshape(1, -1))[0])
    old = SweepChain(model, old_metropolis_realized(0.44, 0.0))
    assert old.closure(x, old.successors).sum() == 2  # {stripes, flipped stripes}
    new = SweepChain(model, realized_flip_probabilities(0.44, 0.0, "metropolis"))
    assert new.closure(x, new.successors).all()
    k0 = SweepChain(IsingModel(Chain(5, periodic=False), 0.0), old_metropolis_realized(0, 0))
    assert k0.closure(3, k0.successors).sum() == 2


def second_eigenvalue(P: np.ndarray) -> tuple[int, float]:
    """(number of eigenvalues with |lambda| > 1 - 1e-9, largest other |lambda|)."""
    mod = np.sort(np.abs(np.linalg.eigvals(P)))[::-1]
    top = int((mod > 1 - 1e-9).sum())
    return top, float(mod[top]) if top < len(mod) else 0.0


EIG_CASES = [
    pytest.param(SquareLattice(2), 0.3, id="torus2x2"),
    pytest.param(SquareLattice(3), 0.3, id="torus3x3"),
    pytest.param(Chain(5), 0.8, id="ring5"),
    pytest.param(Chain(8), 0.8, id="ring8"),
    pytest.param(Chain(8, periodic=False), 0.0, id="open8-K0"),
]


def test_sparse_sweep_matrix_equals_the_dense_reference():
    """:func:`sweep_matrix_sparse` (used below) against test_checkerboard's independent build."""
    for lattice in (SquareLattice(2), Chain(5), Chain(4, periodic=False)):
        model = IsingModel(lattice, 0.35, 0.1)
        for rule in RULES:
            table = realized_flip_probabilities(0.35, 0.1, rule)
            P = sweep_matrix_sparse(SweepChain(model, table)).toarray()
            np.testing.assert_allclose(P, sweep_matrix(model, rule, table), rtol=0, atol=1e-13)


@pytest.mark.parametrize("lattice,K", EIG_CASES)
def test_dense_spectrum_has_one_unit_eigenvalue(lattice, K):
    """Eigenvalues of the exact sweep matrix agree with the combinatorial check."""
    model = IsingModel(lattice, K)
    for rule in RULES:
        chain = SweepChain(model, realized_flip_probabilities(K, 0.0, rule))
        top, lam2 = second_eigenvalue(sweep_matrix_sparse(chain).toarray())
        assert top == 1 and lam2 < 0.99, (rule, top, lam2)
    old = SweepChain(model, old_metropolis_realized(K, 0.0))
    top, _ = second_eigenvalue(sweep_matrix_sparse(old).toarray())
    assert top > 1


@pytest.mark.slow
@pytest.mark.parametrize("K", [0.0, 0.3, 0.44])
def test_torus4x4_spectrum_by_arnoldi(K):
    """4x4 torus (65,536 states): the top eigenvalues of the sweep operator (ARPACK on a
    LinearOperator); one of modulus 1 for the new rules, at least ten for the old one."""
    from scipy.sparse.linalg import eigs

    model = IsingModel(SquareLattice(4), K)

    def top_moduli(table: np.ndarray) -> np.ndarray:
        op = SweepChain(model, table).operator()
        vals = eigs(op, k=10, ncv=60, tol=1e-9, maxiter=20_000, return_eigenvectors=False)
        return np.sort(np.abs(vals))[::-1]

    for rule in RULES:
        mod = top_moduli(realized_flip_probabilities(K, 0.0, rule))
        assert abs(mod[0] - 1) < 1e-8 and mod[1] < 0.99, (rule, mod[:3])
    assert (top_moduli(old_metropolis_realized(K, 0.0)) > 1 - 1e-8).sum() == 10
