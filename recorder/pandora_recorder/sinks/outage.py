"""Log lines for a store that stops answering: one when it goes, a reminder while it stays away, one when it is
back. Retries happen every few seconds; a line per retry would bury everything else in a five-minute outage."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pandora.logging import get_logger

log = get_logger(__name__)

REMIND_EVERY = 30.0


class OutageLog:
    def __init__(self, what: str, *, remind_every: float = REMIND_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.remind_every = remind_every
        self._clock = clock
        self.since: float | None = None  # when the current outage began
        self._reminded = 0.0
        self.failures = 0  # failed calls in the current outage

    def seconds_away(self) -> float | None:
        """How long the current outage has lasted; None while the store answers."""
        return None if self.since is None else round(self._clock() - self.since, 1)

    def failed(self, error: BaseException, **fields: Any) -> None:
        now = self._clock()
        self.failures += 1
        if self.since is None:
            self.since = self._reminded = now
            log.warning(f"{self.what} unreachable; retrying", error=str(error), **fields)
        elif now - self._reminded >= self.remind_every:
            self._reminded = now
            log.warning(f"{self.what} still unreachable", seconds=round(now - self.since, 1),
                        failed_calls=self.failures, error=str(error), **fields)

    def answered(self, **fields: Any) -> None:
        if self.since is not None:
            log.info(f"{self.what} reachable again", seconds=round(self._clock() - self.since, 1),
                     failed_calls=self.failures, **fields)
            self.since = None
            self.failures = 0
