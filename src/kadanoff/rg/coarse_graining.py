"""One interface for every coarse-graining rule: the :class:`CoarseGraining` protocol.

A coarse-graining maps fine ±1 configurations ``v`` of shape ``(n, *fine_shape)`` to coarse ±1
configurations ``h`` of shape ``(n, *coarse_shape)`` drawn from ``exp(T(v, h))`` (MS 6, 9). Block
spins (:class:`~kadanoff.rg.operators.MajorityRule`, :class:`~kadanoff.rg.operators.Decimation`,
:class:`~kadanoff.rg.operators.SoftKernel`), a trained RBM layer (:class:`RBMLayer`) and a chain of
rules (:class:`Compose`) all satisfy it, so Monte Carlo RG (:mod:`kadanoff.rg.mcrg_matrix`,
:mod:`kadanoff.rg.mcrg_couplings`) measures any of them the same way.

Protocol
--------
``fine_shape``, ``coarse_shape``: tuples; ``coarse_grain(v, *, seed) -> h`` (±1 int8; stochastic
rules draw from ``seed`` only, through :mod:`kadanoff._rng`); ``coarse_mean(v) -> E[h | v]``
(float64, the "mean-field" coarse spins).

Registry
--------
A rule class registers itself with ``@register_coarse_graining("name")`` and provides a
classmethod ``example()`` that builds a small valid instance quickly (no training):
:func:`coarse_graining_classes` lists them, and the conformance test checks every one
(``tests/unit/test_coarse_graining_conformance.py``). Adding a rule is adding one class (in a
module of this package, or of a module imported before use); see ``docs/extending.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
from numba import njit, prange

from .._rng import SeedLike, make_rng, spawn
from ..lattice import SquareLattice
from ..spins import check_spins

__all__ = [
    "CoarseGraining",
    "Compose",
    "RBMLayer",
    "block_rule",
    "RULES",
    "check_batch",
    "register_coarse_graining",
    "unregister_coarse_graining",
    "coarse_graining_classes",
    "coarse_graining_class",
]

#: rule names accepted by :func:`block_rule` (and ``kadanoff rg --rule``)
RULES = ("majority", "decimation")


@runtime_checkable
class CoarseGraining(Protocol):
    """What every coarse-graining rule provides (MS 6, 9; theory.md 7)."""

    @property
    def fine_shape(self) -> tuple[int, ...]:
        """Shape of one fine configuration ``v`` (MS 6)."""
        ...

    @property
    def coarse_shape(self) -> tuple[int, ...]:
        """Shape of one coarse configuration ``h`` (MS 6)."""
        ...

    def coarse_grain(self, v: np.ndarray, *, seed: SeedLike) -> np.ndarray:
        """``h ~ exp(T(v, .))``: ``(n, *fine_shape) -> (n, *coarse_shape)`` ±1 int8 (MS 9)."""
        ...

    def coarse_mean(self, v: np.ndarray) -> np.ndarray:
        """``E[h | v]``: ``(n, *fine_shape) -> (n, *coarse_shape)`` float64 (MS 9)."""
        ...


_C = TypeVar("_C", bound=type)
#: name -> rule class, filled by :func:`register_coarse_graining`
_REGISTERED: dict[str, type] = {}


def register_coarse_graining(name: str) -> Callable[[_C], _C]:
    """Class decorator: make a :class:`CoarseGraining` rule known under ``name`` (theory.md 7).

    The class needs a classmethod ``example()`` returning a small valid instance (built in
    well under a second, no training), which the conformance test checks. Registering the
    same class again (a re-imported module) is allowed; another class under a taken name
    raises ``ValueError``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a coarse-graining rule needs a non-empty name, got {name!r}")

    def decorate(cls: _C) -> _C:
        if not callable(getattr(cls, "example", None)):
            raise TypeError(
                f"{cls.__name__} needs a classmethod example() (a small valid instance) "
                "to be registered as a coarse-graining rule"
            )
        old = _REGISTERED.get(name)
        if old is not None and (old.__module__, old.__qualname__) != (
            cls.__module__,
            cls.__qualname__,
        ):
            raise ValueError(
                f"coarse-graining rule {name!r} is already registered by "
                f"{old.__module__}.{old.__qualname__}; choose another name"
            )
        _REGISTERED[name] = cls
        return cls

    return decorate


