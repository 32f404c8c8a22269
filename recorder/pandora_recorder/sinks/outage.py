"""What a sink knows about a store that stopped answering: since when, how many calls failed, when to try again.

It logs one line when the store goes, a reminder every 30 s while it stays away and one line when it is back:
retries happen every few seconds, and a line per retry would bury everything else in a five-minute outage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pandora.logging import get_logger

log = get_logger(__name__)

REMIND_EVERY = 30.0
_MAX_ERROR_TEXT = 300


def describe(error: BaseException) -> str:
    """A short reason: a gRPC error's details (its repr repeats them with a debug string), else its text."""
    details = getattr(error, "details", None)
    text = details() if callable(details) else None
    text = text if isinstance(text, str) and text else str(error) or type(error).__name__
    return text if len(text) <= _MAX_ERROR_TEXT else text[: _MAX_ERROR_TEXT - 3] + "..."


class StoreAway(RuntimeError):
    """Not tried: the store failed moments ago and its next attempt is not due yet."""


class StoreOutage:
    """`failed` / `answered` after each call to the store; `retry_due` paces the calls while it is away (the
    wait doubles from `retry_first` up to `retry_cap` seconds)."""

    def __init__(self, what: str, *, retry_first: float = 0.5, retry_cap: float = 10.0,
                 remind_every: float = REMIND_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.retry_first = retry_first
        self.retry_cap = retry_cap
        self.remind_every = remind_every
        self._clock = clock
        self.since: float | None = None  # when the current outage began
        self.failures = 0  # failed calls in the current outage
        self._reminded = 0.0
        self._next_try = 0.0

    def seconds_away(self) -> float | None:
        """How long the current outage has lasted; None while the store answers."""
        return None if self.since is None else round(self._clock() - self.since, 1)

    def retry_due(self) -> bool:
        return self.since is None or self._clock() >= self._next_try

    def failed(self, error: BaseException, **fields: Any) -> None:
        now = self._clock()
        self.failures += 1
        self._next_try = now + min(self.retry_cap, self.retry_first * 2 ** (self.failures - 1))
        if self.since is None:
            self.since = self._reminded = now
            log.warning(f"{self.what} unreachable; retrying", error=describe(error), **fields)
        elif now - self._reminded >= self.remind_every:
            self._reminded = now
            log.warning(f"{self.what} still unreachable", seconds=round(now - self.since, 1),
                        failed_calls=self.failures, error=describe(error), **fields)

    def answered(self, **fields: Any) -> None:
        if self.since is not None:
            log.info(f"{self.what} reachable again", seconds=round(self._clock() - self.since, 1),
                     failed_calls=self.failures, **fields)
            self.since = None
            self.failures = 0
