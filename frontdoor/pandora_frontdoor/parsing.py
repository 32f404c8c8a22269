"""Text commands: ``<prefix>record [#channel|id]``, ``<prefix>end``, ``<prefix>status``.

As in the original Pandora the word follows the prefix directly (``!record``, not ``! record``); unlike it, the
word is not case-sensitive and ``record`` takes an optional channel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

CHANNEL_MENTION = re.compile(r"^<#(\d{15,21})>$")
CHANNEL_ID = re.compile(r"^\d{15,21}$")


class Verb(Enum):
    RECORD = "record"
    END = "end"
    STATUS = "status"


@dataclass(frozen=True)
class Command:
    verb: Verb
    channel_id: int | None = None  # record: the channel named
    bad_channel: str | None = None  # record: an argument that names no channel


def parse_text_command(content: str, prefix: str) -> Command | None:
    """The command in a message, or None when the message is not one of ours."""
    if not prefix or not content.startswith(prefix):
        return None
    rest = content[len(prefix):]
    words = rest.split()
    if not words or rest[0].isspace():
        return None
    try:
        verb = Verb(words[0].lower())
    except ValueError:
        return None
    if verb is not Verb.RECORD or len(words) < 2:
        return Command(verb)
    argument = words[1]
    match = CHANNEL_MENTION.match(argument) or CHANNEL_ID.match(argument)
    if match is None:
        return Command(verb, bad_channel=argument)
    return Command(verb, channel_id=int(match.group(match.lastindex or 0)))
