"""bf16-mixed CD-k: bfloat16 operands for the three products, float32 for everything else.

Precision by construction (issue 13): the :class:`~kadanoff.rbm.train.Trainer` with

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

import torch

from ._kernels import affine_bf16, bernoulli_bf16, bf16_bits
from .trainer import Trainer

__all__ = ["MixedTrainer", "bf16_bits"]


class MixedTrainer(Trainer):
    """:class:`~kadanoff.rbm.train.Trainer` with bf16 products (see module docstring).

    The model and ``config.dtype`` are float32; the batch buffers are bf16 (``operand_dtype``)
    with the base class's layout, so its phase logic runs as is.
    """

    mixed = True
    operand_dtype = torch.bfloat16

    def __init__(self, model: Any, config: Any, batch_size: int, n_chains: int, seed_seq: Any):
        if model.dtype != torch.float32:
            raise ValueError("bf16-mixed keeps float32 master weights: use dtype='float32'")
        super().__init__(model, config, batch_size, n_chains, seed_seq)
        nv, nh, M = self.nv, self.nh, max(self.B, self.C)
        kw: dict[str, Any] = {"dtype": torch.bfloat16, "device": self.device}
        self.W16 = torch.empty(nv, nh, **kw)
        self.W16_T = self.W16.t()
        self.F16h = torch.empty(M, nh, **kw)
        self.F16v = torch.empty(M, nv, **kw)
        self.G16 = torch.empty(nv + 1, nh + 1, **kw)
        self.sa = torch.empty(nv, dtype=torch.float32, device=self.device)
        self.sb = torch.empty(nh, dtype=torch.float32, device=self.device)
        self._refresh_operands()

    def _load_kernels(self) -> None:
        self._kernel, self._affine = bernoulli_bf16, affine_bf16
        self._up, self._down = bf16_bits(1.0), bf16_bits(-1.0 if self.spin else 0.0)

    # -- operands ------------------------------------------------------------------------
    def _refresh_operands(self) -> None:
        """bf16 copy of ``W`` and the scaled float32 biases, from the master parameters."""
        self.W16.copy_(self.W)
        torch.mul(self.a, self.scale, out=self.sa)
        torch.mul(self.b, self.scale, out=self.sb)

    def _after_update(self) -> None:
        self._refresh_operands()

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

    # -- the gradient product: bf16 operands, float32 momentum and master parameters -----
    def _gradient(self) -> torch.Tensor:
        torch.mm(self._V_T, self.H, out=self.G16)
        return self.G16.float()

    def _gradient_into_velocity(self, lr: float, momentum: float) -> None:
        torch.mm(self._V_T, self.H, out=self.G16)
        self.velocity.mul_(momentum).add_(self.G16, alpha=lr / self.B)
