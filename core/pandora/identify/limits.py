"""``session_start_limit`` of ``GET /gateway/bot``, and the part of the daily budget a process must leave alone."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Left for the process that answers commands (it must be able to log in again to say why nothing records)...
FRONT_DOOR_RESERVE = 0.02
# ...and more for recorders, whose crash loops are what can burn the budget.
RECORDER_RESERVE = 0.10


@dataclass(frozen=True)
class SessionStartLimit:
    total: int  # IDENTIFYs per 24 h
    remaining: int
    reset_after: float  # seconds until ``remaining`` is ``total`` again
    max_concurrency: int  # IDENTIFY buckets; each admits one IDENTIFY per 5 s

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> SessionStartLimit:
        return cls(total=int(payload["total"]), remaining=int(payload["remaining"]),
                   reset_after=int(payload["reset_after"]) / 1000, max_concurrency=int(payload["max_concurrency"]))

    def bucket(self, shard_id: int | None) -> int:
        return (shard_id or 0) % max(self.max_concurrency, 1)

    def within_reserve(self, reserve: float) -> bool:
        """Whether one more IDENTIFY would dip into the ``reserve`` (a fraction of ``total``) kept untouched."""
        return self.remaining <= math.ceil(self.total * reserve)


class IdentifyBudgetReserved(RuntimeError):
    """Raised instead of an IDENTIFY that would spend the reserve: the message says why and when it clears."""

    def __init__(self, limit: SessionStartLimit, reserve: float) -> None:
        super().__init__(
            f"not logging in: {limit.remaining} of the bot's {limit.total} IDENTIFYs per 24 h remain, and "
            f"{math.ceil(limit.total * reserve)} are kept in reserve (spending all resets the bot token); "
            f"Discord refills them in {limit.reset_after / 3600:.1f} h")
        self.limit = limit
