"""Model files of deep belief networks (and single RBMs): the format of :mod:`kadanoff.rbm.io`
with ``kind = "dbn"`` and tensors ``layers.<i>.weights`` etc."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..io import FileFormatError
from ..rbm.io import model_paths, read_layers, write_layers
from ..rbm.model import RBM
from .network import DeepBeliefNetwork

__all__ = ["save_model", "load_model"]


def save_model(
    model: RBM | DeepBeliefNetwork,
    path: str | os.PathLike,
    *,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Save an RBM or a :class:`DeepBeliefNetwork` to ``X.safetensors`` and ``X.json``.

    ``path`` and ``metadata`` as in :func:`kadanoff.rbm.io.save_model`; returns the path of the
    ``.safetensors`` file.
    """
    if isinstance(model, RBM):
        return write_layers([model], path, kind="rbm", metadata=metadata)
    if not isinstance(model, DeepBeliefNetwork):
        raise TypeError(
            f"save_model takes an RBM or a DeepBeliefNetwork, got {type(model).__name__}"
        )
    return write_layers(model.layers, path, kind="dbn", metadata=metadata)


def load_model(
    path: str | os.PathLike, *, device: str | torch.device = "cpu"
) -> RBM | DeepBeliefNetwork:
    """Load a model file: an RBM or a :class:`DeepBeliefNetwork` (as :func:`save_model` wrote).

    Raises :class:`~kadanoff.io.FileFormatError` as :func:`kadanoff.rbm.io.load_model` does, and
    when consecutive layers' sizes do not match.
    """
    kind, layers, _ = read_layers(path, device=device)
    if kind == "rbm":
        return layers[0]
    for i in range(1, len(layers)):
        if layers[i].n_visible != layers[i - 1].n_hidden:
            raise FileFormatError(
                f"{model_paths(path)[0]}: layer {i} has {layers[i].n_visible} visible units but "
                f"layer {i - 1} has {layers[i - 1].n_hidden} hidden units"
            )
    return DeepBeliefNetwork(layers)
