"""Training RBMs by contrastive divergence (CD-k) and persistent CD (theory.md sections 3, 6).

Training minimizes ``KL(P || p_lambda)`` (MS 14). In kadanoff's energy convention
``E(v, h) = -(v W h + a.v + b.h)`` the ascent direction is

    dW_ij = <v_i h_j>_data - <v_i h_j>_model,   da_i = <v_i>_data - <v_i>_model,
    db_j  = <h_j>_data - <h_j>_model,

where in the data term ``h`` is drawn from ``p(h | v)`` (we use its mean, ``tanh`` of the
field for spin units and ``sigmoid`` for {0,1} units, unless ``sample_positive_hidden``),
with ``p(h_j = up | v) = sigmoid(2 field)`` for spins (theory.md section 3),
and the model term comes from ``cd_k`` block-Gibbs steps started at the data (CD-k) or from
persistent chains carried across updates (PCD). The model term uses the hidden *means* given
the final visible state (Rao-Blackwellized, no extra noise).

The inner loop keeps all parameters in one augmented matrix ``P = [[W, a], [b^T, 0]]``
(momentum buffer alike, one in-place update for all) with row strides padded to 16
elements. Visible and hidden batches live in preallocated buffers ``V = [v0; vk | 1]`` and
``H = [h0; -(B/C) hk | 1; -(B/C)]`` so that the positive and negative statistics are one
fused GEMM ``[v0, 1; vk, 1]^T [h0, 1; -hk, -1]`` (weights and both bias sums at once)
accumulated straight into the momentum buffer (``beta`` = momentum), then one contiguous
pass ``P += velocity``. Fields are ``addmm`` with the spin factor 2 folded into ``alpha`` (the
visible bias via the ones column of ``[h, 1]``). On CPU a compiled kernel draws each layer's
samples in one vectorized pass from a counter-based hash (the hidden data term's mean in
the same pass); elsewhere samples are drawn branch-free from one ``torch.rand`` per layer.
All ops are in place, the per-step views are made once, and there is no host
synchronization inside an epoch. Small CPU problems run on one thread (see
:data:`SINGLE_THREAD_BELOW`).

Randomness: every epoch draws from its own stream derived from ``(seed, epoch)``, so a run
resumed from a checkpoint after epoch ``e`` is bit-for-bit the run done in one go (same
device, same number of threads). On CPU the unit samples use uniforms on multiples of
``2^-24`` (float32; ``2^-31`` for float64) hashed from a per-epoch key and the unit's
(row, column) position, independent of the thread count. Each epoch uses
``n // batch_size`` full mini-batches of a fresh permutation. Precision: float32 by default;
``precision="bf16-mixed"`` (bf16 products, float32 master weights: :mod:`kadanoff.rbm.mixed`)
or ``"auto"`` (bf16-mixed where a start-up probe finds it >= 1.5x faster:
:mod:`kadanoff.rbm.precision`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import torch
from numba import njit

from .._rng import SeedLike, fresh_seed, seed_sequence, torch_generator
from ..kernels.counter_hash import GOLDEN as _GOLDEN
from ..kernels.counter_hash import U32 as _U32
from ..kernels.counter_hash import hash32 as _hash32
from ..kernels.counter_hash import mix64 as _mix64
from ..kernels.counter_hash import split as _split

if TYPE_CHECKING:
    from .model import RBM

__all__ = [
    "TrainConfig",
    "TrainResult",
    "PRESETS",
    "get_preset",
    "train_rbm",
    "cd_gradient",
    "prepare_data",
    "Callback",
    "ExactKL",
    "EarlyStopping",
    "Checkpoint",
    "load_checkpoint",
    "learning_rate_at",
    "momentum_at",
]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _dtype_name(dtype: str | torch.dtype) -> str:
    if isinstance(dtype, torch.dtype):
        for k, v in _DTYPES.items():
            if v == dtype:
                return k
        raise ValueError(f"unsupported dtype {dtype}: use float32 or float64")
    name = str(dtype).removeprefix("torch.")
    if name not in _DTYPES:
        raise ValueError(f"unsupported dtype {dtype!r}: use 'float32' or 'float64'")
    return name


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
        from .precision import check_precision

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
        if self.units not in ("spin", "binary"):
            raise ValueError(f"units must be 'spin' or 'binary', got {self.units!r}")

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
    "mehta-schwab": TrainConfig(
        epochs=200,
        batch_size=100,
        learning_rate=0.1,
        momentum=0.9,
        initial_momentum=0.5,
        momentum_epochs=5,
        cd_k=1,
        l1=2e-4,
        init="normal",
        init_std=0.01,
        sample_positive_hidden=True,
        sample_negative_visible=False,
        units="binary",
    ),
}
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


# ----------------------------------------------------------------------------- callbacks
class Callback(Protocol):
    """Called after every epoch; may add entries to ``metrics``; return True to stop."""

    def on_epoch_end(self, epoch: int, model: RBM, metrics: dict[str, Any]) -> bool | None: ...


class ExactKL:
    """Adds the exact ``kl`` = KL(P || p) and ``log_likelihood`` = sum_v P(v) ln p(v) (nats).

    ``p_data`` has shape ``(2^n_visible,)`` in :func:`kadanoff.spins.all_states` order
    (for binary units the same order with ``x = (s + 1) / 2``). Enumeration: small models only.
    """

    def __init__(self, p_data: np.ndarray, every: int = 1) -> None:
        p = np.asarray(p_data, dtype=np.float64)
        if p.ndim != 1 or np.any(p < 0) or not np.isclose(p.sum(), 1.0, atol=1e-9):
            raise ValueError("p_data must be a 1D probability vector over all visible states")
        self.p_data = p
        self.every = int(every)
        nz = p > 0
        self._entropy = float(-np.sum(p[nz] * np.log(p[nz])))

    def on_epoch_end(self, epoch: int, model: RBM, metrics: dict[str, Any]) -> bool:
        if (epoch + 1) % self.every == 0:
            from .exact import kl_divergence

            kl = float(kl_divergence(self.p_data, model))
            metrics["kl"] = kl
            metrics["log_likelihood"] = -kl - self._entropy
        return False


class EarlyStopping:
    """Stop when ``metric`` has not improved for ``patience`` epochs.

    ``mode="min"`` (default for ``kl`` and ``reconstruction_error``) or ``"max"``.
    """

    def __init__(
        self,
        metric: str,
        patience: int = 5,
        mode: Literal["min", "max"] | None = None,
        min_delta: float = 0.0,
    ) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        if mode is None:
            mode = "max" if "likelihood" in metric else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.metric, self.patience, self.mode, self.min_delta = metric, patience, mode, min_delta
        self.best = math.inf if mode == "min" else -math.inf
        self.bad_epochs = 0

    def on_epoch_end(self, epoch: int, model: RBM, metrics: dict[str, Any]) -> bool:
        if self.metric not in metrics:
            raise ValueError(
                f"EarlyStopping: metric {self.metric!r} not computed; available: {sorted(metrics)}"
                " (put the callback that computes it, e.g. ExactKL, before EarlyStopping)"
            )
        v = float(metrics[self.metric])
        better = (
            v < self.best - self.min_delta if self.mode == "min" else v > self.best + self.min_delta
        )
        if better:
            self.best, self.bad_epochs = v, 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience


class Checkpoint:
    """Write a resumable checkpoint after every ``every`` epochs, atomically.

    ``DIR/checkpoint.safetensors`` holds the parameters, the momentum buffer and the
    persistent chains; its metadata header (also written to ``DIR/checkpoint.json`` for
    people) holds the epoch, history, config and seed. The safetensors file alone is
    authoritative, so a kill between the two writes loses nothing. Resume with
    :func:`load_checkpoint` and ``train_rbm(..., start_epoch=, optimizer_state=)``.
    """

    def __init__(self, directory: str | Path, every: int = 1, extra: dict[str, Any] | None = None):
        self.directory = Path(directory)
        self.every = int(every)
        self.extra = dict(extra or {})
        self._trainer: _Trainer | None = None

    def on_train_begin(self, trainer: _Trainer) -> None:
        self._trainer = trainer

    def on_epoch_end(self, epoch: int, model: RBM, metrics: dict[str, Any]) -> bool:
        done = epoch + 1
        t = self._trainer
        if t is None:
            raise RuntimeError(
                "Checkpoint must be passed to train_rbm (it needs the trainer state)"
            )
        if done % self.every == 0 or done == t.config.epochs:
            history = [*t.history, metrics]
            extra = {**self.extra, "finished": done == t.config.epochs}
            write_checkpoint(self.directory, t, epochs_done=done, history=history, extra=extra)
        return False


@functools.lru_cache(maxsize=1)
def _environment() -> dict[str, Any]:
    from ..io import environment_info

    return environment_info()  # runs git once per process, not once per epoch


def write_checkpoint(
    directory: Any,
    trainer: _Trainer,
    *,
    epochs_done: int,
    history: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``checkpoint.safetensors`` (+ ``checkpoint.json``) for ``trainer`` atomically."""
    import json

    from safetensors.torch import save_file

    from ..io import atomic_path, to_json, write_text

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = trainer.state_dict()
    meta = {
        "format": "kadanoff-rbm-checkpoint",
        "version": 1,
        "epochs_done": epochs_done,
        "units": trainer.units,
        "n_visible": trainer.nv,
        "n_hidden": trainer.nh,
        "seed": _jsonable_entropy(trainer.seed_entropy),
        "config": trainer.config.to_dict(),
        "history": history,
        "extra": extra or {},
        "precision": trainer.precision_info,
        "environment": _environment(),
    }
    text = to_json(meta)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    with atomic_path(directory / "checkpoint.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"kadanoff": text})
    write_text(directory / "checkpoint.json", json.dumps(json.loads(text), indent=2) + "\n")


def load_checkpoint(directory: Any) -> dict[str, Any] | None:
    """Read ``DIR/checkpoint.safetensors``; ``None`` when there is none.

    Returns a dict with ``model`` (the RBM at the end of the last finished epoch),
    ``start_epoch`` (epochs done), ``optimizer_state`` (for :func:`train_rbm`), ``history``,
    ``config`` (:class:`TrainConfig`), ``seed`` and ``extra``.
    """
    import json

    from safetensors import safe_open

    from ..io import FileFormatError

    path = Path(directory) / "checkpoint.safetensors"
    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        meta = json.loads(header["kadanoff"])
    except Exception as e:
        raise FileFormatError(f"{path} is not a readable kadanoff checkpoint ({e})") from e
    if meta.get("format") != "kadanoff-rbm-checkpoint":
        raise FileFormatError(f"{path} is not a kadanoff RBM checkpoint")
    nv, nh = meta["n_visible"], meta["n_hidden"]
    P = tensors["augmented_parameters"]
    model = _make_model(
        meta["units"], P[:nv, :nh], P[:nv, nh], P[nv, :nh], dtype=P.dtype, device="cpu"
    )
    return {
        "model": model,
        "start_epoch": int(meta["epochs_done"]),
        "optimizer_state": {k: v for k, v in tensors.items() if k != "augmented_parameters"},
        "history": meta["history"],
        "config": TrainConfig.from_dict(meta["config"]),
        "seed": meta["seed"],
        "extra": meta.get("extra", {}),
        "precision": meta.get("precision"),
    }


# ----------------------------------------------------------------------------- helpers
def _make_model(units: str, W: Any, a: Any, b: Any, *, dtype: Any, device: Any) -> RBM:
    from .model import BinaryRBM, SpinRBM

    cls = SpinRBM if units == "spin" else BinaryRBM
    return cls.from_parameters(W, a, b, dtype=dtype, device=device)


def prepare_data(
    data: Any, n_visible: int | None, units: str, *, dtype: torch.dtype, device: Any
) -> torch.Tensor:
    """Validate and convert ``data`` to a contiguous ``(n, n_visible)`` tensor of unit values.

    Accepts ``(n, n_visible)`` or ``(n, *shape)`` arrays/tensors (flattened). Spin units need
    values in [-1, 1] (±1 data, or means for upper DBN layers); {0,1} bits are refused with a
    hint. Binary units need values in [0, 1]; ±1 spin data is converted with ``x = (s+1)/2``
    (as :func:`kadanoff.spins.spin_to_binary`).
    """
    x = data if isinstance(data, torch.Tensor) else torch.from_numpy(np.asarray(data))
    if x.ndim < 2:
        raise ValueError(f"data must have shape (n_samples, n_visible), got shape {tuple(x.shape)}")
    x = x.reshape(x.shape[0], -1)
    if n_visible is not None and x.shape[1] != n_visible:
        raise ValueError(
            f"data has {x.shape[1]} visible units per sample but the RBM has {n_visible}"
        )
    if x.shape[0] == 0:
        raise ValueError("data is empty")
    if x.dtype == torch.bool:
        x = x.to(torch.int8)
    if x.is_complex():
        raise ValueError("data must be real-valued")
    lo, hi = float(x.min()), float(x.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("data contains NaN or infinite values")
    if units == "spin":
        if lo < -1 or hi > 1:
            raise ValueError(f"spin-unit data must lie in [-1, 1] (found range [{lo}, {hi}])")
        if lo >= 0 and bool((x == 0).any()):
            raise ValueError(
                "data looks like {0,1} bits but the RBM has ±1 spin units: convert with "
                "kadanoff.spins.binary_to_spin, or train a BinaryRBM (units='binary')"
            )
    else:
        if lo < 0:
            if not bool(((x == 1) | (x == -1)).all()):
                raise ValueError(
                    f"binary-unit data must lie in [0, 1] (or be ±1 spins; found [{lo}, {hi}])"
                )
            x = (x.to(torch.float64) + 1) / 2  # x = (s + 1) / 2, as kadanoff.spins.spin_to_binary
        elif hi > 1:
            raise ValueError(f"binary-unit data must lie in [0, 1] (found range [{lo}, {hi}])")
    return x.to(device=device, dtype=dtype).contiguous()


_S1 = np.uint32(1)
_S8 = np.uint32(8)
_INV24 = np.float32(2.0**-24)
_INV31 = 2.0**-31


@njit(cache=True)
def _bernoulli32(p, out, row0, mean, mrow0, scale, shift, key, ctr, up, down):  # pragma: no cover
    """``out[row0 + r, c] = up if u < p[r, c] else down`` (float32), ``u`` uniform on 2^-24.

    ``u`` comes from the counter-based hash of :mod:`kadanoff.ising.samplers.checkerboard`
    (``lowbias32`` twice, seeded per row by splitmix64 of ``key`` and row ``ctr + r``). If
    ``mrow0 >= 0`` also ``mean[mrow0 + r, c] = scale p + shift``. ``out`` and ``mean`` are
    the C-contiguous padded buffers (rows offset by ``row0``, ``mrow0``), so the inner loop
    is contiguous and vectorizes (8 lanes).
    """
    n, m = p.shape
    for r in range(n):
        lo, hi = _split(_mix64(key + np.uint64(ctr + r) * _GOLDEN))
        if mrow0 >= 0:
            for c in range(m):
                x = p[r, c]
                u = np.float32(np.int32(_hash32(lo, hi, _U32(c)) >> _S8)) * _INV24
                out[row0 + r, c] = up if u < x else down
                mean[mrow0 + r, c] = x * scale + shift
        else:
            for c in range(m):
                u = np.float32(np.int32(_hash32(lo, hi, _U32(c)) >> _S8)) * _INV24
                out[row0 + r, c] = up if u < p[r, c] else down


@njit(cache=True)
def _bernoulli64(p, out, row0, mean, mrow0, scale, shift, key, ctr, up, down):  # pragma: no cover
    """As :func:`_bernoulli32` for float64, ``u`` uniform on multiples of 2^-31."""
    n, m = p.shape
    for r in range(n):
        lo, hi = _split(_mix64(key + np.uint64(ctr + r) * _GOLDEN))
        for c in range(m):
            x = p[r, c]
            u = np.float64(np.int32(_hash32(lo, hi, _U32(c)) >> _S1)) * _INV31
            out[row0 + r, c] = up if u < x else down
            if mrow0 >= 0:
                mean[mrow0 + r, c] = x * scale + shift


@njit(cache=True)
def _affine(p, out, row0, scale, shift):  # pragma: no cover
    """``out[row0 + r, c] = scale p[r, c] + shift`` (``out`` a padded C-contiguous buffer)."""
    n, m = p.shape
    for r in range(n):
        for c in range(m):
            out[row0 + r, c] = p[r, c] * scale + shift


class _Stream:
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


def _as_stream(g: torch.Generator | _Stream) -> _Stream:
    return g if isinstance(g, _Stream) else _Stream(g)


def _padded(n: int, multiple: int = 16) -> int:
    """``n`` rounded up to a multiple (aligned rows make the GEMMs faster)."""
    return -(-n // multiple) * multiple


class _Trainer:
    """CD-k / PCD inner loop on the augmented parameter matrix (see module docstring).

    Unit probabilities are ``p = sigmoid(s * field)`` with ``s = 2`` for spins and 1 for
    bits (the factor is folded into the GEMM's ``alpha``); means are ``2p - 1`` or ``p``;
    samples are up where ``u <= p``, ``u`` uniform in [0, 1). ``mixed``: bf16 products
    (the subclass :class:`kadanoff.rbm.mixed.MixedTrainer`).
    """

    mixed = False

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
        self.spin = self.units == "spin"
        self.scale = 2.0 if self.spin else 1.0
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
        nvp, nhp = _padded(nv + 1), _padded(nh + 1)
        kw: dict[str, Any] = {"dtype": self.dtype, "device": self.device}
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
        self._V_b = torch.ones(B + C, nvp, **kw)
        self.V = self._V_b[:, : nv + 1]
        self._H_b = torch.empty(B + C, nhp, **kw)
        self.H = self._H_b[:, : nh + 1]
        self.H[:B, nh] = 1.0
        self.neg_scale = -B / C
        self.H[B:, nh] = self.neg_scale
        self._Hs_b = torch.ones(M, nhp, **kw)
        self.Hs = self._Hs_b[:, : nh + 1]  # hidden samples (+ ones column)
        self.Fh = torch.empty(M, nh, **kw)
        self.Fv = torch.empty(M, nv, **kw)
        cpu = self.device.type == "cpu"  # uniforms come from a hash there (see _Stream)
        self.Uh = torch.empty(0 if cpu else M, nh, **kw)
        self.Uv = torch.empty(0 if cpu else M, nv, **kw)
        self._np_dtype = np.float32 if self.dtype == torch.float32 else np.float64
        self._kernel = _bernoulli32 if self.dtype == torch.float32 else _bernoulli64
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
                self._np[id(t)] = t.numpy()
            # load the compiled kernels now (~0.5 s once per process), not inside an epoch
            f, x = self._np_dtype, np.zeros((1, 1), dtype=self._np_dtype)
            self._kernel(x, x, 0, x, 0, f(1), f(0), np.uint64(0), 0, f(1), f(0))
            _affine(x, x, 0, f(1), f(0))
        self.one = torch.ones((), **kw)
        self.half = torch.full((), 0.5, **kw)
        self.sign_buf = torch.empty(nv, nh, **kw)
        self.chains: torch.Tensor | None = None  # persistent hidden samples (C, nh + 1)
        self._chains_b: torch.Tensor | None = None

    # -- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        s = {"augmented_parameters": self.P, "velocity": self.velocity}
        if self.chains is not None:
            s["chains"] = self.chains
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
        kw: dict[str, Any] = {"dtype": self.dtype, "device": self.device}
        self._chains_b = torch.ones(self.C, _padded(self.nh + 1), **kw)
        self.chains = self._chains_b[:, : self.nh + 1]
        if self.device.type == "cpu":
            self._np[id(self._chains_b)] = self._chains_b.numpy()
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
        s: _Stream,
        mean: torch.Tensor | None = None,
        mean_row0: int = 0,
    ) -> None:
        """``dest[row0 + r, c] <- up where u < p[r, c] else down``, ``u`` uniform in [0, 1).

        ``p`` is C-contiguous (n, m), ``dest`` a padded C-contiguous buffer. With ``mean``,
        also ``mean[mean_row0 + r, c] <- E[unit]`` (``2p - 1`` or ``p``) in the same pass.
        Elsewhere than on CPU: ``u`` from ``torch.rand`` into ``U`` (overwritten), then
        branch-free ``copysign(1, p - u)`` (+1 exactly when ``u <= p``), for bits
        ``copysign(1/2, p - u) + 1/2``.
        """
        n, m = p.shape
        if s.generator is None:
            f, arr = self._np_dtype, self._array
            scale, shift, down = (2.0, -1.0, -1.0) if self.spin else (1.0, 0.0, 0.0)
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
                f(1.0),
                f(down),
            )
            s.row += n
            return
        out = dest[row0 : row0 + n, :m]
        torch.rand(U.shape, generator=s.generator, out=U, dtype=U.dtype, device=U.device)
        torch.sub(p, U, out=U)
        if self.spin:
            torch.copysign(self.one, U, out=out)
        else:
            torch.copysign(self.half, U, out=out).add_(0.5)
        if mean is not None:
            self._mean(p, mean[mean_row0 : mean_row0 + n, :m])

    def _array(self, t: torch.Tensor) -> np.ndarray:
        a = self._np.get(id(t))
        return t.numpy() if a is None else a

    def _mean(self, p: torch.Tensor, out: torch.Tensor, factor: float = 1.0) -> None:
        """``out <- factor * E[unit]`` (``2p - 1`` for spins, ``p`` for bits)."""
        if self.spin:
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
        self._sample(p, self._chains_b, 0, self.Uh[:C], _as_stream(g))

    # -- one gradient estimate -----------------------------------------------------------
    def statistics(self, v0: torch.Tensor, g: torch.Generator | _Stream) -> torch.Tensor:
        """``V^T H`` for the batch ``v0`` (B, nv): B x the ascent direction, augmented.

        Block ``[:nv, :nh]`` holds ``sum v h`` differences, column ``nh`` the visible-bias and
        row ``nv`` the hidden-bias statistics (each: data sum minus (B/C) x model sum).
        """
        self._phases(v0, g)
        return self.V.t() @ self.H

    def _phases(self, v0: torch.Tensor, g: torch.Generator | _Stream) -> None:
        """Fill ``V = [v0, 1; vk, 1]`` and ``H = [h0, 1; -(B/C) hk, -(B/C)]``."""
        s = _as_stream(g)
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

    def _negative_hidden_mean(self, ph: torch.Tensor, s: _Stream) -> None:
        """``H[B:, :nh] <- -(B/C) E[h | vk]`` from the probabilities ``ph`` (C, nh)."""
        ns = self.neg_scale
        if s.generator is None:
            f = self._np_dtype
            scale, shift = (2.0 * ns, -ns) if self.spin else (ns, 0.0)
            _affine(self._array(ph), self._array(self._H_b), self.B, f(scale), f(shift))
        else:
            self._mean(ph, self._Hneg, ns)

    def step(
        self, v0: torch.Tensor, g: torch.Generator | _Stream, lr: float, momentum: float
    ) -> None:
        """One parameter update from the batch ``v0`` (momentum on the increment, as HS)."""
        cfg = self.config
        self._phases(v0, g)
        # velocity <- momentum velocity + (lr/B) [v0, 1; vk, 1]^T [h0, 1; -(B/C) hk, -(B/C)]:
        # weights and both bias sums in one GEMM written straight into the velocity buffer
        # (its corner, sum of the ones columns' products, is 0 up to rounding: kept at 0)
        self.velocity.addmm_(self._V_T, self.H, beta=momentum, alpha=lr / self.B)
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

    def epoch(self, data: torch.Tensor, perm_buf: torch.Tensor, epoch: int) -> None:
        cfg = self.config
        rng, g = self.epoch_streams(epoch)
        n = data.shape[0]
        perm = torch.from_numpy(rng.permutation(n)).to(self.device)
        torch.index_select(data, 0, perm, out=perm_buf)
        lr, mom = learning_rate_at(cfg, epoch), momentum_at(cfg, epoch)
        B, s = self.B, _Stream(g)
        for i in range(n // B):
            self.step(perm_buf[i * B : (i + 1) * B], s, lr, mom)

    def epoch_streams(self, epoch: int) -> tuple[np.random.Generator, torch.Generator]:
        ss = _child(self.seed_seq, 1, epoch)
        rng = np.random.Generator(np.random.PCG64(ss))
        return rng, torch_generator(rng, str(self.device))


def _child(ss: np.random.SeedSequence, *key: int) -> np.random.SeedSequence:
    """A deterministic independent child stream of ``ss`` named by ``key``."""
    return np.random.SeedSequence(entropy=ss.entropy, spawn_key=(*ss.spawn_key, *key))


def _as_seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    return seed_sequence(seed)


# ----------------------------------------------------------------------------- metrics
@torch.no_grad()
def _epoch_metrics(model: RBM, monitor: torch.Tensor, g: torch.Generator) -> dict[str, float]:
    """Reconstruction error (mean-field, per unit) and stochastic pseudo-log-likelihood."""
    v = monitor
    rec = model.visible_mean(model.hidden_mean(v))
    err = float(((v - rec) ** 2).mean())
    # PL: n_visible * ln p(v_i | v_-i) for one random site i per sample
    n, nv = v.shape
    idx = torch.randint(0, nv, (n,), generator=g, device=v.device)
    flipped = v.clone()
    rows = torch.arange(n, device=v.device)
    if model.units == "spin":
        flipped[rows, idx] = -flipped[rows, idx]
    else:
        flipped[rows, idx] = 1 - flipped[rows, idx]
    d = model.free_energy_visible(flipped) - model.free_energy_visible(v)
    pl = float((nv * torch.nn.functional.logsigmoid(d.to(torch.float64))).mean())
    return {"reconstruction_error": err, "pseudo_log_likelihood": pl}


# ----------------------------------------------------------------------------- API
@dataclass
class TrainResult:
    """Outcome of :func:`train_rbm`.

    ``history`` has one dict per finished epoch (``epoch`` 1-based, ``learning_rate``,
    ``momentum``, ``reconstruction_error``, ``pseudo_log_likelihood``, ``time`` of the epoch
    in s, plus whatever callbacks add, e.g. ``kl``). ``optimizer_state`` resumes training.
    ``precision``: ``{"requested", "used"[, "threshold", "probe"]}`` (see
    :func:`kadanoff.rbm.precision.resolve_precision`).
    """

    model: RBM
    history: list[dict[str, Any]]
    config: TrainConfig
    seed: int | list[int]
    epochs_done: int
    stopped_early: bool = False
    optimizer_state: dict[str, torch.Tensor] = field(default_factory=dict)
    precision: dict[str, Any] = field(default_factory=dict)


def _initial_model(
    rbm_or_sizes: Any, data: torch.Tensor | None, config: TrainConfig, ss: np.random.SeedSequence
) -> RBM:
    from .model import RBM as _RBM

    dtype = _DTYPES[config.dtype]
    if isinstance(rbm_or_sizes, _RBM):
        return rbm_or_sizes.to(device=config.device, dtype=dtype)
    try:
        nv, nh = (int(s) for s in rbm_or_sizes)
    except (TypeError, ValueError):
        raise ValueError(
            f"rbm_or_sizes must be an RBM or a pair (n_visible, n_hidden), got {rbm_or_sizes!r}"
        ) from None
    if nv < 1 or nh < 1:
        raise ValueError(f"an RBM needs n_visible, n_hidden >= 1, got ({nv}, {nh})")
    rng = np.random.Generator(np.random.PCG64(_child(ss, 0)))
    std = config.init_std if config.init == "normal" else math.sqrt(2.0 / (nv + nh))
    W = rng.normal(0.0, std, size=(nv, nh))
    a = np.zeros(nv)
    if config.init_visible_bias_from_data and data is not None:
        m = data.to(torch.float64).mean(0).cpu().numpy()
        eps = 1.0 / (2 * data.shape[0])
        if config.units == "spin":
            a = np.arctanh(np.clip(m, -1 + 2 * eps, 1 - 2 * eps))
        else:
            p = np.clip(m, eps, 1 - eps)
            a = np.log(p / (1 - p))
    return _make_model(config.units, W, a, np.zeros(nh), dtype=dtype, device=config.device)


def train_rbm(
    rbm_or_sizes: RBM | Sequence[int],
    data: Any,
    config: TrainConfig | None = None,
    *,
    seed: SeedLike = None,
    callbacks: Iterable[Callback] = (),
    progress: bool = True,
    start_epoch: int = 0,
    optimizer_state: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    checkpoint_dir: str | Path | None = None,
    epoch_hook: Callable[[list[dict[str, Any]]], None] | None = None,
) -> TrainResult:
    """Train an RBM on ``data`` by CD-k or PCD (MS 14; theory.md section 3).

    Parameters
    ----------
    rbm_or_sizes : an RBM to continue from (copied to ``config``'s dtype/device, not modified)
        or ``(n_visible, n_hidden)`` for a fresh one with ``config.units`` and ``config.init``.
    data : ``(n, n_visible)`` (or ``(n, *shape)``) array/tensor of unit values; see
        :func:`prepare_data` for the accepted values and conversions.
    config : :class:`TrainConfig` (default: ``PRESETS["spin"]``).
    seed : seeds initialization, per-epoch shuffling/sampling and metrics. ``None`` uses
        ``config.seed`` or a fresh recorded seed. Resuming needs the same seed.
    callbacks : objects with ``on_epoch_end(epoch, model, metrics) -> bool`` (True stops).
    progress : show a tqdm bar over epochs.
    start_epoch, optimizer_state, history : resume after ``start_epoch`` finished epochs from
        ``rbm_or_sizes`` (the model at that point) and the saved momentum buffer / chains
        (see :func:`load_checkpoint`); ``history`` of the finished epochs is kept.
    checkpoint_dir : write a checkpoint there after every epoch (atomically); if one exists
        already (same config and seed, else ``ValueError``), resume from it instead: the result
        is bit-for-bit that of an uninterrupted run (same device and thread count).
    epoch_hook : called as ``epoch_hook(history)`` after every epoch (e.g. to write a log).

    Returns
    -------
    TrainResult
    """
    config = config or PRESETS[DEFAULT_PRESET]
    if seed is None:
        seed = config.seed if config.seed is not None else fresh_seed()
    ss = _as_seed_sequence(seed)
    from .model import RBM as _RBM

    finished_before = False
    recorded_precision = None
    if checkpoint_dir is not None:
        ck = load_checkpoint(checkpoint_dir)
        if ck is not None:
            if ck["config"] != config or ck["seed"] != _jsonable_entropy(ss.entropy):
                raise ValueError(
                    f"{checkpoint_dir} holds a checkpoint of a run with another configuration "
                    "or seed: use another output folder, or delete it to start afresh"
                )
            rbm_or_sizes = ck["model"]
            start_epoch, optimizer_state, history = (
                ck["start_epoch"],
                ck["optimizer_state"],
                ck["history"],
            )
            finished_before = bool(ck["extra"].get("finished", False))
            recorded_precision = ck["precision"]
    if not 0 <= start_epoch <= config.epochs:
        raise ValueError(f"start_epoch must lie in [0, epochs={config.epochs}], got {start_epoch}")
    dtype = _DTYPES[config.dtype]
    if isinstance(rbm_or_sizes, _RBM):
        units, nv_known = rbm_or_sizes.units, rbm_or_sizes.n_visible
    else:
        units = config.units
        try:
            nv_known = int(list(rbm_or_sizes)[0])  # type: ignore[arg-type]
        except (TypeError, ValueError, IndexError):
            raise ValueError(
                f"rbm_or_sizes must be an RBM or a pair (n_visible, n_hidden), got {rbm_or_sizes!r}"
            ) from None
    X = prepare_data(data, nv_known, units, dtype=dtype, device=config.device)
    n = X.shape[0]
    if n < config.batch_size:
        raise ValueError(
            f"batch_size={config.batch_size} exceeds the {n} data samples: use a smaller batch"
        )
    model = _initial_model(rbm_or_sizes, X, config, ss)
    C = (config.n_chains or config.batch_size) if config.persistent else config.batch_size
    work = max(config.batch_size, C) * model.n_visible * model.n_hidden
    device_type = torch.device(config.device).type
    requested = config.precision or config.dtype
    if recorded_precision and recorded_precision.get("requested") == requested:
        used, precision_info = recorded_precision["used"], recorded_precision  # resume as run
    else:
        from .precision import resolve_precision

        with _cpu_threads_for(work, device_type):  # probe with the threads training uses
            used, precision_info = resolve_precision(
                requested, model.n_visible, model.n_hidden, config.batch_size, C,
                config.device,
            )  # fmt: skip
    trainer = _make_trainer(model, config, config.batch_size, C, ss, used)
    trainer.precision_info = precision_info
    trainer.history = list(history or [])
    if config.persistent and not (optimizer_state and "chains" in optimizer_state):
        rng = np.random.Generator(np.random.PCG64(_child(ss, 3)))
        trainer.init_chains(X, torch_generator(rng, config.device), rng)
    if optimizer_state:
        trainer.load_optimizer_state(optimizer_state)
    callbacks = list(callbacks)
    for cb in callbacks:
        if hasattr(cb, "on_train_begin"):
            cb.on_train_begin(trainer)
    monitor = X[: min(config.monitor_size, n)]
    perm_buf = torch.empty_like(X)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.epochs, initial=start_epoch, desc="train RBM", unit="epoch")
    stopped = finished_before
    epochs_done = start_epoch
    with _cpu_threads_for(work, device_type):
        try:
            for epoch in range(start_epoch, config.epochs):
                if stopped:
                    break
                t0 = time.perf_counter()
                with torch.no_grad():
                    trainer.epoch(X, perm_buf, epoch)
                if X.device.type == "cuda":
                    torch.cuda.synchronize(X.device)
                dt = time.perf_counter() - t0
                trainer.sync_model(model)
                metrics: dict[str, Any] = {
                    "epoch": epoch + 1,
                    "learning_rate": learning_rate_at(config, epoch),
                    "momentum": momentum_at(config, epoch),
                    "time": dt,
                }
                g = torch_generator(_child(ss, 2, epoch), config.device)
                metrics.update(_epoch_metrics(model, monitor, g))
                if not all(math.isfinite(v) for v in metrics.values() if isinstance(v, float)):
                    raise FloatingPointError(
                        f"training diverged at epoch {epoch + 1} (non-finite metrics {metrics}); "
                        "lower the learning rate"
                    )
                for cb in callbacks:
                    if cb.on_epoch_end(epoch, model, metrics):
                        stopped = True
                trainer.history.append(metrics)
                epochs_done = epoch + 1
                if checkpoint_dir is not None:
                    write_checkpoint(
                        checkpoint_dir,
                        trainer,
                        epochs_done=epochs_done,
                        history=trainer.history,
                        extra={"finished": stopped or epochs_done == config.epochs},
                    )
                if epoch_hook is not None:
                    epoch_hook(trainer.history)
                if bar is not None:
                    bar.update(1)
                    shown = {k: metrics[k] for k in ("reconstruction_error", "kl") if k in metrics}
                    bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()})
        finally:
            if bar is not None:
                bar.close()
    if epochs_done == start_epoch and epoch_hook is not None and trainer.history:
        epoch_hook(trainer.history)  # nothing left to do: still report the history
    opt = {"velocity": trainer.velocity.clone()}
    if trainer.chains is not None:
        opt["chains"] = trainer.chains.clone()
    return TrainResult(
        model=model,
        history=trainer.history,
        config=config,
        seed=_jsonable_entropy(ss.entropy),
        epochs_done=epochs_done,
        stopped_early=stopped and epochs_done < config.epochs,
        optimizer_state=opt,
        precision=precision_info,
    )


