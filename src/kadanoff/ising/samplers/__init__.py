"""Ising samplers and the registry that builds one from its command-line name.

Sampler modules are imported lazily: a module that is missing (or needs an optional
dependency such as torch) only fails when its algorithm is requested.

=============  =================================================  ===================
name           class                                              restrictions
=============  =================================================  ===================
metropolis     ``checkerboard.MetropolisSampler``                 any field
               (on CUDA: ``triton_checkerboard.                   (CUDA: even sizes)
               TritonCheckerboardSampler`` for 2D lattices when
               triton is installed, else
               ``torch_checkerboard.TorchCheckerboardSampler``)
heatbath       ``checkerboard.HeatBathSampler`` (torch on CUDA)   any field
wolff          ``wolff.WolffSampler``                             zero field
sw             ``swendsen_wang.SwendsenWangSampler``              zero field
exact          ``exact_chain.ExactChainSampler``                  1D chain only
=============  =================================================  ===================
"""

from __future__ import annotations

import importlib
from typing import Any

from ..model import IsingModel
from .base import Sampler, SweepInfo

__all__ = [
    "ALGORITHMS",
    "LOCAL_ALGORITHMS",
    "CLUSTER_ALGORITHMS",
    "DEVICES",
    "Sampler",
    "SweepInfo",
    "cuda_available",
    "resolve_device",
    "make_sampler",
]

#: names accepted by :func:`make_sampler` (and ``kadanoff sample --algorithm``)
ALGORITHMS = ("metropolis", "heatbath", "wolff", "sw", "exact")
#: single-spin (checkerboard) rules; they report an acceptance rate
LOCAL_ALGORITHMS = ("metropolis", "heatbath")
#: cluster rules; they report cluster sizes and need zero field
CLUSTER_ALGORITHMS = ("wolff", "sw")
#: accepted ``device`` values (``"cuda:N"`` is accepted as well)
DEVICES = ("cpu", "cuda", "auto")

# name -> (module, class) for the CPU implementations
_CPU_CLASSES = {
    "metropolis": ("checkerboard", "MetropolisSampler"),
    "heatbath": ("checkerboard", "HeatBathSampler"),
    "wolff": ("wolff", "WolffSampler"),
    "sw": ("swendsen_wang", "SwendsenWangSampler"),
    "exact": ("exact_chain", "ExactChainSampler"),
}
_TORCH_CLASS = ("torch_checkerboard", "TorchCheckerboardSampler")
_TRITON_CLASS = ("triton_checkerboard", "TritonCheckerboardSampler")


def _use_triton(model: IsingModel) -> bool:
    """The fused Triton kernel serves CUDA runs on even 2D tori when triton is installed
    (``KADANOFF_NO_TRITON=1`` forces the torch implementation)."""
    import importlib.util
    import os

    from ...lattice import SquareLattice

    return (
        isinstance(model.lattice, SquareLattice)
        and os.environ.get("KADANOFF_NO_TRITON", "0") in ("", "0")
        and importlib.util.find_spec("triton") is not None
    )


def cuda_available() -> bool:
    """Whether torch is importable and sees a CUDA device."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return bool(torch.cuda.is_available())


def _load(module: str, cls: str, algorithm: str) -> type[Sampler]:
    modname = f"{__name__}.{module}"
    try:
        mod = importlib.import_module(modname)
    except ModuleNotFoundError as e:
        if e.name == modname:
            raise ValueError(
                f"sampler {algorithm!r} is not available in this installation "
                f"(module {modname} is missing); choose another --algorithm"
            ) from e
        raise
    try:
        return getattr(mod, cls)
    except AttributeError as e:
        raise ValueError(
            f"sampler {algorithm!r} is not available ({modname} has no {cls}); "
            "choose another --algorithm"
        ) from e


def _check_name(name: str) -> str:
    if name not in ALGORITHMS:
        raise ValueError(
            f"unknown sampling algorithm {name!r}: choose one of {', '.join(ALGORITHMS)}"
        )
    return name


def _check_device(device: str) -> str:
    if not isinstance(device, str) or not (
        device in DEVICES or (device.startswith("cuda:") and device[5:].isdigit())
    ):
        raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda' (or 'cuda:N') or 'auto'")
    return device


def resolve_device(name: str, model: IsingModel, device: str = "cpu") -> str:
    """The device ``make_sampler(name, model, device=device)`` would run on.

    ``"auto"`` picks ``"cuda"`` for the local rules when CUDA is available and the
    lattice sizes are even (the checkerboard needs it), else ``"cpu"``. An explicit
    ``"cuda"`` is checked: CUDA must be available, the algorithm must be a local rule and
    every lattice size even. Raises ``ValueError`` with a fix otherwise.
    """
    _check_name(name)
    _check_device(device)
    even = all(s % 2 == 0 for s in model.shape)
    if device == "auto":
        return "cuda" if name in LOCAL_ALGORITHMS and even and cuda_available() else "cpu"
    if device == "cpu":
        return "cpu"
    # explicit cuda
    if name not in LOCAL_ALGORITHMS:
        raise ValueError(
            f"algorithm {name!r} runs on the CPU only; use --device cpu "
            f"(CUDA is available for {' and '.join(LOCAL_ALGORITHMS)})"
        )
    if not even:
        raise ValueError(
            f"the CUDA checkerboard sampler needs even lattice sizes, got {model.shape}; "
            "use an even --size or --device cpu"
        )
    if not cuda_available():
        raise ValueError("CUDA was requested but torch sees no CUDA device; use --device cpu")
    return device


def make_sampler(name: str, model: IsingModel, *, device: str = "cpu") -> Sampler:
    """Build the sampler called ``name`` (one of :data:`ALGORITHMS`) for ``model``.

    Parameters
    ----------
    name : str
        ``"metropolis"``, ``"heatbath"``, ``"wolff"``, ``"sw"`` (Swendsen-Wang) or
        ``"exact"`` (independent exact samples of a 1D chain).
    model : IsingModel
    device : str
        ``"cpu"``, ``"cuda"`` (``"cuda:N"``) or ``"auto"``; see :func:`resolve_device`.
        On CUDA the local rules use ``TritonCheckerboardSampler`` (2D, triton installed) or
        ``TorchCheckerboardSampler``.

    Raises
    ------
    ValueError
        Unknown name or device, ``exact`` on a 2D lattice, a cluster rule with a
        non-zero field, CUDA unavailable or odd sizes on CUDA, or a missing module.
    """
    _check_name(name)
    if name == "exact" and model.lattice.dim != 1:
        raise ValueError(
            "the exact sampler only exists for the 1D chain; use --lattice 1d or another "
            f"--algorithm ({', '.join(a for a in ALGORITHMS if a != 'exact')})"
        )
    if name in CLUSTER_ALGORITHMS and model.field != 0:
        raise ValueError(
            f"cluster algorithm {name!r} needs zero field, got field={model.field}; "
            f"use --algorithm {' or '.join(LOCAL_ALGORITHMS)} for a non-zero field"
        )
    dev = resolve_device(name, model, device)
    if dev.startswith("cuda"):
        cls: Any = _load(*(_TRITON_CLASS if _use_triton(model) else _TORCH_CLASS), name)
        rule = "heatbath" if name == "heatbath" else "metropolis"
        return cls(model, rule=rule, device=dev)
    return _load(*_CPU_CLASSES[name], name)(model)
