"""RBM training configuration: :class:`TrainConfig`, named presets, schedules, precisions.

Imports neither torch nor numba, so command-line tools can list presets and validate options
cheaply (a test checks that importing this module leaves torch out of ``sys.modules``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ...spins import Units

__all__ = [
    "TrainConfig",
    "PRESETS",
    "DEFAULT_PRESET",
    "DTYPES",
    "PRECISIONS",
    "get_preset",
    "check_precision",
    "learning_rate_at",
    "momentum_at",
]

#: float dtypes of training buffers and master weights
DTYPES = ("float32", "float64")
#: arithmetic precisions of training (see :mod:`kadanoff.rbm.precision`)
PRECISIONS = ("float32", "float64", "bf16-mixed", "auto")


def _dtype_name(dtype: Any) -> str:
    name = str(dtype).removeprefix("torch.")
    if name in DTYPES:
        return name
    if type(dtype).__module__ == "torch":  # a torch.dtype, without importing torch
        raise ValueError(f"unsupported dtype {dtype}: use float32 or float64")
    raise ValueError(f"unsupported dtype {dtype!r}: use 'float32' or 'float64'")


def check_precision(precision: str | None, dtype: str) -> tuple[str | None, str]:
    """Validated ``(precision, dtype)`` of a training config.

    ``None`` (kept as is) means "as ``dtype``"; ``float32``/``float64`` set the dtype;
    ``bf16-mixed`` and ``auto`` need float32 master weights. A float64 ``dtype`` with another
    precision is refused (ambiguous).
    """
    if precision is None:
        return None, dtype
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if dtype == "float64" and precision != "float64":
        raise ValueError(
            f"precision={precision!r} conflicts with dtype='float64': give one of them "
            "(bf16-mixed and auto keep float32 master weights)"
        )
    return precision, ("float64" if precision == "float64" else "float32")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of RBM training (immutable; stored verbatim in saved models).

    Parameters
    ----------
    epochs : passes over the data; each uses ``n // batch_size`` full mini-batches of a fresh
        seeded permutation (the remainder, different every epoch, is skipped).
    batch_size : samples per mini-batch.
    learning_rate, lr_schedule, final_learning_rate : step size at epoch ``e`` is constant,
        ``"linear"`` from ``learning_rate`` towards ``final_learning_rate`` (default 0, reached
        at ``e = epochs``), or ``"exponential"`` (geometric towards ``final_learning_rate``,
        default ``learning_rate / 100``).
    momentum, initial_momentum, momentum_epochs : momentum ``initial_momentum`` for the first
        ``momentum_epochs`` epochs, then ``momentum`` (HS: 0.5 for 5 epochs, then 0.9).
        ``initial_momentum=None`` uses ``momentum`` throughout.
    cd_k : block-Gibbs steps of the negative phase.
    persistent, n_chains : persistent CD with ``n_chains`` chains (default ``batch_size``).
    l1, l2 : penalties on the weights only (never biases): ``l2 * W`` and ``l1 * sign(W)``
        are subtracted from the ascent direction.
    l1_method : ``"subgradient"`` (default; as the paper and HS code: ``l1 * sign(W)`` enters
        the momentum update) or ``"proximal"`` (soft-threshold ``W`` by ``lr * l1`` after each
        step; gives exact zeros).
    init, init_std : ``"normal"`` weights N(0, init_std^2) (HS: 0.01) or ``"xavier"``
        (N(0, 2 / (n_visible + n_hidden))). Biases start at 0.
    init_visible_bias_from_data : start ``a`` at the independent-unit fit of the data
        marginals (``atanh <v_i>`` for spins, ``logit <x_i>`` for bits).
    sample_positive_hidden : use sampled (HS) rather than mean hidden units in the data term.
    sample_negative_visible : sample the reconstruction (the exact Gibbs chain; default) or use
        visible means (HS: "reconstructions as probabilities").
    units : ``"spin"`` (±1) or ``"binary"`` ({0,1}); used when ``train_rbm`` builds the model.
    dtype, device : torch dtype name and device of the training buffers.
    precision : ``None`` (default: as ``dtype``), ``"float32"``, ``"float64"`` (these set
        ``dtype``), ``"bf16-mixed"`` (bfloat16 operands for the three products of a CD step,
        float32 accumulation, master weights, momentum and biases) or ``"auto"`` (bf16-mixed
        only when a start-up probe of the run's shapes finds bf16 products >= 1.5x faster
        than float32; see :mod:`kadanoff.rbm.precision`). The choice and the probe's timings
        are recorded in the checkpoint (``precision``) and :attr:`TrainResult.precision`.
    monitor_size : samples used for the per-epoch metrics (the first ones of the data set).
    seed : default seed when ``train_rbm`` is called without one.
    """

    epochs: int = 100
    batch_size: int = 100
    learning_rate: float = 0.05
    lr_schedule: Literal["constant", "linear", "exponential"] = "constant"
    final_learning_rate: float | None = None
    momentum: float = 0.9
    initial_momentum: float | None = 0.5
    momentum_epochs: int = 5
    cd_k: int = 1
    persistent: bool = False
    n_chains: int | None = None
    l1: float = 0.0
    l2: float = 0.0
    l1_method: Literal["subgradient", "proximal"] = "subgradient"
    init: Literal["normal", "xavier"] = "normal"
    init_std: float = 0.01
    init_visible_bias_from_data: bool = False
    sample_positive_hidden: bool = False
    sample_negative_visible: bool = True
    units: Literal["spin", "binary"] = "spin"
    dtype: str = "float32"
    device: str = "cpu"
    monitor_size: int = 1000
    seed: int | None = None
    precision: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", _dtype_name(self.dtype))
        precision, dtype = check_precision(self.precision, self.dtype)
        object.__setattr__(self, "precision", precision)
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "device", str(self.device))
        for name in ("epochs", "batch_size", "cd_k", "monitor_size"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.momentum_epochs < 0:
            raise ValueError(f"momentum_epochs must be >= 0, got {self.momentum_epochs}")
        if self.n_chains is not None and self.n_chains < 1:
            raise ValueError(f"n_chains must be a positive integer, got {self.n_chains}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.final_learning_rate is not None and not self.final_learning_rate >= 0:
            raise ValueError(f"final_learning_rate must be >= 0, got {self.final_learning_rate}")
        if self.lr_schedule not in ("constant", "linear", "exponential"):
            raise ValueError(
                f"lr_schedule must be 'constant', 'linear' or 'exponential', "
                f"got {self.lr_schedule!r}"
            )
        if self.lr_schedule == "exponential" and self.final_learning_rate == 0:
            raise ValueError("an exponential schedule needs final_learning_rate > 0")
        for name in ("momentum", "initial_momentum"):
            v = getattr(self, name)
            if v is not None and not 0 <= v < 1:
                raise ValueError(f"{name} must lie in [0, 1), got {v}")
        for name in ("l1", "l2", "init_std"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a non-negative number, got {v}")
        if self.l1_method not in ("subgradient", "proximal"):
            raise ValueError(
                f"l1_method must be 'subgradient' or 'proximal', got {self.l1_method!r}"
            )
        if self.init not in ("normal", "xavier"):
            raise ValueError(f"init must be 'normal' or 'xavier', got {self.init!r}")
        try:
            object.__setattr__(self, "units", Units(self.units).value)
        except ValueError:
            raise ValueError(f"units must be 'spin' or 'binary', got {self.units!r}") from None

    @property
    def torch_dtype(self) -> Any:
        """The ``torch.dtype`` named by :attr:`dtype` (imports torch)."""
        import torch

        return getattr(torch, self.dtype)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(
                f"unknown TrainConfig fields {sorted(unknown)}; known: {sorted(names)}"
            )
        return cls(**d)


#: Named recipes. ``"spin"`` is the default: ±1 units, CD-1, batch 100, learning rate 0.05
#: decaying linearly to 0 over 30 epochs, momentum 0.5, visible biases started at the data
#: marginals. (Tried on the K = 0.5 ring and 16 x 16 Ising data at K = 0.408: PCD, and
#: momentum 0.9 with PCD, were unstable on the 2D data at this rate; this recipe gave exact
#: KL ~0.004 on the ring.) ``"hinton-salakhutdinov"`` is the HS code's recipe (theory.md
#: section 6) including its weight cost 2e-4 as an L2 penalty; ``"mehta-schwab"`` is that
#: recipe with the paper's L1 penalty 2e-4 instead and 200 epochs.
PRESETS: dict[str, TrainConfig] = {
    "spin": TrainConfig(
        epochs=30,
        batch_size=100,
        learning_rate=0.05,
        lr_schedule="linear",
        final_learning_rate=0.0,
        momentum=0.5,
        initial_momentum=None,
        cd_k=1,
        persistent=False,
        init="normal",
        init_std=0.01,
        init_visible_bias_from_data=True,
        units="spin",
    ),
    "hinton-salakhutdinov": TrainConfig(
        epochs=50,
        batch_size=100,
        learning_rate=0.1,
        momentum=0.9,
        initial_momentum=0.5,
        momentum_epochs=5,
        cd_k=1,
        l2=2e-4,
        init="normal",
        init_std=0.01,
        sample_positive_hidden=True,
        sample_negative_visible=False,
        units="binary",
    ),
}
PRESETS["mehta-schwab"] = PRESETS["hinton-salakhutdinov"].replace(epochs=200, l1=2e-4, l2=0.0)
DEFAULT_PRESET = "spin"


def get_preset(name: str = DEFAULT_PRESET, **changes: Any) -> TrainConfig:
    """The named preset of :data:`PRESETS`, with optional field changes."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name].replace(**changes) if changes else PRESETS[name]


def learning_rate_at(config: TrainConfig, epoch: int) -> float:
    """Learning rate used during ``epoch`` (0-based) under ``config.lr_schedule``."""
    lr = config.learning_rate
    t = epoch / config.epochs
    if config.lr_schedule == "linear":
        final = 0.0 if config.final_learning_rate is None else config.final_learning_rate
        return lr + (final - lr) * t
    if config.lr_schedule == "exponential":
        final = lr / 100 if config.final_learning_rate is None else config.final_learning_rate
        return lr * (final / lr) ** t
    return lr


def momentum_at(config: TrainConfig, epoch: int) -> float:
    """Momentum used during ``epoch`` (0-based)."""
    if config.initial_momentum is not None and epoch < config.momentum_epochs:
        return config.initial_momentum
    return config.momentum
