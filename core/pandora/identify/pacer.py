"""The pacing rule, applied: before a process's first IDENTIFY, and before every later one.

The first IDENTIFY waits for the crash-restart backoff, then (with the session start limit fetched after that
wait) refuses to spend the reserve, then waits for its slot. This happens before the gateway connects: discord.py
calls its hook inside a 60 s connect timeout, too short for a backoff of minutes or a queue of processes. A later
IDENTIFY of the same process (discord.py after op 9, or after a session it could not resume) goes through
discord.py's ``before_identify_hook``, which this replaces: a slot instead of its fixed 5 s sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from pandora.identify.limits import RECORDER_RESERVE, IdentifyBudgetReserved, SessionStartLimit
from pandora.identify.restarts import FIRST_START, StartHistoryStore
from pandora.identify.slots import IdentifySlots
from pandora.logging import get_logger

log = get_logger(__name__)

FetchLimit = Callable[[], Awaitable[SessionStartLimit]]


class IdentifyPacer:
    def __init__(
        self,
        slots: IdentifySlots,
        *,
        starts: StartHistoryStore | None = None,
        reserve: float = RECORDER_RESERVE,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._slots = slots
        self._starts = starts
        self._reserve = reserve
        self._clock = clock
        self._sleep = sleep
        self._slot_taken = False

    async def first_identify(self, fetch_limit: FetchLimit, shard_id: int | None = None) -> None:
        """Once per process, right before it connects to the gateway. Raises ``IdentifyBudgetReserved``."""
        history = (self._starts.load() if self._starts is not None else None) or FIRST_START
        wait = history.next_start() - self._clock()
        if wait > 0:
            log.warning("restarting after repeated failures: waiting before logging in",
                        seconds=round(wait, 1), failures=history.failures)
            await self._sleep(wait)
        try:
            await self._take_slot(fetch_limit, shard_id)
            self._slot_taken = True
        finally:  # a start refused here counts too: its process exits and is restarted
            if self._starts is not None:
                self._starts.save(history.started(self._clock()))  # a failure until healthy() says otherwise

    async def before_identify(self, fetch_limit: FetchLimit, shard_id: int | None, *, initial: bool) -> None:
        """discord.py's ``before_identify_hook``: every IDENTIFY of the process, the first one included."""
        if initial and self._slot_taken:
            self._slot_taken = False
            return
        await self._take_slot(fetch_limit, shard_id)

    def healthy(self) -> None:
        """The run did its job (recorded long enough, or ended on purpose): its next start need not wait."""
        if self._starts is not None:
            history = self._starts.load()
            if history is not None and history.failures:
                self._starts.save(history.healthy())

    async def _take_slot(self, fetch_limit: FetchLimit, shard_id: int | None) -> None:
        limit = await fetch_limit()
        if limit.within_reserve(self._reserve):
            raise IdentifyBudgetReserved(limit, self._reserve)
        slot = self._slots.reserve(limit.bucket(shard_id), self._clock())
        wait = slot - self._clock()
        if wait > 0:
            log.info("waiting for an IDENTIFY slot", seconds=round(wait, 2), remaining=limit.remaining)
            await self._sleep(wait)
