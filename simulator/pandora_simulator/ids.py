"""Discord-style snowflake ids, unique within the process."""

from __future__ import annotations

import itertools
import threading
import time

DISCORD_EPOCH_MS = 1_420_070_400_000

_counter = itertools.count()
_lock = threading.Lock()


def new_snowflake() -> int:
    """A fresh snowflake: milliseconds since the Discord epoch in the top bits, a process-wide counter below."""
    with _lock:
        increment = next(_counter) & 0x3FFFFF
    return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | increment


def snowflake_time_iso(snowflake: int) -> str:
    """The ISO-8601 timestamp a snowflake encodes (Discord sends timestamps in this form)."""
    seconds = ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds * 1000) % 1000:03d}000+00:00"
