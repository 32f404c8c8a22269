"""Which server a channel id belongs to, and what it is: a pub/sub start names only the channel.

From the client's cache when the bot's guilds hold it, otherwise through Discord's REST API (``GET
/channels/{id}``). 404 (no such channel) and 403 (the bot cannot see it) are answers; a Discord that does not
answer is ``LookupUnavailable``, for the delivery to be retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import aiohttp
import discord

from pandora_frontdoor.bot.views import DiscordGuildView
from pandora_frontdoor.desk import ChannelFacts


class LookupUnavailable(Exception):
    """Discord did not answer: try again later."""


@dataclass(frozen=True)
class FoundChannel:
    guild_id: int
    facts: ChannelFacts


class ChannelLookup(Protocol):
    async def voice_channel(self, channel_id: int) -> FoundChannel | None:
        """The channel and its guild; None when there is no such channel the bot can see."""
        ...


class DiscordChannelLookup:
    """Implements ``ChannelLookup`` with a logged-in discord.py client."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def voice_channel(self, channel_id: int) -> FoundChannel | None:
        channel = self.client.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(channel_id)
            except (discord.NotFound, discord.Forbidden):
                return None
            except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as error:
                raise LookupUnavailable(str(error)) from error
        if not isinstance(channel, discord.abc.GuildChannel):
            return None  # a DM or group channel
        guild = self.client.get_guild(channel.guild.id)
        if guild is None:  # the bot is not in that server (REST answered from elsewhere): it cannot join it
            return None
        facts = DiscordGuildView(guild).channel(channel_id)
        return FoundChannel(guild.id, facts) if facts is not None else None
