"""Sweep grids: which config keys take which values, type-checked against the experiment's config.

A sweep is a registered experiment, a preset (the base config) and, per swept key, a list of
values; its points are the Cartesian product. Values come from the command line
(``--set K=0.38:0.46:9``, ``--set seed=1,2,3``, ``--set hidden=[64,16,4],[16,4]``) or a TOML/JSON
sweep file, and are converted to the type of the config's dataclass field. Every point's config
is built (so the config's own validation runs) before anything is computed; bad keys or values
raise a one-line ``ValueError`` naming what is valid.

Sweep file (TOML; JSON with the same keys also works)::

    experiment = "fig3"
    preset = "quick"
    [set]
    K = "0.30:0.50:11"          # start:stop:num, both ends included ("...:log" for log spacing)
    seed = [1, 2, 3]
    hidden = [[400, 100, 25]]   # a tuple field: a list of tuples (one tuple here: fixed)
    epochs = 30                 # a scalar: fixed, not swept
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..experiments import EXPERIMENTS
from ..experiments.base import config_dict, config_hash
from ..experiments.runner import load_experiment

__all__ = ["Point", "Sweep", "build_sweep", "load_sweep_file", "parse_set", "format_params"]

#: significant digits kept from a numeric range, so 0.38:0.46:9 gives exactly 0.39 (and the same
#: hash as a point written by hand as K=0.39)
_RANGE_DIGITS = 12


@dataclass(frozen=True)
class Point:
    """One point of a sweep: its values of the swept keys (those with more than one value), its
    full config and its key (the config hash)."""

    params: dict[str, Any]
    config: Any
    key: str


@dataclass(frozen=True)
class Sweep:
    """A registered experiment, its base config (a preset) and the swept values of some keys."""

    experiment: str
    preset: str
    base: Any
    axes: dict[str, tuple[Any, ...]]

    def points(self) -> list[Point]:
        """The Cartesian product of the axes, in the order the keys were given (last fastest)."""
        names = list(self.axes)
        swept = self.swept
        out = []
        for values in itertools.product(*(self.axes[n] for n in names)):
            params = dict(zip(names, values, strict=True))
            try:
                config = dataclasses.replace(self.base, **params)
            except (ValueError, TypeError) as e:
                raise ValueError(
                    f"{self.experiment} point {format_params(params)} is not a valid config: {e}"
                ) from None
            shown = {k: v for k, v in params.items() if k in swept}
            out.append(Point(shown, config, config_hash(self.experiment, config)))
        return out

    @property
    def swept(self) -> list[str]:
        """Keys that take more than one value."""
        return [k for k, v in self.axes.items() if len(v) > 1]

    def describe(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "preset": self.preset,
            "base_config": config_dict(self.base),
            "axes": {k: list(v) for k, v in self.axes.items()},
        }


def format_params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_show(v)}" for k, v in params.items())


def _show(v: Any) -> str:
    if isinstance(v, tuple):
        return "[" + ",".join(_show(x) for x in v) + "]"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


# --------------------------------------------------------------------------------- types
class _BadValue(Exception):
    """A value that does not fit a field's type; the message says what was expected."""


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _is_tuple(tp: Any) -> bool:
    return typing.get_origin(tp) is tuple


