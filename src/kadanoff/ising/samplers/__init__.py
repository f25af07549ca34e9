"""Ising samplers, and :func:`make_sampler`, which builds one from its registered name.

Every sampler module of this package registers its classes with
:func:`~.registry.register_sampler` and declares their :class:`~.registry.Capabilities`;
this module reads the registry (:func:`~.registry.sampler_specs`) and never algorithm
names. Sampler modules are imported lazily: listing the samplers reads their declarations
from the source, and a module (Numba, torch) is imported only when one of its samplers is
built, so a missing one only fails when it is requested.

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

(the table as of this writing; ``kadanoff sample --help`` lists what is registered).
"""

from __future__ import annotations

from typing import Any

from ..model import IsingModel
from .base import ChainState, Sampler, SweepInfo
from .registry import (
    Capabilities,
    SamplerSpec,
    algorithm_names,
    capabilities_of,
    register_sampler,
    sampler_specs,
    specs_for,
)

__all__ = [
    "ALGORITHMS",
    "LOCAL_ALGORITHMS",
    "CLUSTER_ALGORITHMS",
    "DEVICES",
    "Capabilities",
    "ChainState",
    "Sampler",
    "SamplerSpec",
    "SweepInfo",
    "capabilities_of",
    "cuda_available",
    "register_sampler",
    "resolve_device",
    "make_sampler",
    "sampler_specs",
    "select_spec",
]

#: accepted ``device`` values (``"cuda:N"`` is accepted as well)
DEVICES = ("cpu", "cuda", "auto")


def __getattr__(attr: str) -> Any:
    """``ALGORITHMS`` (every registered name), ``LOCAL_ALGORITHMS`` (those reporting an
    acceptance rate) and ``CLUSTER_ALGORITHMS`` (those reporting cluster sizes), read
    from the registry when first asked for."""
    if attr == "ALGORITHMS":
        return algorithm_names()
    if attr in ("LOCAL_ALGORITHMS", "CLUSTER_ALGORITHMS"):
        stat = "acceptance" if attr == "LOCAL_ALGORITHMS" else "cluster_sizes"
        return tuple(
            n
            for n in algorithm_names()
            if any(stat in s.capabilities.reports for s in specs_for(n))
        )
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def cuda_available() -> bool:
    """Whether torch is importable and sees a CUDA device."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return bool(torch.cuda.is_available())


def _check_name(name: str) -> str:
    names = algorithm_names()
    if name not in names:
        raise ValueError(f"unknown sampling algorithm {name!r}: choose one of {', '.join(names)}")
    return name


def _check_device(device: str) -> str:
    if not isinstance(device, str) or not (
        device in DEVICES or (device.startswith("cuda:") and device[5:].isdigit())
    ):
        raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda' (or 'cuda:N') or 'auto'")
    return device


def _names_with(test) -> str:
    return " or ".join(n for n in algorithm_names() if any(test(s) for s in specs_for(n)))


def _check_model(name: str, model: IsingModel) -> None:
    """Raise unless some implementation of ``name`` supports ``model``'s lattice and field."""
    specs = specs_for(name)
    if all(s.capabilities.unsupported(model) for s in specs):
        caps = specs[0].capabilities
        if model.field != 0 and not any(s.capabilities.field for s in specs):
            others = _names_with(lambda s: s.capabilities.field)
            raise ValueError(
                f"sampler {name!r} needs zero field, got field={model.field}; "
                f"use --algorithm {others} for a non-zero field"
            )
        why = caps.unsupported(model)
        others = _names_with(lambda s: s.capabilities.unsupported(model) is None)
        raise ValueError(
            f"sampler {name!r} {why}; use another --lattice or --size, "
            f"or another --algorithm ({others})"
        )


def resolve_device(name: str, model: IsingModel, device: str = "cpu") -> str:
    """The device ``make_sampler(name, model, device=device)`` would run on.

    ``"auto"`` picks ``"cuda"`` when an implementation of ``name`` runs there and supports
    the model (e.g. the checkerboard on even sizes) and CUDA is available, else ``"cpu"``.
    An explicit ``"cuda"`` is checked: an implementation must run there and support the
    model, and CUDA must be available. Raises ``ValueError`` with a fix otherwise.
    """
    _check_name(name)
    _check_device(device)
    specs = specs_for(name)
    on_cuda = [s for s in specs if "cuda" in s.capabilities.devices]
    fits_cuda = [s for s in on_cuda if s.capabilities.unsupported(model) is None]
    if device == "auto":
        return "cuda" if fits_cuda and cuda_available() else "cpu"
    if device == "cpu":
        if not any("cpu" in s.capabilities.devices for s in specs):
            raise ValueError(f"algorithm {name!r} runs on CUDA only; use --device cuda")
        return "cpu"
    if not on_cuda:
        others = " and ".join(
            n
            for n in algorithm_names()
            if any("cuda" in s.capabilities.devices for s in specs_for(n))
        )
        raise ValueError(
            f"algorithm {name!r} runs on the CPU only; use --device cpu"
            + (f" (CUDA is available for {others})" if others else "")
        )
    if not fits_cuda:
        why = on_cuda[0].capabilities.unsupported(model)
        raise ValueError(f"{name!r} on CUDA {why}; use an even --size or --device cpu")
    if not cuda_available():
        raise ValueError("CUDA was requested but torch sees no CUDA device; use --device cpu")
    return device


def select_spec(name: str, model: IsingModel, *, device: str = "cpu") -> tuple[SamplerSpec, str]:
    """The registered implementation :func:`make_sampler` builds, and its device (no
    import, no build); raises ``ValueError`` as :func:`make_sampler` does."""
    _check_name(name)
    _check_model(name, model)
    dev = resolve_device(name, model, device)
    fits = [s for s in specs_for(name) if s.capabilities.unsupported(model, device=dev) is None]
    if not fits:  # pragma: no cover - resolve_device and _check_model rule this out
        raise ValueError(f"no implementation of {name!r} supports this model on {dev}")
    return fits[0], dev


def make_sampler(name: str, model: IsingModel, *, device: str = "cpu") -> Sampler:
    """Build the sampler called ``name`` (one of :data:`ALGORITHMS`) for ``model``.

    Parameters
    ----------
    name : str
        A registered name: ``"metropolis"``, ``"heatbath"``, ``"wolff"``, ``"sw"``
        (Swendsen-Wang), ``"exact"`` (independent exact samples of a 1D chain), ...
    model : IsingModel
    device : str
        ``"cpu"``, ``"cuda"`` (``"cuda:N"``) or ``"auto"``; see :func:`resolve_device`.
        Among the implementations of ``name`` that support the model and device, the one
        registered with the highest priority is built (on CUDA the local rules use
        ``TritonCheckerboardSampler`` on even 2D tori when triton is installed, else
        ``TorchCheckerboardSampler``).

    Raises
    ------
    ValueError
        Unknown name or device, a model outside the sampler's declared capabilities
        (lattice, field, sizes), CUDA unavailable, or a missing module.
    """
    spec, dev = select_spec(name, model, device=device)
    return spec.build(model, device=dev)
