"""``PacedClient``: a ``discord.Client`` whose every IDENTIFY goes through an ``IdentifyPacer``.

Await ``wait_for_first_identify()`` (logged in) before ``connect()``; the later IDENTIFYs of the process come
through discord.py's documented ``before_identify_hook``, which this class overrides.
"""

from __future__ import annotations

from typing import Any

import discord

from pandora.discordpy_compat import fetch_session_start_limit
from pandora.identify.limits import SessionStartLimit
from pandora.identify.pacer import IdentifyPacer


class PacedClient(discord.Client):
    def __init__(self, pacer: IdentifyPacer, **options: Any) -> None:
        super().__init__(**options)
        self.identify_pacer = pacer

    async def session_start_limit(self) -> SessionStartLimit:
        """``GET /gateway/bot``'s session start limit (log in first)."""
        return SessionStartLimit.from_payload(await fetch_session_start_limit(self))

    async def wait_for_first_identify(self) -> None:
        """Returns when the pacer allows this process's first IDENTIFY; raises ``IdentifyBudgetReserved``."""
        await self.identify_pacer.first_identify(self.session_start_limit, self.shard_id)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        await self.identify_pacer.before_identify(self.session_start_limit, shard_id, initial=initial)
