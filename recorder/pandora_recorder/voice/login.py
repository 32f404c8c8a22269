"""The recorder's way onto the gateway: log in, wait for its IDENTIFY turn, connect, wait for its guild.

- The IDENTIFY is paced (``pandora.identify``): a crash restart may first wait out its backoff, and every start
  waits for its slot, before the gateway connects, so neither counts against discord.py's connect timeout. A
  session start limit whose reserve would be touched ends the start here, saying so.
- The recorder joins as soon as its own guild has arrived, not when discord.py reports ready: discord.py
  dispatches ``ready`` only ``guild_ready_timeout`` (2 s) after the last GUILD_CREATE, so that every guild's cache
  is complete, and a recorder needs one guild, whose GUILD_CREATE carries everything it reads (channels, voice
  states, the bot's own member). Waiting for READY would add those 2 s to every restart after a crash.

A stop request (a signal) ends every wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import discord

from pandora.identify.client import PacedClient
from pandora.identify.limits import IdentifyBudgetReserved
from pandora.logging import get_logger
from pandora_recorder.voice.session import RecorderSession

log = get_logger(__name__)

GUILD_TIMEOUT = 60.0  # from connecting to the guild's GUILD_CREATE
POLL_SECONDS = 0.01  # discord.py has no event for a guild that arrives before READY


async def log_in(client: PacedClient, token: str, session: RecorderSession) -> bool:
    """True once the session's guild is in ``client``'s cache; False when stopped or when it could not connect
    (logged). The gateway connection then runs in the background until the client closes."""
    await client.login(token)
    try:
        if not await _unless_stopped(session, client.wait_for_first_identify()):
            return False
    except IdentifyBudgetReserved as refused:
        log.error("Discord's IDENTIFY budget is nearly spent", reason=str(refused))
        return False
    gateway = asyncio.create_task(client.connect(reconnect=True))
    guild = asyncio.create_task(guild_or_ready(client, session.options.guild_id))
    stopped = asyncio.create_task(session.stopped())
    done, pending = await asyncio.wait({guild, stopped, gateway}, timeout=GUILD_TIMEOUT,
                                       return_when=asyncio.FIRST_COMPLETED)
    for task in pending - {gateway}:
        task.cancel()
    if guild in done:
        return True
    if gateway in done and gateway.exception() is not None:
        log.error("could not connect to the Discord gateway", error=str(gateway.exception()))
    elif not done:
        log.error("the Discord gateway did not get ready in time", timeout=GUILD_TIMEOUT)
    return False


async def guild_or_ready(client: discord.Client, guild_id: int) -> None:
    """Returns once ``guild_id`` is available, or once discord.py is ready without it (the session says so)."""
    while not client.is_ready():
        guild = client.get_guild(guild_id)
        if guild is not None and not guild.unavailable:
            return
        await asyncio.sleep(POLL_SECONDS)


async def _unless_stopped(session: RecorderSession, wait: Awaitable[None]) -> bool:
    waiting = asyncio.ensure_future(wait)
    stopped = asyncio.create_task(session.stopped())
    await asyncio.wait({waiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if not waiting.done():
        waiting.cancel()
        return False
    stopped.cancel()
    waiting.result()  # raises what the wait raised
    return True
