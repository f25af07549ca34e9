"""``kadanoff train``: train an RBM (one hidden size) or a DBN (several) on a dataset.

Example::

    kadanoff train --data data/ising40.npz --hidden 400,100,25 --epochs 200 \\
        --preset mehta-schwab --seed 1 --out runs/dbn

Writes ``OUT/model.safetensors`` + ``OUT/model.json`` (:func:`kadanoff.rbm.io.save_model`),
``OUT/log.jsonl`` (one JSON line per finished epoch: ``layer``, ``epoch``, ``time``,
``metrics``), ``OUT/run.json`` (the resolved configuration and seed) and resumable
checkpoints (``OUT/checkpoint.safetensors`` for an RBM, ``OUT/layer<l>/...`` for a DBN),
all written atomically. Rerunning the same command with the same ``--out`` resumes after
the last finished epoch (a missing ``--seed`` is taken from ``OUT/run.json``).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from . import UsageError, check_output_folder
from ._common import (
    LazyChoices,
    add_command,
    add_quiet,
    help_values,
    literal_values,
    user_input,
)

__all__ = ["add_parser", "run"]


def _presets() -> Any:
    from ..rbm.train import PRESETS

    return PRESETS


def _precisions() -> Any:
    from ..rbm.precision import PRECISIONS

    return PRECISIONS


def _units() -> tuple[str, ...]:
    from ..rbm.train import TrainConfig

    return literal_values(TrainConfig, "units")


def _next_layer_inputs() -> tuple[str, ...]:
    from ..dbn import train_dbn

    return literal_values(train_dbn, "next_layer_input")


#: the library's names (kadanoff.rbm.train.PRESETS, ...), read when a value is checked or the
#: help is shown, so that `kadanoff --help` does not import torch (an option with these
#: choices needs a metavar: argparse would list the choices in its usage when it is added)
_PRESET_NAMES = LazyChoices(_presets)
_PRECISIONS = LazyChoices(_precisions)
_UNITS = LazyChoices(_units)
_NEXT_LAYER_INPUTS = LazyChoices(_next_layer_inputs)


def _default_preset() -> str:
    from ..rbm.train import DEFAULT_PRESET

    return DEFAULT_PRESET


def __getattr__(name: str) -> Any:
    if name == "_DEFAULT_PRESET":  # the library's default, read when asked (imports torch)
        return _default_preset()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train`` on the dispatcher's subparsers."""
    p = add_command(
        subparsers,
        "train",
        help="train an RBM or a deep belief network on a dataset",
        description=(
            "Train an RBM (one --hidden size) or a greedily stacked deep belief network "
            "(several sizes) on a dataset written by `kadanoff sample`, by CD-k or PCD. "
            "Options not given take the preset's values. Rerun with the same --out to resume."
        ),
    )
    p.add_argument("--data", help="dataset .npz written by `kadanoff sample` (required)")
    p.add_argument("--hidden", help="hidden layer size(s), e.g. 400 or 400,100,25 (required)")
    p.add_argument("--out", help="output folder (required)")
    preset = p.add_argument(
        "--preset",
        choices=_PRESET_NAMES,
        metavar="PRESET",
        help="training recipe whose values fill options not given: %(choices)s "
        "(default %(library_default)s)",
    )
    help_values(preset, library_default=LazyChoices(lambda: (_default_preset(),)))
    p.add_argument("--epochs", type=int, help="passes over the data (per layer)")
    p.add_argument("--batch-size", type=int, help="mini-batch size")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--cd-k", type=int, help="Gibbs steps of the negative phase")
    p.add_argument(
        "--pcd",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="persistent contrastive divergence (--no-pcd: plain CD-k)",
    )
    p.add_argument("--l1", type=float, help="L1 penalty on the weights")
    p.add_argument("--l2", type=float, help="L2 penalty on the weights")
    p.add_argument("--momentum", type=float, help="momentum (after the preset's initial epochs)")
    p.add_argument(
        "--units",
        choices=_UNITS,
        metavar="UNITS",
        help="unit type, one of %(choices)s: ±1 or {0,1}",
    )
    p.add_argument("--dtype", help="training dtype, e.g. float64 (default float32)")
    p.add_argument("--device", help="cpu or cuda (default from the preset: cpu)")
    p.add_argument(
        "--precision",
        choices=_PRECISIONS,
        metavar="PRECISION",
        help="arithmetic: float32 (default), float64, bf16-mixed (bf16 products, float32 "
        "weights) or auto (bf16-mixed where a start-up probe finds it >= 1.5x faster)",
    )
    p.add_argument(
        "--next-layer-input",
        choices=_NEXT_LAYER_INPUTS,
        metavar="INPUT",
        default="probabilities",
        help="DBN: what each layer trains on, of the hidden units of the one below: "
        "%(choices)s (default %(default)s)",
    )
    p.add_argument("--seed", type=int, help="root seed (default: drawn at random and recorded)")
    add_quiet(p, "no progress bars and no summary")
    return p


def _parse_hidden(text: str) -> list[int]:
    parts = text.split(",")
    if any(not s.strip() for s in parts):
        raise UsageError(
            f"--hidden {text!r} has an empty entry: give comma-separated sizes such as 400,100,25"
        )
    try:
        sizes = [int(s) for s in parts]
    except ValueError:
        raise UsageError(
            f"--hidden must be one or more comma-separated positive integers, got {text!r}"
        ) from None
    if not sizes or any(s < 1 for s in sizes):
        raise UsageError(f"--hidden sizes must be positive integers, got {text!r}")
    return sizes


