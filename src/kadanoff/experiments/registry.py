"""The experiment registry: ``kadanoff reproduce``, ``kadanoff sweep`` and the runner read it.

An experiment class registers itself with the :func:`register_experiment` decorator when its
module is imported; :mod:`kadanoff.experiments` imports the built-in ones, in report order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar, overload

from .base import Experiment

__all__ = [
    "ExperimentNames",
    "experiment_names",
    "get_experiment",
    "register_experiment",
    "unregister_experiment",
]

_REGISTRY: dict[str, Experiment] = {}

E = TypeVar("E", bound="type[Experiment] | Experiment")


def register_experiment(experiment: E) -> E:
    """Register an experiment under its ``name`` and return it unchanged.

    As a class decorator (``@register_experiment`` on an :class:`Experiment` subclass) one
    instance of the class is registered; an instance (e.g. a
    :class:`~kadanoff.experiments.base.ModuleExperiment`) is registered as it is. Registering
    the same class again replaces the entry (a reloaded module); another class of the same name
    is refused.
    """
    if isinstance(experiment, type) and issubclass(experiment, Experiment):
        instance = experiment()
    elif isinstance(experiment, Experiment):
        instance = experiment
    else:
        raise TypeError(f"{experiment!r} is not a kadanoff.experiments.base.Experiment")
    name = instance.name
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(
            f"an experiment's name must be an identifier (it names a folder), got {name!r}"
        )
    old = _REGISTRY.get(name)
    if old is not None and _origin(old) != _origin(instance):
        raise ValueError(f"experiment {name!r} is already registered by {_origin(old)}")
    missing = {"quick", "paper"} - set(instance.presets)
    if missing:
        raise ValueError(f"experiment {name!r} lacks the preset(s) {', '.join(sorted(missing))}")
    _REGISTRY[name] = instance
    return experiment


def _origin(e: Experiment) -> str:
    module = getattr(e, "module", None)
    return getattr(module, "__name__", None) or f"{type(e).__module__}.{type(e).__qualname__}"


def unregister_experiment(name: str) -> None:
    """Remove ``name`` from the registry (for tests and examples); unknown names are ignored."""
    _REGISTRY.pop(name, None)


def experiment_names() -> tuple[str, ...]:
    """The registered experiments, in registration (report) order."""
    return tuple(_REGISTRY)


def get_experiment(name: str) -> Experiment:
    """The registered experiment called ``name``; ``ValueError`` naming the choices if none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown experiment {name!r}: choose from {', '.join(_REGISTRY)}"
        ) from None


class ExperimentNames(Sequence[str]):
    """A live, read-only view of :func:`experiment_names` (``kadanoff.experiments.EXPERIMENTS``)."""

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...
    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        return experiment_names()[i]

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __iter__(self) -> Iterator[str]:
        return iter(experiment_names())

    def __contains__(self, name: object) -> bool:
        return name in _REGISTRY

    def __repr__(self) -> str:
        return repr(experiment_names())
