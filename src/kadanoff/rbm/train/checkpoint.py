"""Resumable training checkpoints: ``DIR/checkpoint.safetensors`` (+ ``checkpoint.json``)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..model import rbm_class
from .config import TrainConfig

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["write_checkpoint", "load_checkpoint", "jsonable_entropy"]


@functools.lru_cache(maxsize=1)
def _environment() -> dict[str, Any]:
    from ...io import environment_info

    return environment_info()  # runs git once per process, not once per epoch


def write_checkpoint(
    directory: Any,
    trainer: Trainer,
    *,
    epochs_done: int,
    history: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``checkpoint.safetensors`` (+ ``checkpoint.json``) for ``trainer`` atomically."""
    import json

    from safetensors.torch import save_file

    from ...io import atomic_path, to_json, write_text

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
        "seed": jsonable_entropy(trainer.seed_entropy),
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

    from ...io import FileFormatError

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
    model = rbm_class(meta["units"]).from_parameters(
        P[:nv, :nh], P[:nv, nh], P[nv, :nh], dtype=P.dtype, device="cpu"
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


def jsonable_entropy(entropy: Any) -> int | list[int]:
    """A ``SeedSequence.entropy`` as a JSON-able int or list of ints."""
    if isinstance(entropy, (int, np.integer)):
        return int(entropy)
    return [int(e) for e in entropy]
