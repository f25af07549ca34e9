"""Checkerboard Metropolis / heat-bath in PyTorch: whole sublattices at once (for CUDA).

The same update rules as :mod:`.checkerboard` (theory.md section 1), vectorized over
chains and sites: a 2D state ``(B, L, L)`` is held as its four parity sublattices
``S[a, b] = spins[:, a::2, b::2]`` (shape ``(B, 2, 2, L/2, L/2)``); colour 0 is
``S[0, 0], S[1, 1]``, colour 1 is ``S[0, 1], S[1, 0]``, and each half-sweep updates one
colour from neighbour sums built with :func:`torch.roll`. A chain (ring, or open chain)
is held as its even and odd sites. Sizes must be even.

Random numbers come from a ``torch.Generator`` on the device (seeded through
:func:`kadanoff._rng.torch_generator`): the same seed on the same device gives the same
result, but the stream differs from the Numba kernel's counter-based one, so the two
agree in distribution, not bit for bit. The chain state carries the generator's state
(``torch.Generator.get_state()`` as uint8 bytes), so successive calls continue its
stream. Probabilities are compared in float32 on CUDA (quantized to ``2**-24``) and
float64 on the CPU; none is below the dtype's smallest
normal number, so no move is forbidden. The Metropolis table is that of
:func:`.checkerboard.flip_probabilities`, which accepts a zero-energy-change move with
probability 1/2 (accepting it always makes the sweep non-ergodic; see
:mod:`.checkerboard`).
"""

from __future__ import annotations

import numpy as np

from ..._rng import SeedLike, torch_generator
from ...lattice import Chain, SquareLattice
from ..model import IsingModel
from .base import ChainState, Sampler, SweepInfo, check_count
from .checkerboard import RULES, flip_probabilities
from .registry import Capabilities, register_sampler

__all__ = ["TorchCheckerboardSampler"]


def _torch():
    import torch

    return torch