def unregister_coarse_graining(name: str) -> None:
    """Forget the rule registered under ``name`` (for plug-ins and tests)."""
    _REGISTERED.pop(name, None)


def coarse_graining_classes() -> dict[str, type]:
    """Every registered rule, ``name -> class``: those of the modules of :mod:`kadanoff.rg`
    See theory.md 7.
    (each module whose source registers a rule is imported) and of modules imported elsewhere."""
    import importlib
    import pkgutil
    from pathlib import Path

    package = __name__.rpartition(".")[0]
    folder = Path(__file__).parent
    for info in pkgutil.iter_modules([str(folder)]):
        path = folder / f"{info.name}.py"
        if path.exists() and "@register_coarse_graining(" in path.read_text(encoding="utf-8"):
            importlib.import_module(f"{package}.{info.name}")
    return dict(_REGISTERED)


def coarse_graining_class(name: str) -> type:
    """The rule class registered under ``name``; ``ValueError`` listing the names if none.

    See theory.md 7.
    """
    if name in _REGISTERED:
        return _REGISTERED[name]
    classes = coarse_graining_classes()
    if name not in classes:
        raise ValueError(
            f"unknown coarse-graining rule {name!r}: choose one of {', '.join(sorted(classes))}"
        )
    return classes[name]


@njit(cache=True)
def _all_spins(flat):
    """Whether every entry of an int8 array is ±1 (``(x + 1) & ~2 == 0`` only for ±1)."""
    bad = 0
    for i in range(flat.shape[0]):
        bad |= (flat[i] + 1) & ~2
    return bad == 0


def check_batch(v: Any, shape: tuple[int, ...], who: str) -> np.ndarray:
    """Validate a batch ``(n, *shape)`` of ±1 spins; return it as C-contiguous int8."""
    s = np.asarray(v)
    if s.dtype == np.int8 and s.flags.c_contiguous:
        if not _all_spins(s.reshape(-1)):
            check_spins(s, "configs")  # raises with the usual message
    else:
        s = check_spins(s, "configs")
    if s.ndim != len(shape) + 1 or tuple(s.shape[1:]) != tuple(shape):
        raise ValueError(
            f"{who} expects configurations of shape (n, {', '.join(map(str, shape))}), "
            f"got {s.shape}"
        )
    return np.ascontiguousarray(s)


@njit(parallel=True, cache=True)
def _majority_kernel(v, b, bits, out):
    """Majority rule on ``b x b`` blocks; a tied block takes bit ``k`` of ``bits[i]``.

    v (n, L, L) int8; bits (n, words) uint64 (ignored for odd b); out (n, L/b, L/b) int8.
    Coarse site ``k = X * (L/b) + Y`` of configuration ``i`` reads bit ``k % 64`` of word
    ``k // 64``, so the draw does not depend on which blocks tie.
    """
    n, Lc = out.shape[0], out.shape[1]
    for i in prange(n):
        for X in range(Lc):
            for Y in range(Lc):
                s = 0
                for a in range(b):
                    for c in range(b):
                        s += v[i, X * b + a, Y * b + c]
                if s > 0:
                    out[i, X, Y] = 1
                elif s < 0:
                    out[i, X, Y] = -1
                else:
                    k = X * Lc + Y
                    bit = (bits[i, k >> 6] >> np.uint64(k & 63)) & np.uint64(1)
                    out[i, X, Y] = 1 if bit else -1


