"""discord.py objects seen as the command logic's plain facts: who asks, what a channel is, what the bot lacks."""

from __future__ import annotations

import discord

from pandora_frontdoor.access import CONNECT, SEND_MESSAGES, VIEW_CHANNEL, Member
from pandora_frontdoor.desk import ChannelFacts, ChannelKind


def member_facts(member: discord.Member, *, manage_guild: bool = False) -> Member:
    """``manage_guild``: what Discord says in an interaction (``member.permissions``), on top of the cache."""
    voice = member.voice
    return Member(
        user_id=member.id,
        name=member.display_name,
        manage_guild=manage_guild or member.guild_permissions.manage_guild,
        role_ids=frozenset(role.id for role in member.roles),
        voice_channel_id=voice.channel.id if voice is not None and voice.channel is not None else None,
    )


def channel_kind(channel: discord.abc.GuildChannel | discord.Thread) -> tuple[ChannelKind, str]:
    if isinstance(channel, discord.StageChannel):
        return ChannelKind.STAGE, "stage"
    if isinstance(channel, discord.VoiceChannel):
        return ChannelKind.VOICE, "voice"
    if isinstance(channel, discord.TextChannel | discord.Thread):
        return ChannelKind.TEXT, "text"
    return ChannelKind.OTHER, channel.type.name.replace("_", " ")


def missing_to_send(channel: discord.abc.GuildChannel | discord.Thread, me: discord.Member) -> tuple[str, ...]:
    permissions = channel.permissions_for(me)
    if not permissions.view_channel:
        return (VIEW_CHANNEL,)
    return () if permissions.send_messages else (SEND_MESSAGES,)


class DiscordGuildView:
    """Implements ``desk.GuildView`` from the client's cache of one guild."""

    def __init__(self, guild: discord.Guild) -> None:
        self.guild = guild

    def channel(self, channel_id: int) -> ChannelFacts | None:
        channel = self.guild.get_channel_or_thread(channel_id)
        if channel is None:
            return None
        kind, name = channel_kind(channel)
        missing: list[str] = []
        if kind in (ChannelKind.VOICE, ChannelKind.STAGE):
            permissions = channel.permissions_for(self.guild.me)
            if not permissions.view_channel:
                missing.append(VIEW_CHANNEL)
            if not permissions.connect:
                missing.append(CONNECT)
        return ChannelFacts(channel.id, kind, name, tuple(missing))
