"""Projection of a Hamiltonian onto spin operators: renormalized couplings (theory.md 2, 7).

Any function ``f`` of ``n`` ±1 spins is uniquely ``f(v) = sum_S c_S prod_{i in S} v_i``
(Walsh / Fourier expansion); the products are orthonormal under the uniform average over
the ``2^n`` states, so least squares over all states is read off the exact coefficients
``c_S`` (:func:`walsh_coefficients`, a fast transform, ``O(n 2^n)``; fine up to ~22 spins).

Normalization of couplings
--------------------------
A :class:`Term` ``O_a`` is a sum of products over all lattice translations of one or more
site patterns, *with multiplicity*: ``"nn"`` on an ``L x L`` torus is the sum over the
``2 L^2`` bonds of :attr:`SquareLattice.bonds`, ``"nnn"`` over the ``2 L^2`` diagonal
pairs, ``"plaquette"`` over the ``L^2`` plaquettes. The projection writes

    H(v) = constant - sum_a K_a O_a(v) + residual(v)

so ``K_a`` reads as in ``H = -K sum_<ij> v_i v_j`` at every size. On small tori patterns
wrap onto themselves: on the 2x2 torus ``O_nn = 2 (h0 h1 + h2 h3 + h0 h2 + h1 h3)``,
``O_nnn = 4 (h0 h3 + h1 h2)`` and ``O_plaquette = 4 h0 h1 h2 h3``; on a 2-site ring
``O_nn = 2 h0 h1``. The residual is reported as its root mean square over all states
(= the norm of the unfitted Walsh coefficients, Parseval) and its largest coefficient.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..lattice import Chain, SquareLattice
from ._common import HamiltonianLike, energy_table

__all__ = [
    "Term",
    "translation_term",
    "standard_term",
    "walsh_coefficients",
    "project",
    "ProjectionResult",
    "hamiltonian_from_couplings",
]

Lattice = Chain | SquareLattice


def walsh_coefficients(table: np.ndarray) -> np.ndarray:
    """Exact coefficients ``c[mask]`` of ``f(v) = sum_S c_S prod_{i in S} v_i`` (theory.md 7).

    ``table`` has shape ``(2^n,)`` in ``all_states`` order; ``mask`` has bit ``n - 1 - i``
    set when site ``i`` is in ``S`` (the same bit order as :func:`kadanoff.spins.state_index`).
    """
    x: np.ndarray = np.array(table, dtype=np.float64).reshape(-1)
    size = x.size
    n = size.bit_length() - 1
    if size != 1 << n:
        raise ValueError(f"table length must be a power of two (2^n states), got {size}")
    h = 1
    while h < size:
        x = x.reshape(-1, 2, h)
        lo, hi = x[:, 0], x[:, 1]
        x = np.stack(((lo + hi) * 0.5, (hi - lo) * 0.5), axis=1)
        h *= 2
    return x.reshape(size)


def _mask(sites: Iterable[int], n: int) -> int:
    m = 0
    for i in sites:
        m ^= 1 << (n - 1 - int(i))  # v_i^2 = 1: repeated sites cancel
    return m


def _sites(mask: int, n: int) -> tuple[int, ...]:
    return tuple(i for i in range(n) if mask >> (n - 1 - i) & 1)


@dataclass(frozen=True, eq=False)
class Term:
    """A spin operator ``O = sum_S m_S prod_{i in S} v_i`` on ``n`` sites (theory.md 7).

    Attributes
    ----------
    name : str
    n : int
        Number of sites.
    products : dict mask -> multiplicity
        Masks as in :func:`walsh_coefficients`.
    """

    name: str
    n: int
    products: Mapping[int, int] = field(repr=False)

    @classmethod
    def from_sites(cls, name: str, n: int, site_sets: Iterable[Iterable[int]]) -> Term:
        """A term from site sets; repeats add up, a site twice cancels (theory.md 7)."""
        counts = Counter(_mask(s, n) for s in site_sets)
        if counts.get(0):
            raise ValueError(
                f"term {name!r} contains a constant (a product whose sites cancel pairwise); "
                "the lattice is too small for this pattern"
            )
        return cls(name, n, dict(counts))

    def site_sets(self) -> list[tuple[tuple[int, ...], int]]:
        """``[(sites, multiplicity), ...]`` of the products of the term (theory.md 7)."""
        return [(_sites(m, self.n), c) for m, c in self.products.items()]

    def evaluate(self, v: np.ndarray) -> np.ndarray:
        """``O(v)`` for flat ±1 spins ``(..., n) -> (...)`` float64 (theory.md 7)."""
        v = np.asarray(v, dtype=np.float64)
        out = np.zeros(v.shape[:-1])
        for sites, c in self.site_sets():
            out = out + c * np.prod(v[..., list(sites)], axis=-1)
        return out


def translation_term(lattice: Lattice, patterns: Sequence[Sequence], name: str) -> Term:
    """Sum over all translations of site patterns (theory.md 7).

    For a :class:`Chain` a pattern is a list of integer offsets (``[0, 1]`` = nn bond), for
    a :class:`SquareLattice` a list of ``(dx, dy)`` offsets. Translations wrap periodically;
    an open chain keeps only translations that stay inside.
    """
    sets: list[list[int]] = []
    if isinstance(lattice, Chain):
        n = lattice.n
        for pat in patterns:
            offs = [int(o) for o in pat]
            for x in range(n):
                pos = [x + o for o in offs]
                if not lattice.periodic and any(p < 0 or p >= n for p in pos):
                    continue
                sets.append([p % n for p in pos])
    elif isinstance(lattice, SquareLattice):
        L = lattice.L
        for pat in patterns:
            for x in range(L):
                for y in range(L):
                    sets.append([((x + dx) % L) * L + (y + dy) % L for dx, dy in pat])
    else:
        raise TypeError(f"lattice must be a Chain or SquareLattice, got {lattice!r}")
    return Term.from_sites(name, lattice.n_sites, sets)


_CHAIN_PATTERNS: dict[str, list[list[int]]] = {
    "field": [[0]],
    "nn": [[0, 1]],
    "nnn": [[0, 2]],
    "three": [[0, 1, 2]],
    "four": [[0, 1, 2, 3]],
}
_SQUARE_PATTERNS: dict[str, list[list[tuple[int, int]]]] = {
    "field": [[(0, 0)]],
    "nn": [[(0, 0), (0, 1)], [(0, 0), (1, 0)]],
    "nnn": [[(0, 0), (1, 1)], [(0, 0), (1, -1)]],
    "3nn": [[(0, 0), (0, 2)], [(0, 0), (2, 0)]],
    "plaquette": [[(0, 0), (0, 1), (1, 0), (1, 1)]],
}


def standard_term(lattice: Lattice, name: str) -> Term:
    """A named term (theory.md 7).

    Chain: ``field``, ``nn``, ``nnn`` (distance 2), ``r<k>`` (distance ``k``), ``three``
    (``v_i v_{i+1} v_{i+2}``), ``four``. Square lattice: ``field``, ``nn``, ``nnn``
    (diagonals), ``3nn`` (distance 2 along the axes), ``plaquette``.
    """
    if isinstance(lattice, Chain):
        if name in _CHAIN_PATTERNS:
            return translation_term(lattice, _CHAIN_PATTERNS[name], name)
        if name.startswith("r") and name[1:].isdigit():
            return translation_term(lattice, [[0, int(name[1:])]], name)
        known = sorted(_CHAIN_PATTERNS) + ["r<k>"]
    elif isinstance(lattice, SquareLattice):
        if name in _SQUARE_PATTERNS:
            return translation_term(lattice, _SQUARE_PATTERNS[name], name)
        known = sorted(_SQUARE_PATTERNS)
    else:
        raise TypeError(f"lattice must be a Chain or SquareLattice, got {lattice!r}")
    raise ValueError(f"unknown term {name!r} for {type(lattice).__name__}; known: {known}")


@dataclass(frozen=True)
class ProjectionResult:
    """Couplings read off a Hamiltonian (theory.md 7; sign as ``H = c - sum_a K_a O_a``).

    Attributes
    ----------
    couplings : dict name -> K_a
    constant : float
        The state average of ``H`` (its ``c_{empty}``).
    residual_rms : float
        Root mean square over all states of ``H - constant + sum_a K_a O_a``.
    residual_max : float
        Largest absolute Walsh coefficient of the residual.
    coefficients : (2^n,) array
        All Walsh coefficients of ``H`` (:func:`walsh_coefficients`).
    residual : (2^n,) array
        Walsh coefficients of the residual.
    """

    couplings: dict[str, float]
    constant: float
    residual_rms: float
    residual_max: float
    coefficients: np.ndarray = field(repr=False)
    residual: np.ndarray = field(repr=False)

    def largest_residuals(self, k: int = 5) -> list[tuple[tuple[int, ...], float]]:
        """The ``k`` largest residual products as ``(sites, coefficient in H)`` (theory.md 7)."""
        n = self.residual.size.bit_length() - 1
        order = np.argsort(-np.abs(self.residual), kind="stable")[:k]
        return [(_sites(int(m), n), float(self.residual[m])) for m in order if self.residual[m]]


def _resolve_terms(lattice: Lattice, terms: Iterable[str | Term]) -> list[Term]:
    out = []
    for t in terms:
        term = standard_term(lattice, t) if isinstance(t, str) else t
        if term.n != lattice.n_sites:
            raise ValueError(
                f"term {term.name!r} is on {term.n} sites, lattice has {lattice.n_sites}"
            )
        out.append(term)
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise ValueError(f"term names must be distinct, got {names}")
    return out


def project(
    hamiltonian: HamiltonianLike,
    lattice: Lattice,
    terms: Iterable[str | Term] = ("nn",),
) -> ProjectionResult:
    """Least-squares couplings ``K_a`` of ``H`` over all ``2^n`` states (theory.md 2, 7; MS 6).

    Parameters
    ----------
    hamiltonian : table (2^n,), callable on flat spins, or model
        E.g. ``H^RG`` from :func:`kadanoff.rg.renormalized_hamiltonian`.
    lattice : Chain or SquareLattice
        The lattice of the spins of ``H`` (``n = lattice.n_sites <= 24``).
    terms : names or :class:`Term` objects
        See :func:`standard_term`.
    """
    n = lattice.n_sites
    table = energy_table(hamiltonian, n)
    c = walsh_coefficients(table)
    term_list = _resolve_terms(lattice, terms)
    masks = sorted({m for t in term_list for m in t.products})
    col = {m: k for k, m in enumerate(masks)}
    M = np.zeros((len(masks), len(term_list)))
    for a, t in enumerate(term_list):
        for m, mult in t.products.items():
            M[col[m], a] = mult
    target = c[masks] if masks else np.zeros(0)
    if term_list:
        x, *_ = np.linalg.lstsq(M, target, rcond=None)
    else:
        x = np.zeros(0)
    residual = c.copy()
    residual[0] = 0.0
    if masks:
        residual[masks] = target - M @ x
    return ProjectionResult(
        couplings={t.name: float(-x[a]) for a, t in enumerate(term_list)},
        constant=float(c[0]),
        residual_rms=float(np.sqrt(np.sum(residual**2))),
        residual_max=float(np.max(np.abs(residual))),
        coefficients=c,
        residual=residual,
    )


def hamiltonian_from_couplings(
    lattice: Lattice,
    couplings: Mapping[str | Term, float],
    constant: float = 0.0,
) -> np.ndarray:
    """``H = c - sum_a K_a O_a`` for every state, ``(2^n,)``; inverse of project (theory.md 7)."""
    from ..spins import all_states

    v = all_states(lattice.n_sites)
    out = np.full(len(v), float(constant))
    for t, K in couplings.items():
        term = standard_term(lattice, t) if isinstance(t, str) else t
        out -= K * term.evaluate(v)
    return out
