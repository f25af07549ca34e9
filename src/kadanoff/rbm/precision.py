"""Arithmetic precision of RBM training: names, the start-up probe and the ``auto`` choice.

``precision`` (a :class:`~kadanoff.rbm.train.TrainConfig` field) is one of

- ``"float32"`` (default) / ``"float64"``: every buffer and product in that type;
- ``"bf16-mixed"``: the three matrix products of a CD step (``v W``, ``h W^T`` and the fused
  gradient ``[v, 1]^T [h, 1]``) take bfloat16 operands and accumulate in float32 (oneDNN on CPU,
  tensor cores on CUDA); master weights, biases, momentum and unit probabilities stay float32
  (see :mod:`kadanoff.rbm.train.mixed`);
- ``"auto"``: ``"bf16-mixed"`` when :func:`probe_matmul` measures bfloat16 products of the run's
  own shapes at least :data:`AUTO_MIN_SPEEDUP` times faster than float32 on this machine, else
  ``"float32"``. Machines without bfloat16 units run bf16 products ~100x slower, so the rule never
  picks a slower path; the choice and the probe's numbers are recorded with the run.
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

from .train.config import PRECISIONS, check_precision

__all__ = [
    "PRECISIONS",
    "AUTO_MIN_SPEEDUP",
    "MatmulProbe",
    "probe_matmul",
    "choose_precision",
    "check_precision",
    "resolve_precision",
]

#: ``auto`` picks bf16-mixed when bf16 products are at least this much faster than float32 ones
#: (the trainer's element-wise passes and conversions do not speed up, so a smaller matmul gain
#: would not pay for them).
AUTO_MIN_SPEEDUP = 1.5


@dataclass(frozen=True)
class MatmulProbe:
    """Timing of the three CD-step products in float32 and bfloat16 (best of ``rounds``).

    ``float32_s``/``bf16_s``: seconds for one set of the three products; ``speedup`` their ratio
    (``float32_s / bf16_s``); ``gflops_*`` the rates; ``shapes`` the ``(m, k, n)`` of each.
    """

    float32_s: float
    bf16_s: float
    speedup: float
    gflops_float32: float
    gflops_bf16: float
    rounds: int
    shapes: tuple[tuple[int, int, int], ...]
    device: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shapes"] = [list(s) for s in self.shapes]
        return d


def cd_shapes(n_visible: int, n_hidden: int, batch: int, chains: int) -> tuple:
    """``(m, k, n)`` of the products of one CD step: ``v W``, ``h W^T``, ``V^T H``."""
    return (
        (batch, n_visible, n_hidden),
        (chains, n_hidden, n_visible),
        (n_visible + 1, batch + chains, n_hidden + 1),
    )


def _products(dtype: torch.dtype, shapes: tuple, device: str) -> Any:
    g = torch.Generator(device="cpu").manual_seed(0)
    ops = []
    for m, k, n in shapes:
        a = (torch.rand(m, k, generator=g) - 0.5).to(device=device, dtype=dtype)
        b = (torch.rand(k, n, generator=g) - 0.5).to(device=device, dtype=dtype)
        ops.append((a, b, torch.empty(m, n, dtype=dtype, device=device)))

    def run() -> None:
        for a, b, out in ops:
            torch.mm(a, b, out=out)

    return run


def probe_matmul(
    shapes: tuple,
    *,
    device: str = "cpu",
    budget_s: float = 0.03,
    min_rounds: int = 3,
    max_rounds: int = 9,
) -> MatmulProbe:
    """Time float32 against bfloat16 products of ``shapes`` (see :func:`cd_shapes`).

    Both are warmed up once, then timed alternately (so a burst of load on a shared machine
    hits both alike) for at least ``min_rounds`` rounds and then until ``max_rounds`` or
    ``budget_s`` seconds; the best round of each counts. It stops after one round when bf16 is
    clearly slower (> 4x: a machine without bf16 units, where more rounds would take long).
    """
    dev = torch.device(device)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    runs = {dt: _products(dt, shapes, device) for dt in (torch.float32, torch.bfloat16)}
    best = {dt: float("inf") for dt in runs}
    t_start = time.perf_counter()
    for f in runs.values():  # warm-up: library dispatch, oneDNN kernel generation
        f()
    sync()
    rounds = 0
    while rounds < max_rounds:
        for dt, f in runs.items():
            t = time.perf_counter()
            f()
            sync()
            best[dt] = min(best[dt], time.perf_counter() - t)
        rounds += 1
        if best[torch.bfloat16] > 4 * best[torch.float32]:
            break
        if rounds >= min_rounds and time.perf_counter() - t_start > budget_s:
            break
    flop = sum(2.0 * m * k * n for m, k, n in shapes)
    t32, t16 = best[torch.float32], best[torch.bfloat16]
    return MatmulProbe(
        float32_s=t32,
        bf16_s=t16,
        speedup=t32 / t16,
        gflops_float32=flop / t32 / 1e9,
        gflops_bf16=flop / t16 / 1e9,
        rounds=rounds,
        shapes=tuple((int(m), int(k), int(n)) for m, k, n in shapes),
        device=str(dev),
    )


def choose_precision(speedup: float, threshold: float = AUTO_MIN_SPEEDUP) -> str:
    """The ``auto`` rule: ``"bf16-mixed"`` iff ``speedup >= threshold`` (NaN: float32)."""
    return "bf16-mixed" if speedup >= threshold else "float32"


@functools.lru_cache(maxsize=32)
def _cached_probe(shapes: tuple, device: str) -> MatmulProbe:
    return probe_matmul(shapes, device=device)


def resolve_precision(
    precision: str, n_visible: int, n_hidden: int, batch: int, chains: int, device: str
) -> tuple[str, dict[str, Any]]:
    """The precision a run uses and the record of how it was chosen.

    Returns ``(name, info)`` with ``name`` in ``float32``/``float64``/``bf16-mixed`` and ``info``
    the JSON-able ``{"requested", "used"[, "probe"]}`` stored in the run's metadata. ``auto``
    probes once per process and shape (:func:`probe_matmul`, a few ms).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    info: dict[str, Any] = {"requested": precision}
    if precision != "auto":
        info["used"] = precision
        return precision, info
    probe = _cached_probe(cd_shapes(n_visible, n_hidden, batch, chains), str(device))
    used = choose_precision(probe.speedup)
    info.update(used=used, threshold=AUTO_MIN_SPEEDUP, probe=probe.to_dict())
    return used, info
