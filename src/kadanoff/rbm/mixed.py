"""bf16-mixed CD-k: bfloat16 operands for the three products, float32 for everything else.

Precision by construction (issue 13): the trainer of :mod:`kadanoff.rbm.train` with

- the visible and hidden batches ``V = [v0; vk | 1]``, ``H = [h0; -(B/C) hk | 1; -(B/C)]`` and
  the hidden samples stored in bfloat16 (unit samples ±1 / {0,1} are exact in bf16; the means
  in ``H`` are rounded to nearest, relative error <= 2^-9);
- a bfloat16 copy of ``W`` made once per update from the float32 master weights;
- the products ``v W``, ``h W^T`` (the fields) and ``V^T H`` (the gradient, data minus model
  term in one sum) done in bf16 with float32 accumulation (oneDNN / tensor cores); their
  results are rounded to bf16 once;
- biases added, sigmoids taken and probabilities compared with the uniforms in float32, and
  master weights, biases and momentum updated in float32, so updates far below the weights'
  bf16 spacing still accumulate (a pure-bf16 trainer loses them: see the tests).

With the same seed the random numbers are those of the float32 run (the same counter-based
hash, compared with float32 probabilities), so the two runs differ only by rounding.
On CPU the compiled sampling kernels write bf16 bit patterns straight into the buffers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numba import njit

from ..kernels.counter_hash import GOLDEN as _GOLDEN
from ..kernels.counter_hash import U32 as _U32
from ..kernels.counter_hash import hash32 as _hash32
from ..kernels.counter_hash import mix64 as _mix64
from ..kernels.counter_hash import split as _split
from .train import _padded, _Stream, _Trainer

__all__ = ["MixedTrainer", "bf16_bits"]

_S8 = np.uint32(8)
_S16 = np.uint32(16)
_ONE = np.uint32(1)
_RND = np.uint32(0x7FFF)
_INV24 = np.float32(2.0**-24)


@njit(inline="always", cache=True)
def _bf16(x):  # pragma: no cover - compiled
    """bfloat16 bits of float32 ``x``, round to nearest even (finite ``x``)."""
    b = np.float32(x).view(np.uint32)
    return np.uint16((b + _RND + ((b >> _S16) & _ONE)) >> _S16)


def bf16_bits(x: float) -> np.uint16:
    """The bfloat16 bit pattern of ``x`` (round to nearest even), as the kernels write it."""
    return _bf16(np.float32(x))


@njit(cache=True)
def _bernoulli_bf16(
    p, out, row0, mean, mrow0, scale, shift, key, ctr, up, down
):  # pragma: no cover
    """As ``kadanoff.rbm.train._bernoulli32`` (same uniforms), writing bf16 bits.

    ``p`` float32 (n, m); ``out``/``mean`` uint16 views of bf16 buffers; ``up``/``down`` the bf16
    bits of the two unit values; ``mean[mrow0 + r, c] = bf16(scale p + shift)`` if ``mrow0 >= 0``.
    """
    n, m = p.shape
    for r in range(n):
        lo, hi = _split(_mix64(key + np.uint64(ctr + r) * _GOLDEN))
        if mrow0 >= 0:
            for c in range(m):
                x = p[r, c]
                u = np.float32(np.int32(_hash32(lo, hi, _U32(c)) >> _S8)) * _INV24
                out[row0 + r, c] = up if u < x else down
                mean[mrow0 + r, c] = _bf16(x * scale + shift)
        else:
            for c in range(m):
                u = np.float32(np.int32(_hash32(lo, hi, _U32(c)) >> _S8)) * _INV24
                out[row0 + r, c] = up if u < p[r, c] else down


@njit(cache=True)
def _affine_bf16(p, out, row0, scale, shift):  # pragma: no cover
    """``out[row0 + r, c] = bf16(scale p[r, c] + shift)`` (``out`` uint16 bits)."""
    n, m = p.shape
    for r in range(n):
        for c in range(m):
            out[row0 + r, c] = _bf16(p[r, c] * scale + shift)


class MixedTrainer(_Trainer):
    """:class:`~kadanoff.rbm.train._Trainer` with bf16 products (see module docstring).

    The model and ``config.dtype`` are float32; the float32 batch buffers of the base class
    are replaced by bf16 ones of the same layout, so the base class's phase logic runs as is.
    """

    mixed = True

    def __init__(self, model: Any, config: Any, batch_size: int, n_chains: int, seed_seq: Any):
        if model.dtype != torch.float32:
            raise ValueError("bf16-mixed keeps float32 master weights: use dtype='float32'")
        super().__init__(model, config, batch_size, n_chains, seed_seq)
        nv, nh, B, C = self.nv, self.nh, self.B, self.C
        M = max(B, C)
        kw: dict[str, Any] = {"dtype": torch.bfloat16, "device": self.device}
        self._V_b = torch.ones(B + C, _padded(nv + 1), **kw)
        self.V = self._V_b[:, : nv + 1]
        self._H_b = torch.empty(B + C, _padded(nh + 1), **kw)
        self.H = self._H_b[:, : nh + 1]
        self.H[:B, nh] = 1.0
        self.H[B:, nh] = self.neg_scale  # exact when B / C is a power of 2 (default C = B)
        self._Hs_b = torch.ones(M, _padded(nh + 1), **kw)
        self.Hs = self._Hs_b[:, : nh + 1]
        self._v0 = self.V[:B, :nv]
        self._V_T, self._Vneg_nv = self.V.t(), self.V[B:, :nv]
        self._Hpos, self._Hneg = self.H[:B, :nh], self.H[B:, :nh]
        self._Hs_B = self.Hs[:B]
        self.W16 = torch.empty(nv, nh, **kw)
        self.W16_T = self.W16.t()
        self.F16h = torch.empty(M, nh, **kw)
        self.F16v = torch.empty(M, nv, **kw)
        self.G16 = torch.empty(nv + 1, nh + 1, **kw)
        self.sa = torch.empty(nv, dtype=torch.float32, device=self.device)
        self.sb = torch.empty(nh, dtype=torch.float32, device=self.device)
        self._refresh_operands()
        if self.device.type == "cpu":
            self._np = {id(t): t.numpy() for t in (self._Fh_B, self._Fh_C, self._Fv_C)}
            for t in (self._V_b, self._H_b, self._Hs_b):
                self._np[id(t)] = t.view(torch.int16).numpy().view(np.uint16)
            x, u = np.zeros((1, 1), np.float32), np.zeros((1, 1), np.uint16)
            f, h = np.float32, np.uint16
            _bernoulli_bf16(x, u, 0, u, 0, f(1), f(0), np.uint64(0), 0, h(1), h(0))
            _affine_bf16(x, u, 0, f(1), f(0))
        up = 1.0
        down = -1.0 if self.spin else 0.0
        self._up, self._down = bf16_bits(up), bf16_bits(down)

    # -- operands ------------------------------------------------------------------------
    def _refresh_operands(self) -> None:
        """bf16 copy of ``W`` and the scaled float32 biases, from the master parameters."""
        self.W16.copy_(self.W)
        torch.mul(self.a, self.scale, out=self.sa)
        torch.mul(self.b, self.scale, out=self.sb)

    def _hidden_probability(self, v: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``out <- sigmoid(s b + s (v W))``: bf16 product, float32 bias and sigmoid."""
        n = v.shape[0]
        if v.shape[1] != self.nv:
            v = v[:, : self.nv]
        if v.dtype != torch.bfloat16:
            v = v.to(torch.bfloat16)
        f = self.F16h[:n]
        torch.mm(v, self.W16, out=f)
        return torch.add(self.sb, f, alpha=self.scale, out=out).sigmoid_()

    def _visible_probability(self, h: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``out <- sigmoid(s a + s (h W^T))``; ``h = [h, 1]`` (n, nh + 1), bf16."""
        n = h.shape[0]
        f = self.F16v[:n]
        torch.mm(h[:, : self.nh], self.W16_T, out=f)
        return torch.add(self.sa, f, alpha=self.scale, out=out).sigmoid_()

    # -- unit sampling into bf16 buffers -------------------------------------------------
    def _sample(
        self,
        p: torch.Tensor,
        dest: torch.Tensor,
        row0: int,
        U: torch.Tensor,
        s: _Stream,
        mean: torch.Tensor | None = None,
        mean_row0: int = 0,
    ) -> None:
        n, m = p.shape
        if s.generator is None:
            f, arr = np.float32, self._array
            scale, shift = (2.0, -1.0) if self.spin else (1.0, 0.0)
            _bernoulli_bf16(
                arr(p),
                arr(dest),
                row0,
                arr(dest if mean is None else mean),
                -1 if mean is None else mean_row0,
                f(scale),
                f(shift),
                s.key,
                s.row,
                self._up,
                self._down,
            )
            s.row += n
            return
        torch.rand(U.shape, generator=s.generator, out=U, dtype=U.dtype, device=U.device)
        torch.sub(p, U, out=U)
        if self.spin:
            torch.copysign(self.one, U, out=U)
        else:
            torch.copysign(self.half, U, out=U).add_(0.5)
        dest[row0 : row0 + n, :m].copy_(U)
        if mean is not None:
            self._mean(p, mean[mean_row0 : mean_row0 + n, :m])

    def _array(self, t: torch.Tensor) -> np.ndarray:
        a = self._np.get(id(t))
        if a is not None:
            return a
        if t.dtype == torch.bfloat16:
            return t.view(torch.int16).numpy().view(np.uint16)
        return t.numpy()

    def _mean(self, p: torch.Tensor, out: torch.Tensor, factor: float = 1.0) -> None:
        """``out <- bf16(factor E[unit])``, computed in float32 and rounded once."""
        if self.spin:
            out.copy_(torch.mul(p, 2.0 * factor).sub_(factor))
        else:
            out.copy_(torch.mul(p, factor))

    def _negative_hidden_mean(self, ph: torch.Tensor, s: _Stream) -> None:
        ns = self.neg_scale
        if s.generator is None:
            f = np.float32
            scale, shift = (2.0 * ns, -ns) if self.spin else (ns, 0.0)
            _affine_bf16(self._array(ph), self._array(self._H_b), self.B, f(scale), f(shift))
        else:
            self._mean(ph, self._Hneg, ns)

    # -- persistent chains (bf16 hidden samples; saved as float32) ------------------------
    def _new_chains(self) -> torch.Tensor:
        self._chains_b = torch.ones(
            self.C, _padded(self.nh + 1), dtype=torch.bfloat16, device=self.device
        )
        self.chains = self._chains_b[:, : self.nh + 1]
        if self.device.type == "cpu":
            self._np[id(self._chains_b)] = self._array(self._chains_b)
        return self.chains

    def state_dict(self) -> dict[str, torch.Tensor]:
        s = super().state_dict()
        if self.chains is not None:
            s["chains"] = self.chains.float()
        return s

    def set_chains(self, visible: torch.Tensor, g: torch.Generator) -> None:
        C = self.C
        self.V[self.B :, : self.nv].copy_(visible)
        p = self._hidden_probability(self.V[self.B :], self.Fh[:C])
        self._new_chains()
        assert self._chains_b is not None
        self._sample(p, self._chains_b, 0, self.Uh[:C], _as_stream(g))

    # -- one gradient estimate / update -------------------------------------------------
    def statistics(self, v0: torch.Tensor, g: Any) -> torch.Tensor:
        self._phases(v0, g)
        torch.mm(self._V_T, self.H, out=self.G16)
        return self.G16.float()

    def step(self, v0: torch.Tensor, g: Any, lr: float, momentum: float) -> None:
        """One update: bf16 gradient product, float32 momentum and master parameters."""
        cfg = self.config
        self._phases(v0, g)
        torch.mm(self._V_T, self.H, out=self.G16)
        self.velocity.mul_(momentum).add_(self.G16, alpha=lr / self.B)
        self._vel_corner.zero_()
        if cfg.l2:
            self.vel_W.add_(self.W, alpha=-lr * cfg.l2)
        if cfg.l1 and cfg.l1_method == "subgradient":
            torch.sign(self.W, out=self.sign_buf)
            self.vel_W.add_(self.sign_buf, alpha=-lr * cfg.l1)
        self._P_b.add_(self._vel_b)
        if cfg.l1 and cfg.l1_method == "proximal":
            torch.sign(self.W, out=self.sign_buf)
            self.W.abs_().sub_(lr * cfg.l1).clamp_(min=0.0).mul_(self.sign_buf)
        self._refresh_operands()


def _as_stream(g: Any) -> _Stream:
    return g if isinstance(g, _Stream) else _Stream(g)
