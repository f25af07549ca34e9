"""What the subcommands share: one-line usage errors, choices read from the library's
registries, library ``ValueError``s as usage errors, the ``--device`` option.

Choices come from the library (the sampler registry, ``RULES``, ``PRESETS``, ...), never from
lists spelled out here. Registries whose module imports Numba or torch are read through
:class:`LazyChoices`, only when a value is checked or the help is shown, so that building the
parser (``kadanoff --help``, every command) imports neither.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NoReturn

from . import UsageError

__all__ = [
    "LazyChoices",
    "literal_values",
    "one_line_errors",
    "add_command",
    "add_repeatable",
    "add_quiet",
    "help_values",
    "check_choice",
    "user_input",
    "add_device_option",
    "resolve_device",
    "show_progress",
    "log_to_stderr",
]


class LazyChoices(Sequence[str]):
    """The names a library registry holds, read on first use (``choices=`` of argparse, or
    ``%(choices)s`` / ``%(names)s`` in an option's help)."""

    def __init__(self, load: Callable[[], Iterable[str]]) -> None:
        self._load = load
        self._names: tuple[str, ...] | None = None

    def _get(self) -> tuple[str, ...]:
        if self._names is None:
            self._names = tuple(self._load())
        return self._names

    def __getitem__(self, i: Any) -> Any:
        return self._get()[i]

    def __len__(self) -> int:
        return len(self._get())

    def __contains__(self, name: object) -> bool:
        return name in self._get()

    def __eq__(self, other: object) -> bool:  # equal to the library's tuple of names
        if isinstance(other, (tuple, list, LazyChoices)):
            return self._get() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to tuples: not hashable

    def __str__(self) -> str:  # "%(names)s" in a help text
        return ", ".join(self._get())


def literal_values(obj: Any, name: str) -> tuple[str, ...]:
    """The values of the ``Literal[...]`` annotation of parameter or field ``name`` of ``obj``
    (a function or a dataclass): the library's own declaration of what it accepts."""
    return tuple(typing.get_args(typing.get_type_hints(obj)[name]))


def one_line_errors(parser: argparse.ArgumentParser, prog: str) -> argparse.ArgumentParser:
    """Make ``parser`` report a bad argument (type, choice, missing value) as one line
    ``PROG: error: ... (see PROG --help)`` and exit code 2, not argparse's usage + error."""

    def error(message: str) -> NoReturn:
        sys.stderr.write(f"{prog}: error: {message} (see {prog} --help)\n")
        raise SystemExit(2)

    parser.error = error  # type: ignore[method-assign]
    return parser


def add_command(
    subparsers: Any, name: str, *, under: str = "kadanoff", **kwargs: Any
) -> argparse.ArgumentParser:
    """Register the subcommand ``under name`` (``help``, ``description``, ... as for
    argparse), its bad arguments reported by :func:`one_line_errors`; its errors at run time
    are reported under the same name (``args._prog``)."""
    prog = f"{under} {name}"
    parser = one_line_errors(subparsers.add_parser(name, **kwargs), prog)
    parser.set_defaults(_prog=prog)
    return parser


def add_repeatable(
    parser: argparse.ArgumentParser, flag: str, metavar: str, help: str, **kwargs: Any
) -> argparse.Action:
    """An option that may be given several times; its value is the list (``None`` if never)."""
    return parser.add_argument(
        flag, action="append", default=None, metavar=metavar, help=f"{help}; repeatable", **kwargs
    )


def add_quiet(parser: argparse.ArgumentParser, help: str = "no progress bars") -> argparse.Action:
    """``--quiet``; see :func:`show_progress`."""
    return parser.add_argument("--quiet", action="store_true", help=help)


def help_values(action: argparse.Action, **values: Sequence[str]) -> argparse.Action:
    """Let ``action``'s help say ``%(key)s`` for each ``key=names`` (joined by commas; a
    :class:`LazyChoices` is read only when the help is shown). For choices checked at run
    time by :func:`check_choice`, whose message names the flag and the fix."""
    for key, names in values.items():
        shown = names if isinstance(names, LazyChoices) else ", ".join(names)
        setattr(action, key, shown)  # argparse expands vars(action) into the help
    return action


def check_choice(value: str, names: Sequence[str], flag: str) -> str:
    """``value`` if it is one of ``names``, else :class:`UsageError` listing them."""
    if value not in names:
        raise UsageError(f"unknown {flag} {value!r}: choose one of {', '.join(names)}")
    return value


def _rename(message: str, flags: Mapping[str, str]) -> str:
    for name, flag in flags.items():
        message = re.sub(rf"(?<![\w-]){re.escape(name)}\b", flag, message)
    return message


@contextlib.contextmanager
def user_input(flags: Mapping[str, str] | None = None) -> Iterator[None]:
    """Report a ``ValueError`` raised in the block as a usage error (one line, exit code 2).

    Wrap only library calls that validate what the user gave (building a model or a config,
    reading an input file, checking options), never a call that does the work, so that a
    ``ValueError`` from a bug still shows its traceback. ``flags`` maps the library's
    parameter names to the command-line flags that set them (``{"learning_rate": "--lr"}``);
    they are replaced in the message.
    """
    try:
        yield
    except ValueError as e:
        raise UsageError(_rename(str(e), flags or {})) from None


def add_device_option(parser: argparse.ArgumentParser, what: str) -> argparse.Action:
    """``--device`` (default cpu): ``cpu``, ``cuda`` or ``auto`` (the sampler registry's
    ``DEVICES``), checked by :func:`resolve_device`."""
    from ..ising.samplers import DEVICES

    action = parser.add_argument(
        "--device", default="cpu", help=f"%(names)s (default %(default)s): {what}"
    )
    return help_values(action, names=DEVICES)


def resolve_device(device: str, flag: str = "--device") -> str:
    """The device to run on, ``"cpu"`` or ``"cuda"``, for a ``--device`` value; ``"auto"``
    means CUDA where torch sees a device. :class:`UsageError` for an unknown value, or for
    ``cuda`` without a CUDA device."""
    from ..ising.samplers import DEVICES, cuda_available

    check_choice(device, DEVICES, flag)
    if device == "cpu":
        return "cpu"
    available = cuda_available()
    if device == "cuda" and not available:
        raise UsageError(f"{flag} cuda, but no CUDA device is available: use {flag} cpu")
    return "cuda" if available else "cpu"


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars: unless ``--quiet``, and only on a terminal."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def log_to_stderr(*parts: Any) -> None:
    """Progress lines go to stderr; results to stdout."""
    print(*parts, file=sys.stderr)
