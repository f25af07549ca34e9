"""Restricted Boltzmann machines with ±1 (spin) or {0,1} (binary) units.

kadanoff's energy convention (theory.md section 3)::

    E(v, h) = -(sum_ij v_i W_ij h_j + sum_i a_i v_i + sum_j b_j h_j)

so a positive weight favours alignment and reads as an Ising coupling. The paper's
convention (MS 10) has ``(w, c, b)_paper = -(W, a, b)``; see :mod:`kadanoff.rbm.convert`.

All batched methods take tensors of unit values, shape ``(batch, n_visible)`` or
``(batch, n_hidden)`` (any leading axes work), in the model's float dtype, and return
per-sample results. NumPy arrays are accepted and converted.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from .._rng import SeedLike, make_rng, torch_generator
from ..spins import Units, log_2cosh

__all__ = ["RBM", "SpinRBM", "BinaryRBM", "UNIT_TYPES", "rbm_class"]

UNIT_TYPES = tuple(u.value for u in Units)

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _as_float_dtype(dtype: Any) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        out = dtype
    else:
        np_dt = np.dtype(dtype)
        table = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
        if np_dt not in table:
            raise TypeError(f"RBM dtype must be float32 or float64, got {dtype}")
        out = table[np_dt]
    if out not in _FLOAT_DTYPES:
        raise TypeError(f"RBM dtype must be a floating dtype (e.g. torch.float64), got {out}")
    return out


class RBM:
    """Base class: a restricted Boltzmann machine (theory.md section 3, MS 10-13).

    Parameters
    ----------
    n_visible, n_hidden : int
        Layer sizes (positive).
    dtype : torch.dtype
        Floating dtype of the parameters and of all computations (float64 for exact work).
    device : str or torch.device
        Where the parameters live.

    Attributes
    ----------
    weights : Tensor, shape (n_visible, n_hidden)
        ``W`` (kadanoff convention).
    visible_bias : Tensor, shape (n_visible,)
        ``a``.
    hidden_bias : Tensor, shape (n_hidden,)
        ``b``.

    All parameters start at zero. Use :meth:`from_parameters` to set them.
    """

    #: "spin" or "binary"; set by the subclasses.
    units: ClassVar[str] = ""
    #: the value of an "up" unit (+1 for spins, 1 for bits) and of a "down" one.
    up_value: ClassVar[float] = 1.0
    down_value: ClassVar[float] = 0.0
    #: ``s`` in ``p(x = up | field) = sigmoid(s * field)``: 2 for spins, 1 for bits.
    field_scale: ClassVar[float] = 1.0

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ) -> None:
        if type(self) is RBM:
            raise TypeError("RBM is abstract: construct a SpinRBM or a BinaryRBM")
        for name, n in (("n_visible", n_visible), ("n_hidden", n_hidden)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"{name} must be a positive integer, got {n!r}")
        dtype = _as_float_dtype(dtype)
        self.weights = torch.zeros(int(n_visible), int(n_hidden), dtype=dtype, device=device)
        self.visible_bias = torch.zeros(int(n_visible), dtype=dtype, device=device)
        self.hidden_bias = torch.zeros(int(n_hidden), dtype=dtype, device=device)

    # ------------------------------------------------------------------ construction
    @classmethod
    def random(
        cls,
        n_visible: int,
        n_hidden: int,
        *,
        seed: SeedLike,
        weight_scale: float = 0.5,
        bias_scale: float | None = None,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
    ) -> RBM:
        """A machine with independent Gaussian parameters (a test oracle's input).

        ``weights ~ N(0, weight_scale^2)``, biases ``~ N(0, bias_scale^2)`` (default
        ``bias_scale = weight_scale``), drawn in the order weights, visible, hidden biases.
        """
        r = make_rng(seed)
        b = weight_scale if bias_scale is None else bias_scale
        return cls.from_parameters(
            r.normal(scale=weight_scale, size=(n_visible, n_hidden)),
            r.normal(scale=b, size=n_visible),
            r.normal(scale=b, size=n_hidden),
            dtype=dtype,
            device=device,
        )

    @classmethod
    def from_parameters(
        cls,
        weights: Any,
        visible_bias: Any,
        hidden_bias: Any,
        *,
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> RBM:
        """A model with the given parameters (NumPy arrays or tensors, copied).

        ``dtype`` defaults to that of ``weights`` when it is float32/float64, else float32;
        ``device`` defaults to that of ``weights`` when it is a tensor, else "cpu".
        """
        if cls is RBM:
            raise TypeError("RBM is abstract: use SpinRBM.from_parameters or BinaryRBM...")
        if dtype is None:
            wd = weights.dtype if hasattr(weights, "dtype") else np.asarray(weights).dtype
            dtype = torch.float64 if wd in (torch.float64, np.float64) else torch.float32
        dtype = _as_float_dtype(dtype)
        if device is None:
            device = weights.device if isinstance(weights, torch.Tensor) else "cpu"

        def conv(x: Any, name: str) -> torch.Tensor:
            if isinstance(x, torch.Tensor):
                t = x.detach().to(device=device, dtype=dtype).clone()
            else:
                a = np.asarray(x)
                if a.dtype.kind not in "iuf":
                    raise TypeError(f"{name} must be a numeric array, got dtype {a.dtype}")
                t = torch.as_tensor(a.astype(np.float64), device=device).to(dtype).clone()
            return t

        W = conv(weights, "weights")
        a = conv(visible_bias, "visible_bias")
        b = conv(hidden_bias, "hidden_bias")
        if W.ndim != 2:
            raise ValueError(
                f"weights must be 2-D (n_visible, n_hidden), got shape {tuple(W.shape)}"
            )
        nv, nh = W.shape
        if nv < 1 or nh < 1:
            raise ValueError(f"weights must have positive shape, got {tuple(W.shape)}")
        if a.shape != (nv,):
            raise ValueError(
                f"visible_bias has shape {tuple(a.shape)} but weights {tuple(W.shape)} need ({nv},)"
            )
        if b.shape != (nh,):
            raise ValueError(
                f"hidden_bias has shape {tuple(b.shape)} but weights {tuple(W.shape)} need ({nh},)"
            )
        obj = cls.__new__(cls)
        obj.weights, obj.visible_bias, obj.hidden_bias = W, a, b
        return obj

    # ------------------------------------------------------------------ properties
    @property
    def n_visible(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_hidden(self) -> int:
        return int(self.weights.shape[1])

    @property
    def dtype(self) -> torch.dtype:
        return self.weights.dtype

    @property
    def device(self) -> torch.device:
        return self.weights.device

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> RBM:
        """A new model with parameters on ``device`` in ``dtype`` (copies)."""
        return type(self).from_parameters(
            self.weights,
            self.visible_bias,
            self.hidden_bias,
            dtype=dtype or self.dtype,
            device=device or self.device,
        )

    def clone(self) -> RBM:
        """An independent copy (same device and dtype)."""
        return self.to()

    def parameters(self) -> list[torch.Tensor]:
        """``[weights, visible_bias, hidden_bias]`` (the live tensors, not copies)."""
        return [self.weights, self.visible_bias, self.hidden_bias]

    def numpy(self) -> dict[str, np.ndarray]:
        """Parameters as float64 NumPy arrays: ``weights``, ``visible_bias``, ``hidden_bias``."""
        return {
            "weights": self.weights.detach().cpu().to(torch.float64).numpy().copy(),
            "visible_bias": self.visible_bias.detach().cpu().to(torch.float64).numpy().copy(),
            "hidden_bias": self.hidden_bias.detach().cpu().to(torch.float64).numpy().copy(),
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_visible={self.n_visible}, n_hidden={self.n_hidden}, "
            f"dtype={self.dtype}, device={self.device})"
        )

    # ------------------------------------------------------------------ unit helpers
    # Unit-type specific maths of one unit with input ``field`` (the pre-activation f,
    # Boltzmann factor exp(f x)). Subclasses implement these; AIS and the oracle use them.
    @staticmethod
    def unit_log_partition(field: torch.Tensor) -> torch.Tensor:
        """``ln sum_x exp(field * x)`` over the unit values, elementwise."""
        raise NotImplementedError

    @staticmethod
    def unit_mean(field: torch.Tensor) -> torch.Tensor:
        """``E[x]`` of a unit with Boltzmann factor ``exp(field * x)``, elementwise."""
        raise NotImplementedError

    @classmethod
    def unit_probability(cls, field: torch.Tensor) -> torch.Tensor:
        """``p(x = up) = sigmoid(field_scale * field)`` of a unit with Boltzmann factor
        ``exp(field * x)``, elementwise (the one definition of the conditionals ``p(h | v)``,
        ``p(v | h)``; the trainer evaluates it fused, with the same ``field_scale``)."""
        return torch.sigmoid(cls.field_scale * field)

    @classmethod
    def sample_units(cls, field: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Independent unit values with Boltzmann factors ``exp(field * x)``."""
        p = cls.unit_probability(field)
        u = torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device)
        up = (u < p).to(field.dtype)
        if cls.down_value == 0.0:
            return up
        return up * (cls.up_value - cls.down_value) + cls.down_value

    # ------------------------------------------------------------------ input checks
    def _input(self, x: Any, n: int, name: str) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x, dtype=np.float64), device=self.device)
        if x.ndim < 1 or x.shape[-1] != n:
            raise ValueError(
                f"{name} must have shape (batch, {n}) for this {type(self).__name__}, "
                f"got {tuple(x.shape)}"
            )
        if x.dtype != self.dtype or x.device != self.device:
            x = x.to(device=self.device, dtype=self.dtype)
        return x

    def _v(self, v: Any) -> torch.Tensor:
        return self._input(v, self.n_visible, "visible states v")

    def _h(self, h: Any) -> torch.Tensor:
        return self._input(h, self.n_hidden, "hidden states h")

    # ------------------------------------------------------------------ energies
    def energy(self, v: Any, h: Any) -> torch.Tensor:
        """``E(v, h) = -(v W h + a.v + b.h)``, shapes ``(batch, nv), (batch, nh) -> (batch,)``."""
        v, h = self._v(v), self._h(h)
        return -(((v @ self.weights) * h).sum(-1) + v @ self.visible_bias + h @ self.hidden_bias)

    def hidden_field(self, v: Any) -> torch.Tensor:
        """Hidden pre-activations ``b + v W``, shape ``(batch, nv) -> (batch, nh)``."""
        return self.hidden_bias + self._v(v) @ self.weights

    def visible_field(self, h: Any) -> torch.Tensor:
        """Visible pre-activations ``a + W h``, shape ``(batch, nh) -> (batch, nv)``."""
        return self.visible_bias + self._h(h) @ self.weights.T

    def free_energy_visible(self, v: Any) -> torch.Tensor:
        """``H^RBM(v) = -ln Tr_h exp(-E(v, h))`` with its constants (MS 12), ``(batch,)``.

        Spin units: ``-a.v - sum_j ln(2 cosh(b_j + (v W)_j))``; binary units:
        ``-a.v - sum_j ln(1 + exp(b_j + (v W)_j))``.
        """
        v = self._v(v)
        field = self.hidden_bias + v @ self.weights
        return -(v @ self.visible_bias) - self.unit_log_partition(field).sum(-1)

    def free_energy_hidden(self, h: Any) -> torch.Tensor:
        """``H^RBM(h) = -ln Tr_v exp(-E(v, h))`` with its constants (MS 13), ``(batch,)``."""
        h = self._h(h)
        field = self.visible_bias + h @ self.weights.T
        return -(h @ self.hidden_bias) - self.unit_log_partition(field).sum(-1)

    # ------------------------------------------------------------------ conditionals
    def hidden_probability(self, v: Any) -> torch.Tensor:
        """``p(h_j = up | v)``, shape ``(batch, nh)``; spin: ``sigmoid(2 (b + v W))``."""
        return self.unit_probability(self.hidden_field(v))

    def visible_probability(self, h: Any) -> torch.Tensor:
        """``p(v_i = up | h)``, shape ``(batch, nv)``; spin: ``sigmoid(2 (a + W h))``."""
        return self.unit_probability(self.visible_field(h))

    def hidden_mean(self, v: Any) -> torch.Tensor:
        """``E[h | v]``: ``tanh`` (spin) or ``sigmoid`` (binary) of the field, ``(batch, nh)``."""
        return self.unit_mean(self.hidden_field(v))

    def visible_mean(self, h: Any) -> torch.Tensor:
        """``E[v | h]``, shape ``(batch, nv)``."""
        return self.unit_mean(self.visible_field(h))

    # ------------------------------------------------------------------ sampling
    def sample_hidden(self, v: Any, *, generator: torch.Generator | None) -> torch.Tensor:
        """``h ~ p(h | v)``, unit values in the model's dtype, ``(batch, nh)``.

        ``generator``: a ``torch.Generator`` on the model's device, from
        :func:`kadanoff._rng.torch_generator`.
        """
        return self.sample_units(self.hidden_field(v), generator)

    def sample_visible(self, h: Any, *, generator: torch.Generator | None) -> torch.Tensor:
        """``v ~ p(v | h)``, unit values in the model's dtype, ``(batch, nv)``."""
        return self.sample_units(self.visible_field(h), generator)

    def gibbs(
        self, v: Any, k: int = 1, *, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``k`` block Gibbs steps ``v -> h ~ p(h|v) -> v' ~ p(v|h)``.

        Returns ``(v_k, h_k)`` where ``h_k`` is the hidden state from which ``v_k`` was
        drawn, so ``(v_k, h_k)`` is distributed as ``p(v, h)`` at stationarity.
        Shapes ``(batch, nv), (batch, nh)``.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"the number of Gibbs steps k must be a positive integer, got {k!r}")
        v = self._v(v)
        h = self.sample_hidden(v, generator=generator)
        v = self.sample_visible(h, generator=generator)
        for _ in range(int(k) - 1):
            h = self.sample_hidden(v, generator=generator)
            v = self.sample_visible(h, generator=generator)
        return v, h

    def random_visible(self, n: int, *, generator: torch.Generator | None) -> torch.Tensor:
        """``n`` uniformly random visible states, ``(n, nv)``."""
        zero = torch.zeros(n, self.n_visible, dtype=self.dtype, device=self.device)
        return self.sample_units(zero, generator)

    def sample(
        self,
        n: int,
        *,
        n_steps: int = 1000,
        seed: SeedLike = None,
        return_hidden: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``n`` model samples: independent chains from uniform random starts, ``n_steps``
        block Gibbs steps each. Returns ``v`` ``(n, nv)``, or ``(v, h)`` if ``return_hidden``.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"the number of samples n must be a positive integer, got {n!r}")
        g = torch_generator(seed, str(self.device))
        v0 = self.random_visible(int(n), generator=g)
        v, h = self.gibbs(v0, n_steps, generator=g)
        return (v, h) if return_hidden else v

    # ------------------------------------------------------------------ conversions
    def to_units(self, units: str | Units) -> RBM:
        """The RBM with ``units`` and exactly the same distribution under ``x = (s + 1) / 2``
        (a copy when the units are already these)."""
        target = rbm_class(units)
        if isinstance(self, target):
            return self.clone()
        from .convert import binary_to_spin_parameters, spin_to_binary_parameters

        convert = spin_to_binary_parameters if target is BinaryRBM else binary_to_spin_parameters
        W, a, b, _ = convert(self.weights, self.visible_bias, self.hidden_bias)
        return target.from_parameters(W, a, b, dtype=self.dtype, device=self.device)

    def to_spin(self) -> SpinRBM:
        """The ±1-unit RBM with the same distribution (:meth:`to_units`)."""
        return self.to_units(Units.SPIN)  # type: ignore[return-value]

    def to_binary(self) -> BinaryRBM:
        """The {0,1}-unit RBM with the same distribution (:meth:`to_units`)."""
        return self.to_units(Units.BINARY)  # type: ignore[return-value]

    def to_paper_convention(self) -> dict[str, np.ndarray]:
        """The paper's (MS 10) parameters ``w, c, b`` = ``-(W, a, b)`` as float64 arrays."""
        p = self.numpy()
        return {"w": -p["weights"], "c": -p["visible_bias"], "b": -p["hidden_bias"]}


