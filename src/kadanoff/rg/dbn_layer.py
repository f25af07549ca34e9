"""A trained DBN layer as a coarse-graining rule (theory.md 6, 7; MS 18-22).

:class:`DBNLayerRule` maps fine ±1 configurations to the hidden spins of DBN level ``level``,
reordered onto the coarse lattice by a :class:`~kadanoff.rg.placement.Placement` (receptive-
field centres, optimal assignment). For ``level > 1`` the layers below are composed. Two coarse
configurations are offered:

- ``mode="sample"``: ``h^(k) ~ p(h^(k) | h^(k-1))`` layer by layer (the stochastic RG kernel
  ``exp T = p(h | v)`` of the exact mapping, MS 22);
- ``mode="sign"``: the mean-field up pass (each inner layer passes its conditional means, as
  the network was trained on them) and the sign of the top layer's mean ``E[h | .]``; an
  exactly zero mean is broken by a fair coin from ``seed``.

Each coarse spin is multiplied by its unit's orientation (:attr:`Placement.signs`, the sign of
its receptive field's sum), so a coarse spin is positive where its region is, as a block spin;
``orient=False`` keeps the raw hidden spins.

``from_level`` builds the single step from level ``from_level`` (its spins already on their
coarse lattice, ordered by ``input_placement``) to ``level``: a chain of such steps
(:func:`dbn_steps`) is what Monte Carlo RG measures level by level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._rng import SeedLike, make_rng, spawn
from ._common import rbm_arrays, spins_to_units
from .coarse_graining import Compose, check_batch, register_coarse_graining
from .placement import Placement, place_units

__all__ = ["DBNLayerRule", "dbn_steps", "dbn_layers", "MODES"]

#: coarse configurations :class:`DBNLayerRule` offers
MODES = ("sample", "sign")


def dbn_layers(model: Any) -> list[Any]:
    """The RBM layers of ``model``: an RBM-like object, a list of them, or one with ``.layers``."""
    if isinstance(model, (list, tuple)):
        return list(model)
    layers = getattr(model, "layers", None)
    if layers is None:
        if not hasattr(model, "weights"):
            raise TypeError(f"expected an RBM or a DBN (with .layers), got {type(model).__name__}")
        return [model]
    return list(layers)


def _square(n: int, what: str) -> tuple[int, int]:
    side = int(round(np.sqrt(n)))
    if side * side != n:
        raise ValueError(f"{what} has {n} units, not a square number: pass its shape explicitly")
    return (side, side)


@register_coarse_graining("dbn_layer")
class DBNLayerRule:
    """Hidden spins of DBN level ``level`` on the coarse lattice (theory.md 7).

    Parameters
    ----------
    model : RBM or DBN
        An RBM-like object (level 1 only), a list of RBMs or a DBN with ``.layers`` (bottom
        first).
    level : int
        The hidden level whose spins are the coarse configuration (1-based).
    placement : Placement, optional
        Placement of level ``level``'s units; default: unit ``j`` at row-major coarse site ``j``.
    mode : ``"sample"`` or ``"sign"`` (see the module docstring).
    fine_shape : tuple, optional
        Shape of one input configuration (default: square, from the input layer size).
    from_level : int
        Input level (0 = the data); level ``from_level``'s spins must be ordered by
        ``input_placement`` (its coarse lattice, row-major).
    input_placement : Placement, optional
        Placement of level ``from_level`` (needed when ``from_level > 0``, else ignored).
    orient : bool
        Multiply coarse spins by the placement's orientations (and undo those of the input).
    """

    def __init__(
        self,
        model: Any,
        level: int = 1,
        placement: Placement | None = None,
        mode: str = "sample",
        *,
        fine_shape: tuple[int, ...] | None = None,
        from_level: int = 0,
        input_placement: Placement | None = None,
        orient: bool = True,
    ) -> None:
        layers = dbn_layers(model)
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
            raise ValueError(f"level must be an integer, got {level!r}")
        if not 0 <= from_level < level <= len(layers):
            raise ValueError(
                f"need 0 <= from_level < level <= {len(layers)} (the model's depth), "
                f"got from_level={from_level}, level={level}"
            )
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        arrays = [rbm_arrays(m) for m in layers[from_level:level]]
        self._in_signs: np.ndarray | None = None
        self._out_signs: np.ndarray | None = None
        W0, _, _, _ = arrays[0]
        Wt, _, bt, units = arrays[-1]
        if from_level > 0:
            if input_placement is None:
                raise ValueError("from_level > 0 needs the input level's placement")
            perm_in = np.asarray(input_placement.permutation)
            if perm_in.shape != (W0.shape[0],):
                raise ValueError("input_placement does not match the input layer's size")
            arrays[0] = (W0[perm_in], arrays[0][1][perm_in], arrays[0][2], arrays[0][3])
            if orient:
                self._in_signs = input_placement.placed_signs.astype(np.int8)
            fine_shape = fine_shape or tuple(input_placement.coarse_shape)
        if placement is not None:
            perm = np.asarray(placement.permutation)
            if perm.shape != (Wt.shape[1],):
                raise ValueError(
                    f"placement has {perm.shape[0]} units, level {level} has {Wt.shape[1]}"
                )
            W, a, b, u = arrays[-1]
            arrays[-1] = (W[:, perm], a, b[perm], u)
            coarse = tuple(placement.coarse_shape)
            if orient:
                self._out_signs = placement.placed_signs.astype(np.int8)
        else:
            coarse = _square(Wt.shape[1], f"level {level}")
        fine = tuple(fine_shape) if fine_shape is not None else _square(W0.shape[0], "the input")
        if int(np.prod(fine)) != W0.shape[0]:
            raise ValueError(f"fine_shape {fine} does not hold {W0.shape[0]} input units")
        self.arrays = arrays
        self.level, self.from_level, self.mode = int(level), int(from_level), mode
        self.placement = placement
        self._fine, self._coarse = fine, coarse

    @classmethod
    def example(cls) -> DBNLayerRule:
        """A 4 x 4 -> 2 x 2 rule from an ideal, shuffled block RBM (no training; < 1 s).

        See theory.md 7.
        """
        from ..rbm import SpinRBM

        L, Lc = 4, 2
        W = np.zeros((L * L, Lc * Lc))
        for x in range(L):
            for y in range(L):
                W[x * L + y, (x // 2) * Lc + y // 2] = 0.5
        order = np.array([2, 0, 3, 1])  # a fixed shuffle of the units
        rbm = SpinRBM.from_parameters(W[:, order], np.zeros(L * L), np.full(Lc * Lc, 0.1))
        placement = place_units(rbm.numpy()["weights"], (L, L), (Lc, Lc))
        return cls(rbm, 1, placement, "sample")

    @property
    def fine_shape(self) -> tuple[int, ...]:
        """Shape of one input configuration (level ``from_level``) (theory.md 7)."""
        return self._fine

    @property
    def coarse_shape(self) -> tuple[int, ...]:
        """Shape of one coarse configuration (level ``level``, placed) (theory.md 7)."""
        return self._coarse

    def __repr__(self) -> str:
        return (
            f"DBNLayerRule(level={self.level}, from_level={self.from_level}, mode={self.mode!r}, "
            f"{self._fine} -> {self._coarse})"
        )

    @staticmethod
    def _up_probability(x: np.ndarray, arrays: tuple) -> np.ndarray:
        W, _, b, units = arrays
        field = b + x @ W
        return 0.5 * (1.0 + np.tanh(field if units == "spin" else 0.5 * field))

    def _mean_field_input(self, v: np.ndarray) -> np.ndarray:
        """Unit values entering the top layer under the mean-field up pass."""
        x = spins_to_units(v, self.arrays[0][3])
        for arr in self.arrays[:-1]:
            p = self._up_probability(x, arr)
            x = 2.0 * p - 1.0 if arr[3] == "spin" else p
        return x

    def _input(self, v: np.ndarray) -> np.ndarray:
        """Checked input as raw unit spins ``(n, n_in)`` int8 (input orientations undone)."""
        s = check_batch(v, self._fine, "DBNLayerRule").reshape(len(v), int(np.prod(self._fine)))
        return s * self._in_signs if self._in_signs is not None else s

    def _orient(self, h: np.ndarray) -> np.ndarray:
        return h * self._out_signs if self._out_signs is not None else h

    def coarse_grain(self, v: np.ndarray, *, seed: SeedLike) -> np.ndarray:
        """Coarse ±1 int8 configurations ``(n, *coarse_shape)`` (module docstring; MS 22)."""
        s = self._input(v)
        n = s.shape[0]
        if self.mode == "sign":
            p = self._up_probability(self._mean_field_input(s), self.arrays[-1])
            coin = make_rng(seed).random(p.shape) < 0.5
            h = np.where(p > 0.5, 1, np.where(p < 0.5, -1, np.where(coin, 1, -1)))
            return self._orient(h).astype(np.int8).reshape((n, *self._coarse))
        h = s
        for arr, rng in zip(self.arrays, spawn(seed, len(self.arrays)), strict=True):
            p = self._up_probability(spins_to_units(h, arr[3]), arr)
            h = np.where(rng.random(p.shape) < p, 1, -1).astype(np.int8)
        return self._orient(h).astype(np.int8).reshape((n, *self._coarse))

    def coarse_mean(self, v: np.ndarray) -> np.ndarray:
        """``E[h | v]`` as float64 ``(n, *coarse_shape)`` (MS 22).

        ``mode="sign"``: the deterministic sign (0 where the mean is exactly 0);
        ``mode="sample"``: ``2 p(h = +1 | v) - 1`` for a one-layer step; a multi-layer sampled
        rule has no closed-form mean and raises ``ValueError`` (sample it instead).
        """
        s = self._input(v)
        if self.mode == "sign":
            p = self._up_probability(self._mean_field_input(s), self.arrays[-1])
            return self._orient(np.sign(2.0 * p - 1.0)).reshape((len(s), *self._coarse))
        if len(self.arrays) > 1:
            raise ValueError(
                "coarse_mean of a sampled multi-layer DBN rule is not a closed form; "
                "use coarse_grain, or mode='sign'"
            )
        p = self._up_probability(spins_to_units(s, self.arrays[0][3]), self.arrays[0])
        return self._orient(2.0 * p - 1.0).reshape((len(s), *self._coarse))


def dbn_steps(
    model: Any,
    placements: Sequence[Placement],
    mode: str = "sample",
    *,
    fine_shape: tuple[int, ...] | None = None,
    orient: bool = True,
) -> Compose:
    """One :class:`DBNLayerRule` per level ``1..len(placements)``, chained (theory.md 7).

    Step ``l`` maps the placed spins of level ``l - 1`` to those of level ``l``, so Monte Carlo
    RG (:func:`kadanoff.rg.mcrg.measure`) sees every level on its own coarse lattice.
    ``placements[l - 1]`` is level ``l``'s placement.
    """
    rules = []
    for lv, pl in enumerate(placements, start=1):
        prev = placements[lv - 2] if lv > 1 else None
        rules.append(
            DBNLayerRule(
                model, lv, pl, mode, fine_shape=fine_shape if lv == 1 else None,
                from_level=lv - 1, input_placement=prev, orient=orient,
            )
        )  # fmt: skip
    return Compose(rules)
