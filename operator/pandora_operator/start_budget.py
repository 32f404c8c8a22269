"""Recorder starts per bot over 24 h: Recordings can never spend a bot's IDENTIFY budget.

Every recorder pod IDENTIFYs once. Discord allows 1000 IDENTIFYs per application per 24 h, and spending the last
one resets the bot token and ends every session, the front door's too. The operator counts the recorder pods it
creates per bot (a key of the pool Secret, so one token) over a sliding 24 h, and past ``DAILY_STARTS`` (750, or
``PANDORA_DAILY_RECORDER_STARTS``) it creates none: the Recording is Pending with why and when that clears, and the
sweeper starts it then. The margin leaves room for what the operator does not count (front doors, re-IDENTIFYs
inside a pod), and it is reached before the recorders' own refusal at 10 % left
(``pandora.identify.limits.RECORDER_RESERVE``, from Discord's count).

An operator restart forgets its count. It is rebuilt from the Recordings as they are first seen: one that ran
within the last 24 h counts its ``restarts + 1`` starts as of when it ended (or now, while it runs), an
over-count rather than an under-count.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

from pandora.recording_api.status import format_time
from pandora_operator.config import DEFAULT_DAILY_RECORDER_STARTS
from pandora_operator.views import RecordingView

DAY = 86_400.0
DISCORD_DAILY_IDENTIFIES = 1000
DAILY_STARTS = DEFAULT_DAILY_RECORDER_STARTS  # PANDORA_DAILY_RECORDER_STARTS


class StartBudget:
    def __init__(self, daily_starts: int = DAILY_STARTS, clock: Callable[[], float] = time.time) -> None:
        self.daily_starts = daily_starts
        self._clock = clock
        self._starts: dict[tuple[str, str], list[float]] = {}  # (namespace, bot) -> when, oldest first
        self._seen: set[str] = set()  # Recording uids already counted from their status

    def seed(self, view: RecordingView) -> None:
        """Count the starts a Recording's status shows, the first time this operator process sees it."""
        if view.uid in self._seen:
            return
        self._seen.add(view.uid)
        status = view.status
        if status.bot is None or status.pod is None:
            return
        now = self._clock()
        at = status.ended_at.timestamp() if status.ended_at else now
        if at > now - DAY:
            self._insert(view.key.namespace, status.bot, [at] * ((status.restarts or 0) + 1))

    def forget(self, view: RecordingView) -> None:
        self._seen.discard(view.uid)

    def record(self, namespace: str, bot: str) -> None:
        """A recorder pod was created for ``bot``."""
        self._insert(namespace, bot, [self._clock()])

    def refusal(self, namespace: str, bot: str) -> str | None:
        """Why another recorder of ``bot`` must not start now, and when it may; None when it may."""
        starts = self._recent(namespace, bot)
        if len(starts) < self.daily_starts:
            return None
        clears = starts[len(starts) - self.daily_starts] + DAY
        when = format_time(datetime.datetime.fromtimestamp(clears, datetime.UTC))
        return (f"not starting a recorder: bot {bot} started {len(starts)} recorders in the last 24 h, the most "
                f"the operator allows ({self.daily_starts} of Discord's {DISCORD_DAILY_IDENTIFIES} logins a day; "
                f"spending them all resets the bot's token); the next one may start at {when}")

    def _insert(self, namespace: str, bot: str, moments: list[float]) -> None:
        starts = self._starts.setdefault((namespace, bot), [])
        starts.extend(moments)
        starts.sort()

    def _recent(self, namespace: str, bot: str) -> list[float]:
        starts = self._starts.get((namespace, bot), [])
        cutoff = self._clock() - DAY
        while starts and starts[0] <= cutoff:
            starts.pop(0)
        return starts
