"""Training callbacks: ``on_epoch_end(epoch, model, metrics) -> bool`` (True stops)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from .checkpoint import write_checkpoint

if TYPE_CHECKING:
    from ..model import RBM
    from .trainer import Trainer

__all__ = ["Callback", "ExactKL", "EarlyStopping", "Checkpoint"]


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
            from ..exact import kl_divergence

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
        self._trainer: Trainer | None = None

    def on_train_begin(self, trainer: Trainer) -> None:
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
