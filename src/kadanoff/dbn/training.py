"""Greedy layer-wise training of deep belief networks (theory.md sections 3 and 6)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch

from .._rng import SeedLike, spawn, torch_generator
from ..rbm.model import RBM
from .network import DeepBeliefNetwork, hidden_step

if TYPE_CHECKING:
    from ..rbm.train import TrainResult

__all__ = ["DBNFit", "train_dbn"]


@dataclass
class DBNFit:
    """Outcome of :func:`train_dbn`: the network and each layer's training result.

    ``layers[l]`` is layer ``l``'s :class:`~kadanoff.rbm.train.TrainResult` (its ``model`` is
    ``dbn.layers[l]``; ``history`` has one dict per epoch with a ``"layer"`` entry).
    """

    dbn: DeepBeliefNetwork
    layers: list[TrainResult]

    @property
    def histories(self) -> list[list[dict[str, Any]]]:
        """Per-layer training histories, ``histories[l][epoch]``."""
        return [r.history for r in self.layers]


class _LayerTag:
    """Callback adding ``metrics["layer"]`` (0-based) during greedy training."""

    def __init__(self, layer: int) -> None:
        self.layer = layer

    def on_epoch_end(self, epoch: int, model: RBM, metrics: dict[str, Any]) -> bool:
        metrics["layer"] = self.layer
        return False


def _layer_input(
    m: RBM, x: torch.Tensor, mode: str, generator: torch.Generator | None, chunk: int = 10000
) -> torch.Tensor:
    """Next layer's training data from ``x`` under ``m``: hidden means or samples."""
    outs = []
    with torch.no_grad():
        for i in range(0, x.shape[0], chunk):
            xi = x[i : i + chunk].to(device=m.device, dtype=m.dtype)
            outs.append(hidden_step(m, xi, mode == "samples", generator))
    return torch.cat(outs)


def train_dbn(
    sizes: Sequence[int],
    data: Any,
    configs_or_config: Any = None,
    *,
    seed: SeedLike,
    next_layer_input: Literal["probabilities", "samples"] = "probabilities",
    progress: bool = True,
    callbacks: Iterable[Any] = (),
    checkpoint_dir: str | Path | None = None,
    epoch_hook: Callable[[int, list[dict[str, Any]]], None] | None = None,
) -> DBNFit:
    """Greedy layer-wise training (Hinton-Salakhutdinov; theory.md section 3).

    Parameters
    ----------
    sizes : ``[n_visible, n_1, ..., n_L]`` (at least two entries).
    data : ``(n, n_visible)`` unit values (see :func:`kadanoff.rbm.train.prepare_data`).
    configs_or_config : one :class:`~kadanoff.rbm.train.TrainConfig` for all layers or a
        list with one per layer (default: the ``"spin"`` preset). Use the same unit type in
        all layers.
    seed : layer ``l`` trains with its own stream spawned from ``seed`` (and, for
        ``next_layer_input="samples"``, draws its output samples from another one).
    next_layer_input : layer ``l + 1`` trains on the hidden means (``"probabilities"``, HS)
        or on samples of ``p(h | v)`` of layer ``l``.
    callbacks : passed to every layer's :func:`~kadanoff.rbm.train.train_rbm`; the metrics
        they see carry a ``"layer"`` entry (0-based).
    checkpoint_dir : if given, layer ``l`` checkpoints into ``checkpoint_dir/layer<l>`` every
        epoch and a rerun resumes where it stopped (finished layers are reloaded).
    epoch_hook : ``epoch_hook(layer, history)`` after every epoch, with that layer's history.

    Returns
    -------
    DBNFit
        ``.dbn``, the network, and ``.layers``, each layer's
        :class:`~kadanoff.rbm.train.TrainResult` (history, epochs done, seed, precision).
    """
    from ..rbm.train import DEFAULT_PRESET, PRESETS, TrainConfig, prepare_data, train_rbm

    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(f"sizes must list >= 2 positive layer sizes, got {sizes}")
    n_layers = len(sizes) - 1
    if configs_or_config is None:
        configs_or_config = PRESETS[DEFAULT_PRESET]
    if isinstance(configs_or_config, TrainConfig):
        configs = [configs_or_config] * n_layers
    else:
        configs = list(configs_or_config)
        if len(configs) != n_layers or not all(isinstance(c, TrainConfig) for c in configs):
            raise ValueError(
                f"give one TrainConfig or a list of {n_layers} (one per layer), got {configs!r}"
            )
    if next_layer_input not in ("probabilities", "samples"):
        raise ValueError(
            f"next_layer_input must be 'probabilities' or 'samples', got {next_layer_input!r}"
        )
    streams = spawn(seed, 2 * n_layers)
    layer_seeds = [int(g.integers(0, 2**63 - 1)) for g in streams[:n_layers]]
    callbacks = list(callbacks)
    x: Any = prepare_data(
        data, sizes[0], configs[0].units, dtype=configs[0].torch_dtype, device=configs[0].device
    )
    results: list[TrainResult] = []
    for i, cfg in enumerate(configs):
        hook = None
        if epoch_hook is not None:
            hook = (lambda layer: lambda history: epoch_hook(layer, history))(i)
        ckpt = None if checkpoint_dir is None else Path(checkpoint_dir) / f"layer{i}"
        result = train_rbm(
            (sizes[i], sizes[i + 1]),
            x,
            cfg,
            seed=layer_seeds[i],
            callbacks=[_LayerTag(i), *callbacks],
            progress=progress,
            checkpoint_dir=ckpt,
            epoch_hook=hook,
        )
        results.append(result)
        if i + 1 < n_layers:
            g = torch_generator(streams[n_layers + i], cfg.device)
            x = _layer_input(result.model, x, next_layer_input, g)
    return DBNFit(DeepBeliefNetwork([r.model for r in results]), results)
