"""Command line: ``kadanoff {sample,train,reproduce,...}``.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` and
``run(args) -> int``. Usage errors print one line and exit with code 2, and so do
errors reading or writing files (:class:`OSError`) and requests too large for memory.

A :class:`UsageError` is raised by a command, or converted from the ``ValueError`` of a
library call that validates user input by :func:`kadanoff.cli._common.user_input` around
that call only; any other ``ValueError`` is a bug and keeps its traceback. The shared
pieces (one-line argparse errors, registry choices, ``--device``) are in ``_common``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from pathlib import Path

from .. import __version__

#: subcommand -> module (imported lazily so `kadanoff --help` stays fast)
COMMANDS = {
    "sample": "kadanoff.cli.sample",
    "train": "kadanoff.cli.train",
    "reproduce": "kadanoff.cli.reproduce",
    "rg": "kadanoff.cli.rg",
    "sweep": "kadanoff.cli.sweep",
}


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


#: commands whose ``run`` still relies on :func:`main` to report *any* ``ValueError`` as a
#: usage error, not yet wrapping their validating library calls in ``_common.user_input``
LEGACY_VALUE_ERRORS = frozenset({"reproduce"})


def check_output_folder(folder: str | os.PathLike, flag: str = "--out") -> None:
    """Raise :class:`UsageError` unless files can be written in ``folder``.

    ``folder`` need not exist yet: then its nearest existing ancestor must be a folder in
    which one can create files. The check creates (and removes) a probe file, since
    permission bits alone can mislead (``/proc`` is "writable" to root, yet nothing can be
    created there). Called before any work so that a run never fails at its end.
    """
    folder = Path(folder) if str(folder) else Path(".")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == folder else f"cannot create {folder}: "
        raise UsageError(f"{flag}: {where}{existing} is a file, not a folder; choose another")
    try:
        fd, probe = tempfile.mkstemp(prefix=".kadanoff-write-test-", dir=existing)
    except OSError as e:
        raise UsageError(
            f"{flag}: cannot write to {existing} ({e.strerror or e}): "
            f"choose a {flag} in a writable folder"
        ) from None
    os.close(fd)
    os.unlink(probe)


def describe_os_error(e: OSError) -> str:
    """One line for an OSError: ``'PATH: reason'`` rather than ``'[Errno 20] ...'``."""
    if e.strerror and e.filename is not None:
        return f"{e.filename}: {e.strerror}"
    return e.strerror or str(e)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kadanoff",
        description="Variational RG and its exact mapping to restricted Boltzmann machines.",
    )
    p.add_argument("--version", action="version", version=f"kadanoff {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for modname in COMMANDS.values():
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name == modname:
                continue  # not written yet
            raise
        mod.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    mod = importlib.import_module(COMMANDS[args.command])
    prog = getattr(args, "_prog", f"kadanoff {args.command}")  # "kadanoff rg exponents"
    try:
        return int(mod.run(args) or 0)
    except (UsageError, ValueError) as e:
        if not isinstance(e, UsageError) and args.command not in LEGACY_VALUE_ERRORS:
            raise  # not bad input (that is a UsageError by now): a bug, keep its traceback
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # files and folders: one line naming the path, no traceback
        print(f"{prog}: error: {describe_os_error(e)}", file=sys.stderr)
        return 2
    except MemoryError as e:
        print(
            f"{prog}: error: not enough memory ({e or 'allocation failed'}): "
            "ask for less (fewer samples or chains, a smaller system)",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