@register_sampler(
    "metropolis",
    capabilities=Capabilities(
        odd_sizes=False, devices=("cuda", "cpu"), reports=("acceptance", "flipped")
    ),
    options={"rule": "metropolis"},
    priority=-10,
    rank=10,
)
@register_sampler(
    "heatbath",
    capabilities=Capabilities(
        odd_sizes=False, devices=("cuda", "cpu"), reports=("acceptance", "flipped")
    ),
    options={"rule": "heatbath"},
    priority=-10,
    rank=20,
)
class TorchCheckerboardSampler(Sampler):
    """Checkerboard sampler on a torch device.

    Parameters
    ----------
    model : IsingModel
        On an even ``SquareLattice`` or a ``Chain`` of even length (ring or open).
    rule : {"metropolis", "heatbath"}
    device : str
        ``"cuda"`` (default) or ``"cpu"``, or any torch device string.
    dtype : torch.dtype, optional
        Floating type of the probabilities; float32 on CUDA, float64 otherwise.
    """

    def __init__(
        self, model: IsingModel, rule: str = "metropolis", device: str = "cuda", dtype=None
    ) -> None:
        super().__init__(model)
        torch = _torch()
        if rule not in RULES:
            raise ValueError(f"unknown update rule {rule!r}: use one of {RULES}")
        lat = model.lattice
        if isinstance(lat, SquareLattice):
            if lat.L % 2:
                raise ValueError(
                    f"the torch checkerboard sampler needs an even lattice size, got L = {lat.L}; "
                    "use MetropolisSampler / HeatBathSampler (sequential sweep) for odd L"
                )
        elif isinstance(lat, Chain):
            if lat.n % 2:
                raise ValueError(
                    f"the torch checkerboard sampler needs an even chain length, got n = {lat.n}; "
                    "use MetropolisSampler / HeatBathSampler for odd n"
                )
        else:
            raise TypeError(f"unsupported lattice {type(lat).__name__}: use Chain or SquareLattice")
        self.rule = rule
        self.name = rule
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("CUDA is not available here; use device='cpu' (or the Numba samplers)")
        if dtype is None:
            dtype = torch.float32 if self.device.type == "cuda" else torch.float64
        self.dtype = dtype
        probs = flip_probabilities(model.K, model.field, rule).ravel()
        table = torch.as_tensor(probs, dtype=dtype, device=self.device)
        # a probability that underflows to 0 (|Delta H| > ~100 in float32) would forbid the
        # move; keep it possible, as the Numba kernel does (``u < tiny`` iff ``u == 0``)
        self._table = table.clamp_min(torch.finfo(dtype).tiny)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r}, rule={self.rule!r}, device={self.device})"

    # -- layout ---------------------------------------------------------------------
    def to_sublattices(self, spins):
        """``(B, *shape)`` -> sublattices: 2D ``(B, 2, 2, L/2, L/2)``, chain ``(B, 2, n/2)``."""
        B = spins.shape[0]
        if isinstance(self.model.lattice, SquareLattice):
            L = self.model.lattice.L
            h = L // 2
            return spins.reshape(B, h, 2, h, 2).permute(0, 2, 4, 1, 3).contiguous()
        n = self.model.lattice.n
        return spins.reshape(B, n // 2, 2).permute(0, 2, 1).contiguous()

    def from_sublattices(self, sub):
        """Inverse of :meth:`to_sublattices`."""
        B = sub.shape[0]
        if isinstance(self.model.lattice, SquareLattice):
            L = self.model.lattice.L
            return sub.permute(0, 3, 1, 4, 2).reshape(B, L, L).contiguous()
        return sub.permute(0, 2, 1).reshape(B, -1).contiguous()

    # -- updates --------------------------------------------------------------------
    def _flip(self, s, nb, generator):
        """Flip mask for spins ``s`` (int8) with neighbour sums ``nb`` (int8)."""
        torch = _torch()
        idx = (nb.to(torch.int64) + 4) + 9 * (s > 0).to(torch.int64)
        p = self._table[idx]
        u = torch.rand(s.shape, generator=generator, device=self.device, dtype=self.dtype)
        return u < p

    def _half_sweep_2d(self, S, c, generator):
        torch = _torch()
        flips = None
        for a in (0, 1):
            b = (c + a) % 2  # colour c holds S[a, b] with (a + b) % 2 == c
            s = S[:, a, b]
            v = S[:, 1 - a]  # rows of the other parity, same column parity b
            up = torch.roll(v[:, b], 1, dims=-2) if a == 0 else v[:, b]
            down = v[:, b] if a == 0 else torch.roll(v[:, b], -1, dims=-2)
            hz = S[:, a, 1 - b]
            left = torch.roll(hz, 1, dims=-1) if b == 0 else hz
            right = hz if b == 0 else torch.roll(hz, -1, dims=-1)
            nb = up + down + left + right
            f = self._flip(s, nb, generator)
            S[:, a, b] = torch.where(f, -s, s)
            n = f.sum()
            flips = n if flips is None else flips + n
        return flips

    def _half_sweep_1d(self, S, c, generator):
        torch = _torch()
        lat = self.model.lattice
        s = S[:, c]
        o = S[:, 1 - c]
        if c == 0:  # site 2i: left 2i - 1 = o[i - 1], right 2i + 1 = o[i]
            left = torch.roll(o, 1, dims=-1)
            if not lat.periodic:
                left = left.clone()
                left[:, 0] = 0
            nb = left + o
        else:  # site 2i + 1: left o[i], right 2i + 2 = o[i + 1]
            right = torch.roll(o, -1, dims=-1)
            if not lat.periodic:
                right = right.clone()
                right[:, -1] = 0
            nb = o + right
        f = self._flip(s, nb, generator)
        S[:, c] = torch.where(f, -s, s)
        return f.sum()

    def run_tensor(self, spins, n_sweeps: int = 1, *, generator):
        """Advance a device tensor ``(B, *shape)`` int8; returns ``(new spins, flips)``.

        ``flips`` is the number of spins that changed, a 0-d int64 tensor on the device
        (no synchronization inside the loop). The input is not modified.
        """
        S = self.to_sublattices(spins)
        half = self._half_sweep_2d if isinstance(self.model.lattice, SquareLattice) else None
        half = half or self._half_sweep_1d
        torch = _torch()
        flips = torch.zeros((), dtype=torch.int64, device=spins.device)
        for _ in range(int(n_sweeps)):
            for c in (0, 1):
                flips += half(S, c, generator)
        return self.from_sublattices(S), flips

    @property
    def state_kind(self) -> str:
        return f"{type(self).__qualname__}[{self.rule}]@{self.device.type}"

    def _start_rng(self, n_chains: int, seed: SeedLike) -> np.ndarray:
        """The bytes of a ``torch.Generator`` on the device seeded from ``seed``."""
        return torch_generator(seed, device=str(self.device)).get_state().numpy().copy()

    def advance(self, state: ChainState, n_sweeps: int) -> tuple[ChainState, SweepInfo]:
        """Same contract as :meth:`LocalSampler.advance`; numpy in, numpy out."""
        torch = _torch()
        n_sweeps = check_count(n_sweeps)
        s = self.check_chain_state(state)
        if state.rng.dtype != np.uint8 or state.rng.ndim != 1:
            raise ValueError("corrupt chain state: rng must be the uint8 bytes of a generator")
        if n_sweeps == 0:
            return ChainState(s.copy(), state.rng.copy(), state.kind, state.sweeps), SweepInfo()
        g = torch.Generator(device=str(self.device))
        g.set_state(torch.from_numpy(state.rng.copy()))
        x = torch.as_tensor(s, device=self.device)
        out, flips = self.run_tensor(x, n_sweeps, generator=g)
        attempted = s.shape[0] * self.model.n_sites * n_sweeps
        flips = int(flips)
        accepted = flips if self.rule == "metropolis" else attempted
        new = ChainState(
            out.cpu().numpy().astype(np.int8),
            g.get_state().numpy().copy(),
            state.kind,
            state.sweeps + n_sweeps,
        )
        return new, SweepInfo(n_sweeps, attempted, accepted, flips)