def majority_square(v: np.ndarray, b: int, *, seed: SeedLike) -> np.ndarray:
    """Majority rule on ``b x b`` blocks of ``(n, L, L)`` spins, random fair ties (theory.md 7).

    Ties (even ``b`` only) take independent fair bits from ``seed``; returns ``(n, L/b, L/b)``.
    """
    n, L = v.shape[0], v.shape[1]
    Lc = L // b
    words = (Lc * Lc + 63) // 64 if b % 2 == 0 else 1
    if b % 2 == 0:
        bits = make_rng(seed).integers(0, 2**64, size=(n, words), dtype=np.uint64)
    else:
        bits = np.zeros((n, 1), dtype=np.uint64)
    out = np.empty((n, Lc, Lc), dtype=np.int8)
    if n:
        _majority_kernel(np.ascontiguousarray(v, dtype=np.int8), b, bits, out)
    return out


def block_rule(name: str, lattice: SquareLattice | Any, b: int) -> CoarseGraining:
    """The block rule ``name`` (one of :data:`RULES`) with scale factor ``b`` on ``lattice``.

    ``"majority"``: :class:`~kadanoff.rg.operators.MajorityRule`, ties (even ``b``) broken at
    random (seeded), as MCRG needs (theory.md 7); ``"decimation"``: the top-left spin of each
    block. Raises ``ValueError`` (unknown rule, ``b`` not dividing the lattice).
    """
    from .operators import Decimation, MajorityRule

    if name not in RULES:
        raise ValueError(f"unknown coarse-graining rule {name!r}: choose one of {', '.join(RULES)}")
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 2:
        raise ValueError(f"the scale factor b must be an integer >= 2, got {b!r}")
    if name == "majority":
        return MajorityRule(lattice, int(b), tie="random" if b % 2 == 0 else "first")
    return Decimation(lattice, int(b))


