"""Deep belief networks: greedily stacked RBMs (theory.md sections 3 and 6; MS Fig. 3).

Layer ``l`` (1-based) is an RBM whose visible units are the hidden units of layer ``l - 1``;
level 0 is the data. ``up`` maps data to a hidden level through the conditional means (or
samples) ``p(h | v)`` of successive RBMs, ``down`` maps back through ``p(v | h)``.

The *effective receptive field* of level ``l`` is the linear composition of the weights,

    r^(1) = W^(1),      r^(l) = r^(l-1) W^(l)      (an n_visible x n_l matrix),

ignoring biases and nonlinearities (theory.md section 6): column ``j`` reshaped to the
lattice is unit ``j``'s field on the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from .._rng import SeedLike, spawn, torch_generator
from ..rbm.model import RBM

__all__ = ["DeepBeliefNetwork", "hidden_step", "visible_step"]

_Gen = torch.Generator | None  # an optional torch generator


class DeepBeliefNetwork:
    """A stack of RBMs, ``layers[l].n_hidden == layers[l + 1].n_visible``.

    Parameters
    ----------
    layers : list of RBM
        Bottom (data side) first. All on one device; dtypes may differ (inputs are cast).
    """

    def __init__(self, layers: Sequence[RBM]) -> None:
        layers = list(layers)
        if not layers:
            raise ValueError("a DeepBeliefNetwork needs at least one RBM layer")
        for i, m in enumerate(layers):
            if not isinstance(m, RBM):
                raise TypeError(f"layer {i} is a {type(m).__name__}, not an RBM")
        for i in range(1, len(layers)):
            if layers[i].n_visible != layers[i - 1].n_hidden:
                raise ValueError(
                    f"layer {i} has {layers[i].n_visible} visible units but layer {i - 1} has "
                    f"{layers[i - 1].n_hidden} hidden units: consecutive sizes must match"
                )
        devices = {str(m.device) for m in layers}
        if len(devices) > 1:
            raise ValueError(f"all layers must be on one device, got {sorted(devices)}")
        self.layers = layers

    # ------------------------------------------------------------------ properties
    @property
    def sizes(self) -> list[int]:
        """Units per level: ``[n_visible, n_hidden_1, ..., n_hidden_L]``."""
        return [self.layers[0].n_visible] + [m.n_hidden for m in self.layers]

    @property
    def depth(self) -> int:
        """Number of RBM layers."""
        return len(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        units = {m.units for m in self.layers}
        return f"DeepBeliefNetwork(sizes={self.sizes}, units={'/'.join(sorted(units))})"

    @property
    def device(self) -> torch.device:
        return self.layers[0].device

    def to(self, device: Any = None, dtype: Any = None) -> DeepBeliefNetwork:
        """A new network with every layer moved/cast (copies)."""
        return DeepBeliefNetwork([m.to(device=device, dtype=dtype) for m in self.layers])

    def clone(self) -> DeepBeliefNetwork:
        return DeepBeliefNetwork([m.clone() for m in self.layers])

    def _check_depth(self, depth: int | None, name: str = "depth") -> int:
        d = self.depth if depth is None else depth
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 0 <= d <= self.depth:
            raise ValueError(f"{name} must be an integer in [0, {self.depth}], got {depth!r}")
        return int(d)

    @staticmethod
    def _as(x: Any, m: RBM) -> torch.Tensor:
        t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
        return t.to(device=m.device, dtype=m.dtype)

    # ------------------------------------------------------------------ passes
    @torch.no_grad()
    def up(
        self, v: Any, depth: int | None = None, *, sample: bool = False, generator: _Gen = None
    ) -> torch.Tensor:
        """Representation of ``v`` (batch, sizes[0]) at level ``depth`` (default: top).

        Each layer maps its input to ``E[h | v]`` (``sample=False``; hidden probabilities
        for {0,1} units, ``tanh`` of the field for spins) or to a sample of ``p(h | v)``.
        Returns ``(batch, sizes[depth])``.
        """
        d = self._check_depth(depth)
        x = self._through(v, self.layers[:d], hidden_step, sample, generator)
        return x if d else self._as(x, self.layers[0])

    @torch.no_grad()
    def down(
        self, h: Any, from_depth: int | None = None, *, sample: bool = False, generator: _Gen = None
    ) -> torch.Tensor:
        """Map ``h`` (batch, sizes[from_depth]) down to the data level, ``(batch, sizes[0])``.

        Each layer from ``from_depth`` down uses ``E[v | h]`` or (``sample=True``) a sample.
        """
        d = self._check_depth(from_depth, "from_depth")
        return self._through(h, reversed(self.layers[:d]), visible_step, sample, generator)

    @classmethod
    def _through(
        cls, x: Any, layers: Iterable[RBM], step: Any, sample: bool, g: torch.Generator | None
    ) -> Any:
        for m in layers:
            x = step(m, cls._as(x, m), sample, g)
        return x

    def reconstruct(
        self, v: Any, depth: int | None = None, *, sample: bool = False, generator: _Gen = None
    ) -> torch.Tensor:
        """``down(up(v, depth), depth)``: data seen through level ``depth``, (batch, sizes[0])."""
        d = self._check_depth(depth)
        h = self.up(v, d, sample=sample, generator=generator)
        return self.down(h, d, sample=sample, generator=generator)

    @torch.no_grad()
    def sample(self, n: int, *, seed: SeedLike, n_gibbs: int = 1000) -> torch.Tensor:
        """``n`` samples of the data level: ``n_gibbs`` block-Gibbs steps in the top RBM from
        random starts, then a sampled down pass through the lower layers. ``(n, sizes[0])``.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"the number of samples n must be a positive integer, got {n!r}")
        top_seed, down_seed = spawn(seed, 2)
        x = self.layers[-1].sample(int(n), n_steps=n_gibbs, seed=top_seed)
        g = torch_generator(down_seed, str(self.device))
        return self.down(x, self.depth - 1, sample=True, generator=g)

    @torch.no_grad()
    def receptive_fields(self) -> list[torch.Tensor]:
        """Effective receptive fields ``[r^(1), ..., r^(L)]``, ``r^(l)`` of shape
        ``(sizes[0], sizes[l])``: ``r^(1) = W^(1)``, ``r^(l) = r^(l-1) W^(l)``
        (biases and nonlinearities ignored; theory.md section 6). Computed in float64.
        """
        out = []
        r: torch.Tensor | None = None
        for m in self.layers:
            W = m.weights.detach().to(torch.float64)
            r = W.clone() if r is None else r @ W
            out.append(r)
        return out


def hidden_step(m: RBM, v: torch.Tensor, sample: bool, g: torch.Generator | None) -> torch.Tensor:
    """One layer up: ``E[h | v]`` or (``sample``) a draw of ``p(h | v)``, ``(batch, n_hidden)``."""
    return m.sample_hidden(v, generator=g) if sample else m.hidden_mean(v)


def visible_step(m: RBM, h: torch.Tensor, sample: bool, g: torch.Generator | None) -> torch.Tensor:
    """One layer down: ``E[v | h]`` or (``sample``) a draw of ``p(v | h)``, ``(batch, nv)``."""
    return m.sample_visible(h, generator=g) if sample else m.visible_mean(h)