def _coerce(obj: Any, tp: Any) -> Any:
    """``obj`` (a string from the command line or a TOML/JSON value) as a value of type ``tp``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union or (sys.version_info >= (3, 10) and origin is types.UnionType):
        if type(None) in args and (obj is None or (isinstance(obj, str) and obj.lower() in _NONE)):
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(obj, a)
            except _BadValue:
                pass
        raise _BadValue(" or ".join(_type_name(a) for a in args))
    if origin is typing.Literal:
        for a in args:
            if obj == a or (isinstance(obj, str) and str(a) == obj):
                return a
        raise _BadValue("one of " + ", ".join(repr(a) for a in args))
    if origin is tuple:
        if isinstance(obj, str):
            text = obj.strip()
            if text[:1] in "[(" and text[-1:] in "])":
                text = text[1:-1]
            obj = [t for t in (s.strip() for s in text.split(",")) if t]
        if not isinstance(obj, (list, tuple)):
            raise _BadValue("a list such as [64,16,4]")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(x, args[0]) for x in obj)
        if len(obj) != len(args):
            raise _BadValue(f"a list of {len(args)} values")
        return tuple(_coerce(x, a) for x, a in zip(obj, args, strict=True))
    if tp is bool:
        if isinstance(obj, bool):
            return obj
        if isinstance(obj, str) and obj.lower() in _BOOL:
            return _BOOL[obj.lower()]
        raise _BadValue("true or false")
    if tp is int:
        if isinstance(obj, bool):
            raise _BadValue("an integer")
        if isinstance(obj, int):
            return obj
        if isinstance(obj, str):
            try:
                return int(obj)
            except ValueError:
                try:
                    obj = float(obj)
                except ValueError:
                    raise _BadValue("an integer") from None
        if isinstance(obj, float) and obj.is_integer():
            return int(obj)
        raise _BadValue("an integer")
    if tp is float:
        if isinstance(obj, bool):
            raise _BadValue("a number")
        try:
            x = float(obj)
        except (TypeError, ValueError):
            raise _BadValue("a number") from None
        if not math.isfinite(x):
            raise _BadValue("a finite number")
        return x
    if tp is str:
        if isinstance(obj, str):
            return obj
        raise _BadValue("a string")
    raise TypeError(f"fields of type {_type_name(tp)} cannot be swept")


_NONE = ("none", "null")
_BOOL = {"true": True, "1": True, "yes": True, "on": True}
_BOOL |= {"false": False, "0": False, "no": False, "off": False}


def _range(text: str, tp: Any) -> list[Any]:
    """``start:stop:num[:log]`` with both ends included."""
    parts = text.split(":")
    if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] not in ("log", "lin")):
        raise _BadValue("start:stop:num (or start:stop:num:log) for a range")
    try:
        start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise _BadValue("start:stop:num with numbers and an integer count") from None
    if num < 1:
        raise _BadValue("a range with at least one value (num >= 1)")
    log = len(parts) == 4 and parts[3] == "log"
    if log and (start <= 0 or stop <= 0):
        raise _BadValue("positive ends for a log range")
    if num == 1:
        xs = [start]
    elif log:
        a, b = math.log(start), math.log(stop)
        xs = [math.exp(a + (b - a) * i / (num - 1)) for i in range(num)]
    else:
        xs = [start + (stop - start) * i / (num - 1) for i in range(num)]
    xs = [float(f"{x:.{_RANGE_DIGITS}g}") for x in xs]
    if tp is int:
        if not all(x.is_integer() for x in xs):
            raise _BadValue(f"integers, but {text} gives {', '.join(f'{x:g}' for x in xs)}")
        return [int(x) for x in xs]
    return [_coerce(x, tp) for x in xs]


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets: ``[1,2],[3]`` -> ``['[1,2]', '[3]']``."""
    items, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    return [s.strip() for s in items]


def _values(raw: Any, tp: Any) -> list[Any]:
    """All values of one key: a command-line string, or a TOML/JSON value (list = several)."""
    numeric = tp in (int, float)
    if isinstance(raw, str):
        out: list[Any] = []
        for item in _split_top(raw):
            if not item:
                raise _BadValue("comma-separated values with nothing empty")
            out += _range(item, tp) if numeric and ":" in item else [_coerce(item, tp)]
        return out
    if isinstance(raw, Mapping):
        if set(raw) - {"start", "stop", "num", "log"} or not {"start", "stop", "num"} <= set(raw):
            raise _BadValue("a range table {start, stop, num[, log]}")
        spec = f"{raw['start']}:{raw['stop']}:{raw['num']}" + (":log" if raw.get("log") else "")
        return _range(spec, tp)
    if isinstance(raw, (list, tuple)):
        if _is_tuple(tp) and not any(isinstance(x, (list, tuple)) for x in raw):
            return [_coerce(raw, tp)]  # one tuple value: fixed
        out = []
        for x in raw:
            is_range = numeric and isinstance(x, str) and ":" in x
            out += _range(x, tp) if is_range else [_coerce(x, tp)]
        return out
    return [_coerce(raw, tp)]