def _make_trainer(
    model: RBM, config: TrainConfig, B: int, C: int, ss: np.random.SeedSequence, used: str
) -> _Trainer:
    """The inner loop for the resolved precision ``used``."""
    if used == "bf16-mixed":
        from .mixed import MixedTrainer

        return MixedTrainer(model, config, B, C, ss)
    return _Trainer(model, config, B, C, ss)


#: Below this many multiply-adds per matrix product, CPU training runs on one thread: thread
#: start-up and synchronization cost more than the work (and are pathological on a busy machine).
SINGLE_THREAD_BELOW = 2_000_000


@contextlib.contextmanager
def _cpu_threads_for(work: int, device: str) -> Iterator[None]:
    """Use one torch thread for small CPU problems; restore the setting afterwards."""
    if device != "cpu" or work >= SINGLE_THREAD_BELOW or torch.get_num_threads() == 1:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _jsonable_entropy(entropy: Any) -> int | list[int]:
    if isinstance(entropy, (int, np.integer)):
        return int(entropy)
    return [int(e) for e in entropy]


@torch.no_grad()
def cd_gradient(
    model: RBM,
    data: Any,
    *,
    k: int = 1,
    seed: SeedLike,
    chains: Any = None,
    sample_positive_hidden: bool = False,
    sample_negative_visible: bool = True,
    precision: str | None = None,
) -> dict[str, torch.Tensor]:
    """One CD-k (or, with ``chains``, PCD) estimate of the ascent direction ``-dKL/dtheta``.

    Uses exactly the trainer's code path. ``data``: ``(B, n_visible)`` unit values (the whole
    batch); ``chains``: ``(C, n_visible)`` visible states to start the negative phase from
    (hidden units are first drawn from ``p(h | chains)``); without it the negative phase starts
    at the data (CD-k). Returns ``weights`` (n_visible, n_hidden), ``visible_bias``,
    ``hidden_bias`` estimates of ``<.>_data - <.>_model``. ``precision``: ``None`` (the
    model's dtype) or ``"bf16-mixed"`` (a float32 model; bf16 products).
    """
    work = max(len(data), 0 if chains is None else len(chains)) * model.n_visible * model.n_hidden
    with _cpu_threads_for(work, model.device.type):
        return _cd_gradient(
            model, data, k, seed, chains, sample_positive_hidden, sample_negative_visible, precision
        )


