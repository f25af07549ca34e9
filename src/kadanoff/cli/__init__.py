"""Command line: ``kadanoff {sample,train,reproduce,...}``.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` and
``run(args) -> int``. Usage errors print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__

#: subcommand -> module (imported lazily so `kadanoff --help` stays fast)
COMMANDS = {
    "sample": "kadanoff.cli.sample",
    "train": "kadanoff.cli.train",
    "reproduce": "kadanoff.cli.reproduce",
    "rg": "kadanoff.cli.rg",
}


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


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
    try:
        return int(mod.run(args) or 0)
    except (UsageError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as e:
        print(f"kadanoff {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"kadanoff {args.command}: interrupted", file=sys.stderr)
        return 130
