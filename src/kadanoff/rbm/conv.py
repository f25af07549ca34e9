"""A translation-invariant spin RBM: one shared filter applied with stride ``b`` (theory.md 3, 7).

Visible ±1 spins ``v`` live on an ``L x L`` torus, hidden ±1 spins ``h`` on the ``(L/b) x (L/b)``
coarse torus. Hidden spin ``(X, Y)`` sees the ``f x f`` patch of visible sites
``((b X + o + dx) mod L, (b Y + o + dy) mod L)``, ``0 <= dx, dy < f``, ``o = -((f - b) // 2)``
(the patch is centred on the ``b x b`` block as nearly as ``f - b`` allows), through ONE filter
``W`` of shape ``(f, f)`` shared by all hidden spins; the visible bias ``a`` and the hidden bias
``c`` are scalars. In kadanoff's sign convention (theory.md 3, MS 10 with ``(w, c, b)_paper =
-(W, a, b)``) the energy is

    E(v, h) = -(sum_j h_j (W * v)_j + a sum_i v_i + c sum_j h_j),

``(W * v)_j`` the stride-``b`` periodic cross-correlation. It is the dense :class:`SpinRBM` with
tied weights returned by :meth:`ConvSpinRBM.to_dense`, so every closed form of theory.md 3 holds:
``p(h_j = +1 | v) = sigmoid(2 (c + (W * v)_j))``, ``H^RBM(v) = -a sum v - sum_j ln 2cosh(c +
(W * v)_j)`` (MS 12) and its hidden twin (MS 13). Being translation invariant it applies to any
``L`` divisible by ``b`` (:meth:`ConvSpinRBM.resized`). :func:`train_conv_rbm` fits it by CD-k
or PCD (theory.md 3, MS 14) with optional L1/L2 penalties on ``W``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._rng import SeedLike, spawn, torch_generator
from ..spins import check_spins
from .model import SpinRBM

__all__ = ["ConvSpinRBM", "train_conv_rbm", "ConvTrainingHistory"]


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class ConvSpinRBM:
    """Spin RBM with one shared ``f x f`` filter, stride ``b``, periodic wrap (module docstring).

    Parameters
    ----------
    L, b : lattice side and stride (``b >= 1`` divides ``L``); hidden layer ``(L/b, L/b)``
    weights : ``(f, f)`` filter ``W``, ``b <= f <= L``
    visible_bias, hidden_bias : scalars ``a`` and ``c``
    dtype, device : torch dtype (float64 for exact work) and device of every computation

    Batched methods take ``(n, L, L)`` visible or ``(n, L/b, L/b)`` hidden unit values (NumPy or
    torch, any numeric dtype) and return tensors in the model's dtype.
    """

    def __init__(
        self,
        L: int,
        b: int,
        weights: Any,
        visible_bias: float = 0.0,
        hidden_bias: float = 0.0,
        *,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
    ) -> None:
        self.L, self.b = _check_int("L", L, 1), _check_int("b", b, 1)
        W = torch.as_tensor(
            np.asarray(weights, dtype=np.float64)
            if not isinstance(weights, torch.Tensor)
            else weights.detach(),
            dtype=dtype,
            device=device,
        ).clone()
        if W.ndim != 2 or W.shape[0] != W.shape[1]:
            raise ValueError(f"the filter must be square (f, f), got shape {tuple(W.shape)}")
        self.f = int(W.shape[0])
        if self.L % self.b:
            raise ValueError(f"the stride b = {b} must divide L = {L}: choose L a multiple of b")
        if not self.b <= self.f <= self.L:
            raise ValueError(f"the filter size f = {self.f} must satisfy b = {b} <= f <= L = {L}")
        self.weights = W
        self.visible_bias = torch.tensor(float(visible_bias), dtype=dtype, device=device)
        self.hidden_bias = torch.tensor(float(hidden_bias), dtype=dtype, device=device)

    # ------------------------------------------------------------------ construction
    @classmethod
    def random(
        cls, L: int, b: int, f: int, *, seed: SeedLike, scale: float = 0.5, **kw: Any
    ) -> ConvSpinRBM:
        """Filter and both biases ``~ N(0, scale^2)``, drawn in that order (a test oracle)."""
        from .._rng import make_rng

        r = make_rng(seed)
        W = r.normal(scale=scale, size=(f, f))
        a, c = r.normal(scale=scale, size=2)
        return cls(L, b, W, float(a), float(c), **kw)

    def resized(self, L: int) -> ConvSpinRBM:
        """The same filter and biases on an ``L x L`` torus (translation invariance)."""
        return ConvSpinRBM(
            L,
            self.b,
            self.weights,
            float(self.visible_bias),
            float(self.hidden_bias),
            dtype=self.dtype,
            device=self.device,
        )

    def canonical(self) -> ConvSpinRBM:
        """The same distribution of ``v`` with ``sum W >= 0`` (relabel ``h -> -h``: ``W, c -> -W,
        -c``), so the hidden spin follows the block's magnetization rather than its opposite."""
        if float(self.weights.sum()) >= 0:
            return self.resized(self.L)
        return ConvSpinRBM(
            self.L,
            self.b,
            -self.weights,
            float(self.visible_bias),
            -float(self.hidden_bias),
            dtype=self.dtype,
            device=self.device,
        )

    # ------------------------------------------------------------------ properties
    @property
    def coarse_side(self) -> int:
        return self.L // self.b

    @property
    def offset(self) -> int:
        """``o``: hidden ``(X, Y)``'s patch starts at visible ``(b X + o, b Y + o)``."""
        return -((self.f - self.b) // 2)

    @property
    def dtype(self) -> torch.dtype:
        return self.weights.dtype

    @property
    def device(self) -> torch.device:
        return self.weights.device

    def numpy(self) -> dict[str, Any]:
        """``weights`` ``(f, f)``, ``visible_bias``, ``hidden_bias`` (float64), ``L``, ``b``."""
        return {
            "weights": self.weights.cpu().numpy().astype(np.float64),
            "L": self.L,
            "b": self.b,
            "visible_bias": float(self.visible_bias),
            "hidden_bias": float(self.hidden_bias),
        }

    def __repr__(self) -> str:
        return f"ConvSpinRBM(L={self.L}, b={self.b}, f={self.f}, dtype={self.dtype})"

    # ------------------------------------------------------------------ fields
    def _as(self, x: Any, side: int, name: str) -> torch.Tensor:
        t = torch.as_tensor(x, device=self.device).to(self.dtype)
        if t.ndim != 3 or tuple(t.shape[1:]) != (side, side):
            raise ValueError(f"{name} must have shape (n, {side}, {side}), got {tuple(t.shape)}")
        return t

    def hidden_field(self, v: Any) -> torch.Tensor:
        """``c + (W * v)_j``: ``(n, L, L) -> (n, L/b, L/b)`` (periodic, stride ``b``)."""
        x = torch.roll(self._as(v, self.L, "v"), (-self.offset, -self.offset), (1, 2))
        p = self.f - self.b
        x = F.pad(x[:, None], (0, p, 0, p), mode="circular") if p else x[:, None]
        return F.conv2d(x, self.weights[None, None], stride=self.b)[:, 0] + self.hidden_bias

    def visible_field(self, h: Any) -> torch.Tensor:
        """``a + (W^T h)_i``: ``(n, L/b, L/b) -> (n, L, L)`` (the transposed convolution)."""
        u = F.conv_transpose2d(
            self._as(h, self.coarse_side, "h")[:, None], self.weights[None, None], stride=self.b
        )[:, 0]
        L, p = self.L, self.f - self.b
        out = u[:, :L, :L].clone()
        if p:
            out[:, :p, :] += u[:, L:, :L]
            out[:, :, :p] += u[:, :L, L:]
            out[:, :p, :p] += u[:, L:, L:]
        return torch.roll(out, (self.offset, self.offset), (1, 2)) + self.visible_bias

    # ------------------------------------------------------------------ energies (MS 10-13)
    def energy(self, v: Any, h: Any) -> torch.Tensor:
        """``E(v, h) = -(h . (W * v) + a sum v + c sum h)``, ``(n,)`` (MS 10, kadanoff signs)."""
        vt, ht = self._as(v, self.L, "v"), self._as(h, self.coarse_side, "h")
        hf = self.hidden_field(vt)  # includes c
        return -((ht * hf).sum((1, 2)) + self.visible_bias * vt.sum((1, 2)))

    def free_energy_visible(self, v: Any) -> torch.Tensor:
        """``H^RBM(v) = -a sum v - sum_j ln 2cosh(c + (W * v)_j)``, ``(n,)`` (MS 12)."""
        vt = self._as(v, self.L, "v")
        return -self.visible_bias * vt.sum((1, 2)) - SpinRBM.unit_log_partition(
            self.hidden_field(vt)
        ).sum((1, 2))

    def free_energy_hidden(self, h: Any) -> torch.Tensor:
        """``H^RBM(h) = -c sum h - sum_i ln 2cosh(a + (W^T h)_i)``, ``(n,)`` (MS 13)."""
        ht = self._as(h, self.coarse_side, "h")
        return -self.hidden_bias * ht.sum((1, 2)) - SpinRBM.unit_log_partition(
            self.visible_field(ht)
        ).sum((1, 2))

    # ------------------------------------------------------------------ conditionals, sampling
    def hidden_probability(self, v: Any) -> torch.Tensor:
        """``p(h_j = +1 | v) = sigmoid(2 (c + (W * v)_j))``, ``(n, L/b, L/b)``."""
        return torch.sigmoid(2.0 * self.hidden_field(v))

    def visible_probability(self, h: Any) -> torch.Tensor:
        """``p(v_i = +1 | h) = sigmoid(2 (a + (W^T h)_i))``, ``(n, L, L)``."""
        return torch.sigmoid(2.0 * self.visible_field(h))

    def hidden_mean(self, v: Any) -> torch.Tensor:
        """``E[h | v] = tanh(c + (W * v)_j)``, ``(n, L/b, L/b)``."""
        return torch.tanh(self.hidden_field(v))

    @staticmethod
    def _draw(p: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        u = torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device)
        return torch.where(u < p, 1.0, -1.0).to(p.dtype)

    def sample_hidden(self, v: Any, *, generator: torch.Generator | None) -> torch.Tensor:
        """``h ~ p(h | v)``, ±1 in the model's dtype, ``(n, L/b, L/b)``."""
        return self._draw(self.hidden_probability(v), generator)

    def sample_visible(self, h: Any, *, generator: torch.Generator | None) -> torch.Tensor:
        """``v ~ p(v | h)``, ±1 in the model's dtype, ``(n, L, L)``."""
        return self._draw(self.visible_probability(h), generator)

    def gibbs(self, v: Any, k: int = 1, *, generator: torch.Generator | None) -> torch.Tensor:
        """``k`` block Gibbs steps ``v -> h ~ p(h|v) -> v ~ p(v|h)``; returns the last ``v``."""
        x = self._as(v, self.L, "v")
        for _ in range(_check_int("k", k, 0)):
            x = self.sample_visible(self.sample_hidden(x, generator=generator), generator=generator)
        return x

    # ------------------------------------------------------------------ dense form
    def dense_weights(self) -> np.ndarray:
        """The tied ``(L^2, (L/b)^2)`` weight matrix, row-major sites on both layers."""
        L, Lc, f, o = self.L, self.coarse_side, self.f, self.offset
        X, Y, dx, dy = np.meshgrid(
            np.arange(Lc), np.arange(Lc), np.arange(f), np.arange(f), indexing="ij"
        )
        rows = ((self.b * X + o + dx) % L) * L + (self.b * Y + o + dy) % L
        cols = X * Lc + Y
        Wd = np.zeros((L * L, Lc * Lc))
        np.add.at(Wd, (rows.ravel(), cols.ravel()), self.numpy()["weights"][dx, dy].ravel())
        return Wd

    def to_dense(self) -> SpinRBM:
        """The dense :class:`SpinRBM` with the same energy (tied weights, repeated biases)."""
        Wd = self.dense_weights()
        nv, nh = Wd.shape
        out = SpinRBM.from_parameters(
            Wd,
            np.full(nv, float(self.visible_bias)),
            np.full(nh, float(self.hidden_bias)),
            dtype=self.dtype,
            device=self.device,
        )
        assert isinstance(out, SpinRBM)
        return out


@dataclass
class ConvTrainingHistory:
    """Per epoch: filter ``(epochs, f, f)``, both biases, the mean free-energy gap
    ``<H^RBM>_data - <H^RBM>_negative`` per hidden unit, the reconstruction error (mean
    ``|v - E[v | h]| / 2`` after one ``v -> h`` draw) and the penalty terms."""

    weights: list[np.ndarray]
    visible_bias: list[float]
    hidden_bias: list[float]
    free_energy_gap: list[float]
    reconstruction_error: list[float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": [w.tolist() for w in self.weights],
            "visible_bias": self.visible_bias,
            "hidden_bias": self.hidden_bias,
            "free_energy_gap": self.free_energy_gap,
            "reconstruction_error": self.reconstruction_error,
        }


def train_conv_rbm(
    samples: Any,
    b: int,
    f: int,
    *,
    seed: SeedLike,
    epochs: int = 10,
    learning_rate: float = 0.05,
    batch_size: int = 64,
    k: int = 1,
    persistent: bool = True,
    l1: float = 0.0,
    l2: float = 0.0,
    momentum: float = 0.5,
    init_scale: float = 0.01,
    z2_symmetric: bool = False,
    dtype: torch.dtype = torch.float64,
    device: str = "cpu",
) -> tuple[ConvSpinRBM, ConvTrainingHistory]:
    """Fit a :class:`ConvSpinRBM` to ±1 samples ``(n, L, L)`` by CD-k or PCD (MS 14, theory.md 3).

        Each mini-batch step descends ``[<H^RBM(v)>_data - <H^RBM(v)>_negative] / n_hidden
    + l1 |W|_1 + l2 |W|^2 / 2``, whose gradient is the CD estimate of ``-d ln p / d theta`` per
    hidden unit (positive phase with ``E[h | v]``); negatives come from ``k`` Gibbs steps
    started at the batch (CD-k) or carried from the previous step (PCD, ``batch_size`` chains
    started at data). SGD with ``momentum``. ``z2_symmetric`` keeps both biases at 0, so the
    model is exactly invariant under ``v, h -> -v, -h`` like zero-field Ising data (otherwise
    slowly mixing negative chains can give the biases a spurious drift). The returned model is
    :meth:`~ConvSpinRBM.canonical`.
    """
    v = torch.as_tensor(check_spins(np.asarray(samples), "samples"), device=device).to(dtype)
    if v.ndim != 3 or v.shape[1] != v.shape[2]:
        raise ValueError(f"samples must be (n, L, L) ±1 configurations, got {tuple(v.shape)}")
    n, L = int(v.shape[0]), int(v.shape[1])
    epochs, batch_size = _check_int("epochs", epochs, 1), _check_int("batch_size", batch_size, 1)
    s_init, s_perm, s_gibbs = spawn(seed, 3)
    model = ConvSpinRBM(
        L, b, s_init.normal(scale=init_scale, size=(f, f)), dtype=dtype, device=device
    )
    W = model.weights.clone().requires_grad_(True)
    a = model.visible_bias.clone().requires_grad_(not z2_symmetric)
    c = model.hidden_bias.clone().requires_grad_(not z2_symmetric)
    params = [W] if z2_symmetric else [W, a, c]
    opt = torch.optim.SGD(params, lr=learning_rate, momentum=momentum)
    gen = torch_generator(s_gibbs, device=device)
    chains = v[: min(batch_size, n)].clone()
    hist = ConvTrainingHistory([], [], [], [], [])
    nh = model.coarse_side**2
    for _ in range(epochs):
        order = torch.as_tensor(s_perm.permutation(n), device=device)
        gaps, recon = [], []
        for start in range(0, n, batch_size):
            batch = v[order[start : start + batch_size]]
            # the model reads the live parameters; sampling runs without autograd
            model.weights, model.visible_bias, model.hidden_bias = W, a, c
            with torch.no_grad():
                neg = model.gibbs(chains if persistent else batch, k, generator=gen)
                h = model.sample_hidden(batch, generator=gen)
                recon.append(float((batch - torch.tanh(model.visible_field(h))).abs().mean() / 2))
            if persistent:
                chains = neg
            gap = (
                model.free_energy_visible(batch).mean() - model.free_energy_visible(neg).mean()
            ) / nh
            loss = gap + l1 * W.abs().sum() + 0.5 * l2 * (W * W).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            gaps.append(float(gap.detach()))
        hist.weights.append(W.detach().cpu().numpy().copy())
        hist.visible_bias.append(float(a.detach()))
        hist.hidden_bias.append(float(c.detach()))
        hist.free_energy_gap.append(float(np.mean(gaps)))
        hist.reconstruction_error.append(float(np.mean(recon)))
    out = ConvSpinRBM(
        L, b, W.detach(), float(a.detach()), float(c.detach()), dtype=dtype, device=device
    )
    return out.canonical(), hist