@register_coarse_graining("compose")
class Compose:
    """Rules applied one after another: ``Compose([r1, r2, ...])``, scale ``b^n`` (theory.md 7).

    Each rule's ``fine_shape`` must equal the previous one's ``coarse_shape``. Stochastic stages
    draw from independent streams spawned from ``seed``.
    """

    def __init__(self, rules: Sequence[CoarseGraining]) -> None:
        rules = list(rules)
        if not rules:
            raise ValueError("Compose needs at least one rule")
        for i, r in enumerate(rules):
            if not isinstance(r, CoarseGraining):
                raise TypeError(f"rule {i} ({type(r).__name__}) is not a CoarseGraining")
        for i in range(1, len(rules)):
            if tuple(rules[i].fine_shape) != tuple(rules[i - 1].coarse_shape):
                raise ValueError(
                    f"rule {i} takes {rules[i].fine_shape} but rule {i - 1} gives "
                    f"{rules[i - 1].coarse_shape}"
                )
        self.rules = rules

    @classmethod
    def example(cls) -> Compose:
        """Decimation then a soft kernel, ``8 x 8 -> 4 x 4 -> 2 x 2`` (theory.md 7)."""
        from .operators import Decimation, SoftKernel

        return cls([Decimation(SquareLattice(8), 2), SoftKernel(SquareLattice(4), 2, 0.3)])

    @classmethod
    def repeated(cls, name: str, L: int, b: int, levels: int) -> Compose:
        """``levels`` block rules ``name`` of scale ``b`` from an ``L x L`` torus (theory.md 7)."""
        if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 1:
            raise ValueError(f"levels must be an integer >= 1, got {levels!r}")
        if L % b**levels:
            raise ValueError(
                f"{levels} levels of b = {b} need L divisible by b^levels = {b**levels}, "
                f"got L = {L}; choose --size a multiple of {b**levels} or fewer --levels"
            )
        return cls([block_rule(name, SquareLattice(L // b**k), b) for k in range(levels)])

    @property
    def fine_shape(self) -> tuple[int, ...]:
        """The first rule's fine shape (MS 6)."""
        return tuple(self.rules[0].fine_shape)

    @property
    def coarse_shape(self) -> tuple[int, ...]:
        """The last rule's coarse shape (MS 6)."""
        return tuple(self.rules[-1].coarse_shape)

    def levels(self, v: np.ndarray, *, seed: SeedLike) -> list[np.ndarray]:
        """``[v, r1(v), r2(r1(v)), ...]``: every level, ``(n, *shape_k)`` int8 (theory.md 7)."""
        out = [check_batch(v, self.fine_shape, "Compose")]
        for rule, stream in zip(self.rules, spawn(seed, len(self.rules)), strict=True):
            out.append(rule.coarse_grain(out[-1], seed=stream))
        return out

    def coarse_grain(self, v: np.ndarray, *, seed: SeedLike) -> np.ndarray:
        """The last level of :meth:`levels` (MS 9)."""
        return self.levels(v, seed=seed)[-1]

    def coarse_mean(self, v: np.ndarray) -> np.ndarray:
        """``E[h | v]`` if all but the last stage are deterministic, else ``ValueError`` (MS 9)."""
        h = check_batch(v, self.fine_shape, "Compose")
        for rule in self.rules[:-1]:
            m = rule.coarse_mean(h)
            if not np.all(np.abs(m) == 1):
                raise ValueError(
                    "coarse_mean of a composition with a stochastic inner stage is not the "
                    "composition of means; sample with coarse_grain instead"
                )
            h = m.astype(np.int8)
        return self.rules[-1].coarse_mean(h)


@register_coarse_graining("rbm")
class RBMLayer:
    """A trained RBM as a coarse-graining: ``h ~ p(h | v)`` (MS 18-22, theory.md 7).

    Parameters
    ----------
    rbm : RBM-like (``.weights``, ``.visible_bias``, ``.hidden_bias``, ``.units``)
    fine_shape, coarse_shape : tuples
        Shapes of one visible / hidden configuration (e.g. ``(40, 40)`` and ``(20, 20)``);
        hidden unit ``j`` sits at row-major position ``j`` of ``coarse_shape``.
    """

    def __init__(self, rbm: Any, fine_shape: tuple[int, ...], coarse_shape: tuple[int, ...]):
        from ._common import rbm_arrays

        W, _, _, _ = rbm_arrays(rbm)
        if int(np.prod(fine_shape)) != W.shape[0] or int(np.prod(coarse_shape)) != W.shape[1]:
            raise ValueError(
                f"an RBM with weights {W.shape} cannot map {fine_shape} to {coarse_shape}"
            )
        self.rbm = rbm
        self._fine, self._coarse = tuple(fine_shape), tuple(coarse_shape)

    @classmethod
    def example(cls) -> RBMLayer:
        """A hand-made ``4 x 4 -> 2 x 2`` spin RBM: weight 0.8 from each ``2 x 2`` block to its
        hidden unit, 0.1 to the others, hidden bias 0.2 (no training; MS 18-22)."""
        from types import SimpleNamespace

        W = np.full((16, 4), 0.1)
        for j, sites in enumerate(SquareLattice(4).blocks(2)):
            W[sites, j] = 0.8
        rbm = SimpleNamespace(
            weights=W, visible_bias=np.zeros(16), hidden_bias=np.full(4, 0.2), units="spin"
        )
        return cls(rbm, (4, 4), (2, 2))

    @property
    def fine_shape(self) -> tuple[int, ...]:
        """Shape of one visible configuration (MS 10)."""
        return self._fine

    @property
    def coarse_shape(self) -> tuple[int, ...]:
        """Shape of one hidden configuration (MS 10)."""
        return self._coarse

    def coarse_grain(self, v: np.ndarray, *, seed: SeedLike) -> np.ndarray:
        """``h ~ p(h | v)``, ±1 int8, ``(n, *coarse_shape)`` (MS 18-22)."""
        from .coarse import coarse_grain_rbm

        v = check_batch(v, self._fine, "RBMLayer")
        return coarse_grain_rbm(v, self.rbm, seed=seed, coarse_shape=self._coarse)

    def coarse_mean(self, v: np.ndarray) -> np.ndarray:
        """``E[h | v] = 2 p(h = +1 | v) - 1``, float64 (MS 18-22)."""
        from .coarse import coarse_grain_rbm

        v = check_batch(v, self._fine, "RBMLayer")
        return coarse_grain_rbm(v, self.rbm, mode="mean", coarse_shape=self._coarse)
