"""The public training functions: :func:`train_rbm`, :func:`cd_gradient`, :class:`TrainResult`."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..._rng import SeedLike, child_sequence, fresh_seed, seed_sequence, torch_generator
from ...spins import Units
from ..model import RBM, rbm_class
from .callbacks import Callback
from .checkpoint import jsonable_entropy, load_checkpoint, write_checkpoint
from .config import DEFAULT_PRESET, PRESETS, TrainConfig, learning_rate_at, momentum_at
from .data import prepare_data
from .trainer import Trainer

__all__ = ["TrainResult", "train_rbm", "cd_gradient", "SINGLE_THREAD_BELOW"]


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
    dtype = config.torch_dtype
    if isinstance(rbm_or_sizes, RBM):
        return rbm_or_sizes.to(device=config.device, dtype=dtype)
    try:
        nv, nh = (int(s) for s in rbm_or_sizes)
    except (TypeError, ValueError):
        raise ValueError(
            f"rbm_or_sizes must be an RBM or a pair (n_visible, n_hidden), got {rbm_or_sizes!r}"
        ) from None
    if nv < 1 or nh < 1:
        raise ValueError(f"an RBM needs n_visible, n_hidden >= 1, got ({nv}, {nh})")
    rng = np.random.Generator(np.random.PCG64(child_sequence(ss, 0)))
    std = config.init_std if config.init == "normal" else math.sqrt(2.0 / (nv + nh))
    W = rng.normal(0.0, std, size=(nv, nh))
    a = np.zeros(nv)
    if config.init_visible_bias_from_data and data is not None:
        m = data.to(torch.float64).mean(0).cpu().numpy()
        eps = 1.0 / (2 * data.shape[0])
        if Units(config.units) is Units.SPIN:
            a = np.arctanh(np.clip(m, -1 + 2 * eps, 1 - 2 * eps))
        else:
            p = np.clip(m, eps, 1 - eps)
            a = np.log(p / (1 - p))
    cls = rbm_class(config.units)
    return cls.from_parameters(W, a, np.zeros(nh), dtype=dtype, device=config.device)


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
    ss = seed_sequence(seed)
    finished_before = False
    recorded_precision = None
    if checkpoint_dir is not None:
        ck = load_checkpoint(checkpoint_dir)
        if ck is not None:
            if ck["config"] != config or ck["seed"] != jsonable_entropy(ss.entropy):
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
    dtype = config.torch_dtype
    if isinstance(rbm_or_sizes, RBM):
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
        from ..precision import resolve_precision

        with _cpu_threads_for(work, device_type):  # probe with the threads training uses
            used, precision_info = resolve_precision(
                requested, model.n_visible, model.n_hidden, config.batch_size, C,
                config.device,
            )  # fmt: skip
    trainer = _make_trainer(model, config, config.batch_size, C, ss, used)
    trainer.precision_info = precision_info
    trainer.history = list(history or [])
    if config.persistent and not (optimizer_state and "chains" in optimizer_state):
        rng = np.random.Generator(np.random.PCG64(child_sequence(ss, 3)))
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
                g = torch_generator(child_sequence(ss, 2, epoch), config.device)
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
        seed=jsonable_entropy(ss.entropy),
        epochs_done=epochs_done,
        stopped_early=stopped and epochs_done < config.epochs,
        optimizer_state=opt,
        precision=precision_info,
    )


def _make_trainer(
    model: RBM, config: TrainConfig, B: int, C: int, ss: np.random.SeedSequence, used: str
) -> Trainer:
    """The inner loop for the resolved precision ``used``."""
    if used == "bf16-mixed":
        from .mixed import MixedTrainer

        return MixedTrainer(model, config, B, C, ss)
    return Trainer(model, config, B, C, ss)


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
    ss = seed_sequence(seed)
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
    flipped[rows, idx] = Units(model.units).flip(flipped[rows, idx])
    d = model.free_energy_visible(flipped) - model.free_energy_visible(v)
    pl = float((nv * torch.nn.functional.logsigmoid(d.to(torch.float64))).mean())
    return {"reconstruction_error": err, "pseudo_log_likelihood": pl}