def _example(tp: Any, default: Any) -> str:
    if _is_tuple(tp):
        return f"[{','.join(str(x) for x in default)}]" if default else "[1,2]"
    if tp is float:
        return f"{default:g},{default * 1.1:g} or start:stop:num"
    if tp is int:
        return f"{default},{default + 1} or start:stop:num"
    return str(default)


# --------------------------------------------------------------------------------- building
def field_types(experiment: str) -> dict[str, Any]:
    """The experiment's config keys and their types (resolved annotations)."""
    mod = load_experiment(experiment)
    hints = typing.get_type_hints(mod.Config)
    return {f.name: hints[f.name] for f in dataclasses.fields(mod.Config)}


def parse_set(items: list[str] | None) -> dict[str, str]:
    """``["K=0.38:0.46:9", "seed=1,2"]`` -> ``{"K": "0.38:0.46:9", "seed": "1,2"}``."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise ValueError(f"--set {item!r}: use KEY=VALUES, e.g. --set K=0.38:0.46:9")
        if key in out:
            raise ValueError(f"--set {key} given twice: put all its values in one --set")
        out[key] = value.strip()
    return out


def build_sweep(
    experiment: str, values: Mapping[str, Any], *, preset: str = "quick", base: Any = None
) -> Sweep:
    """Check ``values`` against the experiment's config and return the sweep.

    ``values`` maps config keys to a command-line string or a TOML/JSON value; ``base`` replaces the
    preset's config (e.g. a small config in tests).
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}: choose from {', '.join(EXPERIMENTS)}")
    mod = load_experiment(experiment)
    if base is None:
        if preset not in mod.PRESETS:
            raise ValueError(
                f"unknown preset {preset!r} for {experiment}: choose from {', '.join(mod.PRESETS)}"
            )
        base = mod.PRESETS[preset]
    types_ = field_types(experiment)
    if not values:
        raise ValueError(f"nothing to sweep: give --set KEY=VALUES with a key of {experiment}")
    axes: dict[str, tuple[Any, ...]] = {}
    for key, raw in values.items():
        if key not in types_:
            raise ValueError(
                f"unknown parameter {key!r} for {experiment}: choose from {', '.join(types_)}"
            )
        tp = types_[key]
        try:
            vals = _values(raw, tp)
        except _BadValue as e:
            shown = raw if isinstance(raw, str) else json.dumps(raw)
            raise ValueError(
                f"bad value {shown} for {key} ({_type_name(tp)}) in {experiment}: expected {e}, "
                f"e.g. --set {key}={_example(tp, getattr(base, key))}"
            ) from None
        except TypeError as e:
            raise ValueError(f"{key} cannot be swept: {e}") from None
        if not vals:
            raise ValueError(f"no values for {key}")
        axes[key] = tuple(dict.fromkeys(vals))  # drop repeats, keep order
    sweep = Sweep(experiment, preset, base, axes)
    sweep.points()  # every point's config is validated now
    return sweep


def load_sweep_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML or JSON sweep file: ``{"experiment", "preset", "set": {key: values}}``."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as e:
        raise FileNotFoundError(f"cannot read sweep file {path}: {e.strerror}") from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"sweep file {path} is not valid JSON: {e}") from None
    elif path.suffix == ".toml":
        data = _read_toml(path, text)
    else:
        raise ValueError(f"sweep file {path} must end in .toml or .json")
    if not isinstance(data, dict):
        raise ValueError(f"sweep file {path} must hold a table/object at the top")
    allowed = {"experiment", "preset", "set"}
    extra = set(data) - allowed
    if extra:
        raise ValueError(
            f"sweep file {path}: unknown entry {sorted(extra)[0]!r}; allowed: {', '.join(allowed)}"
        )
    if not isinstance(data.get("set", {}), dict):
        raise ValueError(f"sweep file {path}: 'set' must be a table of KEY = VALUES")
    return data


def _read_toml(path: Path, text: bytes) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise ValueError(
                f"reading {path} needs tomli on Python 3.10: pip install 'kadanoff[cluster]' "
                "(or use a .json sweep file)"
            ) from None
    try:
        return tomllib.loads(text.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"sweep file {path} is not valid TOML: {e}") from None
