"""How `pandora cook` and `pandora fetch` tell the user about damaged raw files: one line per damaged place
(file, byte offset, why), a few per file, and a distinct exit status."""

from __future__ import annotations

import sys
from collections.abc import Callable

from pandora_recorder.raw.scan import Damage

# Exit status when the command did its work but some bytes could not be read (1 means it could not work at all).
EXIT_DAMAGED = 3
EXIT_STATUS_HELP = "exit status: 0 done; 1 nothing done (see the message); 3 done, but the raw files are damaged"
_SHOWN_PER_FILE = 10


def print_damage(prog: str, damage: list[Damage], where: Callable[[Damage], str] = lambda _damage: "") -> None:
    """Print each damaged place to stderr (``where`` adds to the offset, e.g. which chunk holds it)."""
    shown: dict[str, int] = {}
    hidden: dict[str, list[Damage]] = {}
    for place in damage:
        if shown.get(place.file, 0) < _SHOWN_PER_FILE:
            shown[place.file] = shown.get(place.file, 0) + 1
            print(f"{prog}: {place.describe(where(place))}", file=sys.stderr)
        else:
            hidden.setdefault(place.file, []).append(place)
    for file, more in hidden.items():
        print(f"{prog}: {file}: {summary(more, 'more ')}", file=sys.stderr)


def summary(damage: list[Damage], more: str = "") -> str:
    """`3 damaged places, 512 bytes` (no bytes for chunks that are only missing)."""
    places = "place" if len(damage) == 1 else "places"
    size = sum(place.length for place in damage)
    return f"{len(damage)} {more}damaged {places}" + (f", {size} bytes" if size else "")
