"""The ``pandora`` command: a thin dispatcher to each part's own command module.

Subcommands are imported lazily so an image that lacks a part's dependencies (the operator image has no
voice stack) still runs the commands it does have.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NamedTuple

from pandora import __version__


class Command(NamedTuple):
    module: str
    summary: str


# Each module exposes ``configure(parser)`` and ``run(args) -> int``.
COMMANDS: dict[str, Command] = {
    "record": Command("pandora_recorder.commands.record", "record one voice channel into raw multi-track files"),
    "cook": Command("pandora_recorder.commands.cook", "turn a raw recording into per-speaker audio files"),
    "fetch": Command("pandora_recorder.commands.fetch", "join a recording's object-store chunks into raw files"),
    "demo": Command("pandora_recorder.commands.demo", "record three simulated speakers offline and cook them"),
    "bot": Command("pandora_frontdoor.commands.bot", "answer Discord commands and record, all in this process"),
    "frontdoor": Command("pandora_frontdoor.commands.frontdoor",
                         "answer Discord commands with Recording resources (the front door on Kubernetes)"),
    "operator": Command("pandora_operator.commands.operator", "run the Kubernetes operator for Recordings"),
    "sim": Command("pandora_simulator.commands", "run the local Discord simulator"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pandora", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"pandora {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        subparsers.add_parser(name, help=command.summary, add_help=False)
    return parser


def parse_command(argv: Sequence[str]) -> tuple[ModuleType, argparse.Namespace]:
    """The command's module and its parsed arguments (``argv[0]`` names a command in ``COMMANDS``).

    Raises ImportError when the part that owns the command is not installed.
    """
    name, rest = argv[0], argv[1:]
    command = COMMANDS[name]
    module = importlib.import_module(command.module)
    parser = argparse.ArgumentParser(prog=f"pandora {name}", description=command.summary)
    module.configure(parser)
    return module, parser.parse_args(rest)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        build_parser().parse_args(argv)  # prints help or a usage error and exits
        return 2
    try:
        module, args = parse_command(argv)
    except ImportError as error:
        print(f"pandora {argv[0]}: not available in this installation ({error.name} is missing)", file=sys.stderr)
        return 2
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
