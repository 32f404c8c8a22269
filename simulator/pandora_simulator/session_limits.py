"""IDENTIFY limits per bot, as Discord applies them (``session_start_limit`` of ``GET /gateway/bot``).

- ``max_concurrency``: shards are grouped into buckets by ``shard_id % max_concurrency``; each bucket admits one
  IDENTIFY per :data:`IDENTIFY_WINDOW_SECONDS` (5 s). One beyond that is answered op 9 INVALID_SESSION (``d``
  false) and does not start a session or spend the budget. Ordinary bots have ``max_concurrency`` 1, so two
  processes on one token must IDENTIFY at least 5 s apart.
- ``remaining`` of ``total`` (1000 per 24 h): every started session spends one. An IDENTIFY when nothing remains
  ends every session of the bot and resets its token (Discord mails the owner a new one); the gateway closes those
  sockets with 4004, the code a client gets for a token that is no longer valid.

Tests change a bot's limits through the live object: ``sim.session_start_limit(bot).remaining = 1``.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

IDENTIFY_WINDOW_SECONDS = 5.0
DAY_SECONDS = 86_400.0


class Admission(enum.Enum):
    START = "start"
    TOO_SOON = "too_soon"  # op 9: this bucket admitted an IDENTIFY less than 5 s ago
    EXHAUSTED = "exhausted"  # no IDENTIFY left today: sessions end, the token is reset


@dataclass
class SessionStartLimit:
    total: int = 1000
    remaining: int = 1000
    max_concurrency: int = 1
    window_seconds: float = IDENTIFY_WINDOW_SECONDS
    reset_at: float = field(default_factory=lambda: time.monotonic() + DAY_SECONDS)
    last_identify: dict[int, float] = field(default_factory=dict)  # bucket -> when it last admitted one

    def admit(self, shard_id: int, now: float | None = None) -> Admission:
        now = time.monotonic() if now is None else now
        if now >= self.reset_at:
            self.remaining, self.reset_at = self.total, now + DAY_SECONDS
        if self.remaining <= 0:
            return Admission.EXHAUSTED
        bucket = shard_id % max(self.max_concurrency, 1)
        last = self.last_identify.get(bucket)
        if last is not None and now - last < self.window_seconds:
            return Admission.TOO_SOON
        self.last_identify[bucket] = now
        self.remaining -= 1
        return Admission.START

    def payload(self) -> dict[str, Any]:
        """``session_start_limit`` as ``GET /gateway/bot`` reports it (``reset_after`` in milliseconds)."""
        reset_after = max(0.0, self.reset_at - time.monotonic())
        return {"total": self.total, "remaining": self.remaining, "reset_after": int(reset_after * 1000),
                "max_concurrency": self.max_concurrency}


class SessionStartLimits:
    """One :class:`SessionStartLimit` per bot (by user id), made on first use."""

    def __init__(self) -> None:
        self._by_bot: dict[int, SessionStartLimit] = {}

    def of(self, bot_id: int) -> SessionStartLimit:
        return self._by_bot.setdefault(bot_id, SessionStartLimit())
