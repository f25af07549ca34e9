"""Fused checkerboard Metropolis / heat-bath in Triton.

For CUDA GPUs (and, for testing, Triton's interpreter on the CPU). Spins are int8
``(B, L, L)`` tensors (B independent even ``L x L`` tori). Two kernels share one site update
(load the spin and its four neighbours, draw the site's uniform, compare with the flip
threshold, store the spin):

- many small lattices (``L^2 / 2 <= 4096``, e.g. B = 20,000 of 40 x 40): one program per
  lattice runs all sweeps of a call, a barrier between the colours: one launch per call;
- large lattices (L = 4096+): one launch per half-sweep, ``BLOCK`` sites of one colour per
  program.

Random numbers: exactly those of the Numba kernel (:mod:`.checkerboard`): the uniform 32-bit
number for site ``(x, y)`` of chain ``b`` in sweep ``t`` is ``lowbias32(lowbias32(lo + y) ^ hi)``
with ``hi:lo`` the splitmix64 row seed of ``(chain key of b, t, x)`` (same constants, imported
from there; equality is tested against :func:`.checkerboard.counter_uniform32`). So with the
same key and the same flip thresholds both kernels produce the same chains bit for bit.

Update rule: exactly that of :mod:`.checkerboard` (heat-bath; Metropolis with ``dH = 0``
moves accepted with probability 1/2), through the same table
:func:`.checkerboard.flip_thresholds` (one definition of the rule): flip when
``r <= threshold``. So the two kernels agree bit for bit for every rule and field.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from ..._rng import SeedLike, kernel_key
from ...kernels.counter_hash import chain_key
from ...lattice import SquareLattice
from ..model import IsingModel
from . import checkerboard as _cb
from .base import ChainState, Sampler, SweepInfo, check_count
from .registry import Capabilities, register_sampler

__all__ = [
    "TritonCheckerboardSampler",
    "triton_available",
]


def triton_available() -> bool:
    """Whether the ``triton`` package can be imported."""
    import importlib.util

    return importlib.util.find_spec("triton") is not None


@njit(cache=True)
def _chain_keys(key, B):  # pragma: no cover - compiled
    out = np.empty(B, dtype=np.uint64)
    for b in range(B):
        out[b] = chain_key(key, b)
    return out


def interpreter_enabled() -> bool:
    """Whether ``TRITON_INTERPRET=1`` is set (it must be, before triton is first imported,
    for the kernel to run on CPU tensors)."""
    import os

    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


#: lattices with at most this many sites per colour run all sweeps in one program each
SMALL_LATTICE_SITES = 4096


def _kernels() -> Any:
    from . import _triton_kernel

    return _triton_kernel


@register_sampler(
    "metropolis",
    capabilities=Capabilities(
        lattices=("square",),
        odd_sizes=False,
        devices=("cuda",),
        reports=("acceptance", "flipped"),
        requires=("triton",),
    ),
    options={"rule": "metropolis"},
    priority=10,
    rank=10,
)
@register_sampler(
    "heatbath",
    capabilities=Capabilities(
        lattices=("square",),
        odd_sizes=False,
        devices=("cuda",),
        reports=("acceptance", "flipped"),
        requires=("triton",),
    ),
    options={"rule": "heatbath"},
    priority=10,
    rank=20,
)
class TritonCheckerboardSampler(Sampler):
    """Checkerboard sampler as fused Triton kernels (see module docstring).

    Parameters
    ----------
    model : IsingModel
        On an even :class:`~kadanoff.lattice.SquareLattice` (any field).
    rule : {"metropolis", "heatbath"}
    device : ``"cuda"`` (compiled kernel) or ``"cpu"`` (Triton's interpreter, tests only, slow;
        needs ``TRITON_INTERPRET=1`` in the environment before triton is imported).
    block : sites per program of the half-sweep kernel (a power of two; default 1024 on CUDA,
        4096 interpreted).
    small_kernel : lattices of at most :data:`SMALL_LATTICE_SITES` sites per colour run every
        sweep inside one program per lattice (one launch per call); ``False`` forces one launch
        per half-sweep (the large-lattice kernel). Both give the same chains.
    """

    def __init__(
        self,
        model: IsingModel,
        rule: str = "metropolis",
        device: str = "cuda",
        block: int | None = None,
        small_kernel: bool = True,
    ) -> None:
        super().__init__(model)
        import torch

        if not triton_available():
            raise ValueError("the Triton sampler needs the triton package: pip install triton")
        self.rule = _cb._check_rule(rule)
        self.name = rule
        lat = model.lattice
        if not isinstance(lat, SquareLattice) or lat.L % 2:
            raise ValueError(
                "the Triton checkerboard kernel needs an even square lattice; use "
                "TorchCheckerboardSampler (chains) or MetropolisSampler / HeatBathSampler"
            )
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("CUDA is not available here; use device='cpu' (interpreter)")
        self.interpret = self.device.type == "cpu"
        if self.interpret and not interpreter_enabled():
            raise ValueError(
                "the Triton kernel runs on CPU tensors only in Triton's interpreter: set "
                "TRITON_INTERPRET=1 before starting Python (tests), or use device='cuda'"
            )
        self.block = int(block or (4096 if self.interpret else 1024))
        if self.block < 1 or self.block & (self.block - 1):
            raise ValueError(f"block must be a power of two, got {self.block}")
        self.small_kernel = bool(small_kernel)
        self.thresholds = _cb.flip_thresholds(model.K, model.field, rule)
        self._tab = torch.as_tensor(self.thresholds.astype(np.int64), device=self.device)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r}, rule={self.rule!r}, device={self.device})"

    def run_tensor(self, spins: Any, n_sweeps: int, *, key: int | np.uint64, t0: int = 0):
        """Advance the int8 device tensor ``spins`` ``(B, L, L)`` in place by ``n_sweeps``.

        Sweeps ``t0 .. t0 + n_sweeps - 1`` of the counter-based stream ``key`` (successive
        calls with increasing ``t0`` equal one long run). Returns the number of flips as a
        0-d int64 device tensor (no host synchronization).
        """
        import torch

        L = self.model.shape[0]
        if spins.dtype != torch.int8 or not spins.is_contiguous() or spins.shape[1:] != (L, L):
            raise ValueError(f"spins must be a contiguous int8 tensor of shape (B, {L}, {L})")
        B = spins.shape[0]
        total = B * L * L // 2
        ck = torch.from_numpy(_chain_keys(np.uint64(key), B).view(np.int64)).to(self.device)
        k = _kernels()
        if L * L // 2 <= SMALL_LATTICE_SITES and self.small_kernel:
            per_lattice = torch.zeros(B, dtype=torch.int64, device=self.device)
            block = 1 << max(0, (L * L // 2 - 1).bit_length())
            k.lattice_sweeps[(B,)](
                spins, ck, self._tab, per_lattice, int(t0), int(n_sweeps), L, BLOCK=block
            )
            return per_lattice.sum()
        n_prog = math.ceil(total / self.block)
        flips = torch.zeros((), dtype=torch.int64, device=self.device)
        per_prog = torch.empty(n_prog, dtype=torch.int32, device=self.device)
        for t in range(int(t0), int(t0) + int(n_sweeps)):
            for c in (0, 1):
                k.half_sweep[(n_prog,)](
                    spins, ck, self._tab, per_prog, t, c, L, total, BLOCK=self.block
                )
                flips += per_prog.sum(dtype=torch.int64)
        return flips

    def _start_rng(self, n_chains: int, seed: SeedLike) -> np.ndarray:
        """``[key, sweep counter]`` (uint64), the Numba kernel's layout: the same seed gives the
        Numba kernel's random numbers."""
        return np.array([kernel_key(seed), 0], dtype=np.uint64)

    def advance(self, state: ChainState, n_sweeps: int) -> tuple[ChainState, SweepInfo]:
        """``n_sweeps`` sweeps from sweep ``state.rng[1]`` with key ``state.rng[0]``: two calls of
        ``n`` equal one of ``2 n`` bit for bit (numpy in, numpy out; see :meth:`run_tensor`)."""
        import torch

        n_sweeps = check_count(n_sweeps)
        s = self.check_chain_state(state, (2,))
        key, t0 = np.uint64(state.rng[0]), int(state.rng[1])
        if n_sweeps == 0:
            return ChainState(s.copy(), state.rng.copy(), state.kind, state.sweeps), SweepInfo()
        x = torch.as_tensor(s, device=self.device).contiguous().clone()
        flips = int(self.run_tensor(x, n_sweeps, key=key, t0=t0))
        attempted = s.shape[0] * self.model.n_sites * n_sweeps
        accepted = flips if self.rule == "metropolis" else attempted
        out = x.cpu().numpy().astype(np.int8)
        rng = np.array([key, t0 + n_sweeps], dtype=np.uint64)
        new = ChainState(out, rng, state.kind, state.sweeps + n_sweeps)
        return new, SweepInfo(n_sweeps, attempted, accepted, flips)
