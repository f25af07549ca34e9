"""The fused CD-k / PCD inner loop (see :mod:`kadanoff.rbm.train` for the design).

:class:`Trainer` keeps all parameters in one augmented matrix and the batches in preallocated
padded buffers; :class:`UnitStream` holds the random numbers of unit sampling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..._rng import child_sequence, torch_generator
from ...spins import Units
from ._kernels import affine, bernoulli32, bernoulli64
from .config import TrainConfig, learning_rate_at, momentum_at

if TYPE_CHECKING:
    from ..model import RBM

__all__ = ["Trainer", "UnitStream", "padded"]


class UnitStream:
    """The random numbers of unit sampling, made from a ``torch.Generator``.

    On CPU a 64-bit key drawn from the generator seeds a counter-based hash (one uniform per
    unit, rows numbered consecutively over the stream's life): a single fused, vectorized
    pass per layer instead of ``torch.rand`` (single-threaded, ~5 ns a number) and two more
    passes. Elsewhere the generator itself feeds ``torch.rand``.
    """

    __slots__ = ("key", "row", "generator")

    def __init__(self, g: torch.Generator) -> None:
        self.row = 0
        self.generator: torch.Generator | None = None
        self.key = np.uint64(0)
        if g.device.type == "cpu":
            k = torch.randint(-(2**63), 2**63 - 1, (), generator=g, dtype=torch.int64)
            self.key = np.uint64(int(k) & 0xFFFFFFFFFFFFFFFF)
        else:
            self.generator = g

    @classmethod
    def of(cls, g: torch.Generator | UnitStream) -> UnitStream:
        """``g`` itself if it is a stream, else a new stream drawn from the generator ``g``."""
        return g if isinstance(g, UnitStream) else cls(g)


def padded(n: int, multiple: int = 16) -> int:
    """``n`` rounded up to a multiple (aligned rows make the GEMMs faster)."""
    return -(-n // multiple) * multiple


class Trainer:
    """CD-k / PCD inner loop on the augmented parameter matrix (see the package docstring).

    Unit probabilities are ``p = sigmoid(s * field)`` with ``s`` the model's
    :attr:`~kadanoff.rbm.RBM.field_scale` (2 for spins, 1 for bits; folded into the GEMM's
    ``alpha``); means are ``2p - 1`` or ``p``; samples are up where ``u <= p``, ``u`` uniform in
    [0, 1). Subclasses change the arithmetic through ``operand_dtype`` (the dtype of the batch
    buffers ``V``, ``H`` and the hidden samples; ``None``: the model's), :meth:`_load_kernels`,
    the two conditionals, :meth:`_gradient_into_velocity`, :meth:`_gradient` and
    :meth:`_after_update` (:class:`kadanoff.rbm.train.mixed.MixedTrainer`: bf16 products).
    """

    mixed = False
    operand_dtype: torch.dtype | None = None

    def __init__(
        self,
        model: RBM,
        config: TrainConfig,
        batch_size: int,
        n_chains: int,
        seed_seq: np.random.SeedSequence,
    ) -> None:
        self.config = config
        self.units = model.units
        self.spin = Units(self.units) is Units.SPIN
        self.scale = model.field_scale
        self.nv, self.nh = model.n_visible, model.n_hidden
        self.dtype, self.device = model.dtype, model.device
        self.seed_seq = seed_seq
        self.seed_entropy = seed_seq.entropy
        self.history: list[dict[str, Any]] = []
        self.precision_info: dict[str, Any] = {"requested": config.precision or config.dtype}
        self.precision_info["used"] = "bf16-mixed" if self.mixed else self.config.dtype
        nv, nh, B, C = self.nv, self.nh, batch_size, n_chains
        self.B, self.C = B, C
        M = max(B, C)
        nvp, nhp = padded(nv + 1), padded(nh + 1)
        kw: dict[str, Any] = {"dtype": self.dtype, "device": self.device}
        ops: dict[str, Any] = {"dtype": self.operand_dtype or self.dtype, "device": self.device}
        # *_b: the padded, C-contiguous storage of each augmented buffer
        self._P_b = torch.zeros(nv + 1, nhp, **kw)
        self.P = self._P_b[:, : nh + 1]
        with torch.no_grad():
            self.P[:nv, :nh] = model.weights
            self.P[:nv, nh] = model.visible_bias
            self.P[nv, :nh] = model.hidden_bias
        self.W = self.P[:nv, :nh]
        self.a = self.P[:nv, nh]
        self.b = self.P[nv, :nh]
        self.W_T = self.W.t()
        self.Wa_T = self.P[:nv].t()  # [W, a]^T: (h, 1) [W, a]^T = W h + a
        self._vel_b = torch.zeros(nv + 1, nhp, **kw)
        self.velocity = self._vel_b[:, : nh + 1]
        self.vel_W = self.velocity[:nv, :nh]
        self._vel_corner = self.velocity[nv, nh]
        # rows 0..B-1: positive phase, B..B+C-1: negative phase; last column constant
        self._V_b = torch.ones(B + C, nvp, **ops)
        self.V = self._V_b[:, : nv + 1]
        self._H_b = torch.empty(B + C, nhp, **ops)
        self.H = self._H_b[:, : nh + 1]
        self.H[:B, nh] = 1.0
        self.neg_scale = -B / C
        self.H[B:, nh] = self.neg_scale  # exact in bf16 when B / C is a power of 2
        self._Hs_b = torch.ones(M, nhp, **ops)
        self.Hs = self._Hs_b[:, : nh + 1]  # hidden samples (+ ones column)
        self.Fh = torch.empty(M, nh, **kw)
        self.Fv = torch.empty(M, nv, **kw)
        cpu = self.device.type == "cpu"  # uniforms come from a hash there (see UnitStream)
        self.Uh = torch.empty(0 if cpu else M, nh, **kw)
        self.Uv = torch.empty(0 if cpu else M, nv, **kw)
        self._np_dtype = np.float32 if self.dtype == torch.float32 else np.float64
        self._load_kernels()
        # fixed views of the per-step loop (slicing costs microseconds each) and, for the
        # compiled kernels, numpy views of the C-contiguous ones by id
        self._v0 = self.V[:B, :nv]
        self._V_T, self._Vneg_nv = self.V.t(), self.V[B:, :nv]
        self._Hpos, self._Hneg = self.H[:B, :nh], self.H[B:, :nh]
        self._Fh_B, self._Fh_C, self._Fv_C = self.Fh[:B], self.Fh[:C], self.Fv[:C]
        self._Hs_B = self.Hs[:B]
        self._Uh_B, self._Uh_C, self._Uv_C = self.Uh[:B], self.Uh[:C], self.Uv[:C]
        self._np: dict[int, np.ndarray] = {}
        if cpu:
            for t in (self._Fh_B, self._Fh_C, self._Fv_C, self._V_b, self._H_b, self._Hs_b):
                self._np[id(t)] = _numpy_view(t)
            # load the compiled kernels now (~0.5 s once per process), not inside an epoch
            f, x = self._np_dtype, np.zeros((1, 1), dtype=self._np_dtype)
            y = _numpy_view(self._V_b[:1, :1].contiguous())
            self._kernel(x, y, 0, y, 0, f(1), f(0), np.uint64(0), 0, self._up, self._down)
            self._affine(x, y, 0, f(1), f(0))
        self.one = torch.ones((), **kw)
        self.half = torch.full((), 0.5, **kw)
        self.sign_buf = torch.empty(nv, nh, **kw)
        self.chains: torch.Tensor | None = None  # persistent hidden samples (C, nh + 1)
        self._chains_b: torch.Tensor | None = None

    def _load_kernels(self) -> None:
        """The compiled sampling and affine kernels and the unit values they write."""
        f = self._np_dtype
        self._kernel = bernoulli32 if f is np.float32 else bernoulli64
        self._affine = affine
        # the values the kernel writes (NumPy scalars of the output buffer's type)
        self._up: np.generic = f(1.0)
        self._down: np.generic = f(-1.0 if self.spin else 0.0)

    # -- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        """Parameters, momentum buffer and (as master dtype) the persistent chains."""
        s = {"augmented_parameters": self.P, "velocity": self.velocity}
        if self.chains is not None:
            s["chains"] = self.chains.to(self.dtype)
        return s

    def load_optimizer_state(self, state: dict[str, Any]) -> None:
        if "velocity" in state:
            v = torch.as_tensor(state["velocity"])
            if tuple(v.shape) != tuple(self.velocity.shape):
                raise ValueError(
                    f"optimizer_state velocity has shape {tuple(v.shape)}, "
                    f"expected {tuple(self.velocity.shape)}"
                )
            self.velocity.copy_(v)
        if "chains" in state and self.config.persistent:
            c = torch.as_tensor(state["chains"])
            if tuple(c.shape) != (self.C, self.nh + 1):
                raise ValueError(
                    f"optimizer_state chains have shape {tuple(c.shape)}, "
                    f"expected {(self.C, self.nh + 1)}"
                )
            self._new_chains().copy_(c)

    def _new_chains(self) -> torch.Tensor:
        kw: dict[str, Any] = {"dtype": self.operand_dtype or self.dtype, "device": self.device}
        self._chains_b = torch.ones(self.C, padded(self.nh + 1), **kw)
        self.chains = self._chains_b[:, : self.nh + 1]
        if self.device.type == "cpu":
            self._np[id(self._chains_b)] = _numpy_view(self._chains_b)
        return self.chains

    def sync_model(self, model: RBM) -> None:
        nv, nh = self.nv, self.nh
        with torch.no_grad():
            model.weights.copy_(self.P[:nv, :nh])
            model.visible_bias.copy_(self.P[:nv, nh])
            model.hidden_bias.copy_(self.P[nv, :nh])

    # -- kernels (in place) --------------------------------------------------------------
    def _hidden_probability(self, v: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``out <- p(h = up | v) = sigmoid(scale (b + v W))``; ``v`` (n, >= nv)."""
        s = self.scale
        if v.shape[1] != self.nv:
            v = v[:, : self.nv]
        torch.addmm(self.b, v, self.W, beta=s, alpha=s, out=out)
        return out.sigmoid_()

    def _visible_probability(self, h: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``out <- p(v = up | h) = sigmoid(scale (a + W h))``; ``h = [h, 1]`` (n, nh + 1).

        The bias comes from the ones column of ``h`` (a GEMM with K = nh + 1 is faster than
        broadcasting ``a`` into the wide output first).
        """
        torch.addmm(out, h, self.Wa_T, beta=0, alpha=self.scale, out=out)
        return out.sigmoid_()

    def _sample(
        self,
        p: torch.Tensor,
        dest: torch.Tensor,
        row0: int,
        U: torch.Tensor,
        s: UnitStream,
        mean: torch.Tensor | None = None,
        mean_row0: int = 0,
    ) -> None:
        """``dest[row0 + r, c] <- up where u < p[r, c] else down``, ``u`` uniform in [0, 1).

        ``p`` is C-contiguous (n, m), ``dest`` a padded C-contiguous buffer. With ``mean``,
        also ``mean[mean_row0 + r, c] <- E[unit]`` (``2p - 1`` or ``p``) in the same pass.
        Elsewhere than on CPU: ``u`` from ``torch.rand`` into ``U`` (overwritten), then
        branch-free ``copysign(1, p - u)`` (+1 exactly when ``u <= p``), for bits
        ``copysign(1/2, p - u) + 1/2`` (through ``U`` when ``dest`` has another dtype).
        """
        n, m = p.shape
        if s.generator is None:
            f, arr = self._np_dtype, self._array
            scale, shift = (2.0, -1.0) if self.spin else (1.0, 0.0)
            self._kernel(
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
        out = dest[row0 : row0 + n, :m]
        torch.rand(U.shape, generator=s.generator, out=U, dtype=U.dtype, device=U.device)
        torch.sub(p, U, out=U)
        target = out if out.dtype == U.dtype else U
        if self.spin:
            torch.copysign(self.one, U, out=target)
        else:
            torch.copysign(self.half, U, out=target).add_(0.5)
        if target is U:
            out.copy_(U)
        if mean is not None:
            self._mean(p, mean[mean_row0 : mean_row0 + n, :m])

    def _array(self, t: torch.Tensor) -> np.ndarray:
        a = self._np.get(id(t))
        return _numpy_view(t) if a is None else a

    def _mean(self, p: torch.Tensor, out: torch.Tensor, factor: float = 1.0) -> None:
        """``out <- factor * E[unit]`` (``2p - 1`` for spins, ``p`` for bits), computed in
        ``p``'s dtype and rounded once into ``out``."""
        if out.dtype != p.dtype:
            out.copy_(torch.mul(p, 2.0 * factor).sub_(factor) if self.spin else p * factor)
        elif self.spin:
            torch.mul(p, 2.0 * factor, out=out).sub_(factor)
        else:
            torch.mul(p, factor, out=out)

    def init_chains(self, data: torch.Tensor, g: torch.Generator, rng: np.random.Generator):
        """Persistent chains: hidden samples given ``C`` random data rows."""
        idx = torch.from_numpy(rng.integers(0, data.shape[0], size=self.C)).to(self.device)
        self.set_chains(data.index_select(0, idx), g)

    def set_chains(self, visible: torch.Tensor, g: torch.Generator) -> None:
        """Persistent chains: hidden samples drawn from ``p(h | visible)``, visible (C, nv)."""
        C = self.C
        self.V[self.B :, : self.nv].copy_(visible)
        p = self._hidden_probability(self.V[self.B :], self.Fh[:C])
        self._new_chains()
        assert self._chains_b is not None
        self._sample(p, self._chains_b, 0, self.Uh[:C], UnitStream.of(g))

    # -- one gradient estimate -----------------------------------------------------------
    def statistics(self, v0: torch.Tensor, g: torch.Generator | UnitStream) -> torch.Tensor:
        """``V^T H`` for the batch ``v0`` (B, nv): B x the ascent direction, augmented.

        Block ``[:nv, :nh]`` holds ``sum v h`` differences, column ``nh`` the visible-bias and
        row ``nv`` the hidden-bias statistics (each: data sum minus (B/C) x model sum).
        """
        self._phases(v0, g)
        return self._gradient()

    def _gradient(self) -> torch.Tensor:
        """``V^T H`` as a new tensor of the master dtype."""
        return self.V.t() @ self.H

    def _phases(self, v0: torch.Tensor, g: torch.Generator | UnitStream) -> None:
        """Fill ``V = [v0, 1; vk, 1]`` and ``H = [h0, 1; -(B/C) hk, -(B/C)]``."""
        s = UnitStream.of(g)
        cfg = self.config
        B = self.B
        self._v0.copy_(v0)
        p = self._hidden_probability(self._v0, self._Fh_B)
        if cfg.persistent:
            assert self.chains is not None and self._chains_b is not None
            Hs, Hs_b = self.chains, self._chains_b
            if cfg.sample_positive_hidden:
                self._sample(p, self._H_b, 0, self._Uh_B, s)
            else:
                self._mean(p, self._Hpos)
        else:
            Hs, Hs_b = self._Hs_B, self._Hs_b
            if cfg.sample_positive_hidden:
                self._sample(p, Hs_b, 0, self._Uh_B, s)
                self._Hpos.copy_(Hs[:, : self.nh])
            else:  # sample and mean in one pass
                self._sample(p, Hs_b, 0, self._Uh_B, s, mean=self._H_b)
        for step in range(cfg.cd_k):
            pv = self._visible_probability(Hs, self._Fv_C)
            if cfg.sample_negative_visible:
                self._sample(pv, self._V_b, B, self._Uv_C, s)
            else:
                self._mean(pv, self._Vneg_nv)
            ph = self._hidden_probability(self._Vneg_nv, self._Fh_C)
            if step < cfg.cd_k - 1 or cfg.persistent:
                self._sample(ph, Hs_b, 0, self._Uh_C, s)
        self._negative_hidden_mean(ph, s)

    def _negative_hidden_mean(self, ph: torch.Tensor, s: UnitStream) -> None:
        """``H[B:, :nh] <- -(B/C) E[h | vk]`` from the probabilities ``ph`` (C, nh)."""
        ns = self.neg_scale
        if s.generator is None:
            f = self._np_dtype
            scale, shift = (2.0 * ns, -ns) if self.spin else (ns, 0.0)
            self._affine(self._array(ph), self._array(self._H_b), self.B, f(scale), f(shift))
        else:
            self._mean(ph, self._Hneg, ns)

    def step(
        self, v0: torch.Tensor, g: torch.Generator | UnitStream, lr: float, momentum: float
    ) -> None:
        """One parameter update from the batch ``v0`` (momentum on the increment, as HS)."""
        cfg = self.config
        self._phases(v0, g)
        self._gradient_into_velocity(lr, momentum)
        # its corner, sum of the ones columns' products, is 0 up to rounding: kept at 0
        self._vel_corner.zero_()
        if cfg.l2:
            self.vel_W.add_(self.W, alpha=-lr * cfg.l2)
        if cfg.l1 and cfg.l1_method == "subgradient":
            torch.sign(self.W, out=self.sign_buf)
            self.vel_W.add_(self.sign_buf, alpha=-lr * cfg.l1)
        self._P_b.add_(self._vel_b)  # padding columns stay 0: one contiguous pass
        if cfg.l1 and cfg.l1_method == "proximal":
            torch.sign(self.W, out=self.sign_buf)
            self.W.abs_().sub_(lr * cfg.l1).clamp_(min=0.0).mul_(self.sign_buf)
        self._after_update()

    def _gradient_into_velocity(self, lr: float, momentum: float) -> None:
        """``velocity <- momentum velocity + (lr/B) [v0, 1; vk, 1]^T [h0, 1; -(B/C) hk, -(B/C)]``:
        weights and both bias sums in one GEMM written straight into the velocity buffer."""
        self.velocity.addmm_(self._V_T, self.H, beta=momentum, alpha=lr / self.B)

    def _after_update(self) -> None:
        """Hook run after each parameter update (e.g. to refresh low-precision copies)."""

    def epoch(self, data: torch.Tensor, perm_buf: torch.Tensor, epoch: int) -> None:
        cfg = self.config
        rng, g = self.epoch_streams(epoch)
        n = data.shape[0]
        perm = torch.from_numpy(rng.permutation(n)).to(self.device)
        torch.index_select(data, 0, perm, out=perm_buf)
        lr, mom = learning_rate_at(cfg, epoch), momentum_at(cfg, epoch)
        B, s = self.B, UnitStream(g)
        for i in range(n // B):
            self.step(perm_buf[i * B : (i + 1) * B], s, lr, mom)

    def epoch_streams(self, epoch: int) -> tuple[np.random.Generator, torch.Generator]:
        ss = child_sequence(self.seed_seq, 1, epoch)
        rng = np.random.Generator(np.random.PCG64(ss))
        return rng, torch_generator(rng, str(self.device))


def _numpy_view(t: torch.Tensor) -> np.ndarray:
    """A NumPy view of a CPU tensor (bfloat16 as its uint16 bit patterns)."""
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16)
    return t.numpy()