#: argparse dest -> TrainConfig field
_FIELDS = {
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "learning_rate",
    "cd_k": "cd_k",
    "pcd": "persistent",
    "l1": "l1",
    "l2": "l2",
    "momentum": "momentum",
    "units": "units",
    "dtype": "dtype",
    "device": "device",
    "precision": "precision",
}


def _config(args: argparse.Namespace) -> Any:
    """The preset with the flags' changes; TrainConfig checks them (its messages name the
    flags), except where its message would not say what is wrong (infinite values)."""
    from ..rbm.train import get_preset

    changes: dict[str, Any] = {}
    for flag, field in _FIELDS.items():
        value = getattr(args, flag)
        if value is not None:
            changes[field] = value
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise UsageError(f"--lr must be a finite positive number, got {args.lr}")
    for flag in ("l1", "l2"):
        v = getattr(args, flag)
        if v is not None and not (math.isfinite(v) and v >= 0):
            raise UsageError(f"--{flag} must be a finite number >= 0, got {v}")
    if args.device is not None and args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda was asked for but no CUDA device is available")
    flags = {field: "--" + flag.replace("_", "-") for flag, field in _FIELDS.items()}
    with user_input(flags):  # name the flag, not the TrainConfig field
        return get_preset(args.preset or _default_preset(), **changes)


def _load_spins(path: str) -> tuple[Any, dict[str, Any]]:
    p = Path(path)
    if p.is_dir():
        raise UsageError(
            f"--data {path} is a folder: give the .npz file written by `kadanoff sample`"
        )
    if not p.is_file():
        raise UsageError(f"--data {path}: no such file (create one with `kadanoff sample`)")
    from ..ising.dataset import load_dataset

    with user_input():  # a file that is not a kadanoff dataset (FileFormatError)
        ds = load_dataset(p)
    return ds.spins, dict(ds.meta)


def _log_line(layer: int, m: dict[str, Any]) -> dict[str, Any]:
    rest = {k: v for k, v in m.items() if k not in ("layer", "epoch", "time")}
    return {"layer": layer, "epoch": m["epoch"], "time": m["time"], "metrics": rest}


def run(args: argparse.Namespace) -> int:
    """Validate, train (resuming if possible), save; return the exit code."""
    from .. import io as kio
    from ..dbn import save_model
    from ..rbm.train import train_rbm

    for flag in ("data", "hidden", "out"):
        if getattr(args, flag) is None:
            raise UsageError(f"--{flag} is required")
    hidden = _parse_hidden(args.hidden)
    config = _config(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder")
    check_output_folder(out)
    spins, data_meta = _load_spins(args.data)
    n_visible = int(spins[0].size) if len(spins) else 0
    if len(spins) < config.batch_size:
        raise UsageError(
            f"the dataset has {len(spins)} samples, fewer than --batch-size {config.batch_size}"
        )
    sizes = [n_visible, *hidden]
    run_path = out / "run.json"
    previous = None
    if run_path.is_file():
        try:
            previous = json.loads(run_path.read_text())
        except json.JSONDecodeError:
            previous = None
    seed = args.seed
    if seed is None:
        from .._rng import fresh_seed

        seed = previous["seed"] if previous and "seed" in previous else fresh_seed()
    if seed < 0:
        raise UsageError(f"--seed must be >= 0, got {seed}")
    run_info = {
        "command": "train",
        "sizes": sizes,
        "config": config.to_dict(),
        "seed": seed,
        "data": str(args.data),
        "next_layer_input": args.next_layer_input,
    }
    if previous is not None and {k: previous.get(k) for k in run_info} != run_info:
        raise UsageError(
            f"{out} holds a run with other settings (see {run_path}); "
            "choose another --out or delete the folder to start afresh"
        )
    out.mkdir(parents=True, exist_ok=True)
    kio.write_json(run_path, run_info)

    histories: dict[int, list[dict[str, Any]]] = {}

    def write_log(layer: int, history: list[dict[str, Any]]) -> None:
        histories[layer] = history
        lines = [kio.to_json(_log_line(i, m)) for i in sorted(histories) for m in histories[i]]
        kio.write_text(out / "log.jsonl", "".join(line + "\n" for line in lines))

    progress = not args.quiet
    precision = None
    if len(hidden) == 1:
        result = train_rbm(
            (n_visible, hidden[0]),
            spins,
            config,
            seed=seed,
            progress=progress,
            checkpoint_dir=out,
            epoch_hook=lambda h: write_log(0, h),
        )
        model: Any = result.model
        epochs = {0: result.epochs_done}
        precision = result.precision  # the choice (and the auto probe) in the model metadata
    else:
        from ..dbn import train_dbn

        model = train_dbn(
            sizes,
            spins,
            config,
            seed=seed,
            next_layer_input=args.next_layer_input,
            progress=progress,
            checkpoint_dir=out,
            epoch_hook=write_log,
        ).dbn
        epochs = {i: len(h) for i, h in histories.items()}
    keep = ("format", "model", "lattice", "size", "K", "n_samples", "algorithm", "seed")
    meta = {
        **run_info,
        "epochs_done": epochs,
        **({"precision": precision} if precision else {}),
        "data_meta": {k: data_meta[k] for k in keep if k in data_meta},
    }
    path = save_model(model, out / "model.safetensors", metadata=meta)
    if not args.quiet:
        last = histories.get(max(histories), [{}])[-1] if histories else {}
        err = last.get("reconstruction_error")
        summary = f"reconstruction error {err:.4g}; " if err is not None else ""
        print(f"kadanoff train: {'-'.join(map(str, sizes))} trained; {summary}model: {path}")
    return 0
