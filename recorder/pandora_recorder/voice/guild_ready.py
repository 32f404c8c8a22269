"""When the recorder may join: once its own guild has arrived, not when discord.py reports ready.

discord.py dispatches ``ready`` only ``guild_ready_timeout`` (2 s by default) after the last GUILD_CREATE, so that
every guild's cache is complete. A recorder needs one guild, and that guild's GUILD_CREATE carries everything it
reads (channels, voice states, the bot's own member); waiting for READY would add those 2 s to every restart
after a crash. The guild is looked up in discord.py's cache, which fills GUILD_CREATE by GUILD_CREATE while READY
is being delayed.
"""

from __future__ import annotations

import asyncio

import discord

POLL_SECONDS = 0.01  # discord.py has no event for a guild that arrives before READY


async def guild_or_ready(client: discord.Client, guild_id: int) -> None:
    """Returns once ``guild_id`` is available, or once discord.py is ready without it (the caller says so)."""
    while not client.is_ready():
        guild = client.get_guild(guild_id)
        if guild is not None and not guild.unavailable:
            return
        await asyncio.sleep(POLL_SECONDS)
