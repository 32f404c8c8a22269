"""The bot pool: a Secret whose keys are bot names and whose values are their tokens.

Discord allows one voice connection per guild per bot, so a guild can have as many recordings at once as the
pool has bots. The operator reads only the Secret's key names; a token value is never read into a variable
that is logged, stored in status or put in a pod spec (pods get a ``secretKeyRef``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from pandora_operator.claims import Claims
from pandora_operator.model import RecordingKey

SecretKeysReader = Callable[[str, str], Awaitable[list[str] | None]]


@dataclass(frozen=True, slots=True)
class BotChoice:
    bot: str | None
    # Why no bot was chosen, in words a user can act on.
    reason: str = ""


class BotPool:
    def __init__(self, secret_name: str, read_keys: SecretKeysReader, cache_seconds: float = 2.0) -> None:
        self.secret_name = secret_name
        self._read_keys = read_keys
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, list[str] | None]] = {}

    async def bots(self, namespace: str) -> list[str] | None:
        """Sorted bot names in ``namespace``'s pool, or None when the Secret does not exist."""
        now = time.monotonic()
        cached = self._cache.get(namespace)
        if cached and now - cached[0] < self._cache_seconds:
            return cached[1]
        keys = await self._read_keys(namespace, self.secret_name)
        names = sorted(keys) if keys is not None else None
        self._cache[namespace] = (now, names)
        return names

    async def choose(
        self, claims: Claims, key: RecordingKey, guild: str, pinned: str | None
    ) -> BotChoice:
        """Claim a free bot for ``key`` in ``guild`` (call with ``claims.lock`` held)."""
        if held := claims.bot_of(key):
            return BotChoice(held)
        names = await self.bots(key.namespace)
        if names is None:
            return BotChoice(
                None,
                f"bot pool Secret {key.namespace}/{self.secret_name} not found: create it with one key per bot "
                "(key = bot name, value = bot token)",
            )
        candidates: Sequence[str] = names
        if pinned:
            if pinned not in names:
                return BotChoice(
                    None, f"bot {pinned!r} is not in the pool Secret {key.namespace}/{self.secret_name}"
                )
            candidates = [pinned]
        for bot in candidates:
            if claims.claim_bot(guild, bot, key):
                return BotChoice(bot)
        busy = ", ".join(f"{bot} ({claims.bot_holder(guild, bot)})" for bot in candidates)
        return BotChoice(
            None,
            f"waiting for a free bot: Discord allows one recording per guild per bot and every bot is busy "
            f"in guild {guild}: {busy}",
        )
