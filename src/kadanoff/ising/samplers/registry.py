"""The sampler registry: which samplers exist and what each can do, without importing them.

A sampler class registers itself with a decorator in its own module::

    @register_sampler(
        "wolff",
        capabilities=Capabilities(field=False, reports=("cluster_sizes", "flipped")),
        rank=30,
    )
    class WolffSampler(ClusterSampler): ...

:func:`make_sampler`, the dataset code and the CLI read the declared
:class:`Capabilities` (never algorithm names). Adding a sampler is adding one module to
this package: it is found by scanning the package's files, and its declarations are read
from the source text (the decorator's arguments must then be literals), so that listing
the samplers (``kadanoff --help``) does not import Numba or torch; a module is imported
only when one of its samplers is built. A decorator whose arguments are not literals still
works: its module is then imported while listing. Samplers defined outside this package
are registered when their module is imported.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import os
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ...lattice import Chain, SquareLattice
from ..model import IsingModel

__all__ = [
    "Capabilities",
    "SamplerSpec",
    "register_sampler",
    "unregister_sampler",
    "sampler_specs",
    "specs_for",
    "algorithm_names",
    "capabilities_of",
    "LATTICES",
    "DEVICE_KINDS",
    "STATISTICS",
]

#: lattice kinds a sampler can declare: the 1D :class:`~kadanoff.lattice.Chain` (ring or
#: open) and the periodic :class:`~kadanoff.lattice.SquareLattice`
LATTICES = ("chain", "square")
#: device kinds (``"cuda"`` covers ``"cuda:N"``)
DEVICE_KINDS = ("cpu", "cuda")
#: :class:`SweepInfo` statistics a sampler can report: single-spin ``attempted``/``accepted``
#: (``"acceptance"``), ``cluster_sizes``, and the number of spins ``flipped``
STATISTICS = ("acceptance", "cluster_sizes", "flipped")

_LATTICE_WORDS = {"chain": "1D chains", "square": "2D square lattices"}


@dataclass(frozen=True)
class Capabilities:
    """What a sampler supports, declared with its registration.

    Attributes
    ----------
    field : bool
        A non-zero field is supported (cluster algorithms: no).
    lattices : tuple of {"chain", "square"}
    odd_sizes : bool
        Odd lattice sizes (odd ``L``, odd chain length) are supported.
    devices : tuple of {"cpu", "cuda"}
        Where the sampler runs; a sampler with a device other than ``"cpu"`` takes a
        ``device`` keyword.
    independent : bool
        Every sweep is a fresh exact draw, independent of the input (no warm-up or
        thinning needed).
    reports : tuple of {"acceptance", "cluster_sizes", "flipped"}
        The :class:`SweepInfo` statistics the sampler fills.
    requires : tuple of str
        Optional packages the implementation needs (e.g. ``("triton",)``). Where one is not
        installed, or ``KADANOFF_NO_<PACKAGE>=1`` is set, the implementation is skipped and
        the next one registered under the same name is used.
    """

    field: bool = True
    lattices: tuple[str, ...] = LATTICES
    odd_sizes: bool = True
    devices: tuple[str, ...] = ("cpu",)
    independent: bool = False
    reports: tuple[str, ...] = ("flipped",)
    requires: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "requires", tuple(self.requires))
        for attr, allowed in (
            ("lattices", LATTICES),
            ("devices", DEVICE_KINDS),
            ("reports", STATISTICS),
        ):
            values = tuple(getattr(self, attr))
            object.__setattr__(self, attr, values)
            bad = [v for v in values if v not in allowed]
            if bad or (attr != "reports" and not values):
                raise ValueError(
                    f"Capabilities.{attr} must be a non-empty subset of {allowed}, got {values}"
                )

    def unsupported(self, model: IsingModel, *, device: str | None = None) -> str | None:
        """Why ``model`` (on ``device``) cannot be sampled, or ``None`` if it can."""
        lat = model.lattice
        kind = (
            "chain"
            if isinstance(lat, Chain)
            else "square"
            if isinstance(lat, SquareLattice)
            else None
        )
        if kind not in self.lattices:
            have = " and ".join(_LATTICE_WORDS[k] for k in self.lattices)
            return f"supports only {have}, got a {type(lat).__name__}"
        if model.field != 0 and not self.field:
            return f"needs zero field, got field={model.field}"
        if not self.odd_sizes and any(s % 2 for s in model.shape):
            return f"needs even lattice sizes, got {model.shape}"
        if device is not None and device_kind(device) not in self.devices:
            return f"runs on {' and '.join(self.devices)} only"
        for package in self.requires:
            if not _installed(package):
                return f"needs the {package} package (pip install {package})"
        return None


def _installed(package: str) -> bool:
    """Whether ``package`` is importable and not switched off by ``KADANOFF_NO_<PACKAGE>``."""
    if os.environ.get(f"KADANOFF_NO_{package.upper()}", "0") not in ("", "0"):
        return False
    return importlib.util.find_spec(package) is not None


def device_kind(device: str) -> str:
    """``"cuda:1"`` -> ``"cuda"``."""
    return device.split(":", 1)[0]


@dataclass(frozen=True)
class SamplerSpec:
    """One registered sampler: a name, its class and its capabilities.

    Several specs may share a name (e.g. Numba on the CPU and torch on CUDA);
    :func:`~kadanoff.ising.samplers.make_sampler` picks the one of highest ``priority``
    that supports the model and device.
    """

    name: str
    module: str
    qualname: str
    capabilities: Capabilities
    options: tuple[tuple[str, Any], ...] = ()
    priority: int = 0
    rank: int = 100
    cls: type | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        """``name[module.Class]``, unique among specs."""
        return f"{self.name}[{self.module.rsplit('.', 1)[-1]}.{self.qualname}]"

    def load(self) -> type:
        """The sampler class (imports its module)."""
        if self.cls is not None:
            return self.cls
        try:
            mod = importlib.import_module(self.module)
        except ModuleNotFoundError as e:
            if e.name == self.module:
                raise ValueError(
                    f"sampler {self.name!r} is not available in this installation "
                    f"(module {self.module} is missing); choose another --algorithm"
                ) from e
            raise
        obj: Any = mod
        for part in self.qualname.split("."):
            obj = getattr(obj, part, None)
        if not isinstance(obj, type):
            raise ValueError(
                f"sampler {self.name!r} is not available ({self.module} has no "
                f"{self.qualname}); choose another --algorithm"
            )
        return obj

    def build(self, model: IsingModel, *, device: str = "cpu") -> Any:
        """An instance for ``model`` on ``device`` (``device`` is passed to classes that
        declare a device other than the CPU)."""
        kwargs = dict(self.options)
        if set(self.capabilities.devices) != {"cpu"}:
            kwargs["device"] = device
        return self.load()(model, **kwargs)


# name -> specs registered at run time (modules outside this package, or imported ones)
_RUNTIME: dict[tuple[str, str, str], SamplerSpec] = {}
_C = TypeVar("_C", bound=type)


def register_sampler(
    name: str,
    *,
    capabilities: Capabilities,
    options: dict[str, Any] | None = None,
    priority: int = 0,
    rank: int = 100,
) -> Callable[[_C], _C]:
    """Class decorator: register a sampler class under ``name`` (may be stacked).

    Parameters
    ----------
    name : str
        ``make_sampler`` / ``--algorithm`` name.
    capabilities : Capabilities
    options : dict, optional
        Keyword arguments the class is built with (e.g. ``{"rule": "heatbath"}``).
    priority : int
        Among specs of one name that fit a model and device, the highest wins.
    rank : int
        Position of ``name`` in listings (lower first).

    Inside this package the arguments must be literals (read without importing).
    """
    if not isinstance(capabilities, Capabilities):
        raise TypeError("register_sampler needs capabilities=Capabilities(...)")

    def decorate(cls: _C) -> _C:
        spec = SamplerSpec(
            name,
            cls.__module__,
            cls.__qualname__,
            capabilities,
            tuple(sorted((options or {}).items())),
            int(priority),
            int(rank),
            cls,
        )
        _RUNTIME[(name, spec.module, spec.qualname)] = spec
        return cls

    return decorate


def unregister_sampler(name: str) -> None:
    """Forget the run-time registrations of ``name`` (for plug-ins and tests)."""
    for key in [k for k in _RUNTIME if k[0] == name]:
        del _RUNTIME[key]


# ------------------------------------------------------------------------ discovery
_DECORATOR = re.compile(r"^@register_sampler\(", re.MULTILINE)
_PACKAGE = __name__.rsplit(".", 1)[0]


class _NotLiteral(Exception):
    pass


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "Capabilities" and not node.args:
            return Capabilities(**{k.arg: _literal(k.value) for k in node.keywords if k.arg})
        raise _NotLiteral
    try:
        return ast.literal_eval(node)
    except ValueError as e:
        raise _NotLiteral from e


def _decorator_calls(text: str) -> list[ast.Call]:
    """The ``register_sampler(...)`` calls that decorate top-level classes of ``text``."""
    calls = []
    for m in _DECORATOR.finditer(text):
        start = m.start() + 1
        for end in (i + 1 for i, ch in enumerate(text[start:], start) if ch == ")"):
            try:
                node = ast.parse(text[start:end], mode="eval").body
            except SyntaxError:
                continue
            assert isinstance(node, ast.Call)
            calls.append(node)
            break
    return calls


def _class_after(text: str, pos: int) -> str:
    m = re.compile(r"^class (\w+)", re.MULTILINE).search(text, pos)
    return m.group(1) if m else ""


def _static_specs(module: str, path: Path) -> list[SamplerSpec] | None:
    """Specs declared in ``path`` read from its text, or None if they are not literals."""
    text = path.read_text(encoding="utf-8")
    specs = []
    for m, call in zip(_DECORATOR.finditer(text), _decorator_calls(text), strict=True):
        try:
            args = [_literal(a) for a in call.args]
            kw = {k.arg: _literal(k.value) for k in call.keywords if k.arg}
        except _NotLiteral:
            return None
        if len(args) != 1 or not isinstance(kw.get("capabilities"), Capabilities):
            return None
        specs.append(
            SamplerSpec(
                args[0],
                module,
                _class_after(text, m.start()),
                kw["capabilities"],
                tuple(sorted((kw.get("options") or {}).items())),
                int(kw.get("priority", 0)),
                int(kw.get("rank", 100)),
            )
        )
    return specs


@functools.cache
def _package_specs() -> tuple[SamplerSpec, ...]:
    """Specs of every module of this package (read statically, imported as a fallback)."""
    folder = Path(__file__).parent
    found: list[SamplerSpec] = []
    for info in pkgutil.iter_modules([str(folder)]):
        if info.name.startswith("_") or info.ispkg:
            continue
        module = f"{_PACKAGE}.{info.name}"
        path = folder / f"{info.name}.py"
        if path.exists() and "@register_sampler(" not in path.read_text(encoding="utf-8"):
            continue
        specs = _static_specs(module, path) if path.exists() else None
        if specs is None:  # not literal, or no source: import it and use what it registered
            importlib.import_module(module)
            specs = [s for s in _RUNTIME.values() if s.module == module]
        found.extend(specs)
    return tuple(found)


def sampler_specs() -> tuple[SamplerSpec, ...]:
    """Every registered sampler, ordered by ``rank``, then name, then ``-priority``."""
    package = {(s.name, s.module, s.qualname): s for s in _package_specs()}
    extra = [s for k, s in _RUNTIME.items() if k not in package]
    return tuple(sorted([*package.values(), *extra], key=lambda s: (s.rank, s.name, -s.priority)))


def specs_for(name: str) -> tuple[SamplerSpec, ...]:
    """The specs registered under ``name`` (highest priority first)."""
    return tuple(sorted((s for s in sampler_specs() if s.name == name), key=lambda s: -s.priority))


def algorithm_names() -> tuple[str, ...]:
    """Registered names in listing order."""
    return tuple(dict.fromkeys(s.name for s in sampler_specs()))


def capabilities_of(sampler: Any) -> Capabilities | None:
    """The declared capabilities of a sampler instance's class (``None`` if unregistered).

    Read from the registration of the sampler's class (for a class registered under
    several names, the one matching ``sampler.name``).
    """
    cls = type(sampler)
    for klass in cls.__mro__:
        hits = [
            s
            for s in sampler_specs()
            if s.module == klass.__module__ and s.qualname == klass.__qualname__
        ]
        if hits:
            named = [s for s in hits if s.name == getattr(sampler, "name", None)]
            return (named or hits)[0].capabilities
    return None