class SpinRBM(RBM):
    """RBM with ±1 units (the physics convention of the paper)."""

    units: ClassVar[str] = Units.SPIN.value
    up_value: ClassVar[float] = 1.0
    down_value: ClassVar[float] = -1.0
    field_scale: ClassVar[float] = 2.0

    @staticmethod
    def unit_log_partition(field: torch.Tensor) -> torch.Tensor:
        """``ln(2 cosh f)`` (:func:`kadanoff.spins.log_2cosh`)."""
        return log_2cosh(field)

    @staticmethod
    def unit_mean(field: torch.Tensor) -> torch.Tensor:
        return torch.tanh(field)


class BinaryRBM(RBM):
    """RBM with {0,1} units (the machine-learning convention; Hinton-Salakhutdinov code)."""

    units: ClassVar[str] = Units.BINARY.value
    up_value: ClassVar[float] = 1.0
    down_value: ClassVar[float] = 0.0

    @staticmethod
    def unit_log_partition(field: torch.Tensor) -> torch.Tensor:
        """``ln(1 + exp f)`` (softplus, stable)."""
        return torch.nn.functional.softplus(field)

    @staticmethod
    def unit_mean(field: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(field)


def rbm_class(units: str | Units) -> type[RBM]:
    """``SpinRBM`` for ``"spin"``, ``BinaryRBM`` for ``"binary"``."""
    return SpinRBM if Units.parse(units) is Units.SPIN else BinaryRBM