def _cd_gradient(
    model: RBM,
    data: Any,
    k: int,
    seed: SeedLike,
    chains: Any,
    sample_positive_hidden: bool,
    sample_negative_visible: bool,
    precision: str | None = None,
) -> dict[str, torch.Tensor]:
    ss = _as_seed_sequence(seed)
    X = prepare_data(data, model.n_visible, model.units, dtype=model.dtype, device=model.device)
    B = X.shape[0]
    persistent = chains is not None
    cfg = TrainConfig(
        cd_k=k,
        batch_size=B,
        persistent=persistent,
        sample_positive_hidden=sample_positive_hidden,
        sample_negative_visible=sample_negative_visible,
        units=model.units,  # type: ignore[arg-type]
        dtype=model.dtype,  # type: ignore[arg-type]
        device=str(model.device),
        precision=precision,
    )
    if cfg.precision == "auto":
        raise ValueError("cd_gradient takes precision 'float32', 'float64' or 'bf16-mixed'")
    used = "bf16-mixed" if cfg.precision == "bf16-mixed" else cfg.dtype
    rng = np.random.Generator(np.random.PCG64(ss))
    g = torch_generator(rng, str(model.device))
    if persistent:
        Cv = prepare_data(
            chains, model.n_visible, model.units, dtype=model.dtype, device=model.device
        )
        t = _make_trainer(model, cfg, B, Cv.shape[0], ss, used)
        t.set_chains(Cv, g)
    else:
        t = _make_trainer(model, cfg, B, B, ss, used)
    G = t.statistics(X, g) / B
    nv, nh = t.nv, t.nh
    return {
        "weights": G[:nv, :nh].clone(),
        "visible_bias": G[:nv, nh].clone(),
        "hidden_bias": G[nv, :nh].clone(),
    }
