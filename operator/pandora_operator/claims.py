"""Who holds what: one active Recording per voice channel, one Recording per (guild, bot).

Claims live in memory because only one operator runs (``Recreate``, one replica, ``--standalone``) and every
claim is also persisted on the Recording (``status.phase`` and ``status.bot``): after a restart the claims are
rebuilt from those statuses before any Recording is handled, so a restart never hands out a bot twice.
Claims are made under one lock so two Recordings admitted at the same moment cannot both win.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from pandora_operator.model import RecordingKey


@dataclass(frozen=True, slots=True)
class PersistedClaim:
    """What an active Recording's status says it holds."""

    key: RecordingKey
    guild: str
    channel: str
    bot: str | None


class Claims:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self._channels: dict[str, RecordingKey] = {}
        self._bots: dict[tuple[str, str], RecordingKey] = {}
        self._seeded = False

    def seed(self, persisted: Iterable[PersistedClaim]) -> None:
        """Rebuild from the statuses of active Recordings; only the first call has an effect."""
        if self._seeded:
            return
        self._seeded = True
        for claim in persisted:
            self._channels.setdefault(claim.channel, claim.key)
            if claim.bot:
                self._bots.setdefault((claim.guild, claim.bot), claim.key)

    def claim_channel(self, channel: str, key: RecordingKey) -> RecordingKey:
        """Claim the channel for ``key``; returns the holder (``key`` itself when the claim succeeded)."""
        return self._channels.setdefault(channel, key)

    def bot_holder(self, guild: str, bot: str) -> RecordingKey | None:
        return self._bots.get((guild, bot))

    def claim_bot(self, guild: str, bot: str, key: RecordingKey) -> bool:
        return self._bots.setdefault((guild, bot), key) == key

    def bot_of(self, key: RecordingKey) -> str | None:
        return next((bot for (_, bot), holder in self._bots.items() if holder == key), None)

    def release(self, key: RecordingKey) -> None:
        self._channels = {channel: holder for channel, holder in self._channels.items() if holder != key}
        self._bots = {slot: holder for slot, holder in self._bots.items() if holder != key}
