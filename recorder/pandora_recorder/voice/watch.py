"""What the session's watch loop decides on each tick, from what it observed: whether a limit ends the recording,
and whether progress is due. Plain values and times, no Discord: the session observes, these decide."""

from __future__ import annotations

from dataclasses import dataclass

from pandora_recorder.voice.states import StopReason

VOICE_LOST_AFTER = 10.0  # seconds without a voice connection (discord.py retries meanwhile) before giving up


@dataclass(frozen=True)
class Observed:
    """The recording as the session saw it on one tick."""

    now: float
    writer_failed: bool
    others_in_channel: bool
    voice_connected: bool


class Sustained:
    """Whether a condition, observed once per tick, has held without a break for ``limit`` seconds."""

    def __init__(self, limit: float) -> None:
        self._limit = limit
        self._since: float | None = None

    def observe(self, holds: bool, now: float) -> bool:
        if not holds:
            self._since = None
            return False
        if self._since is None:
            self._since = now
            return False
        return now - self._since >= self._limit


class Every:
    """Due at ``first``, then ``interval`` seconds after each time it was due."""

    def __init__(self, interval: float, first: float) -> None:
        self._interval = interval
        self._next = first

    def due(self, now: float) -> bool:
        if now < self._next:
            return False
        self._next = now + self._interval
        return True


class RecordingLimits:
    """The reasons a recording ends on its own; ``None`` for a limit that is not set."""

    def __init__(self, started: float, *, max_duration: float | None, empty_timeout: float | None) -> None:
        self._started = started
        self._max_duration = max_duration
        self._empty = Sustained(empty_timeout) if empty_timeout is not None else None
        self._voice_lost = Sustained(VOICE_LOST_AFTER)

    def reached(self, seen: Observed) -> StopReason | None:
        """The first limit reached on this tick, in order of importance; every condition is observed each tick."""
        reasons = [
            StopReason.STORAGE_FAILED if seen.writer_failed else None,
            StopReason.MAX_DURATION if self._duration_reached(seen.now) else None,
            StopReason.EMPTY_CHANNEL if self._empty and self._empty.observe(not seen.others_in_channel, seen.now)
            else None,
            StopReason.VOICE_LOST if self._voice_lost.observe(not seen.voice_connected, seen.now) else None,
        ]
        return next((reason for reason in reasons if reason is not None), None)

    def _duration_reached(self, now: float) -> bool:
        return self._max_duration is not None and now - self._started >= self._max_duration
