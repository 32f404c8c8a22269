"""The ``pandora`` command: a thin dispatcher to each part's own command module.

Subcommands are imported lazily so an image that lacks a part's dependencies (the operator image has no
voice stack) still runs the commands it does have.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        build_parser().parse_args(argv)  # prints help or a usage error and exits
        return 2
    name, rest = argv[0], argv[1:]
    command = COMMANDS[name]
    try:
        module = importlib.import_module(command.module)
    except ImportError as error:
        print(f"pandora {name}: not available in this installation ({error.name} is missing)", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog=f"pandora {name}", description=command.summary)
    module.configure(parser)
    args = parser.parse_args(rest)
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
